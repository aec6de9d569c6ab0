"""The one check: TLP and the sharing rule, for readers of two agencies and of the host center."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.access.accounts import AccountStore
from domain.access.tlp import TLP, max_marking
from domain.agencies.access import SERVER, Reader, agency_allows, may_see, reader_for
from domain.agencies.members import OtherAgency, can_manage, set_agency, visible_accounts
from domain.agencies.store import AgencyStore
from domain.config.loader import load_config
from domain.errors import ConfigError

pytestmark = [pytest.mark.redis]
PASSWORD = "correct horse battery staple"


def test_the_rule_half() -> None:
    assert agency_allows("MBTA", "own", "MBTA"), "the owner always sees its own"
    assert not agency_allows("MBTA", "own", "BFD") and not agency_allows("MBTA", "own", None)
    assert agency_allows("MBTA", "agencies:BFD,BPD", "BFD") and not agency_allows("MBTA", "agencies:BFD", "BPD")
    assert agency_allows("MBTA", "all", None) and agency_allows(None, "own", "BFD"), "unowned is public"
    assert not agency_allows("MBTA", "agencies:", "BFD"), "a damaged rule shares nothing"


def test_both_halves_and_plain_labels() -> None:
    note = {"agency": "MBTA", "sharing": "own", "tlp": "TLP:AMBER"}
    assert Reader(TLP.AMBER, "MBTA").sees(note)
    assert not Reader(TLP.GREEN, "MBTA").sees(note), "TLP still applies to the owner"
    assert not Reader(TLP.RED, "BFD").sees(note)
    assert not may_see(note, TLP.RED), "a bare TLP label is a reader of no agency"
    assert may_see(dict(note, sharing="all"), TLP.AMBER)
    assert SERVER.sees(note)


def test_reader_from_an_account_and_the_agency_ceiling(redis_client) -> None:
    agencies, accounts = AgencyStore(redis_client), AccountStore(redis_client)
    agencies.add("BFD", "Boston Fire", kind="fire-ems", tlp="TLP:GREEN")
    accounts.create("fran", "supervisor", PASSWORD)
    set_agency(redis_client, "fran", "BFD")
    fran = accounts.require("fran")
    assert reader_for(fran, redis_client) == Reader(TLP.GREEN, "BFD")
    agencies.update("BFD", tlp="TLP:RED")
    assert max_marking(fran, redis_client) is TLP.RED, "read on every request"
    agencies.remove("BFD")
    assert max_marking(fran, redis_client) is TLP.CLEAR, "a member of a removed agency receives nothing marked"


def test_an_agency_admin_manages_only_its_own(redis_client) -> None:
    agencies, accounts = AgencyStore(redis_client), AccountStore(redis_client)
    agencies.add("BFD", "Boston Fire", kind="fire-ems")
    agencies.add("MBTA", "Transit", kind="transit")
    for name, role, code in (("chief", "admin", "BFD"), ("fran", "operator", "BFD"), ("tom", "operator", "MBTA"),
                             ("root", "admin", None)):
        accounts.create(name, role, PASSWORD)
        if code:
            set_agency(redis_client, name, code)
    chief, root = accounts.require("chief"), accounts.require("root")
    assert {u.name for u in visible_accounts(redis_client, chief)} == {"chief", "fran"}
    assert {u.name for u in visible_accounts(redis_client, root)} == {"chief", "fran", "tom", "root"}
    assert not can_manage(chief, accounts.require("tom")) and can_manage(root, accounts.require("tom"))
    with pytest.raises(OtherAgency):
        set_agency(redis_client, "tom", "BFD", by=chief)
    with pytest.raises(OtherAgency):
        set_agency(redis_client, "fran", "MBTA", by=chief)  # nor hand its people to another agency
    assert set_agency(redis_client, "tom", "BFD", by=root).agency == "BFD"


@pytest.mark.parametrize(("entry", "says"), [
    ('agency = "bpd"', "feeds.f.agency: 'bpd' is not an agency code"),
    ('sharing = "own"', "feeds.f.sharing: needs agency"),
    ('agency = "BPD"\nsharing = "some"', "feeds.f.sharing: 'some' is not a sharing rule"),
])
def test_a_feed_entry_names_its_owner(tmp_path: Path, entry: str, says: str) -> None:
    path = tmp_path / "watchfloor.toml"
    path.write_text(f'[[feeds]]\nid = "f"\nurl = "https://example.org/f.xml"\n{entry}\n')
    with pytest.raises(ConfigError, match=says):
        load_config(path, env={})
    path.write_text('[[feeds]]\nid = "f"\nurl = "https://example.org/f.xml"\nagency = "BPD"\nsharing = "agencies:bfd"\n')
    feed = load_config(path, env={}).feeds[0]
    assert (feed.agency, feed.sharing) == ("BPD", "agencies:BFD")
