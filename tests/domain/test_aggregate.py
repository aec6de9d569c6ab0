"""Server-side aggregation (hex bins past map_max_points): counts conserved, worst severity, the
threshold honoured, the live model equal to a rebuild (joint cells too), deltas cursor-based against
real Redis, and the browser's bin counting under the desk's filters (assets/wf-30-bins.js, in Node)."""

from __future__ import annotations

import json
import math
import random
from collections import Counter

import orjson
import pytest

from domain.picture.bins import Aggregator, BinnedPicture
from domain.picture.keys import IncidentKeys
from domain.picture.markers import SEVERITY_COLOURS, SEVERITY_RANK, Bin, bin_rows, hex_key, hour_bucket
from layers.zones import Venue, Workspace
from tests.page_js import ROOT, page_functions, run_node

SEVERITIES = ["unknown", "minor", "moderate", "severe", "extreme"]
KINDS = ["earthquake", "fire", "flood", "weather", "news"]
MARATHON = Workspace(id="m", name="Marathon", venues=(Venue("Finish", 42.3499, -71.0810, 0.5),),
                     route=((42.2287, -71.5226), (42.3499, -71.0810)))


def incident(i: int, rng: random.Random, **extra) -> dict:
    return {"id": f"inc:{i}", "lat": round(rng.uniform(-60, 70), 4), "lon": round(rng.uniform(-179, 179), 4),
            "severity": rng.choice(SEVERITIES), "kind": rng.choice(KINDS), "exercise": rng.random() < 0.3,
            "time": f"2026-11-{rng.randrange(26, 30)}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z",
            **extra}


def cells_of(members: list[dict]) -> dict[tuple, int]:
    """What a bin's row must carry for these incidents: (rank, kind, exercise, hour) -> count."""
    return dict(Counter((SEVERITY_RANK[r["severity"]], r["kind"], int(bool(r.get("exercise"))), hour_bucket(r.get("time")))
                        for r in members))


def decoded(row: dict) -> dict[tuple, int]:
    """A bin row's cells back as (rank, kind, exercise, hour) -> count."""
    out: dict[tuple, int] = {}
    for rank, kind, ex, dh, n in row["cells"]:
        key = (rank, row["kinds"][kind], ex, None if dh is None else row["h0"] + dh)
        assert key not in out and n > 0
        out[key] = n
    return out


def test_hex_key_is_stable_and_groups_neighbours():
    assert hex_key(10.0, 20.0, 3.0) == hex_key(10.0001, 20.0001, 3.0)
    assert hex_key(10.0, 20.0, 3.0) != hex_key(10.0, 40.0, 3.0)
    assert hex_key(None, 20.0, 3.0) == ""
    # Every point lands in exactly one hexagon whose centre is no farther than the hex size.
    rng = random.Random(3)
    keys = {hex_key(rng.uniform(-60, 60), rng.uniform(-180, 180), 5.0) for _ in range(5000)}
    assert 300 < len(keys) < 5000


def test_below_the_limit_nothing_is_binned():
    rng = random.Random(1)
    rows = [incident(i, rng) for i in range(100)]
    markers, bins = bin_rows(rows, max_points=100, size_deg=3.0)
    assert len(markers) == 100 and bins == []


def test_past_the_limit_counts_are_conserved_and_bins_carry_the_worst_severity():
    rng = random.Random(2)
    rows = [incident(i, rng) for i in range(3000)]
    markers, bins = bin_rows(rows, max_points=500, size_deg=4.0)
    assert len(markers) == 500
    assert len(markers) + sum(b["count"] for b in bins) == 3000
    # The markers kept are the most severe: nothing binned is more severe than the least severe marker.
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    kept = {m["id"] for m in markers}
    lowest_kept = min(rank[m["severity"]] for m in markers)
    assert all(rank[r["severity"]] <= lowest_kept for r in rows if r["id"] not in kept)
    # Each bin: its count, per-severity counts and worst severity match its members.
    members: dict[str, list[dict]] = {}
    for r in rows:
        if r["id"] not in kept:
            members.setdefault(hex_key(r["lat"], r["lon"], 4.0), []).append(r)
    assert {b["bin"] for b in bins} == set(members)
    for b in bins:
        mine = members[b["bin"]]
        assert b["count"] == len(mine) == sum(b["sev"])
        worst = max((r["severity"] for r in mine), key=lambda s: rank[s])
        assert b["worst"] == worst and b["color"] == SEVERITY_COLOURS[worst]
        top_kind, top_n = Counter(r["kind"] for r in mine).most_common(1)[0]
        assert f"{len(mine):,} incidents" in b["text"] and f" {top_n:,}" in b["text"]


