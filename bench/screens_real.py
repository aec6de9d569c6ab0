"""Real screens per web process: each simulated screen does what an open desk does, over loopback.

    python -m bench.screens_real                      100, 200, 400, 500, 600 screens, both push readers
    python -m bench.screens_real --quick              a smoke run (5 and 10 screens, a few seconds)
    python -m bench.screens_real --screens 500 --readers SHARED

Method. `watchfloor up` (tests/stack.py) with one web process; a desk is opened in headless Chromium
and every Dash callback request it sends is captured (bench/screens.py ``_open_desk``): the gated
poll (its output names the delta store), every callback fired by the 5 s panels tick (the panels;
the open-alerts list and the vetted-reports layer only when the page asks for them, which for this
desk is never), and the vetting queue line's (every third panels tick). Then N simulated screens,
each with one signed-in session cookie:

- hold a real push stream (GET /api/push, Server-Sent Events) on its own connection, reconnecting
  with Last-Event-ID when the server closes it (every 55 s), as EventSource does;
- apply a delta the stream carries as assets/wf-50-push.js does: at once when it starts at the
  screen's cursor, after the poll on its way lands when there is one (or poll again if that answer
  did not reach its end), and otherwise poll;
- send the poll on each wake-up and on each refresh tick (``refresh_ms``, 2 s), through the same
  gate as assets/wf-60-wall.js: one poll in flight, one more sent when it answers if asked meanwhile,
  and while the push stream is open a tick polls only when no poll answered for 7.5 to 10 s (drawn
  again after each poll);
- send every captured panels-tick callback every 5 s and the queue line's every 15 s (the browser's
  bodies, replayed as sent).

The picture changes all along: one new incident about every 2 s (EventStore.append, through the
fuser). An update "reaches" a screen when a poll answer moves the screen's cursor past the change's
stream entry (or a pushed delta does); its latency is the arrival minus the entry's time (Redis stream ids are
milliseconds on the same machine's clock). Late: more than 1 s. Poll and panels p95 count the
requests sent after the first ``WARM_S`` seconds, as updates do, and are also given with them (every
screen connecting and asking at once, as after a web process restart). CPU is the web process's own
(user + system), over the wall time of the load. The load generator runs on the same 2 cores.

``--readers``: SHARED (one push reader per process, dashboard/push.py WakeHub) and PER-STREAM (the
former reader: one Redis connection and XREAD per open stream; with it no delta is shared between
screens), each on its own web process on the same Redis, measured one after the other.
PER-STREAM also runs with 6 callback threads, asyncio's former default on 2 cores (web_threads 6).
The numbers are what this machine did in this run; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from bench.live_stack import (
    ROOT,
    Stack,
    http_session_cookie,
    percentile,
    redis_client,
    start_stack,
    tmp_root,
    web_process,
)
from bench.report import RESULTS, machine
from bench.screens import PASSWORD, _bench_event, _body_for, _Conn, _cpu, _launch, _open_desk, _poll_body
from domain.picture.keys import IncidentKeys
from tests.stack import wait_healthy

LATE_S = 1.0
WARM_S = 10.0  # the first seconds of a load, when every screen connects and asks at once, are not counted
PANELS_S = 5.0
QUEUE_TICKS = 3  # the vetting queue line asks every third panels tick
QUIET_S = 10.0  # assets/wf-60-wall.js gate: min(10 s, half of stale_seconds)
READERS = ("SHARED", "PER-STREAM")


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.screens_real", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 and 10 screens, a few seconds each")
    parser.add_argument("--screens", type=str, default=None, help="loads (default 100,200,400,500,600)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per load (default 30)")
    parser.add_argument("--readers", type=str, default=None, help="SHARED,PER-STREAM (default both)")
    parser.add_argument("--json", type=Path, default=None, help="results file (default bench/results/screens-real.json)")
    return parser.parse_args(argv)


def _panel_bodies(bodies: list[dict[str, Any]], tick: str = "panels-tick") -> list[tuple[bytes, str]]:
    """Each distinct callback a tick fired (its body as sent, its path): the 5 s panels tick, or
    ``queue-tick`` (the vetting queue line, every third panels tick)."""
    found: dict[str, tuple[bytes, str]] = {}
    for body in bodies:
        changed = " ".join(str(p) for p in body.get("changedPropIds") or [])
        if f'"{tick}"' in changed or tick in changed:
            body = dict(body)
            path = body.pop("__path")
            found.setdefault(str(body.get("output")), (orjson.dumps(body), path))
    return list(found.values())


class _Screen:
    """One simulated open desk: push stream, gated poll, panels tick."""

    def __init__(self, load: _Load, cursor: str) -> None:
        self.load = load
        self.cursor = cursor
        self.idle: list[_Conn] = []
        self.in_flight = False
        self.pending = False
        self.moves: list[tuple[str, str, float]] = []  # (cursor before, after, arrival)
        self.push_open = False
        self.last_ok = 0.0
        self.quiet = QUIET_S
        self.held: dict[str, Any] | None = None

    async def _request(self, kind: str, head: bytes, body: bytes) -> bytes | None:
        load = self.load
        start = time.monotonic()
        for attempt in (1, 2):
            reused = bool(self.idle) and attempt == 1
            conn = self.idle.pop() if reused else await _Conn.open(load.host, load.port)
            try:
                status, data = await conn.post(head, body)
                break
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
                conn.close()
                if reused and attempt == 1:
                    continue  # the server closed an idle keep-alive connection: a browser sends again
                load.error(f"{kind}: {type(exc).__name__}")
                return None
        load.latency[kind].append(time.monotonic() - start)
        load.started[kind].append(start)
        self.idle.append(conn)
        if status not in (200, 204):
            load.error(f"{kind}: HTTP {status}")
            return None
        return data

    async def poll(self) -> None:
        if self.in_flight:
            self.pending = True  # the gate: sent again as soon as this one answers
            return
        self.in_flight = True
        try:
            while True:
                self.pending = False
                before = self.cursor
                data = await self._request("poll", self.load.poll_head, self.load.poll_body(before))
                if data:
                    try:
                        data = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
                        for key, value in orjson.loads(data)["response"].items():
                            if '"cursor"' in key:
                                self.cursor = value["data"]
                    except (orjson.JSONDecodeError, KeyError, TypeError, OSError, EOFError):
                        self.load.error("poll: bad body")
                    self.last_ok = time.monotonic()
                    self.quiet = QUIET_S * random.uniform(0.75, 1.0)  # assets/wf-60-wall.js: drawn again each poll
                    if self.cursor != before:
                        self.moves.append((before, self.cursor, time.time()))
                    self.poll_landed()
                if not self.pending or self.load.done():
                    return
        finally:
            self.in_flight = False

    def spawn(self, action: Any) -> None:
        task = asyncio.ensure_future(action())
        self.load.tasks.add(task)
        task.add_done_callback(self.load.tasks.discard)

    async def ticks(self, period: float, action: Any) -> None:
        await asyncio.sleep(random.uniform(0, period))
        while not self.load.done():
            self.spawn(action)
            await asyncio.sleep(period)

    async def tick(self) -> None:
        """The refresh tick through assets/wf-60-wall.js gate: with the push stream open and an answer
        less than ``QUIET_S`` old, the tick does not poll."""
        if self.push_open and not self.pending and time.monotonic() - self.last_ok < self.quiet:
            return
        await self.poll()

    async def panels(self, period: float) -> None:
        await asyncio.gather(*(self._request("panels", head, body) for head, body, every in self.load.panels
                               if every == period))

    async def push(self) -> None:
        """The push stream, reconnected (Last-Event-ID) whenever it ends, as EventSource does."""
        load, last_id = self.load, ""
        while not load.done():
            try:
                reader, writer = await asyncio.open_connection(load.host, load.port, limit=1 << 24)  # a big delta is one line
            except OSError:
                load.error("push: connect")
                await asyncio.sleep(1)
                continue
            extra = f"Last-Event-ID: {last_id}\r\n" if last_id else ""
            writer.write((f"GET /api/push HTTP/1.1\r\nHost: {load.netloc}\r\nAccept: text/event-stream\r\n"
                          f"Cookie: {load.cookie}\r\n{extra}\r\n").encode())
            load.streams_open += 1
            self.push_open = True
            delta = False
            try:
                while not load.done():
                    line = await asyncio.wait_for(reader.readline(), timeout=max(0.1, load.end - time.monotonic()))
                    if not line:
                        break
                    if line.startswith(b"id: "):
                        last_id = line[4:].strip().decode()
                    elif line.startswith(b"event: delta"):
                        delta = True
                    elif line.startswith(b"data: ") and delta:
                        delta = False
                        self.pushed(line[6:])
                    elif line.startswith(b"data: change"):
                        load.wakes += 1
                        self.spawn(self.poll)
                    elif line.startswith(b"event: degraded"):
                        load.error("push: degraded")
                    elif line.startswith(b"HTTP/1.1 ") and not line.startswith(b"HTTP/1.1 200"):
                        load.error(f"push: {line.decode().strip()}")
                        break
            except (TimeoutError, OSError, ConnectionError):
                pass
            finally:
                self.push_open = False
                load.streams_open -= 1
                writer.close()
            await asyncio.sleep(1.0)  # the stream's "retry: 1000"

    def pushed(self, data: bytes) -> None:
        """A delta on the stream, as assets/wf-50-push.js takesDelta: applied when it starts at the
        screen's cursor and no poll is on its way, else the screen polls."""
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.load.error("push: bad delta")
            body = {}
        valid = isinstance(body.get("from"), str) and isinstance(body.get("cursor"), str)
        if valid and (self.in_flight or self.pending):
            self.held = body  # looked at again when the poll lands (afterPoll)
        elif valid and body["from"] == self.cursor:
            self.apply(body)
        else:
            self.load.wakes += 1
            self.spawn(self.poll)

    def apply(self, body: dict[str, Any]) -> None:
        self.load.pushed += 1
        before, self.cursor = self.cursor, body["cursor"]
        self.moves.append((before, self.cursor, time.time()))

    def poll_landed(self) -> None:
        """assets/wf-50-push.js afterPoll: the delta held while the poll was on its way."""
        held, self.held = self.held, None
        if held is None:
            return
        if held["from"] == self.cursor:
            self.apply(held)
        elif _id_key(held["cursor"]) > _id_key(self.cursor):
            self.pending = True

    async def run(self, refresh: float) -> None:
        periods = sorted({every for _head, _body, every in self.load.panels})
        await asyncio.gather(self.push(), self.ticks(refresh, self.tick),
                             *(self.ticks(every, lambda every=every: self.panels(every)) for every in periods))
        for conn in self.idle:
            conn.close()


