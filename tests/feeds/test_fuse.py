"""Cross-source correlation (feeds.fuse): one incident per happening, overrides that stick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from feeds.fuse import Correlator, facts_of, magnitude_in, origin_in, should_merge, similarity
from feeds.model import Event, Kind, Severity

T0 = datetime(2023, 10, 7, 6, 41, 3, tzinfo=UTC)


def usgs(
    id_: str = "us6000ldpg", *, t: datetime = T0, lat: float = 34.61, lon: float = 61.92, mag: float = 6.3
) -> Event:
    return Event(
        id=f"usgs:{id_}",
        source="usgs-geojson",
        kind=Kind.EARTHQUAKE,
        title=f"M {mag} - 40 km NNW of Herat, Afghanistan",
        time=t,
        lat=lat,
        lon=lon,
        magnitude=mag,
        place="40 km NNW of Herat, Afghanistan",
        severity=Severity.SEVERE,
        feed="usgs-all-day",
        link=f"https://earthquake.usgs.gov/earthquakes/eventpage/{id_}",
        extra={"ids": [id_]},
    )


def gdacs(n: int = 1395300, *, t: datetime = T0 + timedelta(seconds=4), mag: float = 6.3) -> Event:
    return Event(
        id=f"gdacs:EQ{n}",
        source="gdacs",
        kind=Kind.EARTHQUAKE,
        title=f"Orange earthquake alert (Magnitude {mag}M, Depth:14km) in Afghanistan 07/10/2023 06:41 UTC",
        time=t,
        lat=34.65,
        lon=61.98,
        magnitude=mag,
        place="Afghanistan",
        severity=Severity.EXTREME,
        feed="gdacs",
    )


def news(
    id_: str = "rss:wire1", title: str = "Magnitude 6.3 quake strikes near Herat, Afghanistan", **kw: object
) -> Event:
    fields: dict[str, object] = {"time": T0 + timedelta(minutes=50), "feed": "wire", "kind": Kind.EARTHQUAKE}
    fields.update(kw)
    return Event(id=id_, source="rss", title=title, **fields)  # type: ignore[arg-type]


def test_one_quake_from_three_sources_is_one_incident() -> None:
    correlator = Correlator()
    first, merged_first = correlator.add(usgs())
    assert not merged_first
    for event in (gdacs(), news()):
        incident, merged = correlator.add(event)
        assert merged and incident is first
    assert len(correlator) == 1
    incident = correlator.get("inc:usgs:us6000ldpg")
    assert incident is not None
    assert [r.event_id for r in incident.reports] == ["usgs:us6000ldpg", "gdacs:EQ1395300", "rss:wire1"]
    assert incident.corroboration == 3
    assert (incident.lat, incident.lon) == (34.61, 61.92)  # the USGS report's location
    assert incident.title.startswith("M 6.3 - 40 km NNW of Herat")  # official over news
    assert incident.time == T0  # earliest origin
    assert incident.severity is Severity.EXTREME  # the maximum: GDACS's
    supplied = {r.event_id: r.fields for r in incident.reports}
    assert "location" in supplied["usgs:us6000ldpg"] and "title" in supplied["usgs:us6000ldpg"]
    assert "severity" in supplied["gdacs:EQ1395300"]
    orjson.dumps(incident.to_dict())  # plain data


def test_news_order_does_not_matter_for_membership() -> None:
    events = [news(), gdacs(), usgs()]
    correlator = Correlator()
    for event in events:
        correlator.add(event)
    assert len(correlator) == 1
    incident = next(iter(correlator))
    assert incident.id == "inc:rss:wire1"  # the first report names it
    assert (incident.lat, incident.lon) == (34.61, 61.92)  # but USGS supplies the location
    assert incident.title.startswith("M 6.3")


def test_readding_changes_nothing_and_an_update_replaces_its_report() -> None:
    correlator = Correlator()
    events = [usgs(), gdacs(), news()]
    for event in events:
        correlator.add(event)
    before = correlator.snapshot()
    for event in events:
        correlator.add(event)
    assert correlator.snapshot() == before
    revised = usgs(mag=6.4).replace(updated=T0 + timedelta(hours=1))
    incident, merged = correlator.add(revised)
    assert merged and len(correlator) == 1 and len(incident.reports) == 3
    assert incident.magnitude == 6.4


def test_aftershocks_minutes_apart_stay_separate() -> None:
    main = usgs("us1", mag=5.8)
    # 5 minutes later, 10 km away, magnitude 4.1, reported by another network
    after = Event(
        id="quakeml:smi:emsc/2",
        source="quakeml",
        kind=Kind.EARTHQUAKE,
        title="M 4.1 - WESTERN AFGHANISTAN",
        time=T0 + timedelta(minutes=5),
        lat=34.61 + 10 / 111.0,
        lon=61.92,
        magnitude=4.1,
        feed="emsc",
    )
    correlator = Correlator()
    correlator.add(main)
    _, merged = correlator.add(after)
    assert not merged and len(correlator) == 2
    assert similarity(after, main) == 0.0
    # even with the same magnitude, 5 minutes is 20 sigma of inter-network origin-time disagreement
    assert not should_merge(after.replace(magnitude=5.8), main)


def test_news_joins_only_the_kind_it_names() -> None:
    correlator = Correlator()
    correlator.add(usgs())
    unrelated = news("rss:2", "Election results announced in Herat, Afghanistan", kind=Kind.NEWS)
    _, merged = correlator.add(unrelated)
    assert not merged
    # EMSC's RSS titles name no hazard word, but state a magnitude: read as an earthquake report
    emsc = news(
        "rss:emsc",
        "ML 6.2 WESTERN AFGHANISTAN",
        kind=Kind.NEWS,
        text="Magnitude ML 6.2 Region WESTERN AFGHANISTAN Date time 2023-10-07 06:41:01.0 UTC",
        lat=34.5,
        lon=62.0,
        time=T0 + timedelta(minutes=9),
        feed="emsc-rss",
    )
    facts = facts_of(emsc)
    assert facts.topic is Kind.EARTHQUAKE and facts.origin == T0 - timedelta(seconds=2) and facts.magnitude == 6.2
    _, merged = correlator.add(emsc)
    assert merged


def test_shared_network_id_merges_reports_hours_apart() -> None:
    """The corpus case: USGS Atom (M 5.3 at origin) and USGS CAP (M 6.3, sent 5 h 44 min later)."""
    atom = Event(
        id="rss:atom",
        source="rss",
        kind=Kind.NEWS,
        title="M 5.3, Tonga",
        time=datetime(2010, 8, 30, 23, 25, 40, tzinfo=UTC),
        lat=-16.0529,
        lon=-173.2739,
        feed="usgs-atom",
        extra={"guid": "urn:earthquake-usgs-gov:us:2010apcd"},
    )
    cap = Event(
        id="cap:x",
        source="cap",
        kind=Kind.EARTHQUAKE,
        title="EQ 6.3 Neiafu, Tonga - PRELIMINARY REPORT",
        time=datetime(2010, 8, 31, 5, 9, 25, tzinfo=UTC),
        lat=-16.053,
        lon=-173.274,
        feed="usgs-cap",
        extra={"cap": {"identifier": "USGS-earthquakes-us2010apcd.6.20100831T000925.496Z"}},
    )
    assert should_merge(atom, cap)
    correlator = Correlator()
    correlator.add(atom)
    incident, merged = correlator.add(cap)
    assert merged and incident.corroboration == 2


def test_same_catalogue_feed_never_fuses_two_of_its_ids() -> None:
    a = usgs("nc1")
    b = usgs("nc2", t=T0 + timedelta(seconds=1))  # a duplicate the network has not associated yet
    assert similarity(a, b) > 0.9
    assert not should_merge(a, b)


def test_split_sticks_when_new_reports_arrive() -> None:
    correlator = Correlator()
    for event in (usgs(), gdacs(), news()):
        correlator.add(event)
    alone = correlator.split("inc:usgs:us6000ldpg", "rss:wire1")
    assert alone.id == "inc:rss:wire1" and len(alone.reports) == 1
    rest = correlator.get("inc:usgs:us6000ldpg")
    assert rest is not None and [r.event_id for r in rest.reports] == ["usgs:us6000ldpg", "gdacs:EQ1395300"]
    # the split-off report is updated: it stays apart
    incident, _ = correlator.add(news(title="Magnitude 6.3 quake strikes near Herat, Afghanistan; dozens hurt"))
    assert incident.id == "inc:rss:wire1"
    # a new report of the quake joins the remainder, not the split-off report
    incident, merged = correlator.add(gdacs(1395301, t=T0 + timedelta(seconds=2)).replace(feed="gdacs-2"))
    assert merged and incident.id == "inc:usgs:us6000ldpg"
    assert len(correlator) == 2


def test_split_of_the_first_report_keeps_the_incident_id() -> None:
    correlator = Correlator()
    for event in (usgs(), gdacs()):
        correlator.add(event)
    alone = correlator.split("inc:usgs:us6000ldpg", "usgs:us6000ldpg")
    assert alone.id == "inc:usgs:us6000ldpg/2"
    rest = correlator.get("inc:usgs:us6000ldpg")
    assert rest is not None and [r.event_id for r in rest.reports] == ["gdacs:EQ1395300"]


def test_merge_sticks_when_new_reports_arrive() -> None:
    correlator = Correlator()
    correlator.add(usgs())
    far_news = news("rss:far", "Earthquake felt across the region", lat=36.0, lon=66.0, placed_by="geocoder")
    _, merged = correlator.add(far_news)
    assert not merged and len(correlator) == 2
    incident = correlator.merge("inc:usgs:us6000ldpg", "inc:rss:far")
    assert incident.id == "inc:usgs:us6000ldpg" and len(incident.reports) == 2
    assert correlator.resolve("inc:rss:far") == "inc:usgs:us6000ldpg"
    # an update of either side stays in the merged incident
    incident, _ = correlator.add(far_news.replace(title="Earthquake felt across the region, buildings damaged"))
    assert incident.id == "inc:usgs:us6000ldpg" and len(incident.reports) == 2
    # a new report of the quake joins the merged incident
    incident, merged = correlator.add(gdacs())
    assert merged and incident.id == "inc:usgs:us6000ldpg" and len(incident.reports) == 3
    assert len(correlator) == 1


def test_rebuild_from_events_and_overrides_is_identical() -> None:
    events = [usgs(), gdacs(), news(), usgs("us2", t=T0 + timedelta(hours=2), lat=35.5, lon=63.0, mag=5.1)]
    live = Correlator()
    for event in events[:3]:
        live.add(event)
    live.split("inc:usgs:us6000ldpg", "gdacs:EQ1395300")
    live.add(events[3])
    assert len(live) == 3
    merged = live.merge("inc:usgs:us2", "inc:gdacs:EQ1395300")
    assert merged.id == "inc:gdacs:EQ1395300" and len(merged.reports) == 2  # the older incident's id
    later = news("rss:late", "Magnitude 6.3 quake strikes near Herat, Afghanistan", time=T0 + timedelta(hours=3))
    live.add(later)
    assert [sorted(r.event_id for r in i.reports) for i in live] == [
        ["rss:late", "rss:wire1", "usgs:us6000ldpg"],
        ["gdacs:EQ1395300", "usgs:us2"],
    ]
    stored = orjson.loads(orjson.dumps(live.overrides))  # overrides are plain data
    assert all(isinstance(rule, dict) and rule["op"] in ("split", "merge") for rule in stored)
    rebuilt = Correlator.rebuild([*events, later], stored)
    assert rebuilt.snapshot() == live.snapshot()
    assert rebuilt.overrides == live.overrides


def test_a_correlator_restored_from_its_state_goes_on_exactly_as_the_original() -> None:
    """A fuser's checkpoint: the state (through JSON) gives a correlator whose later adds, prunes
    and overrides give the same incidents and ids as the one it was taken from."""
    first = [usgs(), gdacs(), news(), usgs("us2", t=T0 + timedelta(hours=2), lat=35.5, lon=63.0, mag=5.1)]
    live = Correlator()
    for event in first:
        live.add(event)
    live.split("inc:usgs:us6000ldpg", "gdacs:EQ1395300")
    live.merge("inc:usgs:us2", "inc:gdacs:EQ1395300")
    old = usgs("us0", t=T0 - timedelta(days=5), lat=10.0, lon=10.0)
    live.add(old)
    assert [i.id for i in live.prune(T0 - timedelta(days=1))] == ["inc:usgs:us0"]
    restored = Correlator.from_state(orjson.loads(orjson.dumps(live.state())))
    assert restored.snapshot() == live.snapshot() and restored.state() == live.state()
    later = [news("rss:late", "Magnitude 6.3 quake strikes near Herat, Afghanistan", time=T0 + timedelta(hours=3)),
             gdacs(1395301, t=T0 + timedelta(seconds=2)).replace(feed="gdacs-2"),
             old.replace(magnitude=6.0),  # its incident was pruned: a new one, never the old id
             news(title="Magnitude 6.3 quake strikes near Herat, Afghanistan; dozens hurt")]
    for correlator in (live, restored):
        for event in later:
            correlator.add(event)
        correlator.split("inc:usgs:us6000ldpg", "rss:late")
    assert restored.snapshot() == live.snapshot() and restored.overrides == live.overrides
    assert restored.incident_of("usgs:us0").id == "inc:usgs:us0/2"


def test_deterministic() -> None:
    events = [usgs(), gdacs(), news(), news("rss:2", "Strong earthquake shakes Herat, Afghanistan")]
    first, second = Correlator(), Correlator()
    first.add_all(events)
    second.add_all(events)
    assert first.snapshot() == second.snapshot()


def test_unknown_override_is_refused() -> None:
    correlator = Correlator()
    correlator.add(usgs())
    with pytest.raises(ValueError, match="no report"):
        correlator.split("inc:usgs:us6000ldpg", "rss:nope")
    with pytest.raises(ValueError, match="no incident"):
        correlator.merge("inc:usgs:us6000ldpg", "inc:nope")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("M 4.9, 209km WSW of Ile Hunter", 4.9),
        ("ML 2.2 CROATIA", 2.2),
        ("EQ 6.3 Neiafu, Tonga - PRELIMINARY REPORT", 6.3),
        ("Green earthquake alert (Magnitude 5.5M, Depth:10km)", 5.5),
        ("A 6.1-magnitude earthquake hits Nepal", 6.1),
        ("Strong earthquake shakes Herat", None),
        ("M 2024 results", None),
    ],
)
def test_magnitude_in(text: str, value: float | None) -> None:
    assert magnitude_in(text) == value


def test_origin_in_reads_the_formats_seen_in_feeds() -> None:
    published = datetime(2020, 12, 30, 21, 41, tzinfo=UTC)
    assert origin_in("Date time 2020-12-30 21:37:51.0 UTC Location", published) == datetime(
        2020, 12, 30, 21, 37, 51, tzinfo=UTC
    )
    cap = "occurred near Neiafu, Tonga at 23:25:40.68 UTC on Aug 30, 2010."
    assert origin_in(cap, datetime(2010, 8, 31, 5, 9, tzinfo=UTC)) == datetime(2010, 8, 30, 23, 25, 40, tzinfo=UTC)
    assert origin_in("Monday, August 30, 2010 23:25:40 UTC", datetime(2010, 8, 31, tzinfo=UTC)) is not None
    assert origin_in("Date time 2021-01-05 10:00:00 UTC", published) is None  # after publication: not an origin


@pytest.mark.corpus
def test_labelled_pairs_precision_and_recall(corpus) -> None:  # type: ignore[no-untyped-def]
    from bench.fusion.pairset import load_pairs, score

    pairs = load_pairs(corpus)
    result = score(pairs, should_merge)
    assert result["pairs"] > 1000 and result["positives"] > 300
    assert any(p.origin == "corpus" and p.same for p in pairs)
    assert result["precision"] >= 0.98, result
    assert result["recall"] >= 0.9, result
    corpus_only = score([p for p in pairs if p.origin == "corpus"], should_merge)
    assert corpus_only["fp"] == 0 and corpus_only["fn"] == 0, corpus_only


def test_exercise_reports_never_fuse_with_real_ones():
    from datetime import UTC, datetime

    from feeds.fuse import Correlator
    from feeds.model import Event, Kind, Severity

    when = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    real = Event(id="usgs:real1", source="usgs-geojson", kind=Kind.EARTHQUAKE, title="M 4.6 - 3 km W of Framingham, MA",
                 time=when, lat=42.28, lon=-71.45, magnitude=4.6, severity=Severity.MODERATE)
    drill = real.replace(id="rss:drill1", source="rss", title="Magnitude 4.6 earthquake shakes Framingham",
                         exercise=True, magnitude=None)
    correlator = Correlator()
    first, _ = correlator.add(real)
    second, merged = correlator.add(drill)
    assert not merged and first.id != second.id
    # The same pair, both real, does fuse: the veto is the exercise flag and nothing else.
    other = Correlator()
    a, _ = other.add(real)
    b, merged_real = other.add(drill.replace(exercise=False))
    assert merged_real and a.id == b.id


def test_second_reports_join_their_own_quake_and_random_quakes_join_nothing():
    """The throughput bench's workload, small: new random quakes (far denser than the real world)
    never join each other or an existing incident; a second network's report of a preloaded quake
    joins that quake's incident, not a neighbour's."""
    from bench.fusion_bench import throughput

    t = throughput(3000, 600, seed=5)
    assert t["incidents_before"] == t["quakes_preloaded"] == 3000
    assert t["new_quakes_joined_wrongly"] == 0
    assert t["second_reports_joined"] >= 0.9 * 300 and t["second_reports_joined"] + t["second_reports_missed"] == 300
