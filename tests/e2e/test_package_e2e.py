"""The Debian package and `cmake --install` (issue 8): builds the .deb with CPack from the
build tree under test, inspects it with dpkg-deb (files, control fields, maintainer scripts),
and checks that the packaged configuration works with the packaged binary. Nothing is installed
on this machine.

lintian is not run: it pulls some 70 Perl packages into the test set for a package whose
maintainer scripts and layout are checked here directly.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from bitsd_harness import bitsd_binary


def build_dir():
    return os.path.dirname(os.path.abspath(bitsd_binary()))


class PackageTest(unittest.TestCase):
    deb = None

    @classmethod
    def setUpClass(cls):
        for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest(f"{tool} is not installed (scripts/install-deps test)")
        cls.tmp = tempfile.mkdtemp(prefix="bitsd-e2e-deb-")
        config = os.path.join(build_dir(), "CPackConfig.cmake")
        p = subprocess.run(["cpack", "-G", "DEB", "--config", config, "-B", cls.tmp],
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise AssertionError(f"cpack failed:\n{p.stdout}\n{p.stderr}")
        debs = [f for f in os.listdir(cls.tmp) if f.endswith(".deb")]
        assert len(debs) == 1, debs
        cls.deb = os.path.join(cls.tmp, debs[0])
        cls.root = os.path.join(cls.tmp, "root")
        subprocess.run(["dpkg-deb", "-x", cls.deb, cls.root], check=True)
        cls.control = os.path.join(cls.tmp, "control")
        subprocess.run(["dpkg-deb", "-e", cls.deb, cls.control], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def field(self, name):
        return subprocess.run(["dpkg-deb", "-f", self.deb, name], capture_output=True,
                              text=True, check=True).stdout.strip()

    def test_contents(self):
        listing = subprocess.run(["dpkg-deb", "-c", self.deb], capture_output=True, text=True,
                                 check=True).stdout
        paths = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
        for path in ("/usr/bin/bitsd", "/usr/bin/bits-upload",
                     "/usr/lib/systemd/system/bitsd.service", "/etc/bitsd/bitsd.json",
                     "/usr/share/man/man8/bitsd.8.gz", "/usr/share/doc/bitsd/README.md",
                     "/usr/share/doc/bitsd/examples/bitsd.example.json"):
            self.assertIn(path, paths)
        # Nothing under /usr/local, /home, the build tree, or the state directory.
        for path in paths:
            self.assertFalse(path.startswith(("/usr/local", "/home", "/work", "/var")), path)

    def test_control(self):
        self.assertEqual(self.field("Package"), "bitsd")
        depends = self.field("Depends")
        for dep in ("adduser", "libc6", "libfmt9", "libspdlog1.10", "libssl3", "libstdc++6"):
            self.assertIn(dep, depends)
        for dev in ("-dev", "nginx", "apache2", "python3"):
            self.assertNotIn(dev, depends)
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/bitsd/bitsd.json"])

    def test_maintainer_scripts_create_the_user_and_start_nothing(self):
        with open(os.path.join(self.control, "postinst")) as f:
            postinst = f.read()
        self.assertRegex(postinst, r"adduser --system --group --home /var/lib/bitsd")
        scripts = ""
        for name in ("preinst", "postinst", "prerm", "postrm"):
            path = os.path.join(self.control, name)
            if os.path.exists(path):
                self.assertTrue(os.access(path, os.X_OK), name)
                with open(path) as f:
                    scripts += f.read()
                subprocess.run(["sh", "-n", path], check=True)
        code = "\n".join(l for l in scripts.splitlines() if not l.lstrip().startswith("#"))
        # Enabling or starting the service is the operator's decision.
        self.assertNotRegex(code, r"systemctl\s+(enable|start|restart)|deb-systemd-invoke\s+start"
                                  r"|deb-systemd-helper\s+enable|invoke-rc\.d")

    def test_unit_and_configuration_fit_together(self):
        with open(os.path.join(self.root, "usr/lib/systemd/system/bitsd.service")) as f:
            unit = f.read()
        exec_start = re.search(r"^ExecStart=(\S+) --config (\S+)$", unit, re.M)
        self.assertIsNotNone(exec_start, unit)
        self.assertEqual(exec_start.group(1), "/usr/bin/bitsd")
        self.assertEqual(exec_start.group(2), "/etc/bitsd/bitsd.json")
        self.assertIn("StateDirectory=bitsd", unit)
        self.assertIn("User=bitsd", unit)
        config = os.path.join(self.root, "etc/bitsd/bitsd.json")
        with open(config) as f:
            text = f.read()
        # The data lives where the unit's StateDirectory= is (the only writable place under
        # ProtectSystem=strict without extra ReadWritePaths=).
        self.assertIn('"data_dir": "/var/lib/bitsd"', text)
        self.assertNotIn("destination_dir", text)
        # The packaged binary accepts the packaged configuration (listener moved to a free
        # loopback port; nothing is created: --check-config without --create-dirs).
        p = subprocess.run([os.path.join(self.root, "usr/bin/bitsd"), "--config", config,
                            "--listen", "127.0.0.1:0", "--check-config"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("data_dir: /var/lib/bitsd", p.stdout)
        version = subprocess.run([os.path.join(self.root, "usr/bin/bitsd"), "--version"],
                                 capture_output=True, text=True, timeout=30).stdout
        self.assertIn(f"bitsd {self.field('Version')} (git ", version)

    def test_man_page(self):
        page = os.path.join(self.root, "usr/share/man/man8/bitsd.8.gz")
        if shutil.which("man") is None:
            self.skipTest("man is not installed")
        p = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING=""))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.strip(), "", "groff warnings")
        for flag in ("--config", "--check-config", "--probe", "--version", "BITSD_LISTEN"):
            self.assertIn(flag, p.stdout.replace("\u2010", "-"))


if __name__ == "__main__":
    unittest.main()
