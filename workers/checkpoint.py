"""How the fuser starts: its checkpoint (its whole state after one stream entry, kept in Redis, so
that a restart or a standby taking over replays only what followed instead of the whole history),
the replay, and the comparison with what is stored.

``wf:fusion:checkpoint`` (:class:`domain.picture.keys.IncidentKeys`) holds zlib-compressed JSON::

    {"version", "window_ms", "cursor" (the last wf:events entry applied), "last_ms", "prune_period",
     "overrides_seen", "has_merges", "touched", "superseded", "correlator": Correlator.state()}

It is written by the active fuser only (fenced by its lock, like every write), at most every
``checkpoint_seconds`` while entries arrive, after a rebuild and when the fuser stops cleanly. What it
costs grows with the fusion window (the reports held), plus one id per incident that left it.

Resuming (:func:`resume`) is refused, and the fuser replays the whole history instead (the archive,
then the stream), when the checkpoint is missing, of another format version or another fusion window,
or does not fit the stream (the stream is behind its cursor, or was trimmed past it by hand).
Replaying from a checkpoint gives the same incidents as the whole replay: the correlator is
deterministic and its state is complete (tests/workers/test_history.py).
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator
from typing import Any

import orjson

from domain.picture.keys import IncidentKeys
from domain.store.archive import read_archive
from domain.store.streams import EventKeys, StreamEntry, decode_entry
from feeds.fuse import Correlator
from workers.incident_rows import _digest, _index_row, _index_rows, _sid_key, _text

# Functions of the fuser's own state (workers/fusion.py), kept apart for size; ``Fuser`` is not
# imported (fusion imports this module), hence the plain annotations.
Fuser = Any

log = logging.getLogger(__name__)

__all__ = ["VERSION", "compare_stored", "encode", "fill_indexes", "replay", "resume", "save"]

VERSION = 1
PAGE = 1000
CHUNK = 1000  # incidents per write transaction when indexes are filled


def encode(fuser: Fuser) -> bytes:
    """The fuser's state now, as the checkpoint stores it."""
    state = {
        "version": VERSION,
        "window_ms": fuser.window_ms,
        "cursor": fuser.cursor,
        "last_ms": fuser._last_ms,
        "prune_period": fuser._prune_period,
        "overrides_seen": fuser._overrides_seen,
        "has_merges": fuser._has_merges,
        "touched": fuser._touched,
        "superseded": sorted(fuser._superseded),
        "correlator": fuser.correlator.state(),
    }
    return zlib.compress(orjson.dumps(state), 1)