class _Load:
    def __init__(self, server: Stack, cookie: str, poll: tuple[dict[str, Any], str],
                 panels: list[tuple[bytes, str, float]], seconds: float) -> None:
        parts = urlsplit(server.url)
        self.host, self.port, self.netloc = parts.hostname or "127.0.0.1", parts.port or 80, parts.netloc
        self.cookie = cookie
        head = ("POST /{path} HTTP/1.1\r\nHost: " + parts.netloc + "\r\nContent-Type: application/json\r\n"
                "Origin: " + server.url.rstrip("/") + "\r\nCookie: " + cookie + "\r\nAccept: application/json\r\n"
                "Accept-Encoding: gzip\r\nContent-Length: ")  # the browser's: the server compresses, as for it
        self.poll_template = poll[0]
        self.poll_head = head.replace("{path}", poll[1]).encode()
        self.panels = [(head.replace("{path}", path).encode(), body, every) for body, path, every in panels]
        self.end = time.monotonic() + seconds
        self.end_wall = time.time() + seconds
        self.latency: dict[str, list[float]] = {"poll": [], "panels": []}
        self.started: dict[str, list[float]] = {"poll": [], "panels": []}  # when each was sent (monotonic)
        self.begun = time.monotonic()
        self.errors: dict[str, int] = {}
        self.wakes = 0
        self.pushed = 0  # deltas applied from the push stream
        self.streams_open = 0
        self._bodies: dict[str, bytes] = {}
        self.tasks: set[asyncio.Task[Any]] = set()

    def done(self) -> bool:
        return time.monotonic() >= self.end

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def poll_body(self, cursor: str) -> bytes:
        if cursor not in self._bodies:
            self._bodies = {cursor: _poll_body(self.poll_template, cursor)} if len(self._bodies) > 64 else self._bodies
            self._bodies[cursor] = _poll_body(self.poll_template, cursor)
        return self._bodies[cursor]


