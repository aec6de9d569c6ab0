"""Screen measurements against the whole stack (`watchfloor up`), each printed with its method.

    python -m bench.screens                 latency at 2000 and 500 ms, bytes at 10k/100k, capacity
    python -m bench.screens --quick         a smoke run (fewer events, 1k/5k incidents, 2 load levels)
    python -m bench.screens --only latency  (or bytes, capacity, aggregation; repeatable)

1. Latency, XADD to marker: EventStore.append of one event (time.time() just before), through the
   fuser (wf:events -> wf:incidents, wf:incident-changes), the screen's poll, render() in the
   browser; the marker counts as shown when the map trace's customdata holds the incident's id
   with a non-null lat, checked on every animation frame (and every 20 ms) in the page, stamped
   with Date.now() (same machine, same clock). Screens poll; nothing is pushed.
2. Bytes per update: one poll response (HTTP, the browser's own request body with only the cursor
   changed) carrying one new incident, against the whole map figure with every incident
   (map_figure(...).to_json()) and the page's initial snapshot (the pages callback response that
   carries the snapshot store), with N incidents in the picture. Sizes are as sent (the app does
   not compress); gzip sizes are given for what compression would change.
4. Aggregation (server-side hex bins past map_max_points), on against off in the same run, same
   Redis, same incidents: `watchfloor up` with map_max_points 5,000 (on) and a second web process on
   the same Redis with map_max_points 1,000,000 (off). Per picture size: the first snapshot (the
   pages callback answer that carries the snapshot store; raw JSON and gzip as sent; the first call
   on the "on" server builds or advances its model), one update carrying one new incident (the
   browser's own poll body, cursor just before it), and the browser's time to first render (from
   navigation start to the map trace holding positions, and for "on" the bins trace too, stamped
   in the page with performance.now()).
3. Capacity: N simulated screens, each on its own keep-alive connection with one signed-in
   session cookie, posting the poll callback every refresh period (open loop: a tick does not wait
   for the previous answer, like dcc.Interval); request latency and the web process's CPU.

The numbers are what this machine did in this run; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
import shutil
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from bench.live_stack import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    Stack,
    http_session_cookie,
    percentile,
    redis_client,
    repo_state,
    start_stack,
    tmp_root,
    web_process,
)
from bench.report import RESULTS, machine
from domain.picture.keys import IncidentKeys
from tests.stack import wait_healthy

PASSWORD = "desk probe passphrase 42"
MAP = ".wf-desk .wf-map-graph .js-plotly-plot"
PUSH_NOTE = ("push: the /api/push event stream wakes each screen's cursor-based poll the moment an incident or "
             "alert changes (dashboard/push.py); the dcc.Interval poll (WATCHFLOOR_REFRESH_MS) is the fallback, so "
             "with push working the latency should not depend on the refresh period")

# In-page watcher: first time each registered id is in the map trace with a position.
WATCHER = """(sel) => {
  if (window.__wfBench) { return true; }
  const W = window.__wfBench = {targets: new Set(), seen: {}};
  const check = () => {
    if (!W.targets.size) { return; }
    const gd = document.querySelector(sel);
    const t = gd && gd.data && gd.data[0];
    if (!t || !t.customdata || !t.lat) { return; }
    for (const id of Array.from(W.targets)) {
      const i = t.customdata.indexOf(id);
      if (i >= 0 && t.lat[i] !== null && t.lat[i] !== undefined) { W.seen[id] = Date.now(); W.targets.delete(id); }
    }
  };
  const frame = () => { check(); requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  setInterval(check, 20);
  return true;
}"""
WATCH = "(ids) => { ids.forEach((id) => window.__wfBench.targets.add(id)); return true; }"
SEEN = "(ids) => ids.some((id) => window.__wfBench.seen[id] !== undefined)"
WHERE = """(ids) => { const gd = document.querySelector('.wf-desk .wf-map-graph .js-plotly-plot');
  const t = gd && gd.data && gd.data[0]; const st = window.__watchfloor && window.__watchfloor.desk;
  return ids.map((id) => { const i = t && t.customdata ? t.customdata.indexOf(id) : -1;
    const r = st ? st.rows.find((row) => row.id === id) : null;
    return {id, at: i, lat: i >= 0 ? t.lat[i] : null, row: r ? {time: r.time, hidden: !!r.hidden, lat: r.lat} : null,
            markers: t && t.customdata ? t.customdata.length : 0, url: location.pathname}; }); }"""
SEEN_AT = "(ids) => Math.min(...ids.map((id) => window.__wfBench.seen[id] ?? Infinity))"


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.screens", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer events, smaller pictures, 2 loads")
    parser.add_argument("--only", action="append", choices=["latency", "bytes", "capacity", "aggregation"], help="run only this")
    parser.add_argument("--events", type=int, default=None, help="events per latency run (default 40; quick 8)")
    parser.add_argument("--screens", type=str, default=None, help="capacity loads (default 10,50,100,200,400,800)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per capacity load (default 20)")
    parser.add_argument("--pictures", type=str, default=None, help="incident counts for bytes, e.g. 10000,100000")
    parser.add_argument("--agg-pictures", type=str, default=None,
                        help="incident counts for aggregation on/off (default 10000,100000; quick 2000,6000)")
    parser.add_argument("--json", type=Path, default=None, help="results file (default bench/results/screens.json)")
    return parser.parse_args(argv)


# -- helpers ---------------------------------------------------------------------------------------

def _bench_event(tag: str, i: int, rng: random.Random, when: datetime | None = None) -> Any:
    """A placed quake at a random spot: with distinct times (the quake rule gates at 120 s and
    150 km) the fuser makes each one a new incident, "inc:" + its id."""
    from feeds.model import Event, Kind, Severity

    return Event(
        id=f"bench:{tag}:{i}", source="bench", kind=Kind.EARTHQUAKE, title=f"EXERCISE bench {tag} {i}",
        time=when or datetime.now(UTC), severity=Severity.MODERATE, lat=round(rng.uniform(-60, 70), 5),
        lon=round(rng.uniform(-179, 179), 5), magnitude=round(rng.uniform(2.5, 6.0), 1), depth_km=10.0,
        feed="bench", exercise=True, place=f"bench {i}",
    )


def _fused(client: Any, event_id: str, timeout: float = 60) -> tuple[str, int | None]:
    """The incident holding ``event_id`` and the ms timestamp of its latest change entry."""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inc = client.hget(IncidentKeys.INCIDENT_OF, event_id)
        if inc:
            incident = inc.decode()
            for sid, fields in client.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=200):
                if fields.get(b"id", b"").decode() == incident:
                    return incident, int(sid.decode().split("-")[0])
            return incident, None
        time.sleep(0.01)
    raise TimeoutError(f"the fuser did not place {event_id} within {timeout}s")


def _wait_caught_up(client: Any, timeout: float) -> float:
    """Seconds until the fuser's cursor reaches the last wf:events entry."""
    from domain.store.streams import EventStore

    last = EventStore(client).last_id()
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        cursor = client.hget(IncidentKeys.FUSION_STATE, "cursor")
        if cursor and cursor.decode() == last:
            return time.monotonic() - start
        time.sleep(0.2)
    raise TimeoutError(f"the fuser did not catch up with {last} within {timeout}s")


def _open_desk(stack: Stack, browser: Any, user: str) -> tuple[Any, list[dict[str, Any]], list[str]]:
    """Sign in through the form, open the desk; returns the page, every Dash callback request
    body it sent (parsed JSON) and page errors."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    bodies: list[dict[str, Any]] = []
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)[:300]))

    def on_request(req: Any) -> None:
        if req.method == "POST" and urlsplit(req.url).path.endswith("/_dash-update-component") and req.post_data:
            try:
                parts = urlsplit(req.url)
                bodies.append({**json.loads(req.post_data),
                               "__path": parts.path.lstrip("/") + ("?" + parts.query if parts.query else "")})
            except ValueError:
                pass

    page.on("request", on_request)
    stack.sign_in(page, user, PASSWORD)
    try:
        page.wait_for_selector(MAP, timeout=120_000)
        page.wait_for_selector(".wf-desk .wf-conn-live", timeout=60_000)
    except Exception as exc:
        raise RuntimeError(f"the desk did not come up at {page.url}: {page.inner_text('body')[:500]!r}; "
                           f"page errors {errors[:3]}") from exc
    return page, bodies, errors


def _body_for(bodies: list[dict[str, Any]], output_part: str) -> tuple[dict[str, Any], str]:
    """The first captured body whose output names ``output_part``, and the path it was posted to."""
    for body in bodies:
        if output_part in str(body.get("output", "")):
            body = dict(body)
            return body, body.pop("__path")
    raise RuntimeError(f"no callback request with output {output_part!r} was captured "
                       f"(saw {[b.get('output') for b in bodies][:8]})")


def _poll_body(template: dict[str, Any], cursor: str) -> bytes:
    """The browser's poll request with only the cursor (the State) changed."""
    body = json.loads(json.dumps(template))
    for state in body.get("state") or []:
        if isinstance(state.get("id"), dict) and state["id"].get("wf") == "cursor":
            state["value"] = cursor
    return orjson.dumps(body)


def _post(stack: Stack, cookie: str, body: bytes, path: str = "_dash-update-component", *,
          encoding: str = "gzip, deflate, br", timeout: float = 300) -> tuple[int, bytes, float, dict[str, str]]:
    """POST a callback body as the browser does; status, the bytes on the wire, seconds, headers."""
    req = urllib.request.Request(stack.url + path, data=body, method="POST", headers={
        "Content-Type": "application/json", "Cookie": cookie, "Origin": stack.url.rstrip("/"),
        "Accept-Encoding": encoding})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        data = resp.read()
        return resp.status, data, time.perf_counter() - start, dict(resp.headers)


def _launch(pw: Any) -> Any:
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def _ms(value: float) -> str:
    return f"{value * 1000:,.0f} ms"


# -- 1. latency ------------------------------------------------------------------------------------

def measure_latency(refresh_ms: int, events: int) -> dict[str, Any]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from domain.store.streams import EventStore

    tmp = tmp_root()
    stack = start_stack(tmp, env={"WATCHFLOOR_REFRESH_MS": str(refresh_ms)})
    rng = random.Random(refresh_ms)
    samples: list[dict[str, float]] = []
    missed: list[dict[str, Any]] = []
    try:
        stack.add_user("bench", "operator", PASSWORD)
        client = redis_client(stack)
        store = EventStore(client)
        with sync_playwright() as pw:
            browser = _launch(pw)
            page, _bodies, errors = _open_desk(stack, browser, "bench")
            page.evaluate(WATCHER, MAP)
            time.sleep(refresh_ms / 1000 * 2)  # first ticks and the scenario's first items settle
            for i in range(events):
                event = _bench_event(f"lat{refresh_ms}", i, rng)
                ids = [event.id, f"inc:{event.id}"]
                page.evaluate(WATCH, ids)
                t_append = time.time()
                store.append([event])
                try:
                    page.wait_for_function(SEEN, arg=ids, polling=50, timeout=30_000)
                except PlaywrightTimeout:
                    inc = client.hget(IncidentKeys.INCIDENT_OF, event.id)
                    missed.append({"event": event.id, "incident": inc.decode() if inc else None,
                                   "page": page.evaluate(WHERE, [event.id, inc.decode() if inc else ""])})
                    continue
                seen_ms = page.evaluate(SEEN_AT, ids)
                incident, fused_ms = _fused(client, event.id)
                sample = {"total_s": seen_ms / 1000 - t_append}
                if fused_ms is not None:
                    sample["fuse_s"] = fused_ms / 1000 - t_append
                    sample["poll_render_s"] = (seen_ms - fused_ms) / 1000
                samples.append(sample)
                time.sleep(rng.uniform(0.1, refresh_ms / 1000 + 0.1))  # de-phase from the poll timer
            browser.close()
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    totals = [s["total_s"] for s in samples]
    fuse = [s["fuse_s"] for s in samples if "fuse_s" in s]
    rest = [s["poll_render_s"] for s in samples if "poll_render_s" in s]
    return {
        "refresh_ms": refresh_ms, "events": len(samples),
        "p50_s": percentile(totals, 50), "p95_s": percentile(totals, 95), "max_s": max(totals),
        "min_s": min(totals), "fuse_p50_s": percentile(fuse, 50), "fuse_p95_s": percentile(fuse, 95),
        "poll_render_p50_s": percentile(rest, 50), "poll_render_p95_s": percentile(rest, 95),
        "missed": missed, "page_errors": errors[:5], "samples": samples,
    }


# -- 2. bytes --------------------------------------------------------------------------------------

def _load_incidents(client: Any, target: int, have: int, rng: random.Random) -> float:
    """Append events until ``target`` bench events exist; seconds spent appending."""
    from domain.store.streams import EventStore

    store = EventStore(client)
    start = time.perf_counter()
    now = datetime.now(UTC)
    for first in range(have, target, 2000):  # 0.5 s apart, newest first: no two within a quake's time gate
        store.append([_bench_event("pic", i, rng, when=now - timedelta(seconds=0.5 * i))
                      for i in range(first, min(target, first + 2000))])
    return time.perf_counter() - start


def measure_bytes(pictures: list[int]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from dashboard.panels.figures import map_figure
    from domain.picture import incidents

    tmp = tmp_root()
    # No exercise scenario here: the picture is exactly the loaded incidents plus the probe.
    stack = start_stack(tmp, env={"WATCHFLOOR_EXERCISE": "false"})
    rows: list[dict[str, Any]] = []
    try:
        stack.add_user("bench", "operator", PASSWORD)
        client = redis_client(stack)
        cookie = http_session_cookie(stack, "bench", PASSWORD)
        with sync_playwright() as pw:  # capture the two request bodies the desk sends, on an empty picture
            browser = _launch(pw)
            page, bodies, _errors = _open_desk(stack, browser, "bench")
            page.wait_for_timeout(3000)  # Playwright delivers request events while it waits, not in time.sleep
            poll_template, poll_path = _body_for(bodies, '"wf":"delta"')
            pages_template, pages_path = _body_for(bodies, "_pages_content")
            browser.close()
        rng = random.Random(1)
        have = 0
        for n in pictures:
            append_s = _load_incidents(client, n, have, rng)
            have = n
            fuse_s = _wait_caught_up(client, timeout=1800)
            live = incidents.live_incidents(client)
            # One new incident after the cursor: the poll answer a screen gets for one new event.
            newest = client.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=1)
            cursor = newest[0][0].decode()
            from domain.store.streams import EventStore

            probe = _bench_event("probe", n, rng)
            EventStore(client).append([probe])
            _fused(client, probe.id)
            status, delta, delta_s, headers = _post(stack, cookie, _poll_body(poll_template, cursor), poll_path)
            delta_doc = orjson.loads(delta)
            delta_rows = orjson.loads(delta_doc["response"][next(k for k in delta_doc["response"] if '"delta"' in k)]["data"]["rows"])
            direct_rows, _, _ = incidents.changes_after(client, cursor)
            direct_bytes = len(orjson.dumps({"rows": direct_rows, "redis": True, "reload": False, "t": time.time()}))
            # Whole figure, as a server sending full figures would (every incident, plotly's to_json).
            t = time.perf_counter()
            fig = map_figure(live)
            build_s = time.perf_counter() - t
            t = time.perf_counter()
            full = fig.to_json().encode()
            json_s = time.perf_counter() - t
            full_orjson = len(orjson.dumps(fig.to_plotly_json()))
            # The page's initial snapshot: the pages callback answer for "/" (the desk).
            _, snap, snap_s, snap_headers = _post(stack, cookie, orjson.dumps(pages_template), pages_path)
            rows.append({
                "incidents": len(live), "events_appended": n, "append_s": round(append_s, 2),
                "fuser_catch_up_s": round(fuse_s, 2),
                "delta_bytes": len(delta), "delta_rows": len(delta_rows), "delta_gzip_bytes": len(gzip.compress(delta)),
                "delta_http_s": delta_s, "delta_direct_orjson_bytes": direct_bytes,
                "delta_content_encoding": headers.get("content-encoding", "none"), "status": status,
                "full_figure_bytes": len(full), "full_figure_orjson_bytes": full_orjson,
                "full_figure_gzip_bytes": len(gzip.compress(full)), "full_build_s": build_s, "full_to_json_s": json_s,
                "snapshot_bytes": len(snap), "snapshot_gzip_bytes": len(gzip.compress(snap)), "snapshot_http_s": snap_s,
                "snapshot_content_encoding": snap_headers.get("content-encoding", "none"),
                "ratio_full_over_delta": len(full) / len(delta),
            })
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"rows": rows, "delta_method": "HTTP POST /_dash-update-component with the browser's own poll body "
            "(cursor set to the change just before one new incident); the direct call "
            "(domain.picture.incidents.changes_after + orjson) is given alongside"}


