"""The Windows build end to end, under wine (issue 10): uploads both ways between Linux and
Windows executables, byte-exact.

- the Linux bits-upload -> bitsd.exe under wine: 20 MiB;
- a session resumed after bitsd.exe was killed (SIGKILL of the wine process: no cleanup at all)
  and started again: same session, no byte lost or repeated;
- bits-upload.exe under wine -> the Linux bitsd: 20 MiB, resumed from its state file;
- what the Windows build leaves out is refused by bitsd.exe itself, naming the key: a notification
  (no OpenSSL), Basic authentication and `bitsd passwd` (no libxcrypt).

Needs wine64 and the Windows build (scripts/build-windows, in build-windows/ or
$BITSD_WINDOWS_BUILD); skipped, saying which is missing, without them, so scripts/test passes on a
machine without wine. .ci/run installs both and runs it. wine runs in a temporary WINEPREFIX with
WINEDEBUG=-all; its wineserver is ended with `wineserver -k` at the end.
"""

import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

from bitsd_harness import (MIB, BitsAssertions, BitsClient, PatternSource, Server, bitsd_binary,
                           sha256_file)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WINDOWS_BUILD = os.environ.get("BITSD_WINDOWS_BUILD", os.path.join(REPO, "build-windows"))
WINE_DIR = "/usr/lib/wine"  # Debian's wine64 package installs wine64 and wineserver here
# Starting a wine process (and the prefix, the first time) takes seconds on a loaded machine.
WINE_READY_TIMEOUT_S = 180


def find_wine():
    for name in ("wine64", "wine"):
        path = shutil.which(name)
        if path:
            return path
    path = os.path.join(WINE_DIR, "wine64")
    return path if os.access(path, os.X_OK) else None


def find_wineserver():
    path = shutil.which("wineserver") or os.path.join(WINE_DIR, "wineserver")
    return path if os.access(path, os.X_OK) else None


WINE = find_wine()
BITSD_EXE = os.path.join(WINDOWS_BUILD, "bitsd.exe")
BITS_UPLOAD_EXE = os.path.join(WINDOWS_BUILD, "bits-upload.exe")


def missing():
    if WINE is None:
        return "wine64 is not installed (scripts/build-windows installs it)"
    for exe in (BITSD_EXE, BITS_UPLOAD_EXE):
        if not os.path.isfile(exe):
            return f"{exe} is not built (scripts/build-windows)"
    return None


_prefix = None
_wrapper_dir = None


def wine_env():
    env = dict(os.environ)
    env.update(WINEPREFIX=_prefix, WINEDEBUG="-all",
               # no Mono or Gecko installer dialogs in a headless prefix
               WINEDLLOVERRIDES="mscoree,mshtml=")
    env.pop("DISPLAY", None)
    return env


def setUpModule():
    global _prefix, _wrapper_dir
    reason = missing()
    if reason:
        raise unittest.SkipTest(reason)
    _prefix = tempfile.mkdtemp(prefix="bitsd-wine-")
    os.environ.update(wine_env())
    # The first wine process creates the prefix: do it once, here, with a generous deadline.
    subprocess.run([WINE, BITS_UPLOAD_EXE, "--version"], env=wine_env(), check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=WINE_READY_TIMEOUT_S)
    # The harness starts BITSD_BINARY with its arguments: a two-line script makes that
    # `wine64 bitsd.exe ...` (exec: the harness's pid is the wine process it kills).
    _wrapper_dir = tempfile.mkdtemp(prefix="bitsd-wine-bin-")
    wrapper = os.path.join(_wrapper_dir, "bitsd-exe")
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\nexec "{WINE}" "{BITSD_EXE}" "$@"\n')
    os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)


def tearDownModule():
    if _prefix is None:
        return
    wineserver = find_wineserver()
    if wineserver:
        subprocess.run([wineserver, "-k"], env=wine_env(), timeout=60, check=False)
    shutil.rmtree(_prefix, ignore_errors=True)
    shutil.rmtree(_wrapper_dir, ignore_errors=True)


class WineServer(Server):
    """The harness's Server, running bitsd.exe under wine (Linux paths are Z:\\ paths there)."""

    def start(self, timeout=WINE_READY_TIMEOUT_S):
        linux_binary = os.environ.get("BITSD_BINARY")
        os.environ["BITSD_BINARY"] = os.path.join(_wrapper_dir, "bitsd-exe")
        try:
            return super().start(timeout)
        finally:
            if linux_binary is None:
                del os.environ["BITSD_BINARY"]
            else:
                os.environ["BITSD_BINARY"] = linux_binary


def linux_bits_upload():
    path = os.path.join(os.path.dirname(bitsd_binary()), "bits-upload")
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"{path} is not built")
    return path


def write_pattern(path, size, seed):
    source = PatternSource(size, seed)
    with open(path, "wb") as f:
        for chunk in source.chunks(0, size):
            f.write(chunk)
    return source.sha256()