def test_workspace_incidents_stay_markers_whatever_their_severity():
    rng = random.Random(4)
    model = BinnedPicture(max_points=50, size_deg=4.0, workspaces=[MARATHON])
    for i in range(400):
        model.apply(f"inc:{i}", incident(i, rng, severity="extreme"))
    model.apply("inc:finish", {"id": "inc:finish", "lat": 42.3500, "lon": -71.0800, "severity": "unknown",
                               "kind": "news", "time": "2000-01-01T00:00:00Z"})
    far = {"id": "inc:far", "lat": 0.0, "lon": 0.0, "severity": "unknown", "kind": "news", "time": "2000-01-01T00:00:00Z"}
    model.apply("inc:far", far)
    assert model.state("inc:finish") == "individual"
    assert model.state("inc:far") == "binned"


def _check_model(model: BinnedPicture, live: dict[str, dict]) -> None:
    assert model.live_count == len(live)
    assert len(model.individual) <= model.max_points
    binned = [live[i] for i in live if model.state(i) == "binned"]
    assert len(model.individual) + sum(b.count for b in model.bins.values()) == len(live)
    expected = Counter(hex_key(r["lat"], r["lon"], model.size_deg) for r in binned)
    assert {k: b.count for k, b in model.bins.items()} == dict(expected)
    members: dict[str, list[dict]] = {}
    for r in binned:
        members.setdefault(hex_key(r["lat"], r["lon"], model.size_deg), []).append(r)
    for key, b in model.bins.items():  # the joint counts follow every update and removal exactly
        assert b.cells == cells_of(members[key]), key
        row = model.bin_row(key)
        assert decoded(row) == cells_of(members[key]) and sum(c[4] for c in row["cells"]) == row["count"]


def test_the_live_model_equals_a_rebuild_and_stays_exact_under_updates_and_removals():
    rng = random.Random(5)
    rows = [incident(i, rng) for i in range(2000)]
    model = BinnedPicture(max_points=300, size_deg=4.0)
    for r in rng.sample(rows, len(rows)):  # any arrival order
        model.apply(r["id"], r)
    markers, bins = bin_rows(rows, max_points=300, size_deg=4.0)
    assert set(model.individual) == {m["id"] for m in markers}
    assert sorted((b["bin"], b["count"], b["worst"], b["sev"]) for b in model.bin_rows()) == \
        sorted((b["bin"], b["count"], b["worst"], b["sev"]) for b in bins)
    assert {b["bin"]: decoded(b) for b in model.bin_rows()} == {b["bin"]: decoded(b) for b in bins}
    assert {b["bin"]: (b["kinds"], b["h0"], b["cells"]) for b in model.bin_rows()} == \
        {b["bin"]: (b["kinds"], b["h0"], b["cells"]) for b in bins}, "the same rows, byte for byte"
    where = {b["bin"]: (b["lat"], b["lon"]) for b in bins}
    for b in model.bin_rows():  # mean positions agree (sums in another order: rounding only)
        assert b["lat"] == pytest.approx(where[b["bin"]][0], abs=2e-4) and b["lon"] == pytest.approx(where[b["bin"]][1], abs=2e-4)
    live = {r["id"]: r for r in rows}
    for step in range(1500):  # updates (new severity, moved), removals, arrivals
        op = rng.random()
        if op < 0.4:
            iid = rng.choice(list(live))
            live[iid] = {**incident(0, rng), "id": iid}
            model.apply(iid, live[iid])
        elif op < 0.7 and live:
            iid = rng.choice(list(live))
            del live[iid]
            model.apply(iid, None)
        else:
            r = incident(10_000 + step, rng)
            live[r["id"]] = r
            model.apply(r["id"], r)
        if step % 250 == 0:  # rows read meanwhile (and kept by the model) must follow later changes
            _check_model(model, live)
    _check_model(model, live)