# -- 3. capacity -----------------------------------------------------------------------------------

class _Conn:
    """One keep-alive HTTP/1.1 connection (a screen's browser keeps one per host)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Conn:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        self.writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length, chunked = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
            elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                if size == 0:
                    await self.reader.readline()
                    break
                data += await self.reader.readexactly(size)
                await self.reader.readline()
            return status, data
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def _screens_load(stack: Stack, cookie: str, template: dict[str, Any], path: str, cursor: str,
                        screens: int, seconds: float, period: float) -> dict[str, Any]:
    parts = urlsplit(stack.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (f"POST /{path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            f"Origin: {stack.url.rstrip('/')}\r\nCookie: {cookie}\r\nAccept: application/json\r\n"
            "Content-Length: ").encode()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    dropped_late = 0
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds

    async def one(idle: list[_Conn], state: dict[str, str]) -> None:
        nonlocal dropped_late
        conn = idle.pop() if idle else await _Conn.open(host, port)
        start = loop.time()
        try:
            status, data = await conn.post(head, _poll_body(template, state["cursor"]))
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            conn.close()
            return
        latencies.append(loop.time() - start)
        if status != 200:
            errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1
        else:
            try:
                doc = orjson.loads(data)["response"]
                for key, value in doc.items():
                    if '"cursor"' in key:
                        state["cursor"] = value["data"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                errors["bad body"] = errors.get("bad body", 0) + 1
            if loop.time() - start > period:
                dropped_late += 1  # the next tick fired first: the browser would drop this answer
        idle.append(conn)

    async def screen(offset: float) -> None:
        nonlocal sent
        idle: list[_Conn] = []
        state = {"cursor": cursor}
        tasks: set[asyncio.Task[None]] = set()
        await asyncio.sleep(offset)
        next_at = loop.time()
        while next_at < end:
            task = asyncio.create_task(one(idle, state))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
            next_at += period
            await asyncio.sleep(max(0.0, next_at - loop.time()))
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        for conn in idle:
            conn.close()

    rng = random.Random(screens)
    await asyncio.gather(*(screen(rng.uniform(0, period)) for _ in range(screens)))
    return {"sent": sent, "answered": len(latencies), "errors": errors, "late": dropped_late, "latencies": latencies}


def _cpu(procs: list[Any]) -> float:
    import psutil

    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


def measure_capacity(loads: list[int], seconds: float, refresh_ms: int = 2000) -> dict[str, Any]:
    import psutil
    from playwright.sync_api import sync_playwright

    from domain.store.streams import EventStore

    tmp = tmp_root()
    stack = start_stack(tmp, env={"WATCHFLOOR_REFRESH_MS": str(refresh_ms)})
    period = refresh_ms / 1000
    rows: list[dict[str, Any]] = []
    stop = threading.Event()
    try:
        stack.add_user("bench", "operator", PASSWORD)
        client = redis_client(stack)
        cookie = http_session_cookie(stack, "bench", PASSWORD)
        with sync_playwright() as pw:
            browser = _launch(pw)
            page, bodies, _errors = _open_desk(stack, browser, "bench")
            page.wait_for_timeout((period * 2 + 1) * 1000)
            template, path = _body_for(bodies, '"wf":"delta"')
            browser.close()
        web = web_process(stack)
        web_procs = [web, *web.children(recursive=True)]
        others = [p for p in psutil.Process(stack.process.pid).children(recursive=True) if p.pid not in
                  {w.pid for w in web_procs}]
        me = psutil.Process()

        def changes() -> None:  # the picture keeps changing: one new incident every ~2 s
            rng, i, store = random.Random(3), 0, EventStore(client)
            while not stop.wait(rng.uniform(1.0, 3.0)):
                store.append([_bench_event("cap", i, rng)])
                i += 1

        threading.Thread(target=changes, daemon=True).start()
        for n in loads:
            newest = client.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=1)
            cursor = newest[0][0].decode() if newest else "0-0"
            web_before, others_before, me_before = _cpu(web_procs), _cpu(others), _cpu([me])
            sys_before = psutil.cpu_times()
            t = time.perf_counter()
            result = asyncio.run(_screens_load(stack, cookie, template, path, cursor, n, seconds, period))
            wall = time.perf_counter() - t
            web_cpu = _cpu(web_procs) - web_before
            sys_after = psutil.cpu_times()
            busy = (sum(sys_after) - sys_after.idle - sys_after.iowait) - (sum(sys_before) - sys_before.idle - sys_before.iowait)
            lat = result.pop("latencies")
            rows.append({
                "screens": n, "seconds": round(wall, 1), "requests_sent": result["sent"],
                "requests_answered": len(lat), "errors": result["errors"], "late_answers": result["late"],
                "offered_rps": n / period, "answered_rps": len(lat) / seconds,
                "p50_s": percentile(lat, 50), "p95_s": percentile(lat, 95), "p99_s": percentile(lat, 99),
                "max_s": max(lat) if lat else None,
                "web_cpu_s": web_cpu, "web_cpu_core_fraction": web_cpu / wall,
                "web_cpu_s_per_screen_minute": web_cpu / n / (wall / 60),
                "stack_other_cpu_s": _cpu(others) - others_before, "load_generator_cpu_s": _cpu([me]) - me_before,
                "machine_busy_cores": busy / wall,
            })
            time.sleep(2)
    finally:
        stop.set()
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    ok = [r["screens"] for r in rows if r["p95_s"] < 1.0 and not r["errors"]]
    return {"refresh_ms": refresh_ms, "rows": rows, "max_screens_p95_under_1s": max(ok) if ok else 0}


# -- 4. aggregation on / off -------------------------------------------------------------------------

AGG_DRAWN = """([sel, bins]) => { const gd = document.querySelector(sel);
  const ok = !!(gd && gd.data && gd.data[0] && gd.data[0].lat && gd.data[0].lat.some((v) => v !== null)
    && (!bins || (gd.data[2] && gd.data[2].lat && gd.data[2].lat.length > 0)));
  if (ok && !window.__drawnAt) { window.__drawnAt = performance.now(); }
  return ok; }"""
# Painted: MapLibre (the map subplot's map object) has loaded its style and sources and is idle.
AGG_PAINTED = """(sel) => { const gd = document.querySelector(sel);
  const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
  const m = sub && sub.map;
  if (!m) { return true; }
  const ok = m.loaded() && m.areTilesLoaded() && !m.isMoving();
  if (ok && !window.__paintedAt) { window.__paintedAt = performance.now(); }
  return ok; }"""
AGG_COUNTS = """(sel) => { const gd = document.querySelector(sel);
  return {markers: gd.data[0].lat.filter((v) => v !== null).length, bins: gd.data[2] ? gd.data[2].lat.length : 0,
          heap_mb: performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null}; }"""


def _second_web(stack: Stack, tmp: Path, env: dict[str, str]) -> Stack:
    """Another web process (`watchfloor web`) on the stack's own Redis, with other settings."""
    import os
    import subprocess

    from watchfloor.redis_server import free_port

    port = free_port()
    url = (stack.data_dir / "redis" / "redis.url").read_text(encoding="utf-8").strip()
    full_env = {**os.environ, "PORT": str(port), "REDIS_URL": url, "WATCHFLOOR_DATA_DIR": str(stack.data_dir),
                "WATCHFLOOR_EXERCISE": "false", **env}
    full_env.pop("WATCHFLOOR_CONFIG", None)
    log_path = tmp / "web-second.log"
    process = subprocess.Popen([sys.executable, "-m", "watchfloor.cli", "web"], cwd=ROOT, env=full_env,
                               stdout=log_path.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return wait_healthy(Stack(process, f"http://127.0.0.1:{port}/", "", stack.data_dir, log_path),
                        "the second web process")


def _post_gzip(server: Stack, cookie: str, body: bytes, path: str) -> tuple[bytes, int, float]:
    """POST as a browser would (gzip accepted): the raw JSON, the bytes on the wire, seconds."""
    _status, wire, took, headers = _post(server, cookie, body, path, encoding="gzip", timeout=600)
    raw = gzip.decompress(wire) if headers.get("content-encoding", headers.get("Content-Encoding")) == "gzip" else wire
    return raw, len(wire), took


def _delta_rows(raw: bytes) -> list[dict[str, Any]]:
    doc = orjson.loads(raw)
    return orjson.loads(doc["response"][next(k for k in doc["response"] if '"delta"' in k)]["data"]["rows"])


def _load_until(client: Any, target: int, appended: int, rng: random.Random) -> int:
    """Append bench events (0.5 s apart, as in section 2) until ``target`` incidents are stored
    (a few fuse with a neighbour, so it takes more events than incidents); returns events appended."""

    while client.hlen(IncidentKeys.INCIDENTS) < target:
        missing = target - client.hlen(IncidentKeys.INCIDENTS)
        more = appended + max(100, int(missing * 1.05))
        _load_incidents(client, more, appended, rng)
        appended = more
        _wait_caught_up(client, timeout=1800)
    return appended


def _first_render(server: Stack, browser: Any, mode: str, shot: Path | None) -> dict[str, Any]:
    """Open the desk in a fresh signed-in context; seconds from navigation start to the figure
    holding the picture (Plotly has it) and to MapLibre idle with it (painted)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    screen = context.new_page()
    errors: list[str] = []
    screen.on("pageerror", lambda exc: errors.append(str(exc)[:300]))
    server.sign_in(screen, "bench", PASSWORD, "api/session")  # signed in; the desk is measured next
    screen.goto(server.url, wait_until="commit", timeout=600_000)
    screen.wait_for_function(AGG_DRAWN, arg=[MAP, mode == "on"], polling="raf", timeout=900_000)
    screen.wait_for_function(AGG_PAINTED, arg=MAP, polling=100, timeout=600_000)
    drawn_ms, painted_ms = screen.evaluate("() => [window.__drawnAt, window.__paintedAt]")
    counts = screen.evaluate(AGG_COUNTS, MAP)
    if shot is not None:
        screen.wait_for_timeout(2000)
        screen.screenshot(path=str(shot))
    context.close()
    return {"drawn_s": drawn_ms / 1000, "painted_s": (painted_ms or drawn_ms) / 1000, **counts, "errors": errors[:3]}


def measure_aggregation(pictures: list[int], limit: int = 5000, repeats: int = 2) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from domain.store.streams import EventStore

    tmp = tmp_root()
    stack = start_stack(tmp, env={"WATCHFLOOR_EXERCISE": "false", "WATCHFLOOR_MAP_MAX_POINTS": str(limit)})
    off: Stack | None = None
    rows: list[dict[str, Any]] = []
    try:
        stack.add_user("bench", "operator", PASSWORD)
        off = _second_web(stack, tmp, {"WATCHFLOOR_MAP_MAX_POINTS": "1000000"})
        servers = {"off": off, "on": stack}
        cookies = {mode: http_session_cookie(server, "bench", PASSWORD) for mode, server in servers.items()}
        client = redis_client(stack)
        rng = random.Random(4)
        with sync_playwright() as pw:
            browser = _launch(pw)
            page, bodies, _errors = _open_desk(stack, browser, "bench")  # the two request bodies, empty picture
            page.wait_for_timeout(3000)
            poll_template, poll_path = _body_for(bodies, '"wf":"delta"')
            pages_template, pages_path = _body_for(bodies, "_pages_content")
            page.close()
            appended = 0
            for n in pictures:
                appended = _load_until(client, n, appended, rng)
                for mode, server in servers.items():
                    raw, wire, cold_s = _post_gzip(server, cookies[mode], orjson.dumps(pages_template), pages_path)
                    _raw2, _wire2, warm_s = _post_gzip(server, cookies[mode], orjson.dumps(pages_template), pages_path)
                    newest = client.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=1)[0][0].decode()
                    probe = _bench_event(f"agg-{mode}", n, rng)
                    EventStore(client).append([probe])
                    _fused(client, probe.id)
                    cursor = ("b:" if mode == "on" else "") + newest
                    delta, delta_wire, delta_s = _post_gzip(server, cookies[mode], _poll_body(poll_template, cursor), poll_path)
                    changed = _delta_rows(delta)
                    shots = ROOT / "test-artifacts"
                    shots.mkdir(exist_ok=True)
                    renders = [_first_render(server, browser, mode, shots / f"bench-desk-agg-{mode}-{n}.png" if k == 0 else None)
                               for k in range(repeats)]
                    counts = renders[0]
                    drawn_ms = 1000 * percentile([r["drawn_s"] for r in renders], 50)
                    rows.append({
                        "incidents": client.hlen(IncidentKeys.INCIDENTS), "events_appended": appended, "picture": n,
                        "mode": mode, "map_max_points": limit if mode == "on" else None,
                        "snapshot_bytes": len(raw), "snapshot_wire_bytes": wire, "snapshot_cold_s": cold_s,
                        "snapshot_warm_s": warm_s, "delta_bytes": len(delta), "delta_wire_bytes": delta_wire,
                        "delta_s": delta_s, "delta_rows": sum(1 for r in changed if "bin" not in r),
                        "delta_bins": sum(1 for r in changed if "bin" in r),
                        "first_render_s": drawn_ms / 1000,
                        "painted_s": percentile([r["painted_s"] for r in renders], 50),
                        "renders": renders, "markers_drawn": counts["markers"], "bins_drawn": counts["bins"],
                        "heap_mb": counts["heap_mb"], "page_errors": [e for r in renders for e in r["errors"]][:3],
                    })
                    print(f"   {n:>7,} incidents, aggregation {mode:>3}: snapshot {len(raw):,} B ({wire:,} B gzip), "
                          f"update {len(delta):,} B; first render {drawn_ms / 1000:.1f} s", flush=True)
            browser.close()
    finally:
        if off is not None:
            off.stop()
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"limit": limit, "rows": rows}


def print_aggregation(result: dict[str, Any]) -> None:
    print(f"4. Aggregation on (map_max_points {result['limit']:,}) against off, same incidents, desk 1440x900")
    print("   incidents  agg  snapshot JSON (gzip)          served (cold/warm)  one update  rendered  painted  "
          "markers  bins")
    for r in result["rows"]:
        print(f"   {r['incidents']:>9,}  {r['mode']:>3}  {r['snapshot_bytes']:>13,} B ({r['snapshot_wire_bytes']:>10,} B)"
              f"  {r['snapshot_cold_s']:>6.2f} / {r['snapshot_warm_s']:>5.2f} s  {r['delta_bytes']:>7,} B"
              f"  {r['first_render_s']:>6.1f} s  {r['painted_s']:>5.1f} s  {r['markers_drawn']:>7,}  {r['bins_drawn']:>5,}")
    print("   rendered: navigation start to the figure holding the picture (median of the repeats); painted: MapLibre idle")


# -- report ----------------------------------------------------------------------------------------

def print_latency(results: list[dict[str, Any]]) -> None:
    print("1. Latency, XADD (EventStore.append) to the marker on the desk map (fuser, poll, render), "
          "Chromium headless")
    for r in results:
        print(f"   refresh {r['refresh_ms']:>5} ms: p50 {_ms(r['p50_s'])}, p95 {_ms(r['p95_s'])} "
              f"(min {_ms(r['min_s'])}, max {_ms(r['max_s'])}; {r['events']} events)  "
              f"of which append -> fused p50 {_ms(r['fuse_p50_s'])}, fused -> drawn p50 {_ms(r['poll_render_p50_s'])}"
              + (f"; {len(r['missed'])} not seen within 30 s (see JSON)" if r["missed"] else ""))
    if len(results) >= 2:
        a, b = results[0], results[-1]
        print(f"   ratio p50 {a['refresh_ms']} ms / {b['refresh_ms']} ms: {a['p50_s'] / b['p50_s']:.2f}x")
    print(f"   {PUSH_NOTE}")


def print_bytes(result: dict[str, Any]) -> None:
    print("2. Bytes per update (the app sends uncompressed; gzip in brackets for comparison)")
    for r in result["rows"]:
        print(f"   {r['incidents']:>7,} incidents: delta (1 new incident) {r['delta_bytes']:,} B "
              f"[{r['delta_gzip_bytes']:,}]; full figure {r['full_figure_bytes']:,} B [{r['full_figure_gzip_bytes']:,}] "
              f"(build {_ms(r['full_build_s'])} + to_json {_ms(r['full_to_json_s'])}); ratio full/delta "
              f"{r['ratio_full_over_delta']:,.0f}x")
        print(f"   {'':>7}            initial snapshot {r['snapshot_bytes']:,} B [{r['snapshot_gzip_bytes']:,}] "
              f"served in {_ms(r['snapshot_http_s'])}; fuser caught up {r['fuser_catch_up_s']:.1f} s after "
              f"appending in {r['append_s']:.1f} s")
    print(f"   delta measured by {result['delta_method']}")


def print_capacity(result: dict[str, Any]) -> None:
    print(f"3. Capacity: simulated screens polling every {result['refresh_ms']} ms over HTTP, one session cookie "
          "(one uvicorn web process)")
    print("   screens  req/s   p50      p95      p99      errors  web CPU (cores)  CPU s/screen/min  machine busy")
    for r in result["rows"]:
        err = sum(r["errors"].values())
        print(f"   {r['screens']:>7}  {r['answered_rps']:5.1f}  {_ms(r['p50_s']):>7}  {_ms(r['p95_s']):>7}  "
              f"{_ms(r['p99_s']):>7}  {err:>6}  {r['web_cpu_core_fraction']:15.2f}  {r['web_cpu_s_per_screen_minute']:16.3f}"
              f"  {r['machine_busy_cores']:.2f} cores")
    print(f"   most screens with p95 < 1 s and no errors in this run: {result['max_screens_p95_under_1s']}")


def run_screens(*, quick: bool = False, only: set[str] | None = None, events: int | None = None,
                loads: list[int] | None = None, seconds: float | None = None, pictures: list[int] | None = None,
                json_path: Path | None = None, agg_pictures: list[int] | None = None) -> dict[str, Any]:
    """Measure, print and write the results (bench/results/screens.json); returns them."""
    only = set(only or {"latency", "bytes", "capacity", "aggregation"})
    events = events or (8 if quick else 40)
    loads = loads or ([10, 50] if quick else [10, 50, 100, 200, 400, 800])
    seconds = seconds or (6.0 if quick else 20.0)
    pictures = pictures or ([1000, 5000] if quick else [10_000, 100_000])
    started = time.perf_counter()
    out: dict[str, Any] = {"mode": "quick" if quick else "full", "when": datetime.now(UTC).isoformat(),
                           "machine": machine(), "repo": repo_state(), "push": PUSH_NOTE}
    path = json_path or RESULTS / ("screens-quick.json" if quick else "screens.json")
    if "latency" in only:
        out["latency"] = [measure_latency(ms, events) for ms in (2000, 500)]
        print_latency(out["latency"])
        _save(out, path, only, started)
    if "bytes" in only:
        out["bytes"] = measure_bytes(pictures)
        print_bytes(out["bytes"])
        _save(out, path, only, started)
    if "capacity" in only:
        out["capacity"] = measure_capacity(loads, seconds)
        print_capacity(out["capacity"])
        _save(out, path, only, started)
    if "aggregation" in only:
        out["aggregation"] = measure_aggregation(agg_pictures or ([2000, 6000] if quick else [10_000, 100_000]),
                                                 limit=1000 if quick else 5000)
        print_aggregation(out["aggregation"])
    out = _save(out, path, only, started)
    print(f"screens took {out['seconds']:.0f} s; results written to {path}")
    return out


def _save(out: dict[str, Any], path: Path, only: set[str], started: float) -> dict[str, Any]:
    """Write what is measured so far (a later failure keeps the earlier sections)."""
    out = dict(out)
    out["seconds"] = time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    for section in ("latency", "bytes", "capacity", "aggregation"):
        if section in out:
            out.setdefault("measured", {})[section] = out["when"]
    if only != {"latency", "bytes", "capacity", "aggregation"} and path.exists():
        # A partial run updates its sections and keeps the others (each section says when it ran).
        try:
            earlier = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            earlier = {}
        if earlier.get("mode") == out["mode"]:
            out = {**earlier, **out, "measured": {**earlier.get("measured", {}), **out["measured"]}}
    path.write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    run_screens(
        quick=args.quick, only=set(args.only) if args.only else None, events=args.events,
        loads=[int(x) for x in args.screens.split(",")] if args.screens else None, seconds=args.seconds,
        pictures=[int(x) for x in args.pictures.split(",")] if args.pictures else None, json_path=args.json,
        agg_pictures=[int(x) for x in args.agg_pictures.split(",")] if args.agg_pictures else None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