class WindowsServerTest(BitsAssertions, unittest.TestCase):
    """Linux clients, bitsd.exe under wine."""

    def test_linux_bits_upload_to_bitsd_exe_20_mib(self):
        srv = WineServer(self).start()
        source = os.path.join(srv.root, "big.bin")
        digest = write_pattern(source, 20 * MIB, seed=10)
        url = f"http://127.0.0.1:{srv.port}/uploads/big.bin"
        started = time.monotonic()
        done = subprocess.run([linux_bits_upload(), "--quiet", "--fragment-size", "4MiB", source, url],
                              capture_output=True, text=True, timeout=600)
        self.assertEqual(done.returncode, 0, f"bits-upload: {done.stderr}\n{srv.log_text()}")
        self.assert_file(srv.file_path("big.bin"), digest, 20 * MIB)
        print(f"20 MiB Linux bits-upload -> bitsd.exe: {time.monotonic() - started:.1f} s")

    def test_upload_resumes_after_bitsd_exe_is_killed(self):
        srv = WineServer(self).start()
        client = BitsClient(srv)
        self.addCleanup(client.reset)
        source = PatternSource(12 * MIB, seed=11)
        killed = []

        def kill_midway(kind, offset, n, status, got):
            # Once 5 MiB are acknowledged: SIGKILL the wine process, then start bitsd.exe again
            # (on a new port the client follows) with the same data_dir.
            if kind == "Fragment" and status == 200 and got >= 5 * MIB and not killed:
                killed.append(got)
                srv.kill()
                srv.start()

        result = client.upload_file(source, "resumed.bin", 1 * MIB, on_response=kill_midway,
                                    reconnect_timeout=WINE_READY_TIMEOUT_S)
        self.assertEqual(killed, [5 * MIB], "bitsd.exe was killed once, mid-upload")
        self.assertEqual(result.restarts, 0, "the session survived the kill: no new session")
        self.assertEqual(srv.starts, 2)
        self.assert_file(srv.file_path("resumed.bin"), source.sha256(), 12 * MIB)


class WindowsClientTest(BitsAssertions, unittest.TestCase):
    """bits-upload.exe under wine, the Linux bitsd."""

    def test_bits_upload_exe_to_linux_bitsd_20_mib(self):
        srv = Server(self).start()
        source = os.path.join(srv.root, "from-windows.bin")
        digest = write_pattern(source, 20 * MIB, seed=12)
        url = f"http://127.0.0.1:{srv.port}/uploads/from-windows.bin"
        started = time.monotonic()
        done = subprocess.run([WINE, BITS_UPLOAD_EXE, "--quiet", "--fragment-size", "4MiB", source, url],
                              env=wine_env(), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=600)
        self.assertEqual(done.returncode, 0, f"bits-upload.exe: {done.stderr}\n{srv.log_text()}")
        self.assert_file(srv.file_path("from-windows.bin"), digest, 20 * MIB)
        # Done: the state file beside the source is gone, as on Linux.
        self.assertFalse(os.path.exists(source + ".bits-upload"))
        print(f"20 MiB bits-upload.exe -> Linux bitsd: {time.monotonic() - started:.1f} s")


class WindowsRefusalTest(unittest.TestCase):
    """What the Windows build does not have stops bitsd.exe with one message naming the key."""

    def run_exe(self, *args):
        return subprocess.run([WINE, BITSD_EXE, *args], env=wine_env(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=WINE_READY_TIMEOUT_S)

    def check_config(self, upload):
        root = tempfile.mkdtemp(prefix="bitsd-win-refusal-")
        self.addCleanup(shutil.rmtree, root, True)
        config = os.path.join(root, "bitsd.json")
        entry = {"url_prefix": "/uploads/", "destination_dir": os.path.join(root, "files")}
        entry.update(upload)
        with open(config, "w") as f:
            json.dump({"data_dir": os.path.join(root, "data"), "admin_listen": None,
                       "listen": ["127.0.0.1:0"], "uploads": [entry]}, f)
        return self.run_exe("--config", config, "--check-config")

    def test_check_config_accepts_a_plain_prefix(self):
        done = self.check_config({"auth": {"type": "trusted-header", "trusted_proxies": ["127.0.0.1"]}})
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def test_notification_is_refused(self):
        done = self.check_config({"notification": {"type": "reference", "url": "http://127.0.0.1:9/in"}})
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        self.assertIn("uploads[0].notification: delivery to a back-end is not available in the Windows "
                      "build (no OpenSSL)", done.stderr)

    def test_basic_auth_is_refused(self):
        done = self.check_config({"auth": {"type": "basic", "credentials_file": "users",
                                           "allow_basic_without_tls": True}})
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        self.assertIn('uploads[0].auth.type: "basic" is not available in the Windows build (no libxcrypt); '
                      'use "trusted-header" behind a proxy', done.stderr)

    def test_passwd_is_refused(self):
        done = self.run_exe("passwd", "alice")
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        self.assertIn("bitsd passwd is not available in the Windows build (no libxcrypt)", done.stderr)


if __name__ == "__main__":
    unittest.main()
