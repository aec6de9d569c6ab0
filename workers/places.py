"""Places learned from the feeds: where a report that carries its own position says a place is.

USGS titles name reference places that no registry gazetteer holds ("3 km NW of The Geysers, CA",
"Redoubt Volcano, Alaska"). :func:`feeds.geocode.learn_from` turns such a report into an
observation of the place (the report's point moved back by the stated offset); :func:`observe`
keeps the last :data:`MAX_POINTS` observations of each place in Redis; :func:`refresh` hands every
process the places whose observations agree, so that a later report naming the place in words only
("quake felt near The Geysers, California") lands there.

Guards, because a feed is untrusted: exercise reports, positions the geocoder itself produced and
places the gazetteer already knows teach nothing; a place is used only after :data:`MIN_POINTS`
observations whose median lies near at least half of them (within :data:`MAX_SPREAD_KM`, or a
quarter of the typical stated offset when that is more: "150 km NE of" is +-30 km sideways); at most
:data:`MAX_PLACES` places are kept. Everything lives in Redis (any number of workers and app
processes share it): each observation settles its place into ``wf:geo:agreed``, which a process
reads in one HGETALL at most every :data:`REFRESH_SECONDS` (RQ jobs run in fresh forks: each poll
reads it once).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Iterable

import orjson
import redis

from domain.store.streams import PREFIX
from feeds.geocode import _Cand, distance_km, learn_from, learned_candidate, use_learned_places
from feeds.model import Event

log = logging.getLogger(__name__)



class PlaceKeys:
    """Places learned from the feeds: a set of place keys "<country>|<admin1>|<folded name>", per place a
    hash report id -> its observation (JSON), and the agreed points that processes load."""

    GEO_LEARNED = f"{PREFIX}:geo:learned"
    GEO_AGREED = f"{PREFIX}:geo:agreed"  # place key -> JSON of its agreed point

    @staticmethod
    def learned_place(key: str) -> str:
        return f"{PREFIX}:geo:learned:{key}"


INDEX = PlaceKeys.GEO_LEARNED
MAX_POINTS = 25  # observations kept per place (the newest)
MIN_POINTS = 2  # one report alone teaches nothing
MAX_SPREAD_KM = 10.0  # USGS rounds offsets to 1 km and bearings to 22.5 degrees: 4 km at 10 km
SPREAD_PER_KM = 0.25  # sideways error of a 16-point bearing, tan(11.25 deg) = 0.2, plus rounding
MAX_PLACES = 50_000  # a feed inventing names cannot grow Redis without bound
REFRESH_SECONDS = 60.0

_loaded_at = float("-inf")


# Positions a report did not measure: found from its own words, a county, or the centre of the
# country it names (ReliefWeb, IFRC GO). "12 km N of X" read against a country centre would put X
# hundreds of km off.
NOT_OWN_POSITION = ("gazetteer", "county", "region", "country-centroid")


def observe(client: redis.Redis, events: Iterable[Event]) -> int:
    """Record what ``events`` tell of places the gazetteer lacks; the number of observations.
    A place keeps one observation per report (a hash by event id): a re-poll or a revised report
    replaces its own observation, so one report can never agree with itself."""
    seen = []
    for event in events:
        if event.exercise or event.lat is None or event.lon is None or event.placed_by in NOT_OWN_POSITION:
            continue
        for text in (event.place, event.title):
            obs = learn_from(text or "", event.lat, event.lon)
            if obs is not None:
                seen.append((obs, event))
                break
    if not seen:
        return 0
    if client.scard(INDEX) >= MAX_PLACES:  # full: only places already known take observations
        pipe = client.pipeline(transaction=False)
        for obs, _event in seen:
            pipe.sismember(INDEX, obs.key)
        seen = [item for item, known in zip(seen, pipe.execute(), strict=True) if known]
    pipe = client.pipeline(transaction=False)
    for obs, event in seen:
        record = {"name": obs.name, "cc": obs.country, "a1": obs.admin1, "lat": round(obs.lat, 5),
                  "lon": round(obs.lon, 5), "km": obs.km, "feed": event.feed or "", "t": round(time.time(), 3)}
        pipe.sadd(INDEX, obs.key)
        pipe.hset(PlaceKeys.learned_place(obs.key), event.id, orjson.dumps(record))
    pipe.execute()
    _settle(client, list(dict.fromkeys(obs.key for obs, _event in seen)))
    return len(seen)


def _records(raw: dict) -> list[tuple[str, dict]]:
    """A place's observations (report id, record), oldest first; unreadable ones left out."""
    out = []
    for field, value in raw.items():
        try:
            out.append((field.decode() if isinstance(field, bytes) else field, orjson.loads(value)))
        except orjson.JSONDecodeError:
            continue
    out.sort(key=lambda item: item[1].get("t", 0))
    return out


