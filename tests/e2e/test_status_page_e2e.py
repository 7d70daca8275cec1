"""The status page (issue 8, item 6) in a real browser: headless Chromium (Debian's `chromium`,
installed by scripts/install-deps) loads http://ADMIN/ while an upload is half done, lets the
page's script run, and the test reads the DOM it built: the active upload with its progress
bar at 50 %, a completed upload, a rejected request among the recent errors.

With STATUS_PAGE_SCREENSHOT=path.png the test also saves a screenshot there (that is how
docs/status-page.png was made)."""

import html.parser
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from bitsd_harness import BG_E_SESSION_NOT_FOUND, KIB, ServerTestCase

CHROMIUM_TIMEOUT_S = 120


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


class DomTable(html.parser.HTMLParser):
    """Rows of the tables of a DOM dump, by table id: [[cell text, ...], ...], and the
    attributes of every element with role=progressbar, and the <body>'s attributes."""

    def __init__(self):
        super().__init__()
        self.tables = {}
        self.progress = []
        self.body = {}
        self._table = None
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "table":
            self._table = a.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        if a.get("role") == "progressbar":
            self.progress.append(a)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@unittest.skipIf(chromium_binary() is None,
                 "chromium is not installed (scripts/install-deps installs it)")
class StatusPageTest(ServerTestCase):

    def chromium(self, *args):
        profile = tempfile.mkdtemp(prefix="bitsd-e2e-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        cmd = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-extensions", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
               # Virtual time runs the page's timers and fetches, then the DOM is dumped.
               "--virtual-time-budget=5000", *args]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=CHROMIUM_TIMEOUT_S)
        if p.returncode != 0:
            self.fail(f"chromium exited with {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
        return p.stdout.decode("utf-8", "replace")

    def test_page_shows_uploads_progress_completions_and_errors(self):
        srv, client = self.start()
        admin = srv.admin_port()
        data = bytes(range(256)) * 64  # 16 KiB
        # An upload in progress: half of it received, its client about to send the rest.
        running = client.new_session("fleet/host-17/app.log")
        self.assert_ok(client.fragment(running, data[:8 * KIB], 0, len(data), name="fleet/host-17/app.log"),
                       running)
        # One completed.
        done = client.new_session("fleet/host-03/crash.dmp")
        self.assert_ok(client.fragment(done, data[:3000], 0, 3000, name="fleet/host-03/crash.dmp"), done)
        self.assert_ok(client.close(done, name="fleet/host-03/crash.dmp"), done)
        # One rejected: a Close-Session of a session the server does not know.
        self.assert_bits_error(client.close("{44444444-4444-4444-4444-444444444444}", name="fleet/host-09/x.bin"),
                               500, BG_E_SESSION_NOT_FOUND)

        url = f"http://127.0.0.1:{admin}/"
        dom = DomTable()
        dom.feed(self.chromium("--dump-dom", url))
        self.assertEqual(dom.body.get("data-loaded"), "yes", "the page's script did not finish a refresh")

        active = dom.tables["active"][1:]  # without the header row
        self.assertEqual(len(active), 1, active)
        path, session, progress, received, total, _ = active[0]
        self.assertEqual((path, session), ("/uploads/fleet/host-17/app.log", running))
        self.assertEqual(progress, "50%")
        self.assertEqual((received, total), ("8.0 KiB", "16.0 KiB"))
        self.assertEqual([p.get("aria-valuenow") for p in dom.progress], ["50"])

        finished = dom.tables["finished"][1:]
        self.assertEqual(len(finished), 1, finished)
        self.assertEqual(finished[0][:4], ["/uploads/fleet/host-03/crash.dmp", done, "completed", "2.9 KiB"])

        errors = dom.tables["errors"][1:]
        self.assertEqual(len(errors), 1, errors)
        _, who, request, packet, session, status, code = errors[0]
        self.assertTrue(who.startswith("127.0.0.1:"), who)
        self.assertEqual(request, "BITS_POST /uploads/fleet/host-09/x.bin")
        self.assertEqual((packet, session, status, code),
                         ("Close-Session", "{44444444-4444-4444-4444-444444444444}", "500", BG_E_SESSION_NOT_FOUND))

        # The upload goes on; the page follows it on its next refresh.
        self.assert_ok(client.fragment(running, data[8 * KIB:12 * KIB], 8 * KIB, len(data),
                                       name="fleet/host-17/app.log"), running)
        time.sleep(1.1)  # the admin listener's store listing may be a second old
        dom = DomTable()
        dom.feed(self.chromium("--dump-dom", url))
        self.assertEqual(dom.tables["active"][1][2], "75%")

        shot = os.environ.get("STATUS_PAGE_SCREENSHOT")
        if shot:
            self.chromium(f"--screenshot={os.path.abspath(shot)}", "--window-size=1100,640",
                          "--hide-scrollbars", url)
            self.assertTrue(os.path.getsize(shot) > 0)


if __name__ == "__main__":
    unittest.main()
