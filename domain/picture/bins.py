"""Server-side aggregation of a big picture: past ``map_max_points`` live incidents a screen gets
the most important incidents as markers (inside or near a workspace first, then the most severe,
then the most recent, up to the limit) and every other incident counted in a hexagon bin
(domain.picture.markers.hex_key, ``map_bin_degrees`` across), instead of 100,000 markers.

Updates stay proportional to the change and cursor-based. Each web process keeps one
``BinnedPicture`` per reader marking (TLP ceiling), advanced from the change stream
``wf:incident-changes``; every advance logs which bins and which individual markers it touched,
under the stream id it reached. A screen in aggregated mode holds a cursor "b:<stream id>"; its
poll gets the *current* state of every bin and marker touched after that id (a bin row with its
counts, count 0 to remove it; an incident row; or a hidden row when the incident left the
markers), and the id reached. Replays and overlaps are harmless (absolute values, applied by key);
a cursor older than the log asks the screen to reload, as a trimmed stream does.

Screens below the limit never touch any of this: they keep the per-incident snapshot and deltas.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import math
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import redis

from domain.picture.keys import IncidentKeys
from domain.picture.markers import Bin, hex_key, hidden_row, hour_bucket, importance

log = logging.getLogger(__name__)

BATCH = 2000  # change-stream entries per advance step
REQUEST_STEPS = 1  # steps a page or a poll may take itself; the follower takes the rest
FOLLOW_SECONDS = 0.5  # how often the follower looks for changes
SNAPSHOT_SECONDS = 2.0  # a first picture (bins and marker ids) is shared this long by screens opened together
LOG_LIMIT = 20_000  # advance steps remembered; a screen further behind reloads

Keep = Callable[[dict[str, Any]], bool]
Rows = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def _sid(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms or 0), int(seq or 0)


class BinnedPicture:
    """The aggregated picture of one reader marking: which incidents are individual markers and
    the bins of all the others, kept exact under changes (pure: no Redis here)."""

    def __init__(self, max_points: int, size_deg: float, workspaces: Iterable[Any] = ()) -> None:
        self.max_points = max(1, int(max_points))
        self.size_deg = float(size_deg)
        self.workspaces = [(space, _bbox(space)) for space in workspaces]
        # id -> (score, bin key, severity, kind, lat, lon, exercise?, hour bucket, individual?): what
        # it was counted with, so its removal takes exactly that back out of its bin.
        self.info: dict[str, tuple[tuple[int, int, str], str, str, str, float | None, float | None, bool,
                                   int | None, bool]] = {}
        self.individual: dict[str, tuple[int, int, str]] = {}
        self.heap: list[tuple[tuple[int, int, str], str]] = []
        self.bins: dict[str, Bin] = {}
        # Each bin's row as last drawn, until a change touches the bin: a first picture of 2,800 bins
        # costs a dictionary read each instead of a second of sorting and counting.
        self._rows: dict[str, dict[str, Any]] = {}
        self.cursor = "0-0"
        self.floor = "0-0"  # changes after this id are all in the log
        self._log_ids: list[tuple[int, int]] = []
        self._log_keys: list[frozenset[str]] = []

    # -- geometry --------------------------------------------------------------------------------
    def near(self, lat: float | None, lon: float | None) -> bool:
        if lat is None or lon is None:
            return False
        for space, (s, n, w, e) in self.workspaces:
            if s <= lat <= n and w <= lon <= e and space.proximity(lat, lon)[0] > 0:
                return True
        return False

    # -- changes ---------------------------------------------------------------------------------
    @property
    def live_count(self) -> int:
        return len(self.info)

    def apply(self, incident_id: str, incident: dict[str, Any] | None) -> set[str]:
        """Put the incident's current state in (``None``: it is gone or not shown); returns the
        keys touched: "i:<id>" for markers, "b:<bin>" for bins."""
        touched: set[str] = set()
        old = self.info.pop(incident_id, None)
        if old is not None:
            if old[-1]:
                self.individual.pop(incident_id, None)
                touched.add("i:" + incident_id)
            else:  # (a binned incident is no marker on any screen: its bin is all that changes)
                self._bin_add(old, -1)
                touched.add("b:" + old[1])
        if incident is None:
            return touched
        lat, lon = incident.get("lat"), incident.get("lon")
        # Interned: a quarter of a million entries share a handful of severities, kinds and bin keys.
        severity = sys.intern(str(incident.get("severity") or "unknown"))
        kind = sys.intern(str(incident.get("kind") or "other"))
        score = importance(incident, self.near(lat, lon))
        key = sys.intern(hex_key(lat, lon, self.size_deg))
        entry = (score, key, severity, kind, lat, lon, bool(incident.get("exercise")), hour_bucket(incident.get("time")), False)
        if len(self.individual) >= self.max_points:
            lowest = self._lowest()
            if lowest is not None and score > lowest[0]:
                self._demote(lowest[1], touched)
        if len(self.individual) < self.max_points:
            entry = (*entry[:-1], True)
            self.individual[incident_id] = score
            heapq.heappush(self.heap, (score, incident_id))
            touched.add("i:" + incident_id)
        else:
            # Straight into a bin: no row for it. A screen's state must not grow with every incident
            # ever binned (a hidden row each: 90,000 after a burst, redrawn on every update).
            self._bin_add(entry, 1)
            touched.add("b:" + key)
        self.info[incident_id] = entry
        if len(self.heap) > 2 * len(self.individual) + 1000:
            self.heap = [(s, i) for i, s in self.individual.items()]
            heapq.heapify(self.heap)
        return touched

    def _lowest(self) -> tuple[tuple[int, int, str], str] | None:
        while self.heap:
            score, iid = self.heap[0]
            if self.individual.get(iid) == score:
                return score, iid
            heapq.heappop(self.heap)  # stale: removed or re-scored since
        return None

    def _demote(self, incident_id: str, touched: set[str]) -> None:
        heapq.heappop(self.heap)
        self.individual.pop(incident_id, None)
        entry = self.info[incident_id]
        entry = (*entry[:-1], False)
        self.info[incident_id] = entry
        self._bin_add(entry, 1)
        touched.update(("i:" + incident_id, "b:" + entry[1]))

    def _bin_add(self, entry: tuple[Any, ...], sign: int) -> None:
        _score, key, severity, kind, lat, lon, exercise, hour, _ind = entry
        self._rows.pop(key, None)
        b = self.bins.get(key)
        if b is None:
            b = self.bins[key] = Bin()
        b.add(severity, kind, lat, lon, sign, exercise=exercise, hour=hour)
        if b.count <= 0:
            del self.bins[key]

    # -- log -------------------------------------------------------------------------------------
    def record(self, stream_id: str, touched: set[str]) -> None:
        """Remember what an advance up to ``stream_id`` touched (ids only grow)."""
        self.cursor = stream_id
        if touched:
            self._log_ids.append(_sid(stream_id))
            self._log_keys.append(frozenset(touched))
        if len(self._log_ids) > LOG_LIMIT:
            cut = len(self._log_ids) // 2
            ms, seq = self._log_ids[cut - 1]
            self.floor = f"{ms}-{seq}"
            del self._log_ids[:cut], self._log_keys[:cut]

    def keys_after(self, cursor: str) -> set[str] | None:
        """Every key touched after ``cursor``, or None when the log no longer reaches back there."""
        at = _sid(cursor)
        if at < _sid(self.floor):
            return None
        out: set[str] = set()
        for keys in self._log_keys[bisect.bisect_right(self._log_ids, at):]:
            out |= keys
        return out

    # -- reading ---------------------------------------------------------------------------------
    def state(self, incident_id: str) -> str | None:
        entry = self.info.get(incident_id)
        return None if entry is None else ("individual" if entry[-1] else "binned")

    def bin_row(self, key: str) -> dict[str, Any]:
        """The bin's row (shared: never change it)."""
        row = self._rows.get(key)
        if row is None:
            b = self.bins.get(key)
            if b is None:
                return {"id": "bin:" + key, "bin": key, "count": 0}
            row = self._rows[key] = b.row(key)
        return row

    def bin_rows(self) -> list[dict[str, Any]]:
        return [self.bin_row(k) for k in self.bins]


