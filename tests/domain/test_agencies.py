"""Agencies, sharing rules and push tokens: the records every process reads from Redis."""

from __future__ import annotations

import pytest

from domain.access.tlp import TLP
from domain.agencies import tokens
from domain.agencies.sharing import ALL, OWN, SharingError, parse_rule
from domain.agencies.store import AgencyError, AgencyStore, UnknownAgency
from domain.errors import NotFound

pytestmark = [pytest.mark.redis]


def test_rules_parse_and_decide() -> None:
    listed = parse_rule("agencies:bfd, mbta")
    assert str(listed) == "agencies:BFD,MBTA" and parse_rule(str(listed)) == listed
    assert parse_rule("ALL") is ALL and parse_rule("own") is OWN and parse_rule(None) is ALL
    assert OWN.allows("BPD", "BPD") and not OWN.allows("BPD", "BFD") and not OWN.allows("BPD", None)
    assert listed.allows("BPD", "MBTA") and not listed.allows("BPD", "STATE")
    assert OWN.allows(None, None), "an item nobody owns is everyone's"
    for bad, says in (("some", "is not a sharing rule"), ("agencies:", "is not a sharing rule"),
                      ("agencies:B D", "is not an agency code")):
        with pytest.raises(SharingError, match=says):
            parse_rule(bad)


def test_add_list_update_remove(redis_client) -> None:
    store = AgencyStore(redis_client)
    fire = store.add("bfd", "Boston Fire Department", kind="fire ems", contact="Dispatch 617-555-0100", by="ann")
    assert fire.code == "BFD" and fire.kind == "fire-ems" and fire.tlp is TLP.AMBER and fire.sharing is ALL
    store.add("MBTA", "MBTA Transit Police", kind="transit", tlp="TLP:GREEN", sharing="own")
    assert [a.code for a in store.list()] == ["BFD", "MBTA"]
    assert store.require("mbta").sharing is OWN and store.require("MBTA").tlp is TLP.GREEN
    with pytest.raises(AgencyError, match="code: BFD already names Boston Fire Department"):
        store.add("BFD", "Someone Else")
    assert store.require("BFD").name == "Boston Fire Department", "a refused add changed nothing"
    changed = store.update("BFD", sharing="agencies:MBTA", tlp="TLP:RED")
    assert str(changed.sharing) == "agencies:MBTA" and changed.tlp is TLP.RED and changed.name == fire.name
    store.remove("MBTA")
    assert [a.code for a in store.list()] == ["BFD"]
    with pytest.raises(UnknownAgency, match="no agency MBTA"):
        store.require("MBTA")


@pytest.mark.parametrize(("field", "kwargs", "says"), [
    ("code", {"code": "b d", "name": "x"}, "code: 'b d' is not an agency code"),
    ("name", {"code": "X", "name": "  "}, "name: is empty"),
    ("name", {"code": "X", "name": "<b>x</b>"}, "name: holds markup"),
    ("kind", {"code": "X", "name": "x", "kind": "army"}, "kind: 'army' is not one of law-enforcement"),
    ("tlp", {"code": "X", "name": "x", "tlp": "TLP:WHITE"}, "tlp: "),
    ("sharing", {"code": "X", "name": "x", "sharing": "friends"}, "sharing: 'friends' is not a sharing rule"),
])
def test_bad_fields_are_named(redis_client, field, kwargs, says) -> None:
    with pytest.raises((AgencyError, SharingError)) as caught:
        AgencyStore(redis_client).add(**kwargs)
    assert str(caught.value).startswith(says) and str(caught.value).split(":")[0] == field
    assert AgencyStore(redis_client).list() == []


def test_tokens_are_shown_once_kept_hashed_and_revocable(redis_client) -> None:
    AgencyStore(redis_client).add("MBTA", "MBTA Transit Police", kind="transit")
    token, token_id = tokens.create(redis_client, "mbta", by="ann", label="CAD bridge")
    assert tokens.resolve(redis_client, token) == ("MBTA", token_id)
    stored = b" ".join(k + b" " + b" ".join(redis_client.hvals(k)) if redis_client.type(k) == b"hash" else k
                       for k in redis_client.keys("*"))
    assert token.encode() not in stored and token[4:].encode() not in stored, "the token itself is never stored"
    assert [r["label"] for r in tokens.listing(redis_client, "MBTA")] == ["CAD bridge"]
    assert "digest" not in tokens.listing(redis_client, "MBTA")[0]
    assert tokens.resolve(redis_client, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert tokens.resolve(redis_client, "") is None and tokens.resolve(redis_client, "x" * 5000) is None
    tokens.revoke(redis_client, "MBTA", token_id)
    assert tokens.resolve(redis_client, token) is None
    assert tokens.listing(redis_client, "MBTA")[0]["revoked"] > 0
    with pytest.raises(NotFound, match="no token 'nope' for MBTA"):
        tokens.revoke(redis_client, "MBTA", "nope")
    again, _ = tokens.create(redis_client, "MBTA")
    AgencyStore(redis_client).remove("MBTA")
    assert tokens.resolve(redis_client, again) is None, "removing the agency ends its tokens"
    assert redis_client.keys("wf:agency*") == []
