"""The rule a new report carries: item override > the source's default > the agency's default."""

from __future__ import annotations

import pytest

from domain.agencies.sharing import ALL, OWN, SharingError, parse_rule
from domain.agencies.sources import clear_source_rule, rule_for, set_source_rule, source_rules
from domain.agencies.store import AgencyError, AgencyStore, UnknownAgency
from domain.errors import NotFound

pytestmark = [pytest.mark.redis]


def test_item_then_source_then_agency(redis_client) -> None:
    AgencyStore(redis_client).add("MBTA", "Transit", kind="transit", sharing="agencies:BFD")
    assert rule_for(redis_client, "MBTA", "mbta-incidents") == parse_rule("agencies:BFD"), "agency default"
    set_source_rule(redis_client, "mbta", "mbta-incidents", "own")
    assert rule_for(redis_client, "MBTA", "mbta-incidents") is OWN, "the source's rule beats the agency's"
    assert rule_for(redis_client, "MBTA", "other") == parse_rule("agencies:BFD")
    assert rule_for(redis_client, "MBTA", "mbta-incidents", "all") is ALL, "the item's rule beats both"
    assert source_rules(redis_client, "MBTA") == {"mbta-incidents": "own"}
    with pytest.raises(SharingError, match="is not a sharing rule"):
        rule_for(redis_client, "MBTA", "mbta-incidents", "everyone")
    clear_source_rule(redis_client, "MBTA", "mbta-incidents")
    assert rule_for(redis_client, "MBTA", "mbta-incidents") == parse_rule("agencies:BFD")
    with pytest.raises(NotFound):
        clear_source_rule(redis_client, "MBTA", "mbta-incidents")


def test_public_unknown_and_damaged(redis_client) -> None:
    assert rule_for(redis_client, None, "usgs") is ALL, "a public report is everyone's"
    assert rule_for(redis_client, "GONE", "x") is OWN, "an agency that no longer exists: fail closed"
    AgencyStore(redis_client).add("BFD", "Fire", kind="fire-ems")
    redis_client.hset("wf:agency:BFD:sources", "feed", "garbage")
    assert rule_for(redis_client, "BFD", "feed") is OWN, "a damaged stored rule: fail closed"
    with pytest.raises(UnknownAgency):
        set_source_rule(redis_client, "NOPE", "feed", "own")
    with pytest.raises(AgencyError, match="source:"):
        set_source_rule(redis_client, "BFD", "bad id!", "own")
    AgencyStore(redis_client).remove("BFD")
    assert not redis_client.exists("wf:agency:BFD:sources")