def _settle(client: redis.Redis, keys: list[str]) -> None:
    """Keep each place's newest :data:`MAX_POINTS` observations and recompute whether they agree,
    into the hash every process loads (:data:`PlaceKeys.GEO_AGREED`). Two workers settling the same
    place at once both read observations holding their own; the next observation settles it again."""
    if not keys:
        return
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(PlaceKeys.learned_place(key))
    found = pipe.execute()
    pipe = client.pipeline(transaction=False)
    for key, raw in zip(keys, found, strict=True):
        records = _records(raw)
        if len(records) > MAX_POINTS:
            pipe.hdel(PlaceKeys.learned_place(key), *[rid for rid, _ in records[:-MAX_POINTS]])
            records = records[-MAX_POINTS:]
        place = agreed_place([r for _, r in records])
        if place is None:
            pipe.hdel(PlaceKeys.GEO_AGREED, key)
        else:
            pipe.hset(PlaceKeys.GEO_AGREED, key, orjson.dumps(place))
    pipe.execute()


def agreed(records: list[dict]) -> tuple[float, float] | None:
    """The median point of a place's observations, when enough of them agree on it."""
    if len(records) < MIN_POINTS:
        return None
    lat = statistics.median(r["lat"] for r in records)
    lon = statistics.median(r["lon"] for r in records)
    radius = max(MAX_SPREAD_KM, SPREAD_PER_KM * statistics.median(float(r.get("km", 0)) for r in records))
    close = sum(distance_km(lat, lon, r["lat"], r["lon"]) <= radius for r in records)
    return (lat, lon) if close >= max(MIN_POINTS, (len(records) + 1) // 2) else None


def agreed_place(records: list[dict]) -> dict | None:
    """What ``wf:geo:agreed`` holds for a place whose observations (oldest first) agree, else None."""
    point = agreed(records)
    if point is None:
        return None
    last = records[-1]
    return {"name": last["name"], "cc": last["cc"], "a1": last["a1"], "lat": round(point[0], 5),
            "lon": round(point[1], 5), "n": len(records)}


def candidate(place: dict) -> _Cand:
    """The geocoder's candidate for an agreed place (:func:`agreed_place`)."""
    return learned_candidate(str(place["name"]), float(place["lat"]), float(place["lon"]), str(place["cc"]),
                             place.get("a1") or None)


def load(client: redis.Redis) -> dict[str, list[_Cand]]:
    """The agreed learned places, by folded name, as the geocoder consults them (one HGETALL: RQ
    runs each job in a fresh fork, so every poll loads them)."""
    places: dict[str, list[_Cand]] = {}
    for key, raw in sorted(client.hgetall(PlaceKeys.GEO_AGREED).items()):
        key = key.decode() if isinstance(key, bytes) else key
        try:
            cand = candidate(orjson.loads(raw))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
        places.setdefault(key.split("|", 2)[2], []).append(cand)
    return places


def refresh(client: redis.Redis, *, max_age: float = REFRESH_SECONDS) -> None:
    """Reload this process's learned places from Redis when the copy is older than ``max_age``
    seconds. Never raises: without learned places the gazetteer still works."""
    global _loaded_at
    if time.monotonic() - _loaded_at < max_age:
        return
    try:
        use_learned_places(load(client))
    except (redis.RedisError, OSError) as exc:
        log.warning("learned places not reloaded: %s", exc)
    _loaded_at = time.monotonic()


def listing(client: redis.Redis) -> list[dict]:
    """Every place the feeds have taught, agreed or not: its key, name, country and state, the
    agreed point (None until two reports agree), and the observations with the feeds they came
    from, so that a wrong place can be traced to its source and forgotten."""
    keys = sorted(k.decode() if isinstance(k, bytes) else k for k in client.smembers(INDEX))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(PlaceKeys.learned_place(key))
        pipe.hget(PlaceKeys.GEO_AGREED, key)
    replies = pipe.execute() if keys else []
    out = []
    for i, key in enumerate(keys):
        records = [r for _, r in _records(replies[2 * i])]
        point = orjson.loads(replies[2 * i + 1]) if replies[2 * i + 1] else None
        last = records[-1] if records else {}
        out.append({
            "key": key, "name": last.get("name", key.split("|", 2)[-1]), "country": last.get("cc"),
            "admin1": last.get("a1"), "agreed": None if point is None else {"lat": point["lat"], "lon": point["lon"]},
            "observations": len(records), "feeds": sorted({str(r.get("feed") or "") for r in records} - {""}),
        })
    return out


def forget(client: redis.Redis, key: str) -> bool:
    """Drop a learned place and its observations (a feed taught it wrong); False if unknown. It can
    be learned again from new reports: switch the feed off with ``teaches_places = false``."""
    pipe = client.pipeline(transaction=True)
    pipe.srem(INDEX, key)
    pipe.delete(PlaceKeys.learned_place(key))
    pipe.hdel(PlaceKeys.GEO_AGREED, key)
    removed, *_ = pipe.execute()
    return bool(removed)

