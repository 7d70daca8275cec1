"""bitsd's command line: --version, --check-config, and refusing bad configurations."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from bitsd_harness import Server, bitsd_binary


class CliTest(unittest.TestCase):

    def setUp(self):
        self.binary = bitsd_binary()
        # A scratch working directory: the defaults (./bitsd-data) must not land in the repo.
        self.cwd = tempfile.mkdtemp(prefix="bitsd-e2e-cli-")
        self.addCleanup(shutil.rmtree, self.cwd, True)

    def run_bitsd(self, *args, timeout=10):
        try:
            p = subprocess.run([self.binary, *args], cwd=self.cwd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            self.fail(f"bitsd {' '.join(args)} did not exit within {timeout} s "
                      f"(output: {e.stdout!r} {e.stderr!r})")
        out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
        return p.returncode, out

    def write_config(self, cfg):
        path = os.path.join(self.cwd, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def good_config(self):
        return {
            "listen": ["127.0.0.1:0"],
            "data_dir": os.path.join(self.cwd, "data"),
            "fsync": "none",
            "admin_listen": "off",  # 9090 may be taken by another test
            "max_fragment_size": 1048576,
            "uploads": [{"url_prefix": "/uploads/",
                         "destination_dir": os.path.join(self.cwd, "files"),
                         "allow_overwrites": False, "max_upload_size": 0,
                         "session_timeout_s": 1209600}],
        }

    def test_second_daemon_on_the_same_data_dir_is_refused(self):
        # Two daemons on one data_dir would append to the same sessions, each under its own
        # session locks: the second one must not start.
        first = Server(self)
        first.start()
        cfg = self.good_config()
        cfg["data_dir"] = first.data_dir
        rc, out = self.run_bitsd("--config", self.write_config(cfg))
        self.assertNotEqual(rc, 0, out)
        self.assertIn("data_dir", out)
        self.assertIn("in use by another process", out)
        first.assert_alive()
        # Once the first has stopped, the data_dir is free again.
        first.stop()
        second = Server(self)
        second.config["data_dir"] = first.data_dir
        second.start()
        second.stop()

    def test_version(self):
        rc, out = self.run_bitsd("--version")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"\d+\.\d+\.\d+", f"no version number in: {out!r}")

    def test_check_config_defaults(self):
        rc, out = self.run_bitsd("--check-config")
        self.assertEqual(rc, 0, out)
        self.assertTrue(out.strip(), "--check-config prints a summary")

    def test_check_config_with_file(self):
        path = self.write_config(self.good_config())
        rc, out = self.run_bitsd("--config", path, "--check-config")
        self.assertEqual(rc, 0, out)
        self.assertNotRegex(out, r"listening on", "--check-config must not start serving")

    def test_missing_config_file(self):
        rc, out = self.run_bitsd("--config", "/nonexistent/bitsd.json")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("--config", out, f"the message must name --config: {out!r}")

    def test_unknown_key_top_level(self):
        cfg = self.good_config()
        cfg["frobnicate_level"] = 3
        rc, out = self.run_bitsd("--config", self.write_config(cfg))
        self.assertNotEqual(rc, 0, out)
        self.assertIn("frobnicate_level", out, f"the message must name the key: {out!r}")
        self.assertNotIn("listening on", out)

    def test_unknown_key_in_uploads(self):
        cfg = self.good_config()
        cfg["uploads"][0]["allow_overwritez"] = True
        rc, out = self.run_bitsd("--config", self.write_config(cfg), "--check-config")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("allow_overwritez", out, f"the message must name the key: {out!r}")

    def test_bad_values_rejected(self):
        bad = {
            "fsync": ("fsync", "sometimes"),
            "max_fragment_size": ("max_fragment_size", "big"),
            "url_prefix": ("url_prefix", "uploads"),
            "listen": ("listen", ["not-an-endpoint"]),
        }
        for label, (key, value) in bad.items():
            with self.subTest(label):
                cfg = self.good_config()
                if key == "url_prefix":
                    cfg["uploads"][0][key] = value
                else:
                    cfg[key] = value
                rc, out = self.run_bitsd("--config", self.write_config(cfg), "--check-config")
                self.assertNotEqual(rc, 0, out)
                self.assertIn(key, out, f"the message must name {key}: {out!r}")

    def test_malformed_json(self):
        path = os.path.join(self.cwd, "broken.json")
        with open(path, "w") as f:
            f.write('{"listen": ["127.0.0.1:0"], ')
        rc, out = self.run_bitsd("--config", path)
        self.assertNotEqual(rc, 0, out)
        self.assertTrue(out.strip(), "an error message is printed")


if __name__ == "__main__":
    unittest.main()