def test_the_log_names_what_changed_after_a_cursor_and_refuses_a_cursor_it_no_longer_reaches():
    rng = random.Random(6)
    model = BinnedPicture(max_points=10, size_deg=4.0)
    for i in range(50):
        model.apply(f"inc:{i}", incident(i, rng, severity="minor"))
    model.cursor = model.floor = "100-0"
    touched = model.apply("inc:new", {**incident(99, rng), "severity": "extreme", "time": "2026-11-30T00:00:00Z"})
    model.record("105-0", touched)
    demoted = [k for k in touched if k.startswith("i:") and k != "i:inc:new"]
    assert "i:inc:new" in touched and len(demoted) == 1, "the new extreme one pushed the least important marker into a bin"
    assert model.state(demoted[0][2:]) == "binned"
    assert model.keys_after("100-0") == touched
    assert model.keys_after("105-0") == set()
    assert model.keys_after("99-0") is None


@pytest.mark.redis
def test_aggregated_snapshot_and_deltas_against_real_redis(redis_client):
    rng = random.Random(7)
    rows = [incident(i, rng, reports=[{"event_id": f"e{i}"}]) for i in range(400)]
    pipe = redis_client.pipeline()
    for r in rows:
        pipe.hset(IncidentKeys.INCIDENTS, r["id"], orjson.dumps(r))
        pipe.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": r["id"], "op": "upsert"})
    pipe.execute()
    keep = lambda i: bool(i.get("reports"))  # noqa: E731
    build = lambda items: [{"id": i["id"], "lat": i["lat"], "lon": i["lon"], "severity": i["severity"]} for i in items]  # noqa: E731
    small = Aggregator(max_points=1000, size_deg=4.0)
    assert small.snapshot(redis_client, "c", keep, build) is None, "below the limit: the usual per-incident picture"
    agg = Aggregator(max_points=100, size_deg=4.0)
    snap_rows, cursor = agg.snapshot(redis_client, "c", keep, build)
    assert cursor.startswith("b:")
    markers = [r for r in snap_rows if "bin" not in r]
    bins = {r["bin"]: r for r in snap_rows if "bin" in r}
    assert len(markers) == 100 and len(markers) + sum(b["count"] for b in bins.values()) == 400
    # Nothing changed: the delta is empty and the cursor stays.
    delta, again, reload = agg.changes_after(redis_client, cursor, "c", keep, build)
    assert (delta, again, reload) == ([], cursor, False)
    # One low-priority incident arrives: one bin changes, nothing else is sent.
    low = {"id": "inc:low", "lat": 10.0, "lon": 10.0, "severity": "unknown", "kind": "news",
           "time": "2000-01-01T00:00:00Z", "reports": [{"event_id": "x"}]}
    redis_client.hset(IncidentKeys.INCIDENTS, "inc:low", orjson.dumps(low))
    redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": "inc:low", "op": "upsert"})
    delta, cursor2, reload = agg.changes_after(redis_client, cursor, "c", keep, build)
    key = hex_key(10.0, 10.0, 4.0)
    changed_bins = [r for r in delta if "bin" in r]
    assert not reload and cursor2 != cursor
    assert [b["bin"] for b in changed_bins] == [key]
    assert changed_bins[0]["count"] == bins.get(key, {"count": 0})["count"] + 1
    assert [r for r in delta if "bin" not in r] == [], "straight into a bin: no row the screen would keep"
    # A replayed poll from the old cursor gives the same absolute state (nothing counted twice).
    replay, _, _ = agg.changes_after(redis_client, cursor, "c", keep, build)
    assert replay == delta
    # Removal: the bin goes back down.
    redis_client.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": "inc:low", "op": "remove"})
    delta, _cursor3, _ = agg.changes_after(redis_client, cursor2, "c", keep, build)
    assert [r["count"] for r in delta if "bin" in r] == [bins.get(key, {"count": 0})["count"]]


