"""The fuser: :class:`feeds.fuse.Correlator` as a live process over ``wf:events``.

One report per source becomes one incident per happening, stored in Redis for screens and the CLI
(keys in :mod:`domain.store.streams`, "fusion keys")::
    wf:events --XREADGROUP "fuser"--> Fuser --MULTI/EXEC--> wf:incidents, wf:incident-of,
                                        ^                    wf:incident-changes, wf:fusion:state, XACK,
                                        |                    wf:incident-time, wf:incident-geo (indexes)
    split_incident / merge_incidents --RPUSH wf:fusion:overrides (the fuser polls its length)

What it promises

* **One active fuser** across hosts: the leader lock ``wf:fusion:leader`` (SET NX PX, renewed every
  third of its TTL by compare-and-expire). Every write is a MULTI/EXEC under WATCH of the lock, so a
  fuser that lost the lock (paused, partitioned) cannot write. Others wait as standbys and take over
  within one TTL after the leader dies (at once when it stops cleanly: it deletes its lock).
* **The stream is the truth; a checkpoint saves replaying it.** On gaining the lock the fuser
  restores its Correlator from its checkpoint (``wf:fusion:checkpoint``, :mod:`workers.checkpoint`:
  its whole state after one entry, written at most every ``checkpoint_seconds``, after a rebuild and
  on a clean stop) and replays only the entries after it; with no usable checkpoint it replays the
  whole history (the archive of trimmed entries, then ``wf:events`` in XRANGE pages). Either way it
  applies the resolved overrides, compares with what is stored and writes only the differences.
  Replay is deterministic: the same entries, overrides at their recorded positions and prunes at
  the same points give the same incidents and ids, so a fuser killed anywhere and restarted leaves
  no duplicate, and a restart costs seconds whatever the history.
* **Bounded for years.** After each checkpoint, :class:`workers.retention.Retention` trims
  ``wf:events`` past ``events_retention_days`` (archived to disk first, only what the checkpoint
  holds and every group has read) and ages incidents with no report for ``incident_max_age_days``
  out of ``wf:incidents`` into ``wf:incidents:aged``.
* **At-least-once, idempotent.** Entries are acknowledged (XACK) in the transaction that writes
  their effects; an incident is written (and a change appended) only when its JSON changed, so the
  same input never changes a hash value or appends a change. Entries are processed strictly in
  stream order after the fuser's cursor; what the group did not deliver (a zombie consumer read it)
  is read with XRANGE, so nothing is skipped.
* **Memory is bounded by a window, history is kept.** An incident leaves the Correlator when it has
  had no report for ``fusion_window_hours`` of ingest time and its own time is as old (prunes run
  every hour of ingest time, by stream id, so replay prunes at the same points). It stays in
  ``wf:incidents`` unchanged, frozen: a later report of that happening starts a new incident
  (``inc:<event id>/2``...). Nothing stored is deleted except incidents merged into another (a
  ``remove`` change naming ``into``).
* **Operator overrides stick.** `split_incident` / `merge_incidents` (:mod:`workers.overrides`) append a request to
  ``wf:fusion:overrides``; the fuser applies it and replaces the list entry with the Correlator's rule
  (or a ``refused`` reason) in the same transaction as the rewritten incidents. Rules are replayed on
  every rebuild, and later reports follow them (see :mod:`feeds.fuse`).
* :func:`workers.overrides.fuse_now` gives the CLI the same picture with no fuser running: it takes
  the lock, does one catch-up pass, writes and releases; if a fuser is active it waits for it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from domain.picture.keys import IncidentKeys
from domain.picture.processes import beat
from domain.store.streams import EventKeys, StreamEntry, decode_entry
from feeds.fuse import Correlator, OverrideError
from feeds.model import Event, InvalidEvent
from workers import checkpoint
from workers.incident_rows import (
    CHANGES_KEEP_MS,
    _digest,
    _index_rows,
    _ms,
    _sid_key,
    _text,
    incident_json,
)
from workers.retention import Retention

log = logging.getLogger(__name__)

__all__ = [
    "FusionError",
    "Fuser",
    "incident_json",
]

PAGE = 1000  # stream entries per XRANGE page when rebuilding
WRITE_CHUNK = 1000  # incidents per write transaction when a rebuild has many to write
PRUNE_EVERY_MS = 3_600_000

# Renew the lock only if we still hold it; release only our own lock.
_RENEW_LUA = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE_LUA = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class FusionError(ValueError):
    """An operator override that cannot be applied (unknown incident, report not in it...); the
    message says which."""


class LostLeadership(Exception):
    """Another fuser holds the lock now; this one must stop writing and rebuild before leading again."""


@dataclass
class _Batch:
    """What one step changed, to be written in one fenced transaction."""

    dirty: set[str] = field(default_factory=set)
    pruned: set[str] = field(default_factory=set)
    resolved: list[tuple[int, bytes]] = field(default_factory=list)  # (list index, rule JSON)
    acks: list[str] = field(default_factory=list)


class Fuser:
    """Reads ``wf:events`` and keeps ``wf:incidents`` right; see the module docstring.

    ``run()`` is the process loop (standby until it holds the lock); ``acquire()``, ``rebuild()``,
    ``step()`` and ``release()`` are its parts, for :func:`fuse_now` and tests.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        window_hours: float = 72.0,
        lock_ttl: float = 15.0,
        batch: int = 500,
        name: str | None = None,
        retention: Retention | None = None,
        checkpoint_seconds: float = 60.0,
    ) -> None:
        self.client = client
        self.retention = retention
        self.checkpoint_seconds = checkpoint_seconds
        self.window_ms = int(window_hours * 3_600_000)
        self.prune_every_ms = max(1000, min(PRUNE_EVERY_MS, self.window_ms // 4))
        self.lock_ms = max(500, int(lock_ttl * 1000))
        self.batch = batch
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.token = f"{self.name}:{uuid.uuid4().hex[:12]}"
        self._renew = client.register_script(_RENEW_LUA)
        self._release = client.register_script(_RELEASE_LUA)
        self._renewed_at = 0.0
        self._beat_at = 0.0
        self._reset()

    # -- state -------------------------------------------------------------------------------
    def _reset(self) -> None:
        self.correlator = Correlator()
        self.cursor = "0-0"
        self._last_ms = 0
        self._touched: dict[str, int] = {}  # incident id -> stream ms of its last report or override
        self._retired: set[str] = set()  # pruned incident ids (kept in the hash, frozen)
        self._superseded: set[str] = set()
        self._digests: dict[str, bytes] = {}  # incident id -> digest of the JSON stored for it
        self._prune_period: int | None = None
        self._pending_rules: list[tuple[int, int, dict[str, Any]]] = []  # (at, list index, rule) to replay
        self._overrides_seen = 0
        self._has_merges = False
        self.leading = False
        self.checkpointed = "0-0"  # cursor of the last checkpoint written or restored
        self._saved_overrides = 0  # override list entries the last checkpoint had applied
        self.history_complete = True  # False: a whole replay found trimmed entries missing from the archive
        self._saved_at = time.monotonic()

    # -- the lock ----------------------------------------------------------------------------
    def acquire(self) -> bool:
        """Take the leader lock if nobody holds it."""
        if self.client.set(IncidentKeys.FUSION_LEADER, self.token, nx=True, px=self.lock_ms):
            self._renewed_at = time.monotonic()
            self.leading = True
            return True
        return False

    def release(self) -> None:
        """Give the lock up (only ours), so a standby takes over at once."""
        if self.leading:
            try:
                self._release(keys=[IncidentKeys.FUSION_LEADER], args=[self.token])
            except redis.RedisError:
                pass  # it expires by itself
        self.leading = False

    def _keep_lead(self, force: bool = False) -> None:
        if not self.leading:
            raise LostLeadership("not leading")
        now = time.monotonic()
        if force or now - self._renewed_at >= self.lock_ms / 3000:
            if not self._renew(keys=[IncidentKeys.FUSION_LEADER], args=[self.token, self.lock_ms]):
                self.leading = False
                raise LostLeadership("the leader lock was lost")
            self._renewed_at = now

    def _beat(self) -> None:
        now = time.monotonic()
        if now - self._beat_at >= 2.0:
            beat(self.client, "fuser", self.name)
            self._beat_at = now

    # -- replay and live processing -----------------------------------------------------------
    def _process(self, entry: StreamEntry, batch: _Batch) -> None:
        ms = _ms(entry.stream_id)
        while self._pending_rules and self._pending_rules[0][0] <= self.correlator.adds:
            _, _, rule = self._pending_rules.pop(0)
            self._apply_rule(rule, batch)
        self._maybe_prune(ms, batch)
        self.cursor = entry.stream_id
        self._last_ms = ms
        try:
            event = Event.from_dict(entry.event)
        except (InvalidEvent, KeyError, ValueError, TypeError) as exc:
            # Ingest validated it; a malformed entry costs itself only (and is skipped on replay too).
            log.error("wf:events %s: unreadable event, skipped (%s)", entry.stream_id, exc)
            return
        incident, _ = self.correlator.add(event)
        self._touched[incident.id] = ms
        batch.dirty.add(incident.id)
        for ref in entry.supersedes:
            if ref != entry.id:
                self._superseded.add(ref)
                held = self.correlator.incident_of(ref)
                if held is not None:
                    batch.dirty.add(held.id)

    def _maybe_prune(self, ms: int, batch: _Batch) -> None:
        period = ms // self.prune_every_ms
        if self._prune_period is None:
            self._prune_period = period
            return
        if period <= self._prune_period:
            return
        self._prune_period = period
        cutoff = ms - self.window_ms
        keep = {i for i, t in self._touched.items() if t >= cutoff}
        gone = self.correlator.prune(datetime.fromtimestamp(cutoff / 1000, UTC), keep)
        for incident in gone:
            self._retired.add(incident.id)
            batch.pruned.add(incident.id)
            self._digests.pop(incident.id, None)
        self._touched = {i: t for i, t in self._touched.items() if i in self.correlator.incidents}
        if gone:
            log.info("pruned %d incident(s) out of the fusion window (kept in %s)", len(gone), IncidentKeys.INCIDENTS)

    def _touch_rule(self, rule: dict[str, Any], batch: _Batch) -> None:
        events = [rule.get("event"), *(rule.get("apart_from") or ()), *(rule.get("events") or ())]
        for event_id in events:
            if isinstance(event_id, str):
                incident = self.correlator.incident_of(event_id)
                if incident is not None:
                    self._touched[incident.id] = self._last_ms
                    batch.dirty.add(incident.id)
        for incident_id in (rule.get("incident"), *(rule.get("incidents") or ())):
            if isinstance(incident_id, str):
                batch.dirty.add(incident_id)  # gone (merged away): written as a remove
        if rule.get("op") == "merge":
            self._has_merges = True

    def _apply_rule(self, rule: dict[str, Any], batch: _Batch) -> None:
        try:
            self.correlator.apply_override(rule)
        except OverrideError as exc:
            log.error("override %r not replayed: %s", rule, exc)
            return
        self._touch_rule(rule, batch)

    def _resolve(self, index: int, request: dict[str, Any], batch: _Batch) -> None:
        """Apply an operator's request now; record the rule (or the refusal) in its list entry."""
        op = request.get("op")
        meta = {k: request[k] for k in ("user", "requested") if k in request}
        try:
            if op == "split":
                incident_id, event_id = str(request["incident"]), str(request["event"])
                incident = self.correlator.get(incident_id)
                if incident is None:
                    raise OverrideError(f"no incident {incident_id} in the fusion window")
                if event_id not in incident.events:
                    raise OverrideError(f"incident {incident.id} holds no report {event_id}")
                if len(incident.events) < 2:
                    raise OverrideError(f"incident {incident.id} has only one report")
                self.correlator.split(incident.id, event_id)
            elif op == "merge":
                a_id, b_id = (str(x) for x in request["incidents"])
                a, b = self.correlator.get(a_id), self.correlator.get(b_id)
                if a is None or b is None:
                    raise OverrideError(f"no incident {a_id if a is None else b_id} in the fusion window")
                if a is b:
                    raise OverrideError(f"{a_id} and {b_id} are already one incident ({a.id})")
                self.correlator.merge(a.id, b.id)
            else:
                raise OverrideError(f"unknown override {op!r}")
        except (OverrideError, KeyError, TypeError, ValueError) as exc:
            reason = str(exc) if isinstance(exc, OverrideError) else f"malformed request ({type(exc).__name__})"
            batch.resolved.append((index, orjson.dumps({**request, "refused": reason})))
            log.warning("override refused: %s", reason, extra={"override": request})
            return
        rule = {**self.correlator.overrides[-1], **meta}
        batch.resolved.append((index, orjson.dumps(rule)))
        self._touch_rule(rule, batch)
        log.info("override applied: %s by %s", op, meta.get("user", "?"), extra={"override": rule})

    def _read_overrides(self, start: int) -> list[tuple[int, dict[str, Any]]]:
        out = []
        for offset, raw in enumerate(self.client.lrange(IncidentKeys.FUSION_OVERRIDES, start, -1)):
            try:
                item = orjson.loads(raw)
                if not isinstance(item, dict):
                    raise ValueError
            except ValueError:
                item = {"op": None}
            out.append((start + offset, item))
        return out

    # -- rebuild -------------------------------------------------------------------------------
    def rebuild(self) -> int:
        """Resume from the checkpoint when it fits, else replay the whole history (the archive, then
        the stream); replay the overrides, resolve waiting requests, write the differences, point the
        consumer group after what was read and write a checkpoint. Returns the entries replayed."""
        self._keep_lead(force=True)
        self._reset()
        self.leading = True
        started = time.monotonic()
        resumed = checkpoint.resume(self)
        requests = self._queue_overrides(self._overrides_seen if resumed else 0)
        batch = _Batch()
        replayed = 0
        archive = self.retention.archive if self.retention is not None else None
        for page in checkpoint.replay(self, resumed=resumed, archive=archive):
            self._beat()  # a long replay is work, not a hang: the floor must not hear "silent"
            for entry in page:
                self._process(entry, batch)
            replayed += len(page)
            self._keep_lead()
        for _, _, rule in self._pending_rules:
            self._apply_rule(rule, batch)
        self._pending_rules = []
        for index, request in requests:
            self._resolve(index, request, batch)
        checkpoint.compare_stored(self, batch, resumed)
        self._write(batch, scan_removed=not resumed)  # (after a resume, merges replayed named what they removed)
        self._point_group()
        size = self.save_checkpoint(retain=False) if resumed else checkpoint.save(self)
        log.info(
            "fusion %s: %d entries replayed, %d incidents in the window, %d pruned, in %.1fs (checkpoint %d KB)",
            "resumed from the checkpoint" if resumed else "rebuilt from the whole history",
            replayed,
            len(self.correlator),
            len(self._retired),
            time.monotonic() - started,
            size // 1024,
            extra={"cursor": self.cursor},
        )
        return replayed

    def _queue_overrides(self, start: int) -> list[tuple[int, dict[str, Any]]]:
        """Override list entries from ``start``: rules wait for their position, requests are returned."""
        requests: list[tuple[int, dict[str, Any]]] = []
        overrides = self._read_overrides(start)
        for index, item in overrides:
            if "refused" in item:
                continue
            if "at" in item:
                self._pending_rules.append((int(item["at"]), index, item))
            else:
                requests.append((index, item))
        self._pending_rules.sort(key=lambda r: (r[0], r[1]))
        self._overrides_seen = start + len(overrides)
        return requests

    def _point_group(self) -> None:
        """The group delivers what follows the rebuilt cursor; what others left pending is covered."""
        try:
            self.client.xgroup_create(EventKeys.EVENTS, IncidentKeys.FUSION_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self.client.xgroup_setid(EventKeys.EVENTS, IncidentKeys.FUSION_GROUP, self.cursor)
        while self.cursor != "0-0":
            pending = self.client.xpending_range(EventKeys.EVENTS, IncidentKeys.FUSION_GROUP, min="-", max=self.cursor, count=PAGE)
            if not pending:
                break
            self.client.xack(EventKeys.EVENTS, IncidentKeys.FUSION_GROUP, *[p["message_id"] for p in pending])
        for consumer in self.client.xinfo_consumers(EventKeys.EVENTS, IncidentKeys.FUSION_GROUP):
            name = _text(consumer.get("name"))
            if name != self.name and not consumer.get("pending") and consumer.get("idle", 0) > self.lock_ms:
                self.client.xgroup_delconsumer(EventKeys.EVENTS, IncidentKeys.FUSION_GROUP, name)

    # -- live ----------------------------------------------------------------------------------
    def step(self, block_ms: int | None = None) -> int:
        """Read what follows the cursor (waiting up to ``block_ms``), apply new override requests,
        write. Returns the number of stream entries processed."""
        self._keep_lead()
        self._beat()
        if block_ms is None:
            block_ms = max(50, min(1000, self.lock_ms // 4))
        entries, stale = self._read(block_ms)
        batch = _Batch(acks=stale)
        for entry in entries:
            self._process(entry, batch)
            batch.acks.append(entry.stream_id)
        length = int(self.client.llen(IncidentKeys.FUSION_OVERRIDES))
        if length > self._overrides_seen:
            for index, item in self._read_overrides(self._overrides_seen):
                if "refused" in item:
                    continue
                if "at" in item:  # resolved by an earlier leader after our rebuild began: replay it now
                    self._apply_rule(item, batch)
                else:
                    self._resolve(index, item, batch)
            self._overrides_seen = length
        if entries or batch.resolved or batch.dirty or batch.acks:
            self._write(batch, scan_removed=self._has_merges)
        if time.monotonic() - self._saved_at >= self.checkpoint_seconds:
            self.save_checkpoint()
        return len(entries)

    def save_checkpoint(self, *, retain: bool = True) -> int:
        """Write the checkpoint when anything was applied since the last one, then (``retain``) trim
        and age: the retention runs behind the checkpoint it just wrote. Returns the bytes written."""
        self._saved_at = time.monotonic()
        size = 0
        if (self.cursor, self._overrides_seen) != (self.checkpointed, self._saved_overrides):
            size = checkpoint.save(self)
        if retain and self.retention is not None:
            self.retention.run(self)
        return size

    def _read(self, block_ms: int) -> tuple[list[StreamEntry], list[str]]:
        """Entries after the cursor, in order; and delivered ids already processed (to acknowledge)."""
        reply = self.client.xreadgroup(
            IncidentKeys.FUSION_GROUP, self.name, {EventKeys.EVENTS: ">"}, count=self.batch, block=block_ms
        )
        delivered = [decode_entry(sid, fields) for _, rows in (reply or []) for sid, fields in rows]
        cursor = _sid_key(self.cursor)
        stale = [e.stream_id for e in delivered if _sid_key(e.stream_id) <= cursor]
        delivered = [e for e in delivered if _sid_key(e.stream_id) > cursor]
        # Anything between the cursor and what was delivered (read by another consumer, never
        # acknowledged by us) is read here, so entries are processed in order and none is skipped.
        gap: list[StreamEntry] = []
        start = self.cursor
        end = ("(" + delivered[0].stream_id) if delivered else "+"
        while True:
            rows = self.client.xrange(EventKeys.EVENTS, min="-" if start == "0-0" else "(" + start, max=end, count=PAGE)
            gap.extend(decode_entry(sid, fields) for sid, fields in rows)
            if len(rows) < PAGE or not delivered:
                break
            start = gap[-1].stream_id
        if gap and delivered:
            log.warning("fuser read %d entries the group had delivered elsewhere", len(gap))
        if not delivered:
            return gap[: self.batch * 4], stale  # (usually entries that arrived after the read timed out)
        return gap + delivered, stale

    # -- writing -------------------------------------------------------------------------------
    def _write(self, batch: _Batch, *, scan_removed: bool) -> None:
        upserts: dict[str, bytes] = {}
        removes: dict[str, str] = {}
        candidates = set(batch.dirty)
        if scan_removed:
            candidates |= set(self._digests)
        for incident_id in sorted(candidates):
            incident = self.correlator.incidents.get(incident_id)
            if incident is not None:
                raw = incident_json(incident, self._superseded)
                if self._digests.get(incident_id) != _digest(raw):
                    upserts[incident_id] = raw
            elif incident_id in self._digests and incident_id not in self._retired:
                into = self.correlator.resolve(incident_id)
                removes[incident_id] = into if into in self.correlator.incidents else ""
        ids = list(upserts)
        chunks = [ids[i : i + WRITE_CHUNK] for i in range(0, len(ids), WRITE_CHUNK)] or [[]]
        for n, chunk in enumerate(chunks):
            last = n == len(chunks) - 1

            def fill(pipe: Any, chunk: list[str] = chunk, last: bool = last) -> None:
                minid = f"{max(0, int(time.time() * 1000) - CHANGES_KEEP_MS)}-0"
                if chunk:
                    pipe.hset(IncidentKeys.INCIDENTS, mapping={i: upserts[i] for i in chunk})
                    of = {e: i for i in chunk for e in self.correlator.incidents[i].events}
                    pipe.hset(IncidentKeys.INCIDENT_OF, mapping=of)
                    _index_rows(pipe, [(i, self.correlator.incidents[i].time.timestamp(), self.correlator.incidents[i].lat,
                                        self.correlator.incidents[i].lon) for i in chunk])
                    pipe.zadd(IncidentKeys.INCIDENT_UPDATED, {i: self._touched.get(i, self._last_ms) for i in chunk})
                    for i in chunk:
                        pipe.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": i, "op": "upsert"}, minid=minid, approximate=True)
                if not last:
                    return
                if removes:
                    pipe.hdel(IncidentKeys.INCIDENTS, *removes)
                    pipe.zrem(IncidentKeys.INCIDENT_TIME, *removes)
                    pipe.zrem(IncidentKeys.INCIDENT_GEO, *removes)
                    pipe.zrem(IncidentKeys.INCIDENT_UPDATED, *removes)
                    for i, into in removes.items():
                        pipe.xadd(
                            IncidentKeys.INCIDENT_CHANGES,
                            {"id": i, "op": "remove", "into": into},
                            minid=minid,
                            approximate=True,
                        )
                for index, raw in batch.resolved:
                    pipe.lset(IncidentKeys.FUSION_OVERRIDES, index, raw)
                pipe.hset(
                    IncidentKeys.FUSION_STATE,
                    mapping={
                        "cursor": self.cursor,
                        "overrides": self._overrides_seen,
                        "leader": self.name,
                        "at": f"{time.time():.3f}",
                    },
                )
                if batch.acks:
                    pipe.xack(EventKeys.EVENTS, IncidentKeys.FUSION_GROUP, *batch.acks)

            self._fenced(fill)
            for i in chunk:
                self._digests[i] = _digest(upserts[i])
        for i in removes:
            self._digests.pop(i, None)

    def _fenced(self, fill: Callable[[Any], None]) -> None:
        """Run ``fill`` in MULTI/EXEC only while this fuser still holds the lock (renewing it)."""
        with self.client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(IncidentKeys.FUSION_LEADER)
                if _text(pipe.get(IncidentKeys.FUSION_LEADER)) != self.token:
                    raise LostLeadership("the leader lock was lost")
                pipe.multi()
                fill(pipe)
                pipe.pexpire(IncidentKeys.FUSION_LEADER, self.lock_ms)
                pipe.execute()
            except redis.WatchError:
                self.leading = False
                raise LostLeadership("the leader lock changed during a write") from None
            except LostLeadership:
                self.leading = False
                raise
        self._renewed_at = time.monotonic()

    # -- the process -----------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> None:
        """Lead when the lock is free, else wait as a standby; until ``stop`` is set."""
        stop = stop or threading.Event()
        standby_logged = False
        try:
            while not stop.is_set():
                try:
                    if not self.acquire():
                        if not standby_logged:
                            holder = _text(self.client.get(IncidentKeys.FUSION_LEADER))
                            log.info("fuser %s on standby (active: %s)", self.name, holder.rsplit(":", 1)[0])
                            standby_logged = True
                        self._beat()
                        stop.wait(max(0.05, min(1.0, self.lock_ms / 4000)))
                        continue
                    standby_logged = False
                    log.info("fuser %s is the active fuser", self.name)
                    self.rebuild()
                    while not stop.is_set():
                        self.step()
                    self.save_checkpoint()  # a clean stop: the next start replays nothing
                except LostLeadership as exc:
                    log.warning("fuser %s stops leading: %s", self.name, exc)
                    self._reset()
                except (redis.RedisError, OSError) as exc:
                    log.warning("fuser %s: Redis unreachable (%s); retrying", self.name, type(exc).__name__)
                    self.release()
                    self._reset()
                    stop.wait(1.0)
        finally:
            self.release()


# -- for the CLI and screens ---------------------------------------------------------------------
