"""The operator's side of the bitsd binary (issue 8): --version with the git commit,
--check-config that binds the listeners and creates nothing unless asked, --probe (the
container's health check), configuration from the environment, and relative paths in a config
file resolving against the file's folder."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from bitsd_harness import Server, bitsd_binary

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


class OperatorCliTest(unittest.TestCase):

    def setUp(self):
        self.binary = bitsd_binary()
        self.cwd = tempfile.mkdtemp(prefix="bitsd-e2e-opcli-")
        self.addCleanup(shutil.rmtree, self.cwd, True)

    def run_bitsd(self, *args, env=None, cwd=None, timeout=20):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("BITSD_")}
        full_env.update(env or {})
        p = subprocess.run([self.binary, *args], cwd=cwd or self.cwd, env=full_env,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def write_config(self, cfg, folder=None, name="config.json"):
        folder = folder or self.cwd
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def free_port(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    # -- --version -------------------------------------------------------------------------

    def test_version_names_the_git_commit(self):
        rc, out, _ = self.run_bitsd("--version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^bitsd \d+\.\d+\.\d+ \(git ([0-9a-f]{7,}(-dirty)?|unknown)\)")
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True)
        if head.returncode == 0:
            # The binary was built from this checkout (perhaps a commit earlier: then only the
            # shape is checked, since a build is not re-run by the test).
            self.assertRegex(out, r"\(git [0-9a-f]{12}")

    # -- --check-config --------------------------------------------------------------------

    def check_config_cfg(self):
        return {"listen": [f"127.0.0.1:{self.free_port()}"],
                "data_dir": os.path.join(self.cwd, "data"),
                "uploads": [{"url_prefix": "/uploads/",
                             "destination_dir": os.path.join(self.cwd, "files")}]}

    def test_check_config_creates_nothing_unless_asked(self):
        path = self.write_config(self.check_config_cfg())
        rc, out, err = self.run_bitsd("--config", path, "--check-config")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(sorted(os.listdir(self.cwd)), ["config.json"])
        self.assertIn("missing, created at start-up: " + os.path.join(self.cwd, "data"), out)
        rc, out, err = self.run_bitsd("--config", path, "--check-config", "--create-dirs")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(sorted(os.listdir(self.cwd)), ["config.json", "data", "files"])
        self.assertEqual(os.listdir(os.path.join(self.cwd, "data")), [])

    def test_check_config_refuses_a_port_in_use(self):
        cfg = self.check_config_cfg()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            cfg["listen"].append(f"127.0.0.1:{port}")
            rc, out, err = self.run_bitsd("--config", self.write_config(cfg), "--check-config")
        self.assertEqual(rc, 2, out + err)
        self.assertIn(f"listen[1] 127.0.0.1:{port}: ", err)
        self.assertIn("in use", err)

    def test_check_config_releases_the_port(self):
        cfg = self.check_config_cfg()
        path = self.write_config(cfg)
        for _ in range(2):
            rc, out, err = self.run_bitsd("--config", path, "--check-config")
            self.assertEqual(rc, 0, out + err)
        port = int(cfg["listen"][0].rsplit(":", 1)[1])
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))

    # -- relative paths --------------------------------------------------------------------

    def test_relative_paths_in_the_file_are_relative_to_its_folder(self):
        folder = os.path.join(self.cwd, "etc", "bitsd")
        path = self.write_config({"listen": [f"127.0.0.1:{self.free_port()}"],
                                  "data_dir": "state",
                                  "uploads": [{"url_prefix": "/uploads/",
                                               "destination_dir": "../files"}]}, folder)
        elsewhere = os.path.join(self.cwd, "elsewhere")
        os.makedirs(elsewhere)
        rc, out, err = self.run_bitsd("--config", path, "--check-config", "--create-dirs",
                                      cwd=elsewhere)
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(os.path.isdir(os.path.join(folder, "state")), out)
        self.assertTrue(os.path.isdir(os.path.join(self.cwd, "etc", "files")), out)
        self.assertEqual(os.listdir(elsewhere), [])

    # -- environment -----------------------------------------------------------------------

    def test_environment_between_file_and_flags(self):
        path = self.write_config(self.check_config_cfg())
        env_dir = os.path.join(self.cwd, "env-data")
        rc, out, err = self.run_bitsd("--config", path, "--check-config",
                                      env={"BITSD_DATA_DIR": env_dir, "BITSD_LOG_LEVEL": "debug"})
        self.assertEqual(rc, 0, out + err)
        self.assertIn("data_dir: " + env_dir, out)
        self.assertIn("log_level: debug", out)
        rc, out, err = self.run_bitsd("--config", path, "--check-config", "--log-level", "warn",
                                      env={"BITSD_LOG_LEVEL": "debug"})
        self.assertIn("log_level: warn", out)
        rc, out, err = self.run_bitsd("--check-config", env={"BITSD_LOG_LEVEL": "loud"})
        self.assertEqual(rc, 2)
        self.assertIn("BITSD_LOG_LEVEL", err)

    def test_daemon_listens_where_bitsd_listen_says(self):
        port = self.free_port()
        server = Server(self)
        del server.config["listen"]
        server.write_config()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BITSD_")}
        env["BITSD_LISTEN"] = f"127.0.0.1:{port}"
        proc = subprocess.Popen([self.binary, "--config", server.config_path], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(proc.stderr.close)
        self.addCleanup(proc.kill)
        line = proc.stderr.readline().decode()
        for _ in range(20):
            if "listening on" in line:
                break
            line = proc.stderr.readline().decode()
        self.assertIn(f"listening on 127.0.0.1:{port}", line)
        # --probe without a URL follows the same environment to the same port.
        rc, out, err = self.run_bitsd("--probe", "--config", server.config_path,
                                      env={"BITSD_LISTEN": f"127.0.0.1:{port}"})
        self.assertEqual(rc, 0, out + err)
        proc.terminate()
        proc.wait(timeout=10)

    # -- --probe ---------------------------------------------------------------------------

    def test_probe(self):
        server = Server(self)
        server.start()
        base = f"http://127.0.0.1:{server.port}"
        # Without a URL: a BITS Ping to the first listener and prefix of the configuration.
        cfg = dict(server.config, listen=[f"127.0.0.1:{server.port}"])
        own = self.write_config(cfg, name="own.json")
        rc, out, err = self.run_bitsd("--probe", "--config", own)
        self.assertEqual(rc, 0, out + err)
        # With a URL: GET, healthy only on a 2xx (GET on a path outside the prefixes is 404).
        rc, out, err = self.run_bitsd("--probe", base + "/nothing-here")
        self.assertEqual(rc, 1)
        self.assertIn("HTTP 404", err)
        # Nobody listening: exit 1 with the reason.
        rc, out, err = self.run_bitsd("--probe", f"http://127.0.0.1:{self.free_port()}/")
        self.assertEqual(rc, 1)
        self.assertIn("cannot connect", err)
        rc, out, err = self.run_bitsd("--probe", "not a url")
        self.assertEqual(rc, 1)
        server.assert_alive()

    def test_probe_times_out_on_a_silent_server(self):
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            port = silent.getsockname()[1]
            rc, out, err = self.run_bitsd("--probe", f"http://127.0.0.1:{port}/", timeout=30)
        self.assertEqual(rc, 1)
        self.assertIn("timeout", err.lower())


if __name__ == "__main__":
    unittest.main()
