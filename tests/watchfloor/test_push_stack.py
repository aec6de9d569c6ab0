"""Tried as a new user would, on the whole stack `watchfloor up` runs: an admin adds a transit agency
and a token with the real CLI, the agency pushes over HTTP, the fuser (its own process) turns the
pushed reports into incidents that name the agency, and a revoked token is refused at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import redis

from tests.stack import ROOT, start_stack
from tests.watchfloor.test_stack import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def cli(stack, *args: str) -> str:
    env = {**os.environ, "WATCHFLOOR_DATA_DIR": str(stack.data_dir), "REDIS_URL": ""}
    env.pop("WATCHFLOOR_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "watchfloor.cli", *args], text=True, capture_output=True, cwd=ROOT,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr  # the token on standard output, what it is on standard error


def push(stack, token: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(stack.url + "api/ingest?source=incidents", data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/geo+json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_transit_agency_pushes_and_its_reports_become_incidents(tmp_path):
    stack = start_stack(tmp_path, env={"WATCHFLOOR_EXERCISE": "false"})
    try:
        cli(stack, "agency", "add", "MBTA Transit Police", "--code", "MBTA", "--kind", "transit")
        out = cli(stack, "agency", "token", "create", "MBTA", "--label", "CAD bridge")
        token, token_id = out.split()[0], out.split()[2]
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))
        doc = json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "m-1", "geometry": {"type": "Point", "coordinates": [-71.0589, 42.3601]},
             "properties": {"title": "Suspicious package, Government Center station", "time": when,
                            "kind": "security", "severity": "severe"}},
            {"type": "Feature", "id": "m-2", "geometry": None,
             "properties": {"title": "Crowd surge on the platform", "time": when, "kind": "security",
                            "place": "Back Bay, Boston"}}]}).encode()
        assert push(stack, token, doc) == (200, {"feed": "push:MBTA:incidents", "format": "geojson", "accepted": 2,
                                                 "new": 2, "updated": 0, "unchanged": 0, "refused": 0, "refusals": [],
                                                 "unplaced": 0, "warnings": []})
        client = redis.Redis.from_url((stack.data_dir / "redis" / "redis.url").read_text().strip())

        def incidents() -> list[dict]:
            rows = [json.loads(v) for v in client.hvals("wf:incidents")]
            return rows if len(rows) == 2 else []

        rows = wait_for(incidents, 60, "the fuser to make the pushed reports incidents")
        assert {r["reports"][0]["agency"] for r in rows} == {"MBTA"}
        assert {r["reports"][0]["feed"] for r in rows} == {"push:MBTA:incidents"}
        assert all(r["lat"] for r in rows)  # placed: one by its point, one by "Back Bay, Boston"
        assert push(stack, token, doc)[1]["unchanged"] == 2
        cli(stack, "agency", "token", "revoke", "MBTA", token_id)
        status, answer = push(stack, token, doc)
        assert status == 401 and answer["error"] == "unauthenticated"
    finally:
        stack.stop()
