"""Hardening of storage against what adversarial testing found (issue 6).

* A destination is never read back from a session's metadata: tampering metadata.json cannot
  send a file elsewhere (Close-Session and the start-up sweep recompute it from the session's
  prefix and target).
* Symbolic links in the destination tree are never followed: a linked directory or a linked
  final name answers 403 + 0x80070005, at Create-Session or (when planted later) at
  Close-Session, and nothing outside destination_dir changes.
* A cross-filesystem commit of a 250-byte name succeeds (the temporary name has a fixed
  length).
* Conflicts that appear after Create-Session (a parent that became a file, a directory at the
  name) answer a fatal 400 + 0x80070057 and keep the bytes.
* On a full disk Cancel-Session frees the space and answers 200; Close-Session answers
  500 + 0x80070070 and keeps the bytes.
* The temporary copy a crash left in the destination directory is deleted when the commit is
  given up or rolled back.

The disk-full and cross-filesystem cases mount small tmpfs file systems (the tests run as root
here and in CI); they are skipped, with the reason, where mount(8) is not permitted.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from bitsd_harness import (
    mount_tmpfs,
    KIB, MIB, BitsAssertions, BitsClient, BytesSource, PatternSource, Server,
    E_ACCESSDENIED, E_INVALIDARG,
)

ERROR_DISK_FULL = "0x80070070"



def snapshot(root):
    """Every path under root with its kind and content, to prove nothing changed."""
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                seen[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                seen[rel] = ("dir", None)
            else:
                with open(path, "rb") as f:
                    seen[rel] = ("file", f.read())
    return seen


def session_dir(srv, sid):
    return os.path.join(srv.config["data_dir"], "sessions", sid[1:3].lower(), sid)


class HardeningBase(BitsAssertions, unittest.TestCase):
    def start(self, **kw):
        srv = Server(self, **kw)
        srv.start()
        c = BitsClient(srv)
        self.addCleanup(c.reset)
        return srv, c

    def outside(self):
        """A directory outside every destination_dir, removed at cleanup."""
        path = tempfile.mkdtemp(prefix="bitsd-e2e-outside-")
        self.addCleanup(shutil.rmtree, path, True)
        with open(os.path.join(path, "x"), "wb") as f:
            f.write(b"precious")
        return path

    def upload_all(self, c, name, data, fragment=64 * KIB):
        """Create-Session and every fragment, no Close; returns the session id."""
        sid = c.new_session(name)
        offset = 0
        while offset < data.size:
            n = min(fragment, data.size - offset)
            r = c.fragment(sid, data.read(offset, n), offset, data.size, name=name)
            self.assert_ok(r, sid)
            offset += n
        return sid

    def edit_metadata(self, srv, sid, **changes):
        path = os.path.join(session_dir(srv, sid), "metadata.json")
        with open(path) as f:
            meta = json.load(f)
        meta.update(changes)
        with open(path, "w") as f:
            json.dump(meta, f)
        return meta


class TamperedMetadataTest(HardeningBase):
    """Item 1: the destination recorded in metadata.json is never used to write."""

    def test_close_ignores_a_tampered_destination(self):
        srv, c = self.start()
        outside = self.outside()
        before = snapshot(outside)
        name = "tampered.bin"
        data = PatternSource(100 * KIB, 601)
        sid = self.upload_all(c, name, data)
        self.edit_metadata(srv, sid, destination=os.path.join(outside, "evil.bin"))
        self.assert_ok(c.close(sid, name), sid)
        self.assertEqual(snapshot(outside), before, "Close-Session wrote outside destination_dir")
        self.assert_file(srv.file_path(name), data.sha256(), data.size)

    def test_sweep_ignores_a_tampered_destination(self):
        srv, c = self.start(fsync="durable")
        outside = self.outside()
        before = snapshot(outside)
        name = "tampered-sweep.bin"
        data = PatternSource(100 * KIB, 602)
        sid = self.upload_all(c, name, data)
        srv.kill()
        self.edit_metadata(srv, sid, state="committing",
                           destination=os.path.join(outside, "evil.bin"))
        srv.start()
        deadline = time.monotonic() + 10
        while not os.path.exists(srv.file_path(name)) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(snapshot(outside), before, "the sweep wrote outside destination_dir")
        self.assert_file(srv.file_path(name), data.sha256(), data.size)

    def test_close_refused_when_the_recorded_prefix_is_gone(self):
        srv, c = self.start()
        name = "orphan.bin"
        data = PatternSource(10 * KIB, 603)
        sid = self.upload_all(c, name, data)
        self.edit_metadata(srv, sid, url_prefix="/gone/")
        r = c.close(sid, name)
        self.assert_bits_error(r, 400, E_INVALIDARG, sid)
        self.assertFalse(os.path.exists(srv.file_path(name)))
        # The session is kept, bytes and all.
        self.assertEqual(os.path.getsize(os.path.join(session_dir(srv, sid), "data")), data.size)


class SymlinkTest(HardeningBase):
    """Item 2: no symbolic link in the destination tree is followed."""

    def check_refused(self, srv, outside, before):
        self.assertEqual(snapshot(outside), before, "a file outside destination_dir changed")
        srv.assert_alive()

    def test_create_session_refuses_a_linked_directory(self):
        for overwrite in (False, True):
            with self.subTest(allow_overwrites=overwrite):
                srv, c = self.start(upload={"allow_overwrites": overwrite})
                outside = self.outside()
                os.symlink(outside, os.path.join(srv.files_dir, "evil"))
                before = snapshot(outside)
                for name in ("evil/x", "evil/new.bin", "evil/sub/new.bin"):
                    r = c.create_session(name)
                    self.assert_bits_error(r, 403, E_ACCESSDENIED, msg=f" ({name})")
                self.check_refused(srv, outside, before)

    def test_create_session_refuses_a_linked_final_name(self):
        for overwrite in (False, True):
            with self.subTest(allow_overwrites=overwrite):
                srv, c = self.start(upload={"allow_overwrites": overwrite})
                outside = self.outside()
                os.symlink(os.path.join(outside, "x"), os.path.join(srv.files_dir, "link.bin"))
                os.symlink(os.path.join(outside, "missing"),
                           os.path.join(srv.files_dir, "dangling.bin"))
                before = snapshot(outside)
                for name in ("link.bin", "dangling.bin"):
                    r = c.create_session(name)
                    self.assert_bits_error(r, 403, E_ACCESSDENIED, msg=f" ({name})")
                self.check_refused(srv, outside, before)
                self.assertTrue(os.path.islink(os.path.join(srv.files_dir, "link.bin")))

    def test_links_planted_after_create_session_are_refused_at_close(self):
        for overwrite in (False, True):
            with self.subTest(allow_overwrites=overwrite):
                srv, c = self.start(upload={"allow_overwrites": overwrite})
                outside = self.outside()
                data = PatternSource(50 * KIB, 604)
                dir_sid = self.upload_all(c, "sub/x", data)
                name_sid = self.upload_all(c, "late.bin", data)
                os.symlink(outside, os.path.join(srv.files_dir, "sub"))
                os.symlink(os.path.join(outside, "x"), os.path.join(srv.files_dir, "late.bin"))
                before = snapshot(outside)
                self.assert_bits_error(c.close(dir_sid, "sub/x"), 403, E_ACCESSDENIED, dir_sid)
                self.assert_bits_error(c.close(name_sid, "late.bin"), 403, E_ACCESSDENIED,
                                       name_sid)
                self.check_refused(srv, outside, before)
                self.assertTrue(os.path.islink(os.path.join(srv.files_dir, "late.bin")))
                # The bytes are kept: with the links gone, Close-Session delivers.
                os.unlink(os.path.join(srv.files_dir, "sub"))
                os.unlink(os.path.join(srv.files_dir, "late.bin"))
                self.assert_ok(c.close(dir_sid, "sub/x"), dir_sid)
                self.assert_ok(c.close(name_sid, "late.bin"), name_sid)
                self.assert_file(srv.file_path("sub/x"), data.sha256(), data.size)
                self.assert_file(srv.file_path("late.bin"), data.sha256(), data.size)


class CrossFilesystemTest(HardeningBase):
    """Items 3 and 6: data_dir on a tmpfs, destination_dir on the disk."""

    def start_across(self, **kw):
        data_dir = mount_tmpfs(self, "size=64m")
        srv, c = self.start(extra={"data_dir": data_dir}, **kw)
        self.assertNotEqual(os.stat(data_dir).st_dev, os.stat(srv.files_dir).st_dev)
        return srv, c

    def test_a_255_byte_name_commits_across_filesystems(self):
        srv, c = self.start_across()
        for length in (206, 230, 255):
            name = ("n" * (length - 4)) + ".bin"
            data = PatternSource(20 * KIB, 605 + length)
            sid = self.upload_all(c, name, data)
            self.assert_ok(c.close(sid, name), sid, f" (a name of {length} bytes)")
            self.assert_file(srv.file_path(name), data.sha256(), data.size)
        self.assertEqual(sorted(n for n in os.listdir(srv.files_dir) if n.startswith(".")), [],
                         "a temporary copy was left in the destination directory")

    def test_an_abandoned_copy_is_deleted_when_the_commit_rolls_back(self):
        # A crash mid-copy left the session `committing` and a partial hidden copy beside the
        # destination; by the time bitsd restarts another upload took the name (overwrites
        # off), so the sweep's commit is refused and rolled back: the copy must go too.
        srv, c = self.start_across(fsync="durable")
        name = "abandoned.bin"
        data = PatternSource(200 * KIB, 606)
        sid = self.upload_all(c, name, data)
        srv.kill()
        self.edit_metadata(srv, sid, state="committing")
        leftover = os.path.join(srv.files_dir, f".bitsd-{sid}.tmp")
        with open(leftover, "wb") as f:
            f.write(b"partial copy" * 1000)
        with open(srv.file_path(name), "wb") as f:
            f.write(b"someone else's file")
        srv.start()
        deadline = time.monotonic() + 10
        while os.path.exists(leftover) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(os.path.exists(leftover), "the abandoned temporary copy was left")
        with open(srv.file_path(name), "rb") as f:
            self.assertEqual(f.read(), b"someone else's file")
        # The bytes are kept; the session is receiving again and refuses the taken name.
        c.reset()
        self.assert_bits_error(c.close(sid, name), 403, E_ACCESSDENIED, sid)


class ExpiredSessionCopyTest(HardeningBase):
    """Item 11: removing an expired session deletes the copy a crash left beside its
    destination."""

    def test_the_sweep_deletes_an_expired_sessions_copy(self):
        for state in ("receiving", "committing"):
            with self.subTest(state=state):
                srv, c = self.start(upload={"session_timeout_s": 60})
                name = "sub/expired.bin"
                data = PatternSource(20 * KIB, 611)
                sid = self.upload_all(c, name, data)
                os.makedirs(os.path.dirname(srv.file_path(name)), exist_ok=True)
                with open(srv.file_path(name), "wb") as f:
                    f.write(b"someone else's file")  # so a committing session cannot finish
                srv.kill()
                self.edit_metadata(srv, sid, state=state)
                leftover = os.path.join(os.path.dirname(srv.file_path(name)), f".bitsd-{sid}.tmp")
                with open(leftover, "wb") as f:
                    f.write(b"partial copy" * 1000)
                old = time.time() - 3600  # idle for an hour: past the 60 s timeout
                for f in ("metadata.json", "data"):
                    os.utime(os.path.join(session_dir(srv, sid), f), (old, old))
                srv.start()
                deadline = time.monotonic() + 10
                while os.path.exists(session_dir(srv, sid)) and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertFalse(os.path.exists(session_dir(srv, sid)), "session not expired")
                self.assertFalse(os.path.exists(leftover), "the abandoned copy was left")
                with open(srv.file_path(name), "rb") as f:
                    self.assertEqual(f.read(), b"someone else's file")
                srv.cleanup()


class LateConflictTest(HardeningBase):
    """Item 4: a destination that cannot be a file any more at Close-Session: fatal 400."""

    def test_parent_became_a_file(self):
        srv, c = self.start()
        data = PatternSource(30 * KIB, 607)
        sid = self.upload_all(c, "c/child.bin", data)
        with open(os.path.join(srv.files_dir, "c"), "wb") as f:
            f.write(b"a file took the directory's name")
        self.assert_bits_error(c.close(sid, "c/child.bin"), 400, E_INVALIDARG, sid)
        self.assertEqual(os.path.getsize(os.path.join(session_dir(srv, sid), "data")), data.size)
        os.unlink(os.path.join(srv.files_dir, "c"))
        self.assert_ok(c.close(sid, "c/child.bin"), sid)
        self.assert_file(srv.file_path("c/child.bin"), data.sha256(), data.size)

    def test_a_directory_took_the_name(self):
        for overwrite in (False, True):
            for empty in (True, False):
                with self.subTest(allow_overwrites=overwrite, empty_directory=empty):
                    srv, c = self.start(upload={"allow_overwrites": overwrite})
                    data = PatternSource(30 * KIB, 608)
                    sid = self.upload_all(c, "d.bin", data)
                    os.mkdir(srv.file_path("d.bin"))
                    if not empty:
                        with open(os.path.join(srv.file_path("d.bin"), "inner"), "wb") as f:
                            f.write(b"x")
                    self.assert_bits_error(c.close(sid, "d.bin"), 400, E_INVALIDARG, sid)
                    self.assertTrue(os.path.isdir(srv.file_path("d.bin")))
                    shutil.rmtree(srv.file_path("d.bin"))
                    self.assert_ok(c.close(sid, "d.bin"), sid)
                    self.assert_file(srv.file_path("d.bin"), data.sha256(), data.size)


class DiskFullTest(HardeningBase):
    """Item 5: Cancel-Session frees space on a full disk; Close-Session keeps the bytes."""

    def fill(self, srv, c, name="filler.bin"):
        """Uploads one session until the disk is full; returns its id."""
        total = 64 * MIB
        sid = c.new_session(name)
        offset = 0
        for _ in range(200):
            r = c.fragment(sid, PatternSource(MIB, 609).read(0, MIB), offset, total, name=name)
            if r.status != 200:
                self.assert_bits_error(r, 500, ERROR_DISK_FULL, sid)
                return sid
            offset += MIB
        self.fail("the 8 MiB data_dir never filled up")

    def free_bytes(self, path):
        st = os.statvfs(path)
        return st.f_bavail * st.f_frsize

    def test_cancel_on_a_full_disk_frees_the_space(self):
        data_dir = mount_tmpfs(self, "size=8m")
        srv, c = self.start(fsync="durable", extra={"data_dir": data_dir})
        small = BytesSource(b"tiny")
        small_sid = c.new_session("small.bin")
        sid = self.fill(srv, c)
        self.assertLess(self.free_bytes(data_dir), 64 * KIB)
        self.assert_ok(c.cancel(small_sid, "small.bin"), small_sid)
        self.assert_ok(c.cancel(sid, "filler.bin"), sid)
        self.assertGreater(self.free_bytes(data_dir), 6 * MIB, "Cancel-Session did not free space")
        self.assertFalse(os.path.exists(os.path.join(session_dir(srv, sid), "data")))
        # Cancelled: a repeated Cancel answers 200, a Fragment finds no session.
        self.assert_ok(c.cancel(sid, "filler.bin"), sid)
        r = c.fragment(sid, small.read(0, 4), 0, 4, name="filler.bin")
        self.assertTrue(r.is_session_not_found(), f"fragment after cancel:\n{r}")

    def test_close_onto_a_full_destination_filesystem_keeps_the_bytes(self):
        # The cross-filesystem copy runs out of space: the partial copy is deleted (the space
        # comes back), the client gets the transient disk-full error, the bytes stay.
        files = mount_tmpfs(self, "size=1m")
        srv, c = self.start(fsync="durable", upload={"destination_dir": files})
        name = "too-big.bin"
        data = PatternSource(2 * MIB, 612)
        sid = self.upload_all(c, name, data, fragment=MIB)
        self.assert_bits_error(c.close(sid, name), 500, ERROR_DISK_FULL, sid)
        self.assertEqual(os.listdir(files), [], "a partial copy was left in the destination")
        self.assertEqual(os.path.getsize(os.path.join(session_dir(srv, sid), "data")), data.size)
        self.assert_bits_error(c.close(sid, name), 500, ERROR_DISK_FULL, sid)  # still transient

    def test_close_on_a_full_disk_keeps_the_bytes(self):
        for across in (False, True):
            with self.subTest(destination_on_another_filesystem=across):
                data_dir = mount_tmpfs(self, "size=8m")
                files = None if across else os.path.join(data_dir, "files")
                srv, c = self.start(fsync="durable", extra={"data_dir": data_dir},
                                    upload={} if across else {"destination_dir": files})
                name = "keep.bin"
                data = PatternSource(300 * KIB, 610)
                sid = self.upload_all(c, name, data)
                filler = self.fill(srv, c)
                r = c.close(sid, name)
                self.assert_bits_error(r, 500, ERROR_DISK_FULL, sid)
                dest = os.path.join(files, name) if files else srv.file_path(name)
                self.assertFalse(os.path.exists(dest))
                self.assertEqual(os.path.getsize(os.path.join(session_dir(srv, sid), "data")),
                                 data.size)
                # Transient: with space back, the retried Close-Session delivers.
                self.assert_ok(c.cancel(filler, "filler.bin"), filler)
                self.assert_ok(c.close(sid, name), sid)
                self.assert_file(dest, data.sha256(), data.size)
                srv.cleanup()


if __name__ == "__main__":
    unittest.main()
