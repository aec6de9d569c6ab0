"""Places learned from reports that carry their own position (workers/places.py), on a real Redis."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.access.keys import AuditKeys
from feeds.geocode import _destination, distance_km, geocode, learn_from, use_learned_places
from feeds.model import Event, Kind
from workers import places

GEYSERS = (38.7807, -122.7553)  # The Geysers, California (USGS reference place)


def quake(i: int, offset_km: float, way: str, bearing: float, **kw) -> Event:
    lat, lon = _destination(*GEYSERS, offset_km, bearing)
    return Event(id=f"usgs:test{i}", source="usgs", kind=Kind.EARTHQUAKE, time=datetime(2026, 11, 30, tzinfo=UTC),
                 title=f"M 1.{i} - {offset_km:g} km {way} of The Geysers, CA", lat=lat, lon=lon, feed="usgs", **kw)


@pytest.fixture(autouse=True)
def _no_learned_places():
    use_learned_places({})
    places._loaded_at = float("-inf")
    yield
    use_learned_places({})
    places._loaded_at = float("-inf")


def test_an_offset_title_tells_where_its_place_is_and_known_places_teach_nothing() -> None:
    lat, lon = _destination(*GEYSERS, 3, 315)
    obs = learn_from("M 1.1 - 3 km NW of The Geysers, CA", lat, lon)
    assert obs is not None and obs.key == "US|CA|the geysers" and obs.name == "The Geysers"
    assert distance_km(obs.lat, obs.lon, *GEYSERS) < 0.1
    assert learn_from("M 4.5 - 12 km SW of Ridgecrest, CA", 35.5, -117.8) is None  # in the gazetteer
    assert learn_from("Flooding near The Geysers", 38.8, -122.7) is None  # no offset, no state
    assert learn_from("M 1 - 3 km NW of The Geysers, Atlantis", 38.8, -122.7) is None  # no such state


def test_agreeing_reports_place_a_text_only_report(redis_client) -> None:
    text = "Quake felt 5 km E of The Geysers, California"
    assert geocode(text).precision == "admin1"  # only the state: 100 km off
    assert places.observe(redis_client, [quake(1, 3, "NW", 315)]) == 1
    places.refresh(redis_client, max_age=0)
    assert geocode(text).precision == "admin1", "one report alone teaches nothing"
    places.observe(redis_client, [quake(2, 4, "S", 180), quake(3, 2, "ENE", 67.5)])
    places.refresh(redis_client, max_age=0)
    place = geocode(text)
    assert place is not None and place.precision == "exact" and place.name == "The Geysers"
    assert distance_km(place.lat, place.lon, *_destination(*GEYSERS, 5, 90)) < 2
    # a village alone, unqualified, is still never matched
    assert geocode("The Geysers") is None
    assert geocode(text, learned=False).precision == "admin1"


def test_exercise_geocoded_and_disagreeing_reports_teach_nothing(redis_client) -> None:
    assert places.observe(redis_client, [quake(1, 3, "NW", 315, exercise=True),
                                         quake(2, 3, "NW", 315, placed_by="gazetteer"),
                                         quake(5, 3, "NW", 315, placed_by="country-centroid")]) == 0
    # two reports 60 km apart do not agree on where the place is
    far = quake(4, 3, "NW", 315)
    far = far.replace(lat=far.lat + 0.6)
    places.observe(redis_client, [quake(3, 3, "NW", 315), far])
    places.refresh(redis_client, max_age=0)
    assert geocode("5 km E of The Geysers, CA").precision == "admin1"


def test_a_redis_outage_leaves_the_gazetteer_working() -> None:
    import redis

    dead = redis.Redis(port=1, socket_connect_timeout=0.2)
    places.refresh(dead, max_age=0)  # logs, never raises
    assert geocode("M 4.5 - 12 km SW of Ridgecrest, CA").precision == "exact"


def test_far_offsets_agree_within_their_bearing_error_near_ones_do_not() -> None:
    a, b = (60.0, -142.0), _destination(60.0, -142.0, 30, 90)  # 30 km apart
    far = [{"lat": p[0], "lon": p[1], "km": 150} for p in (a, b)]
    near = [{"lat": p[0], "lon": p[1], "km": 5} for p in (a, b)]
    assert places.agreed(far) is not None  # "150 km NE of": +-11 degrees is 30 km sideways
    assert places.agreed(near) is None
    assert places.agreed(far[:1]) is None  # one report alone


def test_the_cli_uses_the_learned_places_of_the_configured_redis(redis_client, redis_server) -> None:
    import subprocess
    import sys
    from pathlib import Path

    import orjson

    places.observe(redis_client, [quake(1, 3, "NW", 315), quake(2, 4, "S", 180)])
    root = Path(__file__).resolve().parents[2]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        import os

        env = {**os.environ, "REDIS_URL": redis_server.url}
        return subprocess.run([sys.executable, "-m", "watchfloor.cli", "geocode", *args], cwd=root,
                              capture_output=True, text=True, timeout=120, env=env)

    learned = run("5 km E of The Geysers, CA")
    assert learned.returncode == 0, learned.stderr
    out = orjson.loads(learned.stdout)
    assert out["name"] == "The Geysers" and out["precision"] == "exact"
    registry = run("5 km E of The Geysers, CA", "--no-learned")
    assert registry.returncode == 0 and orjson.loads(registry.stdout)["precision"] == "admin1"


def test_a_wrong_place_can_be_traced_to_its_feed_and_forgotten(redis_client, redis_server) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    import orjson

    places.observe(redis_client, [quake(1, 3, "NW", 315), quake(2, 4, "S", 180)])
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "REDIS_URL": redis_server.url}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "watchfloor.cli", "places", *args], cwd=root,
                              capture_output=True, text=True, timeout=120, env=env)

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    (row,) = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert row["key"] == "US|CA|the geysers" and row["observations"] == 2 and row["feeds"] == ["usgs"]
    assert abs(row["agreed"]["lat"] - GEYSERS[0]) < 0.05
    gone = cli("forget", "US|CA|the geysers")
    assert gone.returncode == 0 and "forgot" in gone.stdout
    assert places.load(redis_client) == {} and redis_client.scard(places.INDEX) == 0

    audit = [f for _, f in redis_client.xrange(AuditKeys.AUDIT)]
    assert any(f.get(b"action") == b"place.forget" for f in audit), audit[-3:]
    unknown = cli("forget", "XX|no such place")
    assert unknown.returncode == 2 and "no learned place" in unknown.stderr and "Traceback" not in unknown.stderr


def test_a_namesake_the_feeds_mean_wins_over_the_one_the_tables_hold(redis_client) -> None:
    # Puerto Rico has several San Antonios; the tables' biggest is near Caguas, USGS means the one
    # in Aguadilla, 85 km west. Two agreeing reports teach it; a bearing's error never does.
    aguadilla = (18.4966, -67.1006)
    text = "M 2.5 - 10 km N of San Antonio, Puerto Rico"
    before = geocode(text)
    assert before is not None and distance_km(before.lat, before.lon, *aguadilla) > 50
    reports = []
    for i, (km, way, bearing) in enumerate([(10, "N", 0.0), (12, "NNW", 337.5)]):
        lat, lon = _destination(*aguadilla, km, bearing)
        reports.append(Event(id=f"pr:test{i}", source="usgs", kind=Kind.EARTHQUAKE, feed="usgs",
                             time=datetime(2026, 11, 30, tzinfo=UTC), lat=lat, lon=lon,
                             title=f"M 2.{i} - {km} km {way} of San Antonio, Puerto Rico"))
    assert places.observe(redis_client, reports) == 2
    places.refresh(redis_client, max_age=0)
    after = geocode(text)
    assert after is not None and after.precision == "exact"
    assert distance_km(after.lat, after.lon, *_destination(*aguadilla, 10, 0.0)) < 3
    # 150 km from Ridgecrest, 30 km sideways of the stated bearing, is a bearing's error, not a namesake
    lat, lon = _destination(35.6225, -117.6709, 150, 225 + 11)
    assert learn_from("M 3.0 - 150 km SW of Ridgecrest, CA", lat, lon) is None


def test_one_report_polled_again_never_agrees_with_itself(redis_client) -> None:
    report = quake(1, 3, "NW", 315)
    places.observe(redis_client, [report])
    places.observe(redis_client, [report])  # the same report on the next poll
    places.observe(redis_client, [report.replace(magnitude=2.4)])  # and revised
    places.refresh(redis_client, max_age=0)
    assert geocode("5 km E of The Geysers, California").precision == "admin1"
    assert [p["observations"] for p in places.listing(redis_client)] == [1]