@pytest.mark.redis
def test_each_reader_marking_has_its_own_aggregated_picture(redis_client):
    """Bins never count an incident the reader may not receive (one model per TLP ceiling)."""
    rng = random.Random(8)
    pipe = redis_client.pipeline()
    for i in range(300):
        r = incident(i, rng, reports=[{"event_id": f"e{i}"}], marked=i % 3 == 0)
        pipe.hset(IncidentKeys.INCIDENTS, r["id"], orjson.dumps(r))
        pipe.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": r["id"], "op": "upsert"})
    pipe.execute()
    build = lambda items: [{"id": i["id"]} for i in items]  # noqa: E731
    agg = Aggregator(max_points=50, size_deg=4.0)
    everything, _ = agg.snapshot(redis_client, "red", lambda i: True, build)
    cleared, _ = agg.snapshot(redis_client, "clear", lambda i: not i.get("marked"), build)
    total = lambda rows: sum(r["count"] for r in rows if "bin" in r) + sum(1 for r in rows if "bin" not in r)  # noqa: E731
    assert total(everything) == 300 and total(cleared) == 200


@pytest.mark.redis
def test_a_screen_loaded_below_the_limit_reloads_once_the_picture_outgrows_it(redis_client):
    from domain.picture import bins as aggregate
    from domain.picture import incidents

    def add(start: int, n: int) -> None:
        pipe = redis_client.pipeline()
        for i in range(start, start + n):
            r = incident(i, random.Random(i), reports=[{"event_id": f"e{i}"}])
            pipe.hset(IncidentKeys.INCIDENTS, r["id"], orjson.dumps(r))
            pipe.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": r["id"], "op": "upsert"})
        pipe.execute()

    before = aggregate.current()
    try:
        aggregate.configure(100, 4.0, [])
        add(0, 90)
        rows, cursor = incidents.snapshot(redis_client)
        assert len(rows) == 90 and not cursor.startswith("b:"), "below the limit: one row per incident"
        add(90, 25)  # 115: past the limit, within the margin: keep going per incident
        rows, cursor, reload = incidents.changes_after(redis_client, cursor)
        assert len(rows) == 25 and not reload
        add(115, 10)  # 125: a fifth past the limit: reload into the aggregated picture
        _rows, _cursor, reload = incidents.changes_after(redis_client, cursor)
        assert reload
        rows, cursor = incidents.snapshot(redis_client)
        assert cursor.startswith("b:") and sum(1 for r in rows if "bin" not in r) == 100
    finally:
        aggregate._AGGREGATOR = before


def test_hour_bucket_is_the_hour_since_the_epoch_and_none_for_no_time():
    assert hour_bucket("1970-01-01T00:59:59Z") == 0 and hour_bucket("1970-01-01T01:00:00Z") == 1
    assert hour_bucket("1969-12-31T23:30:00Z") == -1  # floor, as the browser's Math.floor
    assert hour_bucket("2026-11-29T10:00:00Z") == hour_bucket("2026-11-29T10:59:59.999999Z") == \
        hour_bucket("2026-11-29T12:30:00+02:00") == hour_bucket("2026-11-29T10:30:00")  # naive: UTC
    assert hour_bucket("2026-11-29T11:00:00Z") == hour_bucket("2026-11-29T10:00:00Z") + 1
    assert [hour_bucket(v) for v in (None, "", "yesterday", 12345)] == [None, None, None, None]