def _bbox(space: Any) -> tuple[float, float, float, float]:
    """South, north, west, east around a workspace, wide enough for ``near_km``."""
    points = [(v.lat, v.lon, v.radius_km) for v in space.venues] + [(lat, lon, space.route_km) for lat, lon in space.route]
    if not points:
        return (1.0, -1.0, 1.0, -1.0)  # empty: nothing is near
    reach = max(r for *_p, r in points) + space.near_km + 1.0
    dlat = reach / 111.0
    mid = sum(p[0] for p in points) / len(points)
    dlon = reach / (111.0 * max(0.05, math.cos(math.radians(mid))))
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    return (min(lats) - dlat, max(lats) + dlat, min(lons) - dlon, max(lons) + dlon)


class Aggregator:
    """One BinnedPicture per reader marking in this process, synchronised from Redis."""

    def __init__(self, max_points: int, size_deg: float, workspaces: Iterable[Any] = ()) -> None:
        self.max_points = int(max_points)
        self.size_deg = float(size_deg)
        self.workspaces = list(workspaces)
        self.models: dict[Any, BinnedPicture] = {}
        self.keeps: dict[Any, Keep] = {}  # what each model counts (the reader's marking), for the follower
        self.lock = threading.Lock()
        self._building = threading.Lock()  # one model built at a time, outside ``lock``
        self._follower: threading.Thread | None = None
        self._snapshots: dict[Any, tuple[float, str, list[str], list[dict[str, Any]]]] = {}

    def _start_follower(self, client: redis.Redis) -> None:
        if self._follower is None:
            self._follower = threading.Thread(target=_follow, args=(weakref.ref(self), client),
                                              name="wf-bins-follower", daemon=True)
            self._follower.start()

    def catch_up(self, client: redis.Redis) -> None:
        """Advance every model to the end of the change stream, a batch per hold of the lock (so a
        burst of 100,000 changes never holds a screen's poll for longer than one batch)."""
        for ceiling in list(self.models):
            while True:
                with self.lock:
                    model = self.models.get(ceiling)
                    if model is None:
                        break
                    before = model.cursor
                    try:
                        model = self._advance(client, ceiling, self.keeps[ceiling], steps=1)
                    except (redis.RedisError, OSError) as exc:
                        self.models.pop(ceiling, None)  # half-advanced: rebuilt when next asked for
                        log.warning("aggregated picture: the store did not answer the follower (%s)", exc)
                        return
                    except Exception:
                        self.models.pop(ceiling, None)  # never reuse a model an error left half-advanced
                        raise
                if model.cursor == before:
                    break

    def _build(self, client: redis.Redis, keep: Keep) -> BinnedPicture:
        """A model of every live incident ``keep`` counts, and the change-stream id it is as of."""
        model = BinnedPicture(self.max_points, self.size_deg, self.workspaces)
        newest = client.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=1)  # read before the incidents
        model.cursor = model.floor = newest[0][0].decode() if newest else "0-0"
        for raw in client.hvals(IncidentKeys.INCIDENTS):
            incident = orjson.loads(raw)
            if keep(incident):
                model.apply(incident["id"], incident)
        return model

    def _ensure(self, client: redis.Redis, ceiling: Any, keep: Keep) -> None:
        """Build the model of a marking no screen used yet without holding the lock: the screens
        of the other markings keep polling meanwhile (a build reads every live incident)."""
        self.keeps[ceiling] = keep  # (before the model appears: the follower needs both)
        if ceiling in self.models:
            return
        with self._building:
            if ceiling in self.models:
                return
            model = self._build(client, keep)
            with self.lock:
                self.models.setdefault(ceiling, model)

    def warm(self, client: redis.Redis, ceiling: Any, keep: Keep) -> None:
        """Build the model of ``ceiling`` ahead of its first screen (a web process starting)."""
        self.keeps[ceiling] = keep
        self._start_follower(client)
        self._ensure(client, ceiling, keep)

    def _sync(self, client: redis.Redis, ceiling: Any, keep: Keep, steps: int | None = REQUEST_STEPS) -> BinnedPicture:
        """The model of ``ceiling`` (built when missing), advanced by up to ``steps`` batches of the
        change stream (None: to its end). A request advances a step at most: the follower thread
        (:meth:`_follow`) keeps every model caught up, so what a page or a poll waits for is bounded
        by a step, never by a burst of changes."""
        self.keeps[ceiling] = keep
        self._start_follower(client)
        try:
            return self._advance(client, ceiling, keep, steps)
        except Exception:
            # A model left half-advanced (Redis timed out mid-way, or a bug) must not be reused: its
            # log could miss what the interrupted step touched. The next call rebuilds it; screens
            # whose cursor it no longer reaches reload.
            self.models.pop(ceiling, None)
            log.exception("aggregated picture: advancing the model failed; it is rebuilt on the next call")
            raise

    def _advance(self, client: redis.Redis, ceiling: Any, keep: Keep, steps: int | None = None) -> BinnedPicture:
        model = self.models.get(ceiling)
        if model is not None and model.cursor != "0-0":
            oldest = client.xrange(IncidentKeys.INCIDENT_CHANGES, count=1)
            if oldest and _sid(model.cursor) < _sid(oldest[0][0].decode()):
                model = None  # the stream was trimmed past this model: rebuild
        if model is None:
            model = self.models[ceiling] = self._build(client, keep)
        while steps is None or steps > 0:
            steps = None if steps is None else steps - 1
            start = "(" + model.cursor if model.cursor != "0-0" else "-"
            entries = client.xrange(IncidentKeys.INCIDENT_CHANGES, min=start, max="+", count=BATCH)
            if not entries:
                break
            changed: dict[str, str] = {}
            for _entry_id, fields in entries:
                changed[fields[b"id"].decode()] = fields.get(b"op", b"upsert").decode()
            ids = list(changed)
            touched: set[str] = set()
            for iid, raw in zip(ids, client.hmget(IncidentKeys.INCIDENTS, ids), strict=True):
                incident = orjson.loads(raw) if raw and changed[iid] != "remove" else None
                touched |= model.apply(iid, incident if incident is not None and keep(incident) else None)
            model.record(entries[-1][0].decode(), touched)
            if len(entries) < BATCH:
                break
        return model

    def snapshot(self, client: redis.Redis, ceiling: Any, keep: Keep, rows: Rows) -> tuple[list[dict[str, Any]], str] | None:
        """The aggregated first picture and its cursor "b:<id>", or None when the picture is small
        enough to send whole (the caller then sends every incident, as below the limit)."""
        if client.hlen(IncidentKeys.INCIDENTS) <= self.max_points:
            return None  # cheap: never build a model for a small picture
        self._ensure(client, ceiling, keep)
        with self.lock:
            model = self._sync(client, ceiling, keep)
            if model.live_count <= self.max_points:
                return None
            made = self._snapshots.get(ceiling)
            if made is None or made[1] != model.cursor and time.monotonic() - made[0] >= SNAPSHOT_SECONDS:
                # Screens opened together share one: the bins' rows and the markers' ids as of a cursor.
                made = self._snapshots[ceiling] = (time.monotonic(), model.cursor, list(model.individual),
                                                   model.bin_rows())
            _at, cursor, ids, bins = made
        markers = rows([orjson.loads(raw) for raw in client.hmget(IncidentKeys.INCIDENTS, ids) if raw]) if ids else []
        return markers + bins, "b:" + cursor

    def outgrown(self, client: redis.Redis, ceiling: Any, keep: Keep) -> bool:
        """True when a screen that loaded below the limit (one dot per incident) should reload into
        the aggregated picture: the picture has grown a fifth past the limit (a margin, so a picture
        hovering at the limit does not make screens reload again and again)."""
        margin = self.max_points * 1.2
        if client.hlen(IncidentKeys.INCIDENTS) <= margin:
            return False  # cheap: the usual answer
        self._ensure(client, ceiling, keep)
        with self.lock:
            return self._sync(client, ceiling, keep).live_count > margin

    def changes_after(self, client: redis.Redis, cursor: str, ceiling: Any, keep: Keep,
                      rows: Rows) -> tuple[list[dict[str, Any]], str, bool]:
        """Current state of every bin and marker touched after ``cursor`` ("b:<id>"), the new
        cursor, and whether the screen must reload (its cursor is older than the log)."""
        self._ensure(client, ceiling, keep)
        with self.lock:
            model = self._sync(client, ceiling, keep)
            keys = model.keys_after(cursor[2:])
            if keys is None:
                return [], cursor, True
            ids = sorted(k[2:] for k in keys if k.startswith("i:"))
            states = {iid: model.state(iid) for iid in ids}
            bins = [model.bin_row(k[2:]) for k in sorted(keys) if k.startswith("b:")]
            new_cursor = "b:" + model.cursor
        wanted = [iid for iid in ids if states[iid] == "individual"]
        built = {r["id"]: r for r in rows([orjson.loads(raw) for raw in client.hmget(IncidentKeys.INCIDENTS, wanted) if raw])} if wanted else {}
        out: list[dict[str, Any]] = []
        for iid in ids:
            row = built.get(iid)
            if row is None:
                row = hidden_row(iid)
                if states[iid] == "binned":
                    row["binned"] = True  # counted in a bin now: it may come back as a marker
            out.append(row)
        return out + bins, new_cursor, False


def _follow(ref: weakref.ref[Aggregator], client: redis.Redis) -> None:
    """The follower thread: catches its aggregator up every FOLLOW_SECONDS, ends with it."""
    while True:
        time.sleep(FOLLOW_SECONDS)
        aggregator = ref()
        if aggregator is None:
            return
        try:
            aggregator.catch_up(client)
        except Exception:  # noqa: BLE001 - a follower that dies would leave every screen behind
            log.exception("aggregated picture: the follower could not advance a model")
        del aggregator


_AGGREGATOR: Aggregator | None = None


def configure(max_points: int, size_deg: float, workspaces: Iterable[Any]) -> Aggregator:
    """Set this process's aggregation (done once when the app registers its callbacks)."""
    global _AGGREGATOR
    _AGGREGATOR = Aggregator(max_points, size_deg, workspaces)
    return _AGGREGATOR


def current() -> Aggregator | None:
    return _AGGREGATOR
