"""scripts/install-deps installs per task, only what is missing, `apt-get update` first.

Runs the real script with fake `dpkg-query`, `apt-get` and `sudo` first on PATH: dpkg-query
reports the packages listed in $FAKE_INSTALLED as installed, apt-get records its arguments.
Nothing is installed for real.
"""
import os
import pathlib
import subprocess
import tempfile
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "install-deps"

FAKE_DPKG_QUERY = """#!/bin/sh
# dpkg-query -W -f='${Status}' NAME
for last; do :; done
for p in $FAKE_INSTALLED; do
  if [ "$p" = "$last" ]; then printf 'install ok installed'; exit 0; fi
done
exit 1
"""
FAKE_APT_GET = """#!/bin/sh
echo "apt-get $*" >> "$FAKE_LOG"
"""
FAKE_SUDO = """#!/bin/sh
exec "$@"
"""


class InstallDepsTest(unittest.TestCase):
    def run_script(self, *sets, installed=""):
        with tempfile.TemporaryDirectory() as tmp:
            bin_dir = pathlib.Path(tmp) / "bin"
            bin_dir.mkdir()
            for name, text in (("dpkg-query", FAKE_DPKG_QUERY), ("apt-get", FAKE_APT_GET),
                               ("sudo", FAKE_SUDO)):
                path = bin_dir / name
                path.write_text(text)
                path.chmod(0o755)
            log = pathlib.Path(tmp) / "apt.log"
            env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}",
                       FAKE_INSTALLED=installed, FAKE_LOG=str(log))
            result = subprocess.run(["bash", str(SCRIPT), *sets], env=env, capture_output=True,
                                    text=True, timeout=60)
            calls = log.read_text().splitlines() if log.exists() else []
            return result, calls

    def installed_by(self, calls):
        installs = [c for c in calls if " install " in f" {c} "]
        self.assertEqual(len(installs), 1, calls)
        return set(w for w in installs[0].split() if not w.startswith("-") and w not in
                   ("apt-get", "install") and "=" not in w)

    def test_build_set_has_no_benchmark_tools(self):
        result, calls = self.run_script("build")
        self.assertEqual(result.returncode, 0, result.stderr)
        packages = self.installed_by(calls)
        self.assertIn("cmake", packages)
        self.assertIn("libspdlog-dev", packages)
        for bench_only in ("nginx-core", "apache2-utils", "clang", "podman"):
            self.assertNotIn(bench_only, packages)

    def test_default_is_the_build_set(self):
        _, default_calls = self.run_script()
        _, build_calls = self.run_script("build")
        self.assertEqual(self.installed_by(default_calls), self.installed_by(build_calls))

    def test_bench_set_brings_nginx_and_ab(self):
        _, calls = self.run_script("bench")
        self.assertTrue({"nginx-core", "apache2-utils"} <= self.installed_by(calls))

    def test_update_comes_first_and_only_missing_packages_are_installed(self):
        result, calls = self.run_script("bench", installed="nginx-core curl python3 procps")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(calls[0].startswith("apt-get update"), calls)
        self.assertEqual(self.installed_by(calls), {"apache2-utils"})

    def test_nothing_missing_runs_no_apt_get(self):
        installed = "nginx-core apache2-utils curl python3 procps"
        result, calls = self.run_script("bench", installed=installed)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(calls, [])

    def test_unknown_set_is_refused(self):
        result, calls = self.run_script("everything")
        self.assertEqual(result.returncode, 2)
        self.assertIn("unknown set", result.stderr)
        self.assertEqual(calls, [])

    def test_scripts_ask_for_their_own_sets(self):
        build = (REPO / "scripts" / "build").read_text()
        self.assertIn("install-deps\" build\n", build)
        test = (REPO / "scripts" / "test").read_text()
        self.assertIn("install-deps\" build test bench", test)
        run = (REPO / "scripts" / "run").read_text()
        self.assertNotIn("bench", run.split("set -euo", 1)[1])


if __name__ == "__main__":
    unittest.main()