def test_a_bins_joint_counts_add_and_remove_exactly():
    rng = random.Random(12)
    members = [incident(i, rng) for i in range(600)]
    for r in members[::7]:
        r["time"] = None  # no usable time: its own cell, still counted
    b = Bin()
    for r in members:
        b.add(r["severity"], r["kind"], r["lat"], r["lon"], exercise=r["exercise"], hour=hour_bucket(r["time"]))
    assert b.cells == cells_of(members) and sum(b.cells.values()) == b.count == 600
    gone = rng.sample(members, 350)
    for r in gone:  # removed in another order than added
        b.add(r["severity"], r["kind"], r["lat"], r["lon"], -1, exercise=r["exercise"], hour=hour_bucket(r["time"]))
    left = [r for r in members if r not in gone]
    fresh = Bin()
    for r in left:
        fresh.add(r["severity"], r["kind"], r["lat"], r["lon"], exercise=r["exercise"], hour=hour_bucket(r["time"]))
    assert b.cells == fresh.cells == cells_of(left) and b.kinds == fresh.kinds and b.severity == fresh.severity
    assert b.row("1:2") == {**fresh.row("1:2"), "lat": b.row("1:2")["lat"], "lon": b.row("1:2")["lon"]}
    for r in left:
        b.add(r["severity"], r["kind"], r["lat"], r["lon"], -1, exercise=r["exercise"], hour=hour_bucket(r["time"]))
    assert (b.count, b.cells, b.kinds, b.severity) == (0, {}, {}, [0, 0, 0, 0, 0]), "nothing left behind"
    assert b.row("1:2") == {"id": "bin:1:2", "bin": "1:2", "count": 0}


def test_a_bin_rows_cells_sum_to_its_count_and_decode_to_its_members():
    rng = random.Random(13)
    rows = [incident(i, rng) for i in range(3000)]
    rows[5]["time"] = "not a time"
    markers, bins = bin_rows(rows, max_points=500, size_deg=4.0)
    kept = {m["id"] for m in markers}
    members: dict[str, list[dict]] = {}
    for r in rows:
        if r["id"] not in kept:
            members.setdefault(hex_key(r["lat"], r["lon"], 4.0), []).append(r)
    for b in bins:
        assert sum(c[4] for c in b["cells"]) == b["count"]
        assert decoded(b) == cells_of(members[b["bin"]])
        assert b["kinds"] == sorted({r["kind"] for r in members[b["bin"]]})
        assert all(c[3] is None or c[3] >= 0 for c in b["cells"]) and b["h0"] == min(
            h for h in (hour_bucket(r["time"]) for r in members[b["bin"]]) if h is not None)
        for rank in range(5):  # the totals the screens had before agree with the cells
            assert b["sev"][rank] == sum(c[4] for c in b["cells"] if c[0] == rank)
    orjson.dumps(bins)  # plain JSON


# -- The browser's side: assets/wf-30-bins.js binColumns, run in Node on the rows the server builds --

HOUR = 3600 * 1000


def _bins_js() -> str:
    return page_functions(("SEV_RANK", "HOUR_MS", "SEV_NAMES", "TEXT_NOTE"), ("binFilter", "esc", "binColumns"))


def _run_bins_js(rows: list[dict], cases: list[dict]) -> list[dict]:
    script = _bins_js() + """
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const st = {bins: new Map(input.rows.map((b) => [b.bin, b]))};
process.stdout.write(JSON.stringify(input.cases.map((c) => {
  const cols = binColumns(st, binFilter(c.win, c.minSev, c.kinds, c.text, c.exercise, c.brush, c.now), input.colours);
  return {ids: cols.ids, text: cols.text, color: cols.color, size: cols.size, z: cols.z, total: cols.total};
})));"""
    return json.loads(run_node(script, json.dumps({"rows": rows, "cases": cases, "colours": SEVERITY_COLOURS})))


def _ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _keeps(r: dict, case: dict) -> bool:
    """The desk's filters on one binned incident, as the bins count it: time to the whole hour (an
    hour that overlaps the window or the selection counts whole; no usable time: only under "all")."""
    if SEVERITY_RANK[r["severity"]] < SEVERITY_RANK[case["minSev"]]:
        return False
    if case["kinds"] and r["kind"] not in case["kinds"]:
        return False
    if r.get("exercise") and "show" not in case["exercise"]:
        return False
    if case["win"] or case["brush"]:
        hour = hour_bucket(r.get("time"))
        if hour is None:
            return False
        if case["win"] and hour < math.floor((case["now"] - case["win"] * HOUR) / HOUR):
            return False
        if case["brush"] and not math.floor(_ms(case["brush"][0]) / HOUR) <= hour <= math.floor(_ms(case["brush"][1]) / HOUR):
            return False
    return True


