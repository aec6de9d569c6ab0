"""Every Redis key and stream format Watchfloor uses, in one place.

Keys (``wf:`` prefix, so one Redis can be shared with other tenants by prefix)::
    wf:events              stream   every new or changed event: fields id, op (new|update), e (event JSON),
                                    sup (space-separated ids this event supersedes, CAP Update/Cancel)
    wf:current             hash     event id -> latest event JSON (the current picture)
    wf:fp                  hash     event id -> fingerprint of the latest version (idempotent ingest)
    wf:superseded          hash     event id -> id of the event that superseded it
    wf:feeds               set      ids of feeds that have reported health
    wf:feed:<id>           hash     feed health (see FeedHealth)
    wf:feed:<id>:lock      string   poll lock, one poll per feed per interval across all schedulers
    wf:feed:<id>:followed  hash     documents a feed's index pointed to that were already read
    wf:heartbeat:<role>    hash     process name -> last heartbeat (epoch seconds); the fuser writes it
    wf:cache:threat:<TLP>  string   threat levels (JSON) as a reader of that marking sees them, expire in seconds
    wf:cache:processes     string   are the fuser, workers and scheduler running (JSON), expires in seconds

Ingest is idempotent: a Lua script compares the event's fingerprint with the stored one and, only
when it differs, updates ``wf:current`` and appends to ``wf:events`` in the same atomic step. A
re-poll or a retried job therefore never appends twice, and an update (a revised magnitude) appends
exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from feeds.model import Event

PREFIX = "wf"


class Keys:
    EVENTS = f"{PREFIX}:events"
    CURRENT = f"{PREFIX}:current"
    FINGERPRINTS = f"{PREFIX}:fp"
    SUPERSEDED = f"{PREFIX}:superseded"
    FEEDS = f"{PREFIX}:feeds"
    # places learned from the feeds (workers/places.py): a set of place keys
    # "<country>|<admin1>|<folded name>", and per place a hash: report id -> its observation (JSON)
    GEO_LEARNED = f"{PREFIX}:geo:learned"
    GEO_AGREED = f"{PREFIX}:geo:agreed"  # place key -> JSON of its agreed point (what processes load)
    METRICS_INGESTED = f"{PREFIX}:metrics:ingested"  # feed id -> reports it added or revised, ever (/metrics)
    PROCESS_CACHE = f"{PREFIX}:cache:processes"  # fuser/workers/scheduler status (JSON), a few seconds

    @staticmethod
    def learned_place(key: str) -> str:
        return f"{PREFIX}:geo:learned:{key}"

    @staticmethod
    def threat_cache(marking: str) -> str:
        """Threat levels as a reader with maximum TLP ``marking`` may see them, recomputed every few
        seconds by any app process (one key per label)."""
        return f"{PREFIX}:cache:threat:{marking}"

    @staticmethod
    def feed(feed_id: str) -> str:
        return f"{PREFIX}:feed:{feed_id}"

    @staticmethod
    def heartbeat(role: str) -> str:
        return f"{PREFIX}:heartbeat:{role}"

    @staticmethod
    def poll_lock(feed_id: str) -> str:
        return f"{PREFIX}:feed:{feed_id}:lock"

    @staticmethod
    def followed(feed_id: str) -> str:
        return f"{PREFIX}:feed:{feed_id}:followed"

    # -- fusion keys (workers/fusion.py) --------------------------------------------------------
    #   wf:incidents             hash    incident id -> incident JSON (reports, corroboration, lat/lon...); kept
    #                                    after the fuser prunes an incident from memory (history, frozen)
    #   wf:incident-of           hash    event id -> id of the incident holding it
    #   wf:incident-changes      stream  fields id, op (upsert|remove), into (remove by a merge); trimmed by
    #                                    age (MINID, a day): a screen whose cursor is older reloads wf:incidents
    #   wf:fusion:overrides      list    operator splits/merges as JSON: a request until the fuser resolves it
    #                                    in place (LSET) into the Correlator's rule (with "at"), or "refused"
    #   wf:fusion:leader         string  token of the one active fuser (SET NX EX, renewed; fences its writes)
    #   wf:fusion:state          hash    cursor (last wf:events id fused), overrides (list entries applied),
    #                                    leader, at (epoch seconds of the last write)
    #   wf:incident-time         zset    incident id -> its time (epoch seconds): every incident of wf:incidents
    #   wf:incident-geo          geo     incident id -> its position (placed incidents, |lat| <= 85.05)
    #                                    Both written with wf:incidents in one transaction, filled on rebuild;
    #                                    they let "Merge with..." (domain/picture/candidates.py) find incidents
    #                                    near in time and place without reading the whole hash.
    #   consumer group "fuser" on wf:events (XREADGROUP/XACK; the stream is never trimmed by count)
    INCIDENTS = f"{PREFIX}:incidents"
    INCIDENT_TIME = f"{PREFIX}:incident-time"
    INCIDENT_GEO = f"{PREFIX}:incident-geo"
    INCIDENT_OF = f"{PREFIX}:incident-of"
    INCIDENT_CHANGES = f"{PREFIX}:incident-changes"
    FUSION_OVERRIDES = f"{PREFIX}:fusion:overrides"
    FUSION_LEADER = f"{PREFIX}:fusion:leader"
    FUSION_STATE = f"{PREFIX}:fusion:state"
    FUSION_GROUP = "fuser"

    # -- operator keys (domain/operations/annotations.py, alerts.py, outbound.py, rules.py, criminal_intel.py) --
    #   wf:annotation:<incident>          string  the annotation of one incident or event (JSON, with version)
    #   wf:annotation-history:<incident>  list    every change, oldest first: version, by, at, changes
    #   wf:annotated                      set     ids of annotated incidents (reads of them are audited)
    #   wf:intel                          set     ids whose annotation is criminal intelligence (28 CFR Part 23)
    #   wf:intel:disseminations           stream  every dissemination of a criminal-intelligence record: incident,
    #                                             recipient, reason, by, at, channel (never trimmed)
    #   wf:alert:<id>                     string  one push alert (JSON): current version, status, CAP messages sent
    #   wf:alert-acks:<id>                hash    user or screen name -> ISO UTC time of acknowledgement
    #   wf:alerts                         stream  fields id, op (issue|update|cancel), v (version): what screens poll
    #   wf:alert-ids                      zset    alert id -> issued epoch seconds (listing, Atom feed)
    #   wf:disseminations                 stream  every outbound copy: alert, version, channel, recipient, outcome,
    #                                             reason, at (never trimmed by count)
    #   wf:outbound:sent:<alert>:<v>:<ch> string  set once a copy was delivered, so an RQ retry never sends twice
    #   wf:rules                          hash    rule id -> alert rule JSON
    #   wf:rule:<id>:cooldown:<workspace> string  set while the rule is cooling down for that workspace (EX)
    #   wf:rule:<id>:seen                 set     "<workspace> <incident>" pairs already raised (EXPIRE a day)
    #   wf:rule-queue                     stream  alerts raised by rules for an operator to review
    #   RQ queue "watchfloor-outbound"    webhook and e-mail copies of alerts (domain.operations.outbound.deliver)
    ANNOTATED = f"{PREFIX}:annotated"
    INTEL = f"{PREFIX}:intel"
    INTEL_PURGE_NOTICE = f"{PREFIX}:intel:purge-notice"  # hash incident -> date the scheduled purge removes it
    INTEL_DISSEMINATIONS = f"{PREFIX}:intel:disseminations"
    ALERTS = f"{PREFIX}:alerts"
    ALERT_IDS = f"{PREFIX}:alert-ids"
    DISSEMINATIONS = f"{PREFIX}:disseminations"
    RULES = f"{PREFIX}:rules"
    RULE_QUEUE = f"{PREFIX}:rule-queue"
    OUTBOUND_QUEUE = "watchfloor-outbound"

    @staticmethod
    def annotation(incident_id: str) -> str:
        return f"{PREFIX}:annotation:{incident_id}"

    @staticmethod
    def annotation_history(incident_id: str) -> str:
        return f"{PREFIX}:annotation-history:{incident_id}"

    @staticmethod
    def alert(alert_id: str) -> str:
        return f"{PREFIX}:alert:{alert_id}"

    @staticmethod
    def alert_acks(alert_id: str) -> str:
        return f"{PREFIX}:alert-acks:{alert_id}"

    @staticmethod
    def outbound_sent(alert_id: str, version: int, channel: str) -> str:
        return f"{PREFIX}:outbound:sent:{alert_id}:{version}:{channel}"

    @staticmethod
    def rule_cooldown(rule_id: str, workspace: str) -> str:
        return f"{PREFIX}:rule:{rule_id}:cooldown:{workspace}"

    @staticmethod
    def rule_seen(rule_id: str) -> str:
        return f"{PREFIX}:rule:{rule_id}:seen"

    # -- access control and audit keys (domain/access/accounts.py, sessions.py, audit.py) -------------
    #   wf:users                   set     every account name (people and display screens)
    #   wf:user:<name>             hash    account (see domain.access.accounts.User): role, argon2 hash, flags
    #   wf:user:<name>:sessions    set     digests of the account's live sessions (revoked together)
    #   wf:session:<digest>        hash    one server-side session; digest = sha256 of the cookie value
    #   wf:display-token:<digest>  string  display screen token digest -> account name
    #   wf:audit                   stream  append-only audit trail; trimmed by age (MINID) only, never MAXLEN
    #   wf:audit:trimmed           string  set for a day after the retention trim ran (one trim a day)
    #   wf:audit:throttle:<src>    string  unauthenticated refusals from one address this minute
    USERS = f"{PREFIX}:users"
    AUDIT = f"{PREFIX}:audit"
    AUDIT_TRIMMED = f"{PREFIX}:audit:trimmed"

    @staticmethod
    def user(name: str) -> str:
        return f"{PREFIX}:user:{name}"

    @staticmethod
    def user_sessions(name: str) -> str:
        return f"{PREFIX}:user:{name}:sessions"

    @staticmethod
    def session(digest: str) -> str:
        return f"{PREFIX}:session:{digest}"

    @staticmethod
    def display_token(digest: str) -> str:
        return f"{PREFIX}:display-token:{digest}"

    @staticmethod
    def audit_throttle(source: str, minute: int) -> str:
        return f"{PREFIX}:audit:throttle:{source}:{minute}"


# KEYS: fp hash, current hash, events stream, superseded hash
# ARGV: id, fingerprint, event json, supersedes (space separated, may be empty)
# Returns 0 (already seen), 1 (new), 2 (update).
_APPEND_LUA = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local op = 'new'
if old then op = 'update' end
if ARGV[4] ~= '' then
  for ref in string.gmatch(ARGV[4], '%S+') do
    if ref ~= ARGV[1] then redis.call('HSET', KEYS[4], ref, ARGV[1]) end
  end
end
redis.call('XADD', KEYS[3], '*', 'id', ARGV[1], 'op', op, 'e', ARGV[3], 'sup', ARGV[4])
if old then return 2 end
return 1
"""