def _p95_after(load: _Load, kind: str, warm: float) -> float | None:
    since = load.begun + warm
    return percentile([v for v, at in zip(load.latency[kind], load.started[kind], strict=True) if at >= since], 95)


def _id_ms(stream_id: str) -> int:
    return int(stream_id.split("-")[0])


def _id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _update_latencies(screens: list[_Screen], changes: list[str], since_ms: int, until_ms: int) -> tuple[list[float], int]:
    """Per change made in [since, until] and per screen: arrival - change time; and how many never arrived."""
    keys = [_id_key(c) for c in changes]
    measured = [c for c in changes if since_ms <= _id_ms(c) <= until_ms]
    values: list[float] = []
    missed = 0
    for screen in screens:
        reached: dict[str, float] = {}
        for before, after, at in screen.moves:
            lo = bisect.bisect_right(keys, _id_key(before)) if before not in ("0-0", "") else 0
            hi = bisect.bisect_right(keys, _id_key(after))
            for change in changes[lo:hi]:
                reached.setdefault(change, at)
        for change in measured:
            if change in reached:
                values.append(max(0.0, reached[change] - _id_ms(change) / 1000))
            else:
                missed += 1
    return values, missed


def _second_web(stack: Stack, tmp: Path, env: dict[str, str]) -> Stack:
    from watchfloor.redis_server import free_port

    port = free_port()
    url = (stack.data_dir / "redis" / "redis.url").read_text(encoding="utf-8").strip()
    full_env = {**os.environ, "PORT": str(port), "REDIS_URL": url, "WATCHFLOOR_DATA_DIR": str(stack.data_dir),
                "WATCHFLOOR_EXERCISE": "false", **env}
    full_env.pop("WATCHFLOOR_CONFIG", None)
    log_path = tmp / "web-per-stream.log"
    process = subprocess.Popen([sys.executable, "-m", "watchfloor.cli", "web"], cwd=ROOT, env=full_env,
                               stdout=log_path.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return wait_healthy(Stack(process, f"http://127.0.0.1:{port}/", "", stack.data_dir, log_path), "per-stream web")


def _one_load(server: Stack, procs: list[Any], client: Any, cookie: str, poll: tuple[dict[str, Any], str],
              panels: list[tuple[bytes, str, float]], n: int, seconds: float, refresh: float) -> dict[str, Any]:
    import psutil

    newest = client.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=1)
    cursor = newest[0][0].decode() if newest else "0-0"
    load = _Load(server, cookie, poll, panels, seconds)
    screens = [_Screen(load, cursor) for _ in range(n)]
    warm = min(WARM_S, seconds / 3)  # streams open and first polls before updates count
    me = psutil.Process()
    cpu_before, me_before, t0 = _cpu(procs), _cpu([me]), time.perf_counter()
    start_ms = int(time.time() * 1000)

    async def run() -> None:
        await asyncio.gather(*(s.run(refresh) for s in screens))
        if load.tasks:  # answers still on their way when the load ended
            await asyncio.wait(set(load.tasks), timeout=30)

    asyncio.run(run())
    wall = time.perf_counter() - t0
    web_cpu = _cpu(procs) - cpu_before
    until_ms = int(load.end_wall * 1000) - 5000  # a change in the last 5 s may still be on its way
    changes = [sid.decode() for sid, _ in client.xrange(IncidentKeys.INCIDENT_CHANGES, min=f"{start_ms}-0", max="+")]
    lat, missed = _update_latencies(screens, changes, start_ms + int(warm * 1000), until_ms)
    total = len(lat) + missed
    late = sum(1 for v in lat if v > LATE_S) + missed
    return {
        "screens": n, "seconds": round(wall, 1), "changes_measured": len([c for c in changes if start_ms + warm * 1000
                                                                           <= _id_ms(c) <= until_ms]),
        "updates": total, "update_p50_s": percentile(lat, 50), "update_p95_s": percentile(lat, 95),
        "update_max_s": max(lat) if lat else None, "late_pct": 100.0 * late / total if total else None,
        "never_arrived": missed, "wakes": load.wakes, "pushed_deltas": load.pushed, "never_arrived_changes": sorted(
            {c for s in screens for c in changes if start_ms + warm * 1000 <= _id_ms(c) <= until_ms
             and not any(_id_key(b) < _id_key(c) <= _id_key(a) or (b == "0-0" and _id_key(c) <= _id_key(a))
                         for b, a, _ in s.moves)})[:20],
        # Answers to requests sent after the warm-up, as for updates; "_all" adds the first seconds,
        # when every screen connects and asks at once (a web process restarted under 500 screens).
        "polls": len(load.latency["poll"]), "poll_p95_s": _p95_after(load, "poll", warm),
        "poll_p95_all_s": percentile(load.latency["poll"], 95),
        "panels_requests": len(load.latency["panels"]), "panels_p95_s": _p95_after(load, "panels", warm),
        "panels_p95_all_s": percentile(load.latency["panels"], 95),
        "errors": load.errors, "web_cpu_core_fraction": web_cpu / wall,
        "load_generator_cpu_core_fraction": (_cpu([me]) - me_before) / wall,
    }


