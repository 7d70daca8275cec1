"""The container image, built from the real docker/Dockerfile and run with podman (issue 8).

Builds the image (target `prebuilt`: the run-time stage of docker/Dockerfile with the bitsd and
bits-upload this build made, so CI compiles once; BITSD_CONTAINER_FULL_BUILD=1 builds the default
multi-stage target, compiling inside the image, as a user's `docker build` does), then:
Ping through the HEALTHCHECK and the host, a real upload with bits-upload, a session half
uploaded before a restart and finished after it (the volume keeps sessions and files), a clean
stop (SIGTERM, exit 0), configuration by environment and by a mounted file, non-root UID 10001.

Needs podman and local Debian base images (docker/local-base-images builds them from Debian
packages: no registry is reachable here). Skips itself when podman is absent, unless
BITSD_CONTAINER_REQUIRED=1 (.ci/run sets it after installing what the test needs).
"""

import hashlib
import json
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
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from bitsd_harness import BitsClient, PatternSource  # noqa: E402

DS = os.environ.get("DS", "/var/tmp/bitsd-podman")
# One tag per checkout and kind of build: two worktrees (or a full and a prebuilt build) never
# replace each other's image in the shared podman storage mid-test.
IMAGE = ("localhost/bitsd-test:" + hashlib.sha256(REPO.encode()).hexdigest()[:12] +
         ("-full" if os.environ.get("BITSD_CONTAINER_FULL_BUILD") == "1" else ""))
REQUIRED = os.environ.get("BITSD_CONTAINER_REQUIRED") == "1"
FULL_BUILD = os.environ.get("BITSD_CONTAINER_FULL_BUILD") == "1"
UID = "10001"


def podman_env():
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = os.path.join(DS, "containers.conf")
    env["CONTAINERS_STORAGE_CONF"] = os.path.join(DS, "storage.conf")
    return env


def podman(*args, check=True, timeout=120, input=None):
    p = subprocess.run(["podman", *args], env=podman_env(), capture_output=True, text=True,
                       timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({p.returncode}):\n"
                             f"{p.stdout}\n{p.stderr}")
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_dir():
    binary = os.environ.get("BITSD_BINARY")
    return os.path.dirname(binary) if binary else os.path.join(REPO, "build")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def compose_service_lines(text, service):
    """The lines of one service's block in a compose file (indentation-based; no YAML parser)."""
    lines, inside = [], False
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 2 and line.strip() == f"{service}:":
            inside = True
            continue
        if inside and indent <= 2:
            break
        if inside:
            lines.append(line)
    return lines


class ComposeFileTest(unittest.TestCase):
    """docker/compose.yaml, read as text (no engine needed): the example back-end's control
    endpoints are never published; bitsd reaches it over the compose network."""

    def test_the_backend_publishes_no_port(self):
        with open(os.path.join(REPO, "docker", "compose.yaml")) as f:
            text = f.read()
        backend = compose_service_lines(text, "backend")
        self.assertTrue(backend, "no backend service in docker/compose.yaml")
        self.assertFalse([line for line in backend if line.strip().startswith("ports:")],
                         "the back-end publishes ports")
        self.assertTrue(compose_service_lines(text, "bitsd"), "no bitsd service")