def _decode(raw: bytes | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        state = orjson.loads(zlib.decompress(raw))
    except (zlib.error, orjson.JSONDecodeError) as exc:
        log.error("fusion checkpoint unreadable (%s): replaying the whole history", type(exc).__name__)
        return None
    return state if isinstance(state, dict) else None


def save(fuser: Fuser) -> int:
    """Write the checkpoint (fenced by the fuser's lock); returns its size in bytes."""
    blob = encode(fuser)
    cursor = fuser.cursor

    def fill(pipe: Any) -> None:
        pipe.set(IncidentKeys.FUSION_CHECKPOINT, blob)
        pipe.hset(IncidentKeys.FUSION_STATE, mapping={"checkpoint": cursor, "checkpoint_bytes": len(blob)})

    fuser._fenced(fill)
    fuser.checkpointed, fuser._saved_overrides = cursor, fuser._overrides_seen
    return len(blob)


def resume(fuser: Fuser) -> bool:
    """Restore the fuser from the checkpoint when it fits (see the module docstring); False when it
    must replay the whole history."""
    state = _decode(fuser.client.get(IncidentKeys.FUSION_CHECKPOINT))
    if state is None:
        return False
    why = None
    if state.get("version") != VERSION:
        why = f"format {state.get('version')!r}, this fuser writes {VERSION}"
    elif int(state.get("window_ms", -1)) != fuser.window_ms:
        why = f"fusion window {int(state.get('window_ms', 0)) / 3_600_000:g} h, this fuser's {fuser.window_ms / 3_600_000:g} h"
    else:
        why = _misfit(fuser, str(state["cursor"]))
    if why is not None:
        log.warning("fusion checkpoint not used (%s): replaying the whole history", why)
        return False
    fuser.correlator = Correlator.from_state(state["correlator"])
    fuser.cursor = fuser.checkpointed = str(state["cursor"])
    fuser._last_ms = int(state["last_ms"])
    fuser._prune_period = state["prune_period"]
    fuser._overrides_seen = fuser._saved_overrides = int(state["overrides_seen"])
    fuser._has_merges = bool(state["has_merges"])
    fuser._touched = {str(k): int(v) for k, v in state["touched"].items()}
    fuser._superseded = set(state["superseded"])
    fuser._retired = set(state["correlator"]["retired"])
    return True


def _misfit(fuser: Fuser, cursor: str) -> str | None:
    """Why the stream cannot continue from ``cursor``, or None."""
    if cursor == "0-0":
        return None
    newest = fuser.client.xrevrange(EventKeys.EVENTS, count=1)
    if not newest or _sid_key(_text(newest[0][0])) < _sid_key(cursor):
        return f"the stream ends before its cursor {cursor}"
    trimmed = _text(fuser.client.hget(EventKeys.ARCHIVED, "trimmed_before"))
    ms, seq = _sid_key(cursor)
    if trimmed and _sid_key(trimmed) > (ms, seq + 1):
        return f"the stream was trimmed before {trimmed}, past its cursor {cursor}"
    return None


def replay(fuser: Fuser, *, resumed: bool, archive: Any = None) -> Iterator[list[StreamEntry]]:
    """Pages of entries to replay: from a checkpoint, the stream after its cursor; otherwise the
    archive (``archive``: its folder, when the fuser has one) before the stream's first entry, then
    the whole stream. Sets ``fuser.history_complete`` False when the stream was trimmed and the
    archive did not give back everything trimmed."""
    fuser.history_complete = True
    if not resumed:
        info = {_text(k): _text(v) for k, v in fuser.client.hgetall(EventKeys.ARCHIVED).items()}
        oldest = fuser.client.xrange(EventKeys.EVENTS, count=1)
        first = _text(oldest[0][0]) if oldest else None
        through = "0-0"
        if archive is not None:
            page: list[StreamEntry] = []
            for entry in read_archive(archive, before=first):
                page.append(entry)
                through = entry.stream_id
                if len(page) >= PAGE:
                    yield page
                    page = []
            if page:
                yield page
        if info.get("through") and _sid_key(through) < _sid_key(info["through"]):
            fuser.history_complete = False
            log.warning("the stream was trimmed before %s and the archive here gives back entries only to %s: "
                        "incidents of what is missing are kept as stored", info.get("trimmed_before"), through)
    while True:
        start = "-" if fuser.cursor == "0-0" else "(" + fuser.cursor
        rows = fuser.client.xrange(EventKeys.EVENTS, min=start, max="+", count=PAGE)
        yield [decode_entry(stream_id, fields) for stream_id, fields in rows]
        if len(rows) < PAGE:
            return


def compare_stored(fuser: Fuser, batch: Any, resumed: bool) -> None:
    """What is stored, as digests to compare with, and what to write: after a resume, the incidents
    the replay touched (digests of the window's, for the steps that follow); after a whole replay
    every stored incident (a crash or an older version may have left differences). The indexes are
    filled when they lack some (after a resume only when their sizes say so: two O(1) counts)."""
    if resumed:
        count = fuser.client.hlen(IncidentKeys.INCIDENTS)
        if count != fuser.client.zcard(IncidentKeys.INCIDENT_TIME) or count != fuser.client.zcard(IncidentKeys.INCIDENT_UPDATED):
            fill_indexes(fuser, fuser.client.hgetall(IncidentKeys.INCIDENTS))  # the indexes lost entries: refill
        ids = sorted(set(fuser.correlator.incidents) | batch.dirty)
        stored = dict(zip(ids, fuser.client.hmget(IncidentKeys.INCIDENTS, ids), strict=True)) if ids else {}
        fuser._digests = {i: _digest(v) for i, v in stored.items() if v is not None and i not in fuser._retired}
        # The checkpoint was written with the incidents it holds: only what the replay touched, and
        # any the store lost since, can differ.
        batch.dirty |= {i for i in fuser.correlator.incidents if stored.get(i) is None}
        return
    else:
        every = fuser.client.hgetall(IncidentKeys.INCIDENTS)
        fill_indexes(fuser, every)
        fuser._digests = {_text(k): _digest(v) for k, v in every.items()}
        for incident_id in list(fuser._digests):
            unknown = incident_id not in fuser.correlator.incidents and fuser.correlator.resolve(incident_id) == incident_id
            if incident_id in fuser._retired or (unknown and not fuser.history_complete):
                fuser._retired.add(incident_id)  # (reports trimmed and not archived here: kept as stored)
                del fuser._digests[incident_id]
    batch.dirty = set(fuser.correlator.incidents) | set(fuser._digests)


def fill_indexes(fuser: Fuser, stored: dict[bytes, bytes]) -> None:
    """Index the stored incidents the time index lacks (a store written before the indexes
    existed) and drop index entries with no stored incident; the write that follows keeps both
    right for what it changes. Reads only the indexes' member ids when nothing is missing."""
    by_id = {_text(k): v for k, v in stored.items()}
    timed = {_text(m) for m in fuser.client.zrange(IncidentKeys.INCIDENT_TIME, 0, -1)}
    placed = {_text(m) for m in fuser.client.zrange(IncidentKeys.INCIDENT_GEO, 0, -1)}
    updated = {_text(m) for m in fuser.client.zrange(IncidentKeys.INCIDENT_UPDATED, 0, -1)}
    undated = sorted(set(by_id) - updated)
    if undated:  # stored before incidents aged: they age from now
        now_ms = int(time.time() * 1000)
        for start in range(0, len(undated), CHUNK):
            chunk = undated[start : start + CHUNK]
            fuser._fenced(lambda pipe, chunk=chunk: pipe.zadd(IncidentKeys.INCIDENT_UPDATED, dict.fromkeys(chunk, now_ms)))
    missing = sorted(set(by_id) - timed)
    gone = sorted((timed | placed) - set(by_id))
    if not missing and not gone:
        return
    for start in range(0, max(len(missing), 1), CHUNK):
        rows = [_index_row(i, orjson.loads(by_id[i])) for i in missing[start : start + CHUNK]]
        drop = gone if start == 0 else []

        def fill(pipe: Any, rows: list[Any] = rows, drop: list[str] = drop) -> None:
            _index_rows(pipe, rows)
            if drop:
                pipe.zrem(IncidentKeys.INCIDENT_TIME, *drop)
                pipe.zrem(IncidentKeys.INCIDENT_GEO, *drop)

        fuser._fenced(fill)
    log.info("incident indexes: %d incident(s) added, %d stale entr(ies) dropped", len(missing), len(gone))
