"""With the push stream open, a screen does not poll on every refresh tick (hundreds of screens per
web process otherwise poll for nothing); a change still reaches it at once, on the stream itself."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import redis

from domain.store.streams import EventStore
from feeds.model import Event, Kind, Severity
from tests.stack import start_stack

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.redis]

PASSWORD = "gate passphrase 42"


def test_an_open_push_stream_replaces_the_tick_polls_and_still_wakes_the_screen(tmp_path, browser):
    stack = start_stack(tmp_path, env={"WATCHFLOOR_EXERCISE": "false", "WATCHFLOOR_REFRESH_MS": "1000"})
    try:
        stack.add_user("officer", "operator", PASSWORD)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        polls: list[float] = []
        page.on("request", lambda r: polls.append(time.monotonic()) if r.method == "POST" and r.post_data
                and '"wf":"delta"' in r.post_data else None)
        stack.sign_in(page, "officer", PASSWORD)
        page.wait_for_selector(".wf-desk .wf-conn-live", timeout=60_000)
        page.wait_for_timeout(3000)  # the stream is open
        start = len(polls)
        page.wait_for_timeout(8000)
        quiet = len(polls) - start
        # Refresh 1 s: eight ticks. With the stream open at most the 10 s safety poll (and one in flight).
        assert quiet <= 2, f"{quiet} polls in 8 s with the push stream open"
        url = (stack.data_dir / "redis" / "redis.url").read_text(encoding="utf-8").strip()
        EventStore(redis.Redis.from_url(url)).append([Event(
            id="gate:1", source="gate-test", kind=Kind.EARTHQUAKE, title="EXERCISE gate quake",
            time=datetime.now(UTC), severity=Severity.SEVERE, lat=60.17, lon=24.94, magnitude=5.0, depth_km=10.0,
            feed="gate-test", exercise=True, place="Helsinki")])
        page.wait_for_selector(".wf-desk .wf-incidents li:has-text('EXERCISE gate quake')", timeout=30_000)
        # It came on the stream itself (a poll then only carries the operator alerts and the safety net).
        assert page.evaluate("(window.__watchfloor.desk || {}).pushed || 0") >= 1, "no delta applied from the push stream"
        # Two deltas landing before the page renders either: both are drawn (the store alone would
        # keep the second, and the cursor has moved past both, so no poll would bring the first).
        page.evaluate("""() => {
            const st = window.__watchfloor.desk, WF = window.__wfjs;
            const model = st.rows.find((r) => r.title && r.title.indexOf('EXERCISE gate quake') >= 0);
            const row = (n) => Object.assign({}, model, {id: 'inc:burst-' + n, title: 'EXERCISE burst ' + n});
            WF.applyDelta('desk', st, {from: st.cursor, cursor: st.cursor, rows: [row('A')]});
            WF.applyDelta('desk', st, {from: st.cursor, cursor: st.cursor, rows: [row('B')]});
        }""")
        for name in ("A", "B"):
            page.wait_for_selector(f".wf-desk .wf-incidents li:has-text('EXERCISE burst {name}')", timeout=15_000)
        # Still LIVE (not STALE for want of the polls it skipped). Waited for, not read once: on a
        # loaded two-core CI machine the heartbeat can lag the render by a second or two.
        try:
            page.wait_for_selector(".wf-desk .wf-conn-live", timeout=15_000)
        except Exception:
            raise AssertionError("the desk is not LIVE: " + page.inner_text(".wf-desk .wf-conn")) from None
        page.close()
    finally:
        stack.stop()
