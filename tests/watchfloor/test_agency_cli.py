"""`watchfloor agency` as an administrator runs it: a real process, a real Redis."""

from __future__ import annotations

import orjson
import pytest

from tests.domain.test_access import run_cli

pytestmark = [pytest.mark.redis]


def test_add_list_token_remove(redis_server, redis_client) -> None:
    url = redis_server.url
    added = run_cli("agency", "add", "Boston Fire Department", "--code", "bfd", "--kind", "fire-ems", redis_url=url)
    assert added.returncode == 0 and added.stdout.startswith("added BFD: Boston Fire Department"), added.stderr
    run_cli("agency", "add", "MBTA Transit Police", "--code", "MBTA", "--kind", "transit", "--sharing", "own",
            redis_url=url)
    rows = [orjson.loads(line) for line in run_cli("agency", "list", "--json", redis_url=url).stdout.splitlines()]
    assert [(r["code"], r["sharing"]) for r in rows] == [("BFD", "all"), ("MBTA", "own")]
    made = run_cli("agency", "token", "create", "MBTA", "--label", "CAD bridge", redis_url=url)
    token = made.stdout.strip()
    assert made.returncode == 0 and token.startswith("wfa_") and "shown once" in made.stderr
    token_id = made.stderr.split()[1]
    listed = run_cli("agency", "token", "list", "MBTA", redis_url=url).stdout
    assert token_id in listed and "live" in listed and token not in listed
    revoked = run_cli("agency", "token", "revoke", "MBTA", token_id, redis_url=url)
    assert revoked.returncode == 0 and "revoked" in run_cli("agency", "token", "list", "MBTA", redis_url=url).stdout
    assert run_cli("agency", "remove", "MBTA", redis_url=url).stdout.startswith("removed MBTA")
    trail = [orjson.loads(line) for line in run_cli("audit", redis_url=url).stdout.splitlines()]
    assert {"agency.create", "agency.token.create", "agency.token.revoke", "agency.remove"} <= {t["action"] for t in trail}


@pytest.mark.parametrize(("args", "says"), [
    (("agency", "add", "X", "--code", "no way"), "watchfloor: agency: code: 'no way' is not an agency code"),
    (("agency", "add", "X", "--code", "X", "--kind", "navy"), "watchfloor: agency: kind: 'navy' is not one of"),
    (("agency", "remove", "GHOST"), "watchfloor: agency: no agency GHOST"),
    (("agency", "token", "create", "GHOST"), "watchfloor: agency: no agency GHOST"),
])
def test_bad_input_is_one_line(redis_server, redis_client, args, says) -> None:
    done = run_cli(*args, redis_url=redis_server.url)
    assert done.returncode == 2 and done.stderr.startswith(says) and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_source_rules(redis_server, redis_client) -> None:
    url = redis_server.url
    run_cli("agency", "add", "MBTA Transit Police", "--code", "MBTA", "--kind", "transit", redis_url=url)
    done = run_cli("agency", "source", "MBTA", "mbta-incidents", "own", redis_url=url)
    assert done.returncode == 0 and "shares with own agency only" in done.stdout, done.stderr
    assert run_cli("agency", "source", "MBTA", redis_url=url).stdout.split() == ["mbta-incidents", "own"]
    bad = run_cli("agency", "source", "MBTA", "mbta-incidents", "some", redis_url=url)
    assert bad.returncode != 0 and bad.stderr.startswith("watchfloor: agency: sharing:") and "Traceback" not in bad.stderr
    assert run_cli("agency", "source", "MBTA", "mbta-incidents", "default", redis_url=url).returncode == 0
    assert run_cli("agency", "source", "MBTA", redis_url=url).stdout == ""
    trail = [orjson.loads(line) for line in run_cli("audit", redis_url=url).stdout.splitlines()]
    assert "agency.source" in {t["action"] for t in trail}
