"""The .deb under a real systemd (issue 8): builds the package with CPack from the build tree
under test, installs it with apt into a debian:12 container that runs systemd as PID 1
(podman --systemd=always), and checks what an operator sees: the bitsd user exists, the
service is neither enabled nor started by the installation, /etc/bitsd is readable by bitsd's
group only, `systemctl start` reaches READY (Type=notify) with its STATUS line, an upload with
bits-upload lands byte-exact in /var/lib/bitsd/files, `journalctl -p warning` filters by
priority, and `systemctl stop` ends it cleanly (Result=success, exit status 0).

Skips itself when podman is absent, unless BITSD_CONTAINER_REQUIRED=1 (.ci/run).
"""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from test_container import DS, REQUIRED, build_dir, podman, podman_env  # noqa: E402

IMAGE = "localhost/bitsd-deb-systemd:" + hashlib.sha256(REPO.encode()).hexdigest()[:12]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DebUnderSystemdTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if shutil.which("podman") is None:
            if REQUIRED:
                raise AssertionError("podman is missing (scripts/install-deps container)")
            raise unittest.SkipTest("podman is not installed (scripts/install-deps container)")
        subprocess.run([os.path.join(REPO, "docker", "local-base-images")], check=True,
                       env=dict(os.environ, DS=DS), capture_output=True, timeout=900)
        cls.tmp = tempfile.mkdtemp(prefix="bitsd-deb-systemd-")
        p = subprocess.run(["cpack", "-G", "DEB", "--config",
                            os.path.join(build_dir(), "CPackConfig.cmake"), "-B", cls.tmp],
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise AssertionError(f"cpack failed:\n{p.stdout}\n{p.stderr}")
        deb = [f for f in os.listdir(cls.tmp) if f.endswith(".deb")][0]
        with open(os.path.join(cls.tmp, "Containerfile"), "w") as f:
            f.write("FROM debian:12\n"
                    f"COPY {deb} /tmp/\n"
                    "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install "
                    "-y -qq --no-install-recommends systemd systemd-sysv "
                    f"/tmp/{deb} && rm -rf /var/lib/apt/lists/* /tmp/{deb}\n"
                    'CMD ["/sbin/init"]\n')
        p = subprocess.run(["podman", "build", "--pull=never", "--network", "host",
                            "--format", "docker", "-t", IMAGE, cls.tmp], env=podman_env(),
                           capture_output=True, text=True, timeout=1200)
        if p.returncode != 0:
            raise AssertionError(f"podman build failed:\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def sh(self, command, check=True, timeout=120):
        p = podman("exec", self.name, "sh", "-c", command, check=False, timeout=timeout)
        if check and p.returncode != 0:
            self.fail(f"{command}: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p.stdout.strip()

    def test_install_start_upload_stop(self):
        self.name = "bitsd-deb-" + uuid.uuid4().hex[:8]
        self.addCleanup(podman, "rm", "-f", "-t", "0", self.name, check=False)
        podman("run", "-d", "--name", self.name, "--systemd=always", "--network", "host", IMAGE)
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline:
            state = self.sh("systemctl is-system-running || true")
            if state in ("running", "degraded"):
                break
            time.sleep(0.5)
        self.assertIn(state, ("running", "degraded"), "systemd did not come up")
        self.assertEqual(self.sh("cat /proc/1/comm"), "systemd")

        # Installed, not enabled, not started.
        self.assertIn("bitsd", self.sh("getent passwd bitsd"))
        self.assertEqual(self.sh("systemctl is-enabled bitsd || true"), "disabled")
        self.assertEqual(self.sh("systemctl is-active bitsd || true"), "inactive")
        self.assertEqual(self.sh("stat -c '%U:%G %a' /etc/bitsd /etc/bitsd/bitsd.json"),
                         "root:bitsd 750\nroot:bitsd 640")

        # The packaged configuration listens on 0.0.0.0:8080; the host network is shared, so
        # the test moves it to a free loopback port with a drop-in (the environment variable).
        port = free_port()
        self.sh("mkdir -p /etc/systemd/system/bitsd.service.d && printf '[Service]\\n"
                f"Environment=BITSD_LISTEN=127.0.0.1:{port}\\n' > "
                "/etc/systemd/system/bitsd.service.d/test.conf && systemctl daemon-reload")
        self.sh("timeout 90 systemctl start bitsd")  # returns once READY=1 arrived
        self.assertEqual(self.sh("systemctl is-active bitsd"), "active")
        self.assertEqual(self.sh("systemctl show -P StatusText bitsd"),
                         f"listening on 127.0.0.1:{port}")
        self.assertEqual(self.sh("systemctl show -P User bitsd"), "bitsd")

        source = os.path.join(self.tmp, "upload-" + uuid.uuid4().hex)
        with open(source, "wb") as f:
            f.write(os.urandom(2 * 1024 * 1024 + 7))
        p = subprocess.run([os.path.join(build_dir(), "bits-upload"), "-q", "--fragment-size",
                            "512K", source, f"http://127.0.0.1:{port}/uploads/a/b.bin"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(source, "rb") as f:
            expected = hashlib.sha256(f.read()).hexdigest()
        self.assertEqual(self.sh("sha256sum /var/lib/bitsd/files/a/b.bin").split()[0], expected)
        self.assertEqual(self.sh("stat -c %U /var/lib/bitsd/files/a/b.bin"), "bitsd")

        # The journal has priorities: the info lines are not warnings.
        self.assertIn("listening on", self.sh("journalctl -u bitsd -p info --no-pager"))
        self.assertNotIn("listening on", self.sh("journalctl -u bitsd -p warning --no-pager"))

        self.sh("timeout 60 systemctl stop bitsd")
        self.assertEqual(self.sh("systemctl show -P Result bitsd"), "success")
        self.assertEqual(self.sh("systemctl show -P ExecMainStatus bitsd"), "0")


if __name__ == "__main__":
    unittest.main()
