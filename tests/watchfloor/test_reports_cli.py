"""`watchfloor sar`, `entities` and `links` as a user runs them: a real process, a real Redis."""

from __future__ import annotations

import json

import orjson
import pytest

from tests.domain.test_access import run_cli

pytestmark = [pytest.mark.redis]

ISSUE_SHAPE = {"category": "Photography", "narrative": "Photographed the loading dock and the guard booth for 20 min.",
               "time": "2026-04-20T14:05:00Z", "location": {"text": "Boylston Street, Boston"},
               "subjects": [{"name": "Ann Doe", "dob": "1990-01-31", "description": "grey coat"}],
               "vehicles": [{"plate": "ABC 123", "state": "MA", "make": "Ford", "model": "Transit", "colour": "white"}],
               "phones": ["617 555 0123"], "emails": ["ann@example.org"], "organisations": ["Doe Imports"]}


def test_add_list_entities_and_links(tmp_path, redis_server, redis_client):
    first = tmp_path / "one.json"
    first.write_text(json.dumps(ISSUE_SHAPE))
    second = tmp_path / "batch.json"
    second.write_text(json.dumps([
        {"category": "SURVL", "narrative": "White Ford van abc-123 parked facing the gate for two hours.",
         "time": "2026-04-21T09:00:00Z", "location": {"lat": 42.35, "lon": -71.08},
         "vehicles": [{"plate": "abc-123", "state": "ma"}], "phones": ["+1 (617) 555-0999"]},
        {"category": "ELICIT", "narrative": "Caller asked the box office about staff shift changes.",
         "time": "2026-04-22T09:00:00Z", "phones": ["617.555.0999"], "emails": ["box@example.org"]},
    ]))
    for path in (first, second):
        done = run_cli("sar", "add", str(path), redis_url=redis_server.url)
        assert done.returncode == 0, done.stderr
    listed = [orjson.loads(line) for line in run_cli("sar", "list", "--json", redis_url=redis_server.url).stdout.splitlines()]
    assert len(listed) == 3 and {r["state"] for r in listed} == {"received"}
    rows = [orjson.loads(line) for line in run_cli("entities", "--json", redis_url=redis_server.url).stdout.splitlines()]
    vehicles = [r for r in rows if r["type"] == "vehicle"]
    assert len(vehicles) == 1 and len(vehicles[0]["reports"]) == 2
    assert {"id", "type", "label", "reports"} <= set(vehicles[0])
    assert {r["type"] for r in rows} == {"person", "vehicle", "phone", "email", "organisation"}
    path = run_cli("links", "path", "vehicle:MA:ABC123", "email:box@example.org", redis_url=redis_server.url)
    assert path.returncode == 0, path.stderr
    assert path.stdout.splitlines()[0].startswith("E:") and "email" not in path.stdout.splitlines()[0]
    assert path.stdout.splitlines()[-1].split()[1] == "box@example.org"
    nopath = run_cli("links", "path", "email:ann@example.org", "organisation:Nobody Ltd", redis_url=redis_server.url)
    assert nopath.returncode == 2 and "no entity or report 'organisation:Nobody Ltd'" in nopath.stderr
    links = run_cli("links", "vehicle:MA:ABC123", "--depth", "1", "--json", redis_url=redis_server.url)
    assert len(orjson.loads(links.stdout)["nodes"]) == 3


def test_no_path_is_exit_1(tmp_path, redis_server, redis_client):
    data = tmp_path / "two.json"
    base = {"category": "PHOTO", "narrative": "Filmed the substation fence line from a parked car.",
            "time": "2026-04-20T14:05:00Z"}
    data.write_text(json.dumps([{**base, "emails": ["a@example.org"]}, {**base, "emails": ["b@example.org"]}]))
    assert run_cli("sar", "add", str(data), redis_url=redis_server.url).returncode == 0
    done = run_cli("links", "path", "email:a@example.org", "email:b@example.org", redis_url=redis_server.url)
    assert done.returncode == 1 and done.stderr.strip() == "no path"


@pytest.mark.parametrize(("content", "expected"), [
    ('{"category": "PHOTO", "narrative": "x"}', "narrative: say what happened"),
    ('[{"category": "PHOTO", "narrative": "Filmed the fence line from a car.", "time": "2026-04-20T14:05:00Z"}, '
     '{"category": "PHOTO", "narrative": "Filmed the fence line from a car.", "time": "2026-04-20T14:05:00Z", '
     '"vehicles": [{"plate": "ABC", "colr": "red"}]}]', "report 2: vehicles[0].colr: is not a field here"),
    ("{not json", "not JSON"),
])
def test_a_wrong_file_gets_one_line_and_stores_nothing(tmp_path, redis_server, redis_client, content, expected):
    path = tmp_path / "bad.json"
    path.write_text(content)
    done = run_cli("sar", "add", str(path), redis_url=redis_server.url)
    assert done.returncode == 2 and expected in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert redis_client.zcard("wf:reports") == 0


def test_move_through_vetting_and_purge_preview(tmp_path, redis_server, redis_client):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(ISSUE_SHAPE))
    report_id = orjson.loads(run_cli("sar", "add", str(path), redis_url=redis_server.url).stdout)["id"]
    wrong = run_cli("sar", "move", report_id, "shared", "--reason", "skip", redis_url=redis_server.url)
    assert wrong.returncode == 2 and "cannot move to 'shared'" in wrong.stderr
    for to in ("screened", "review"):
        assert run_cli("sar", "move", report_id, to, "--reason", "vetting step", redis_url=redis_server.url).returncode == 0
    refused = run_cli("sar", "move", report_id, "shared", "--reason", "nexus", redis_url=redis_server.url)
    assert refused.returncode == 2 and "affirm" in refused.stderr
    done = run_cli("sar", "move", report_id, "shared", "--reason", "nexus found", "--affirm", redis_url=redis_server.url)
    assert done.returncode == 0 and done.stderr.strip().endswith("shared")
    queue = orjson.loads(run_cli("sar", "queue", redis_url=redis_server.url).stdout)
    assert queue["waiting"] == 0 and queue["line"] == "No reports waiting for vetting"
    preview = run_cli("sar", "purge", "--dry-run", redis_url=redis_server.url)
    assert preview.returncode == 0 and preview.stdout == "" and "would remove 0" in preview.stderr
