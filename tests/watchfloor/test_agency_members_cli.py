"""Membership from the shell: `user add --agency`, `user agency`, `display add --agency`; the ceiling."""

from __future__ import annotations

import orjson
import pytest

from domain.access.accounts import AccountStore
from domain.access.tlp import TLP, max_marking
from tests.domain.test_access import PASSWORD, run_cli

pytestmark = [pytest.mark.redis]


def test_members_and_their_ceiling(redis_server, redis_client) -> None:
    url = redis_server.url
    run_cli("agency", "add", "MBTA Transit Police", "--code", "MBTA", "--kind", "transit", "--tlp", "TLP:GREEN",
            redis_url=url)
    added = run_cli("user", "add", "tara", "--role", "supervisor", "--agency", "mbta", "--password-stdin",
                    redis_url=url, stdin=PASSWORD + "\n")
    assert added.returncode == 0 and added.stdout.strip() == "added tara (supervisor, MBTA)", added.stderr
    tara = AccountStore(redis_client).require("tara")
    assert tara.agency == "MBTA"
    assert max_marking(tara, redis_client) is TLP.GREEN, "the agency's ceiling caps a supervisor's TLP:RED"
    ghost = run_cli("user", "add", "gus", "--role", "viewer", "--agency", "GHOST", "--password-stdin", redis_url=url,
                    stdin=PASSWORD + "\n")
    assert ghost.returncode == 2 and ghost.stderr.startswith("watchfloor: user: no agency GHOST")
    assert AccountStore(redis_client).get("gus") is None, "nothing made for a refused add"
    assert "agency:MBTA" in run_cli("user", "list", redis_url=url).stdout
    moved = run_cli("user", "agency", "tara", "none", redis_url=url)
    assert moved.returncode == 0 and "host fusion center" in moved.stdout
    assert max_marking(AccountStore(redis_client).require("tara"), redis_client) is TLP.RED
    assert run_cli("display", "add", "lobby", "--agency", "MBTA", redis_url=url).returncode == 0
    assert AccountStore(redis_client).require("lobby").agency == "MBTA"
    trail = [orjson.loads(line) for line in run_cli("audit", redis_url=url).stdout.splitlines()]
    assert "account.agency" in {t["action"] for t in trail}