def measure(loads: list[int], seconds: float, readers: list[str], refresh_ms: int = 2000) -> dict[str, Any]:
    import psutil
    from playwright.sync_api import sync_playwright

    from domain.store.streams import EventStore

    tmp = tmp_root()
    stack = start_stack(tmp, env={"WATCHFLOOR_REFRESH_MS": str(refresh_ms), "WATCHFLOOR_EXERCISE": "false"})
    stop = threading.Event()
    servers: dict[str, Stack] = {}
    rows: list[dict[str, Any]] = []
    try:
        stack.add_user("bench", "operator", PASSWORD)
        client = redis_client(stack)
        with sync_playwright() as pw:
            browser = _launch(pw)
            _page, bodies, _errors = _open_desk(stack, browser, "bench")
            _page.wait_for_timeout(PANELS_S * 2 * 1000 + 1500)  # two panels ticks
            poll = _body_for(bodies, '"wf":"delta"')
            # What each tick sends, at the period the page sends it (assets/wf-45-responders.js queueTick).
            panels = ([(b, p, PANELS_S) for b, p in _panel_bodies(bodies)]
                      + [(b, p, QUEUE_TICKS * PANELS_S) for b, p in _panel_bodies(bodies, "queue-tick")])
            browser.close()
        servers["SHARED"] = stack
        if "PER-STREAM" in readers:
            servers["PER-STREAM"] = _second_web(stack, tmp, {"WATCHFLOOR_PUSH_READER": "PER-STREAM",
                                                             "WATCHFLOOR_WEB_THREADS": "6",
                                                             "WATCHFLOOR_REFRESH_MS": str(refresh_ms)})

        def changes() -> None:  # the picture keeps changing: one new incident about every 2 s
            rng, i, store = random.Random(3), 0, EventStore(client)
            while not stop.wait(rng.uniform(1.5, 2.5)):
                store.append([_bench_event("real", i, rng)])
                i += 1

        threading.Thread(target=changes, daemon=True).start()
        for n in loads:
            for reader in readers:
                server = servers[reader]
                web = web_process(stack) if reader == "SHARED" else psutil.Process(server.process.pid)
                procs = [web, *web.children(recursive=True)]
                cookie = http_session_cookie(server, "bench", PASSWORD)
                row = {"reader": reader, **_one_load(server, procs, client, cookie, poll, panels, n, seconds,
                                                     refresh_ms / 1000)}
                rows.append(row)
                _print_row(row)
                time.sleep(3)
    finally:
        stop.set()
        if "PER-STREAM" in servers:
            servers["PER-STREAM"].stop()
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    best = {r: max([row["screens"] for row in rows if row["reader"] == r and row["update_p95_s"] < 1.0
                    and not row["never_arrived"]], default=0) for r in readers}
    return {"refresh_ms": refresh_ms, "panels_callbacks": len(panels), "rows": rows,
            "max_screens_update_p95_under_1s": best}


