"""A fused incident keeps every owner: a public report and a partner's own-only report of one quake."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from domain.access.tlp import TLP
from domain.agencies.access import Reader, redact
from domain.store.streams import EventStore
from tests.workers.test_fusion_pipeline import FEEDS, gdacs_doc, quake, usgs_doc
from workers.ingest import parse_document, prepare
from workers.overrides import fuse_now

pytestmark = pytest.mark.redis


def _ingest(client, cfg, doc) -> None:
    fetched_at = datetime.now(UTC)
    EventStore(client).append(prepare(parse_document(doc, cfg, fetched_at), cfg, fetched_at).events)


def test_public_and_own_only_reports_fuse_and_each_reader_sees_its_share(redis_client) -> None:
    _ingest(redis_client, FEEDS["usgs"], usgs_doc())
    _ingest(redis_client, replace(FEEDS["gdacs"], agency="MBTA", sharing="own"), gdacs_doc())
    assert fuse_now(redis_client)
    incident = quake(redis_client)
    assert [r["source"] for r in incident["reports"]] == ["usgs-geojson", "gdacs"], "fused into one"
    assert [(o["agency"], o["sharing"]) for o in incident["owners"]] == [("MBTA", "own")]
    assert incident["open_title"].startswith("M 6.3")
    mbta, bfd, host = Reader(TLP.AMBER, "MBTA"), Reader(TLP.AMBER, "BFD"), Reader(TLP.AMBER, None)
    assert mbta.sees(incident) and bfd.sees(incident) and host.sees(incident), "a public report: everyone sees it"
    assert [r["source"] for r in redact(incident, mbta)["reports"]] == ["usgs-geojson", "gdacs"], "both owners kept"
    for other in (bfd, host):
        shown = redact(incident, other)
        assert [r["source"] for r in shown["reports"]] == ["usgs-geojson"] and shown["owners"] == []
        assert shown["corroboration"] == 1


def test_an_own_only_incident_is_its_owners_alone(redis_client) -> None:
    _ingest(redis_client, replace(FEEDS["gdacs"], agency="MBTA", sharing="own"), gdacs_doc())
    assert fuse_now(redis_client)
    incident = quake(redis_client)
    assert Reader(TLP.AMBER, "MBTA").sees(incident), "the restricted item IS visible to its own agency"
    assert not Reader(TLP.RED, "BFD").sees(incident) and not Reader(TLP.RED, None).sees(incident)