def test_the_browser_counts_each_bin_under_the_desks_filters():
    rng = random.Random(14)
    rows = [incident(i, rng) for i in range(4000)]
    for r in rows[::50]:
        r["time"] = None
    hostile = "<img src=x onerror=alert(1)>"
    for r in rows[1::40]:
        r["kind"] = hostile
    for r in rows[2::40]:
        r["kind"] = "__proto__"  # data, not an object key
    markers, bins = bin_rows(rows, max_points=300, size_deg=6.0)
    kept = {m["id"] for m in markers}
    members: dict[str, list[dict]] = {}
    for r in rows:
        if r["id"] not in kept:
            members.setdefault(hex_key(r["lat"], r["lon"], 6.0), []).append(r)
    now = _ms("2026-11-29T23:30:00Z")
    base = {"win": 0, "minSev": "unknown", "kinds": None, "text": "", "exercise": ["show"], "brush": None, "now": now}
    cases = [base, {**base, "win": 1}, {**base, "win": 6}, {**base, "win": 24}, {**base, "win": 168},
             {**base, "kinds": ["fire"]}, {**base, "kinds": ["fire", "flood"], "win": 24},
             {**base, "exercise": []}, {**base, "minSev": "severe", "exercise": [], "win": 24},
             {**base, "brush": ["2026-11-27T10:20:00Z", "2026-11-27T13:40:00Z"]},
             {**base, "brush": ["2026-11-27T10:20:00Z", "2026-11-28T00:00:00Z"], "win": 24, "kinds": ["news"]},
             {**base, "kinds": [hostile]}, {**base, "text": "quake", "win": 6}, {**base, "kinds": ["__proto__", "fire"]}]
    results = _run_bins_js(bins, cases)
    by_key = {b["bin"]: b for b in bins}
    for case, got in zip(cases, results, strict=True):
        expected = {}
        for key, mine in members.items():
            n = sum(1 for r in mine if _keeps(r, case))
            if n and by_key[key]["lat"] is not None:
                expected["bin:" + key] = n
        drawn = dict(zip(got["ids"], got["z"], strict=True))
        assert drawn == expected, case  # a bin the filters empty is not drawn at all
        assert got["total"] == sum(sum(1 for r in mine if _keeps(r, case)) for mine in members.values())
        for i, bid in enumerate(got["ids"]):
            mine = [r for r in members[bid[4:]] if _keeps(r, case)]
            n, of = len(mine), len(members[bid[4:]])
            worst = max((r["severity"] for r in mine), key=SEVERITY_RANK.get)
            assert got["color"][i] == SEVERITY_COLOURS[worst]
            assert got["size"][i] == round(14 + 8 * math.log10(n))
            text = got["text"][i]
            head = text.split("<br>")[0].replace(",", "")
            assert head.startswith(f"{n} of {of} incidents (hex bin) match the filters" if n != of else f"{n} incidents (hex bin)")
            assert f"worst: {worst.upper()}" in text
            assert "<img" not in text, "a kind from a feed stays text in the hover label"
            assert ("search text not applied" in text) == bool(case["text"])
    # The window is honoured to the hour, never narrower: every incident inside the exact window is
    # counted, and none older than the window plus an hour.
    for case, got in zip(cases[1:5], results[1:5], strict=True):
        exact = sum(1 for mine in members.values() for r in mine
                    if r["time"] and _ms(r["time"]) >= case["now"] - case["win"] * HOUR)
        wider = sum(1 for mine in members.values() for r in mine
                    if r["time"] and _ms(r["time"]) >= case["now"] - (case["win"] + 1) * HOUR)
        assert exact <= got["total"] <= wider, case["win"]
    assert results[1]["total"] < results[2]["total"] < results[3]["total"] < results[4]["total"] < results[0]["total"]
    assert 0 < results[7]["total"] < results[0]["total"], "exercise off: fewer, not none"
    assert any("&lt;img src=x onerror=alert(1)&gt;" in t for t in results[11]["text"])
    assert any("match the filters" in t and "__proto__ " in t for t in results[13]["text"]), \
        "a kind named like an object key is counted as any other"