def _print_row(row: dict[str, Any]) -> None:
    def ms(value: Any) -> str:
        return "-" if value is None or value != value else f"{value * 1000:,.0f} ms"

    errors = ", ".join(f"{k} {v}" for k, v in sorted(row["errors"].items())) or "none"
    print(f"  {row['reader']:<10} {row['screens']:>4} screens: update p50 {ms(row['update_p50_s'])}, "
          f"p95 {ms(row['update_p95_s'])}, late (>1 s or never) {row['late_pct'] or 0:.1f} % of {row['updates']:,}; "
          f"pushed deltas {row['pushed_deltas']:,}, poll p95 {ms(row['poll_p95_s'])} ({row['polls']:,}; with the "
          f"first {WARM_S:g} s {ms(row['poll_p95_all_s'])}), panels p95 {ms(row['panels_p95_s'])} "
          f"({ms(row['panels_p95_all_s'])}); "
          f"web CPU {row['web_cpu_core_fraction']:.2f} core, load generator {row['load_generator_cpu_core_fraction']:.2f}; "
          f"errors {errors}", flush=True)


def run_screens_real(*, quick: bool = False, loads: list[int] | None = None, seconds: float | None = None,
                     readers: list[str] | None = None, json_path: Path | None = None) -> dict[str, Any]:
    loads = loads or ([5, 10] if quick else [100, 200, 400, 500, 600])
    seconds = seconds or (12.0 if quick else 30.0)
    readers = readers or list(READERS)
    bad = [r for r in readers if r not in READERS]
    if bad:
        raise SystemExit(f"--readers: {', '.join(bad)} is not one of {', '.join(READERS)}")
    print(f"Real screens per web process: push stream + gated poll + 5 s panels tick, one new incident "
          f"about every 2 s; loads {loads}, {seconds:g} s each, readers {readers}")
    started = time.perf_counter()
    result = measure(loads, seconds, readers)
    print(f"  most screens with update p95 under 1 s: {result['max_screens_update_p95_under_1s']}")
    out = {"mode": "quick" if quick else "full", "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "machine": machine(), "command": "python -m bench.screens_real" + (" --quick" if quick else ""),
           "seconds_total": time.perf_counter() - started, **result}
    path = json_path or RESULTS / ("screens-real-quick.json" if quick else "screens-real.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    run_screens_real(quick=args.quick, loads=[int(x) for x in args.screens.split(",")] if args.screens else None,
                     seconds=args.seconds, readers=args.readers.upper().split(",") if args.readers else None,
                     json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