@dataclass
class AppendCounts:
    new: int = 0
    updated: int = 0
    seen: int = 0
    changed: set[str] = field(default_factory=set)  # ids of the new and updated events

    def add(self, result: int, event_id: str = "") -> None:
        if result == 1:
            self.new += 1
        elif result == 2:
            self.updated += 1
        else:
            self.seen += 1
            return
        self.changed.add(event_id)


@dataclass(frozen=True)
class StreamEntry:
    """One entry of ``wf:events`` as readers see it."""

    stream_id: str
    id: str
    op: str
    event: dict[str, Any]
    supersedes: tuple[str, ...] = ()


def supersedes_of(event: Event) -> list[str]:
    cap = event.extra.get("cap") if isinstance(event.extra, dict) else None
    refs = cap.get("references_ids") if isinstance(cap, dict) else None
    return [r for r in (refs or []) if isinstance(r, str) and r and " " not in r]


class EventStore:
    """Appends events idempotently and reads them back by stream cursor."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._append = client.register_script(_APPEND_LUA)

    def append(self, events: Iterable[Event]) -> AppendCounts:
        counts = AppendCounts()
        batch = list(events)
        if not batch:
            return counts
        pipe = self.client.pipeline(transaction=False)
        keys = [Keys.FINGERPRINTS, Keys.CURRENT, Keys.EVENTS, Keys.SUPERSEDED]
        for event in batch:
            raw, fingerprint = event.encoded()
            self._append(keys=keys, args=[event.id, fingerprint, raw, " ".join(supersedes_of(event))], client=pipe)
        for event, result in zip(batch, pipe.execute(), strict=True):
            counts.add(int(result), event.id)
        return counts

    def count(self) -> int:
        return int(self.client.hlen(Keys.CURRENT))

    def last_id(self) -> str:
        """The id of the newest stream entry, "0-0" when the stream is empty."""
        newest = self.client.xrevrange(Keys.EVENTS, count=1)
        return newest[0][0].decode() if newest else "0-0"

    def read_after(self, cursor: str, count: int = 1000) -> list[StreamEntry]:
        """Entries strictly after ``cursor`` (exclusive range), oldest first."""
        start = "(" + cursor if cursor and cursor != "0-0" else "-"
        rows = self.client.xrange(Keys.EVENTS, min=start, max="+", count=count)
        return [decode_entry(stream_id, fields) for stream_id, fields in rows]

    def current(self) -> list[dict[str, Any]]:
        """The latest version of every event that has not been superseded."""
        superseded = {k.decode() for k in self.client.hkeys(Keys.SUPERSEDED)}
        events = []
        for raw in self.client.hvals(Keys.CURRENT):
            data = orjson.loads(raw)
            if data["id"] not in superseded:
                events.append(data)
        return events

    def get(self, event_id: str) -> dict[str, Any] | None:
        raw = self.client.hget(Keys.CURRENT, event_id)
        return orjson.loads(raw) if raw else None


def decode_entry(stream_id: bytes | str, fields: dict[bytes, bytes]) -> StreamEntry:
    sid = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    sup = fields.get(b"sup", b"").decode()
    return StreamEntry(
        stream_id=sid,
        id=fields[b"id"].decode(),
        op=fields.get(b"op", b"new").decode(),
        event=orjson.loads(fields[b"e"]),
        supersedes=tuple(sup.split()) if sup else (),
    )


@dataclass
class FeedHealth:
    """Health of one feed as stored in ``wf:feed:<id>``. Times are epoch seconds (0: never)."""

    feed_id: str
    status: str = "never"  # ok | never | a failure word from feeds.fetch / parsing
    reason: str = ""
    last_attempt: float = 0.0
    last_success: float = 0.0
    last_error_at: float = 0.0
    http_status: int = 0
    items: int = 0
    new: int = 0
    updated: int = 0
    seen: int = 0
    not_live: int = 0
    unplaced: int = 0
    failures: int = 0
    next_attempt: float = 0.0
    etag: str = ""
    last_modified: str = ""
    warnings: list[str] = field(default_factory=list)

    _INTS = ("http_status", "items", "new", "updated", "seen", "not_live", "unplaced", "failures")
    _FLOATS = ("last_attempt", "last_success", "last_error_at", "next_attempt")

    def to_redis(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = orjson.dumps(value).decode() if name == "warnings" else str(value)
        return out

    @classmethod
    def from_redis(cls, feed_id: str, raw: dict[bytes, bytes]) -> FeedHealth:
        health = cls(feed_id=feed_id)
        data = {k.decode(): v.decode() for k, v in raw.items()}
        for name in cls._INTS:
            if name in data:
                setattr(health, name, int(float(data[name] or 0)))
        for name in cls._FLOATS:
            if name in data:
                setattr(health, name, float(data[name] or 0))
        for name in ("status", "reason", "etag", "last_modified"):
            if name in data:
                setattr(health, name, data[name])
        if data.get("warnings"):
            health.warnings = list(orjson.loads(data["warnings"]))
        return health

    def is_stale(self, interval: int, stale_after: int, now: float | None = None) -> bool:
        """No success for ``stale_after`` intervals (a feed that never succeeded is stale too)."""
        now = time.time() if now is None else now
        return now - self.last_success > interval * stale_after


def load_health(client: redis.Redis, feed_id: str) -> FeedHealth:
    return FeedHealth.from_redis(feed_id, client.hgetall(Keys.feed(feed_id)))


def save_health(client: redis.Redis, health: FeedHealth) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.hset(Keys.feed(health.feed_id), mapping=health.to_redis())
    pipe.sadd(Keys.FEEDS, health.feed_id)
    pipe.execute()


def beat(client: redis.Redis, role: str, name: str) -> None:
    """Record that process ``name`` of ``role`` is alive (the fuser beats while it leads)."""
    client.hset(Keys.heartbeat(role), name, f"{time.time():.3f}")