def _store(client, start: int, n: int, **extra) -> None:
    pipe = client.pipeline()
    for i in range(start, start + n):
        r = incident(i, random.Random(i), reports=[{"event_id": f"e{i}"}], **extra)
        pipe.hset(IncidentKeys.INCIDENTS, r["id"], orjson.dumps(r))
        pipe.xadd(IncidentKeys.INCIDENT_CHANGES, {"id": r["id"], "op": "upsert"})
    pipe.execute()


def _bin_counts(rows: list[dict]) -> dict[str, int]:
    return {r["bin"]: r["count"] for r in rows if "bin" in r and r["count"]}


@pytest.mark.redis
def test_a_burst_is_taken_a_batch_per_request_and_the_follower_catches_up_exactly(redis_client, monkeypatch):
    """A poll after 4,500 new incidents waits for one batch of the change stream, not the burst;
    the follower takes the rest, and the model it reaches counts exactly what a rebuild counts."""
    from domain.picture import bins as aggregate

    monkeypatch.setattr(aggregate, "FOLLOW_SECONDS", 3600.0)  # the test catches up by hand
    keep = lambda i: bool(i.get("reports"))  # noqa: E731
    build = lambda items: [{"id": i["id"]} for i in items]  # noqa: E731
    _store(redis_client, 0, 300)
    agg = Aggregator(max_points=50, size_deg=4.0)
    _rows, cursor = agg.snapshot(redis_client, "c", keep, build)
    _store(redis_client, 300, 2 * aggregate.BATCH + 500)
    newest = redis_client.xrevrange(IncidentKeys.INCIDENT_CHANGES, count=1)[0][0].decode()
    _delta, after_one, reload = agg.changes_after(redis_client, cursor, "c", keep, build)
    sid = lambda c: tuple(int(x) for x in c.removeprefix("b:").split("-"))  # noqa: E731
    assert not reload and sid(cursor) < sid(after_one) < sid(newest), "one batch per request, not the whole burst"
    agg.catch_up(redis_client)
    assert agg.models["c"].cursor == newest
    fresh = Aggregator(max_points=50, size_deg=4.0)
    rebuilt, _ = fresh.snapshot(redis_client, "c", keep, build)
    followed = agg.models["c"]
    assert _bin_counts(followed.bin_rows()) == _bin_counts(rebuilt)
    assert set(followed.individual) == {r["id"] for r in rebuilt if "bin" not in r}
    assert followed.live_count == 300 + 2 * aggregate.BATCH + 500
    # The screen's next polls bring it to the end, with every bin it had not seen.
    delta, cursor_end, _ = agg.changes_after(redis_client, after_one, "c", keep, build)
    assert cursor_end == "b:" + newest and {r["bin"] for r in delta if "bin" in r} <= set(_bin_counts(rebuilt)) | {""}


@pytest.mark.redis
def test_screens_opened_together_share_one_first_picture_and_a_change_makes_a_new_one(redis_client, monkeypatch):
    from domain.picture import bins as aggregate

    monkeypatch.setattr(aggregate, "FOLLOW_SECONDS", 3600.0)
    keep = lambda i: True  # noqa: E731
    build = lambda items: [{"id": i["id"]} for i in items]  # noqa: E731
    _store(redis_client, 0, 300)
    agg = Aggregator(max_points=50, size_deg=4.0)
    first = agg.snapshot(redis_client, "c", keep, build)
    assert agg.snapshot(redis_client, "c", keep, build) == first
    monkeypatch.setattr(aggregate, "SNAPSHOT_SECONDS", 0.0)
    _store(redis_client, 300, 10)
    rows, cursor = agg.snapshot(redis_client, "c", keep, build)
    assert cursor != first[1] and sum(r["count"] for r in rows if "bin" in r) + sum(1 for r in rows if "bin" not in r) == 310


