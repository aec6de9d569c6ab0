"""The whole stack as `make run` starts it: real Redis, real exercise feeds on loopback, workers,
cron and the web app; checked over HTTP and in real headless Chromium."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.stack import ROOT, start_stack

pytestmark = [pytest.mark.slow, pytest.mark.redis]

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    import psutil

    stack = start_stack(tmp_path_factory.mktemp("stack"))
    yield stack
    children = psutil.Process(stack.process.pid).children(recursive=True)
    assert {c.name() for c in children} >= {"redis-server"}, "redis-server should run under watchfloor up"
    code = stack.stop()  # SIGINT, as Ctrl-C
    assert code == 0, f"watchfloor up did not stop cleanly ({code}):\n{stack.log()}"
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"processes left behind after Ctrl-C: {[p.cmdline() for p in alive]}"
    # Redis was shut down with its append-only file flushed: the data is there for the next start.
    aof = stack.data_dir / "redis" / "watchfloor.aof"
    assert aof.exists() and aof.stat().st_size > 0


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def test_health_reports_redis_events_and_every_feed(stack):
    def exercise_polled():
        status, body = stack.health()
        feeds = body.get("feeds", {})
        return body if status == 200 and feeds.get("exercise-quakes", {}).get("status") == "ok" and body["events"] > 0 else None

    body = wait_for(exercise_polled, 60, "the exercise feeds to be polled")
    assert body["redis"] is True and isinstance(body["events"], int)
    for fid in ("exercise-quakes", "exercise-cap", "exercise-news", "usgs-all-hour", "nws-alerts", "gdacs"):
        assert fid in body["feeds"] and "status" in body["feeds"][fid]
    # No internet here: the public feeds are recorded as failing with a reason, nothing else affected.
    public = wait_for(lambda: stack.health()[1]["feeds"]["usgs-all-hour"]["status"] != "pending" and stack.health()[1],
                      60, "the public feed to be tried")
    assert public["feeds"]["usgs-all-hour"]["status"] != "ok"
    assert public["feeds"]["usgs-all-hour"]["reason"]


@pytest.mark.browser
def test_new_exercise_item_appears_on_the_map_without_reload(stack):
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Chromium missing: `make test` installs it (apt-get install chromium)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        stack.add_user("probe", "viewer", "a long enough passphrase 1")
        stack.sign_in(page, "probe", "a long enough passphrase 1")
        page.wait_for_selector(".wf-desk .wf-map-graph .js-plotly-plot", timeout=30_000)
        page.wait_for_selector(".wf-desk .wf-conn-live", timeout=30_000)
        title = f"EXERCISE probe quake {int(time.time())}"
        stack.inject({"channel": "usgs", "kind": "earthquake", "title": title, "place": "Natick",
                      "lat": 42.2834, "lon": -71.3495, "magnitude": 4.1, "depth_km": 7.0, "severity": "moderate"})
        page.wait_for_function(
            """(title) => {
                const gd = document.querySelector('.wf-desk .wf-map-graph .js-plotly-plot');
                const t = gd && gd.data && gd.data[0];
                if (!t || !t.hovertext) return false;
                const i = t.hovertext.findIndex(h => h && h.includes(title));
                return i >= 0 && t.lat[i] !== null && Math.abs(t.lat[i] - 42.2834) < 0.01;
            }""",
            arg=title,
            timeout=45_000,
        )
        page.screenshot(path=str(ARTIFACTS / "desk-live.png"))
        assert page.locator(".wf-exercise-badge").is_visible()
        assert not errors, f"JavaScript errors on the page: {errors}"
        browser.close()


def test_redis_killed_and_restarted_recovers_by_itself(stack):
    status, before = stack.health()
    assert status == 200
    url = (stack.data_dir / "redis" / "redis.url").read_text().strip()
    import redis

    pid = redis.Redis.from_url(url).info("server")["process_id"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: stack.health()[0] == 200 and stack.health()[1]["events"] >= before["events"], 60,
             "health to recover after Redis was killed")


def test_the_cli_finds_the_running_stack_or_says_where_it_is(stack, tmp_path):
    import json
    import stat
    import subprocess
    import sys

    record = stack.data_dir / "stack.json"
    assert json.loads(record.read_text())["web_url"] == stack.url.rstrip("/")
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "REDIS_URL", "WATCHFLOOR_CONFIG")}

    def cli(*args: str, data_dir) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "watchfloor.cli", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=60, env={**env, "WATCHFLOOR_DATA_DIR": str(data_dir)})

    # `display add` prints the URL with the port the stack really serves, not the default 8050.
    added = cli("display", "add", "lobby-wall", data_dir=stack.data_dir)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(stack.url.rstrip("/") + "/wall?display_token=")
    # Another data directory: one line naming the running stack's, never a second, empty store.
    other = cli("incidents", "--json", data_dir=tmp_path / "elsewhere")
    assert other.returncode == 2 and len(other.stderr.strip().splitlines()) == 1
    assert str(stack.data_dir.resolve()) in other.stderr and "WATCHFLOOR_DATA_DIR=" in other.stderr
    assert not (tmp_path / "elsewhere" / "redis").exists()


def test_the_one_time_admin_password_stands_apart_from_the_log(stack):
    import stat

    log = stack.log_path.read_text(encoding="utf-8", errors="replace")
    block = log[log.index("FIRST RUN"):].split("\n\n", 1)[0]
    password = block.splitlines()[1].strip()
    assert len(password) >= 16 and "=" * 20 in log
    kept = stack.data_dir / "first-admin-password"
    assert kept.read_text().strip() == password and stat.S_IMODE(kept.stat().st_mode) == 0o600