class ContainerTest(unittest.TestCase):
    timings = {}

    @classmethod
    def setUpClass(cls):
        if shutil.which("podman") is None:
            if REQUIRED:
                raise AssertionError("podman is missing (scripts/install-deps container)")
            raise unittest.SkipTest("podman is not installed (scripts/install-deps container)")
        start = time.monotonic()
        # Idempotent: returns at once when the base images exist.
        subprocess.run([os.path.join(REPO, "docker", "local-base-images")], check=True,
                       env=dict(os.environ, DS=DS), capture_output=True, timeout=900)
        cls.timings["base images"] = time.monotonic() - start
        start = time.monotonic()
        args = ["build", "--pull=never", "--network", "host", "--format", "docker",
                "-f", "docker/Dockerfile", "-t", IMAGE]
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True).stdout.strip() or "unknown"
        args += ["--build-arg", f"BITSD_GIT_COMMIT={commit}"]
        if not FULL_BUILD:
            prebuilt = os.path.join(REPO, "docker", "prebuilt")
            os.makedirs(prebuilt, exist_ok=True)
            for name in ("bitsd", "bits-upload"):
                target = os.path.join(prebuilt, name)
                shutil.copy2(os.path.join(build_dir(), name), target)
                subprocess.run(["strip", target], check=True)
            args += ["--target", "prebuilt"]
        args.append(REPO)
        p = subprocess.run(["podman", *args], env=podman_env(), capture_output=True, text=True,
                           timeout=3000, cwd=REPO)
        if p.returncode != 0:
            raise AssertionError(f"podman build failed:\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
        cls.timings["image build"] = time.monotonic() - start

    @classmethod
    def tearDownClass(cls):
        print("\ncontainer test timings: " +
              ", ".join(f"{k} {v:.1f}s" for k, v in cls.timings.items()), file=sys.stderr)

    def setUp(self):
        self.name = "bitsd-test-" + uuid.uuid4().hex[:8]
        self.volume = self.name + "-data"
        self.tmp = tempfile.mkdtemp(prefix="bitsd-container-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(podman, "volume", "rm", "-f", self.volume, check=False)
        self.addCleanup(podman, "rm", "-f", "-t", "0", self.name, check=False)

    def run_container(self, port, *extra, prefix="/uploads/"):
        podman("run", "-d", "--name", self.name, "--network", "host",
               "-e", f"BITSD_LISTEN=127.0.0.1:{port}",
               "-v", f"{self.volume}:/var/lib/bitsd", *extra, IMAGE)
        self.wait_ready(port, prefix)

    def wait_ready(self, port, prefix="/uploads/", timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            client = BitsClient(("127.0.0.1", port), prefix=prefix, timeout=5)
            try:
                if client.ping().status == 200:
                    return
            except OSError:
                pass
            finally:
                client.reset()
            state = podman("inspect", "-f", "{{.State.Running}}", self.name).stdout.strip()
            if state != "true":
                break
            time.sleep(0.2)
        logs = podman("logs", self.name, check=False)
        self.fail(f"bitsd in the container is not answering on {port}:\n{logs.stdout}{logs.stderr}")

    def stop_and_exit_code(self):
        podman("stop", "-t", "30", self.name, timeout=60)
        return podman("inspect", "-f", "{{.State.ExitCode}}", self.name).stdout.strip()

    def copy_out(self, path):
        local = os.path.join(self.tmp, uuid.uuid4().hex)
        podman("cp", f"{self.name}:{path}", local)
        return local

    def test_image_configuration(self):
        image = json.loads(podman("image", "inspect", IMAGE).stdout)[0]
        config = image["Config"]
        self.assertEqual(config["User"], f"{UID}:{UID}")
        self.assertEqual(config["Entrypoint"], ["/usr/bin/bitsd"])
        self.assertFalse(config.get("Cmd"), "no forced flags: nothing may override the file")
        self.assertIn("/var/lib/bitsd", config["Volumes"])
        self.assertIn("8080/tcp", config["ExposedPorts"])
        self.assertIn("BITSD_CONFIG=/etc/bitsd/bitsd.json", config["Env"])
        labels = config["Labels"]
        self.assertEqual(labels["org.opencontainers.image.title"], "bitsd")
        self.assertIn("org.opencontainers.image.revision", labels)
        health = config.get("Healthcheck") or image.get("Healthcheck") or {}
        self.assertEqual(health.get("Test"), ["CMD", "/usr/bin/bitsd", "--probe"])
        # No curl or wget: the probe is bitsd itself.
        for tool in ("curl", "wget"):
            p = podman("run", "--rm", "--entrypoint", "/bin/sh", IMAGE, "-c",
                       f"command -v {tool}", check=False)
            self.assertNotEqual(p.returncode, 0, f"{tool} is in the image")
        version = podman("run", "--rm", IMAGE, "--version").stdout
        self.assertRegex(version, r"^bitsd \d+\.\d+\.\d+ \(git ")

    def test_upload_restart_and_clean_stop(self):
        port = free_port()
        self.run_container(port)
        self.assertEqual(podman("exec", self.name, "id", "-u").stdout.strip(), UID)
        # The HEALTHCHECK command itself (a BITS Ping to the listener BITSD_LISTEN names).
        health = podman("healthcheck", "run", self.name, check=False)
        self.assertEqual(health.returncode, 0, health.stdout + health.stderr)

        # A real upload with the client, several fragments.
        source = os.path.join(self.tmp, "upload.bin")
        with open(source, "wb") as f:
            f.write(os.urandom(3 * 1024 * 1024 + 123))
        p = subprocess.run([os.path.join(build_dir(), "bits-upload"), "--fragment-size", "1M",
                            "-q", source, f"http://127.0.0.1:{port}/uploads/dir/upload.bin"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        landed = self.copy_out("/var/lib/bitsd/files/dir/upload.bin")
        self.assertEqual(sha256(landed), sha256(source))

        # Half a session before the restart...
        data = PatternSource(2 * 1024 * 1024, seed=8)
        client = BitsClient(("127.0.0.1", port))
        created = client.create_session("resumed.bin")
        self.assertEqual(created.status, 200)
        session = created.headers["BITS-Session-Id"]
        half = 1024 * 1024
        self.assertEqual(client.fragment(session, data.read(0, half), 0, data.size,
                                         name="resumed.bin").status, 200)
        client.reset()

        # ... a clean stop: SIGTERM, exit 0 ...
        self.assertEqual(self.stop_and_exit_code(), "0")
        # ... a new container on the same volume (a restart of the service) ...
        podman("rm", self.name)
        port = free_port()
        self.run_container(port)
        client = BitsClient(("127.0.0.1", port))
        # ... still has the finished file and the session: the second half completes it.
        self.assertEqual(sha256(self.copy_out("/var/lib/bitsd/files/dir/upload.bin")),
                         sha256(source))
        resp = client.fragment(session, data.read(half, data.size - half), half, data.size,
                               name="resumed.bin")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(client.close(session, name="resumed.bin").status, 200)
        resumed = self.copy_out("/var/lib/bitsd/files/resumed.bin")
        self.assertEqual(sha256(resumed), data.sha256())
        client.reset()

        # podman restart (same container) keeps it too, and stops cleanly again.
        podman("restart", "-t", "30", self.name, timeout=90)
        self.wait_ready(port)
        self.assertEqual(sha256(self.copy_out("/var/lib/bitsd/files/resumed.bin")), data.sha256())
        self.assertEqual(self.stop_and_exit_code(), "0")

    def test_mounted_config_and_environment(self):
        # A mounted file is read as it is (nothing in the image overrides its data_dir); the
        # environment still overrides the file (BITSD_LISTEN, BITSD_LOG_LEVEL).
        port = free_port()
        config_dir = os.path.join(self.tmp, "etc")
        os.makedirs(config_dir)
        with open(os.path.join(config_dir, "bitsd.json"), "w") as f:
            json.dump({"listen": ["127.0.0.1:1"], "data_dir": "/var/lib/bitsd/elsewhere",
                       "log_level": "warn",
                       "uploads": [{"url_prefix": "/in/",
                                    "destination_dir": "/var/lib/bitsd/incoming"}]}, f)
        os.chmod(config_dir, 0o755)
        os.chmod(os.path.join(config_dir, "bitsd.json"), 0o644)
        self.run_container(port, "-v", f"{config_dir}:/etc/bitsd:ro",
                           "-e", "BITSD_LOG_LEVEL=info", prefix="/in/")
        client = BitsClient(("127.0.0.1", port), prefix="/in/")
        created = client.create_session("x.bin")
        self.assertEqual(created.status, 200, created)
        session = created.headers["BITS-Session-Id"]
        self.assertEqual(client.fragment(session, b"hello", 0, 5, name="x.bin").status, 200)
        self.assertEqual(client.close(session, name="x.bin").status, 200)
        client.reset()
        with open(self.copy_out("/var/lib/bitsd/incoming/x.bin"), "rb") as f:
            self.assertEqual(f.read(), b"hello")
        # data_dir came from the file, not from an image default.
        self.copy_out("/var/lib/bitsd/elsewhere/bitsd.lock")
        logs = podman("logs", self.name).stderr + podman("logs", self.name).stdout
        self.assertIn(f"listening on 127.0.0.1:{port}", logs)  # info: BITSD_LOG_LEVEL won
        self.assertEqual(self.stop_and_exit_code(), "0")


if __name__ == "__main__":
    unittest.main()