@pytest.mark.redis
def test_building_a_new_markings_model_does_not_hold_up_the_other_markings_polls(redis_client, monkeypatch):
    """A reader of a new marking makes the process read every live incident; meanwhile the screens of
    the markings already built keep getting their updates (the build holds no shared lock)."""
    import threading

    from domain.picture import bins as aggregate

    monkeypatch.setattr(aggregate, "FOLLOW_SECONDS", 3600.0)
    build = lambda items: [{"id": i["id"]} for i in items]  # noqa: E731
    _store(redis_client, 0, 300)
    agg = Aggregator(max_points=50, size_deg=4.0)
    _rows, cursor = agg.snapshot(redis_client, "clear", lambda i: True, build)
    started, release = threading.Event(), threading.Event()

    def slow_keep(_incident: dict) -> bool:
        started.set()
        release.wait(120)
        return True

    builder = threading.Thread(target=agg.snapshot, args=(redis_client, "red", slow_keep, build), daemon=True)
    builder.start()
    assert started.wait(60)
    _store(redis_client, 300, 5)
    answered: list = []
    poll = threading.Thread(target=lambda: answered.append(agg.changes_after(redis_client, cursor, "clear",
                                                                             lambda i: True, build)), daemon=True)
    poll.start()
    poll.join(60)
    release.set()
    builder.join(120)
    assert answered, "the poll waited for another marking's build"
    _delta, after, reload = answered[0]
    assert not reload and after != cursor
    assert agg.models["red"].live_count in (300, 305)  # as of its build, or one step on


def test_the_screen_keeps_no_row_for_an_incident_it_never_drew_that_went_into_a_bin():
    """assets/wf-10-state.js ingest, in Node: a dot that went into a bin is hidden (it may come back);
    a binned incident the screen never drew adds nothing, so its state stays bounded by what it drew."""
    source = (ROOT / "assets" / "wf-10-state.js").read_text(encoding="utf-8")
    script = "var window = {};\n" + source + """
const WF = window.__wfjs, st = WF.stateFor('desk');
WF.ingest(st, [{id: 'inc:a', lat: 1, lon: 2, severity: 'minor'}]);
const binned = WF.ingest(st, [{id: 'inc:a', hide: true, binned: true}, {id: 'inc:b', hide: true, binned: true},
                              {id: 'inc:c', hide: true}]);
process.stdout.write(JSON.stringify({ids: st.rows.map((r) => r.id), hidden: st.rows.map((r) => !!r.hidden),
                                     changed: binned.changed, added: binned.added}));"""
    got = json.loads(run_node(script))
    assert got["ids"] == ["inc:a", "inc:c"], "no row kept for inc:b (binned, never drawn)"
    assert got["hidden"] == [True, True] and got["changed"] == [0] and got["added"] == [1]


@pytest.mark.redis
def test_a_starting_web_process_builds_the_markings_its_screens_used_before_the_first_page(redis_client, monkeypatch):
    from domain.access.tlp import TLP
    from domain.picture import bins as aggregate
    from domain.picture import incidents

    monkeypatch.setattr(aggregate, "FOLLOW_SECONDS", 3600.0)
    before = aggregate.current()
    try:
        _store(redis_client, 0, 300)
        aggregate.configure(50, 4.0, [])
        assert incidents.warm_aggregated(redis_client) == 0, "no screen was aggregated yet: nothing to build"
        _rows, cursor = incidents.snapshot(redis_client, TLP.GREEN)
        assert cursor.startswith("b:") and redis_client.smembers(IncidentKeys.AGGREGATED_MARKINGS) == {b"TLP:GREEN"}
        redis_client.sadd(IncidentKeys.AGGREGATED_MARKINGS, "not a label")
        fresh = aggregate.configure(50, 4.0, [])  # the process restarts
        assert incidents.warm_aggregated(redis_client) == 1
        assert set(fresh.models) == {TLP.GREEN} and fresh.models[TLP.GREEN].live_count == 300
        aggregate.configure(1000, 4.0, [])
        assert incidents.warm_aggregated(redis_client) == 0, "below the limit: nothing is aggregated"
    finally:
        aggregate._AGGREGATOR = before
