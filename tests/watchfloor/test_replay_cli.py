"""`watchfloor replay` as a duty officer runs it for a debrief: a real process, a real Redis."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from domain.access.accounts import Role, User
from domain.operations import alerts as alert_store
from domain.operations import annotations
from domain.store.streams import EventKeys
from feeds.model import Event, Kind, Severity
from tests.domain.test_access import run_cli
from workers.fusion import Fuser
from workers.jobs import record_threat_levels

pytestmark = [pytest.mark.redis]


def history(client, config_env) -> tuple[datetime, datetime]:
    start = datetime.now(UTC) - timedelta(minutes=5)
    for n, tlp in ((1, None), (2, None), (3, "TLP:AMBER")):
        raw, _ = Event(id=f"t:{n}", source=f"src{n}", kind=Kind.FIRE, time=datetime.now(UTC), title=f"Brush fire {n}",
                       lat=30.0 + n * 5, lon=-71.1, severity=Severity.EXTREME, feed="test", tlp=tlp).encoded()
        client.xadd(EventKeys.EVENTS, {"id": f"t:{n}", "op": "new", "e": raw, "sup": ""})
    fuser = Fuser(client, window_hours=72, lock_ttl=30)
    assert fuser.acquire()
    fuser.rebuild()
    fuser.release()
    record_threat_levels(config_env, client)
    op = User(name="olga", role=Role.OPERATOR)
    alert_store.issue(client, {"headline": "Road closed at the finish", "severity": "severe", "tlp": "TLP:CLEAR"},
                      op, sender="test")
    annotations.save(client, "inc:t:1", {"status": "resolved", "tlp": "TLP:CLEAR", "version": 0}, op)
    time.sleep(1.1)
    return start, datetime.now(UTC) + timedelta(seconds=1)


@pytest.fixture
def window(redis_server, redis_client, tmp_path):
    from domain.config.loader import load_config  # lazy: only this fixture needs a configuration

    config = load_config(env={"REDIS_URL": redis_server.url, "WATCHFLOOR_DATA_DIR": str(tmp_path)})
    start, end = history(redis_client, config)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_timeline_of_a_window_in_order(redis_server, window) -> None:
    done = run_cli("replay", "--from", window[0], "--to", window[1], redis_url=redis_server.url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("REPLAY ") and "(TLP:CLEAR)" in lines[0]
    text = "\n".join(lines)
    assert "incident.new" in text and "Brush fire 1" in text and "Brush fire 2" in text
    assert "Brush fire 3" not in text, "a TLP:AMBER incident is not told to a TLP:CLEAR reader"
    assert "level" in text and "first assessment" in text
    assert "alert.issue" in text and "Road closed at the finish" in text
    assert "incident.closed" in text and "resolved" in text
    stamps = [line.split()[0] for line in lines[1:]]
    assert stamps == sorted(stamps)
    amber = run_cli("replay", "--from", window[0], "--to", window[1], "--tlp", "TLP:AMBER", redis_url=redis_server.url)
    assert "Brush fire 3" in amber.stdout


def test_the_picture_at_an_instant_as_json(redis_server, window) -> None:
    done = run_cli("replay", "--from", window[0], "--to", window[1], "--at", window[1], "--json",
                   redis_url=redis_server.url)
    assert done.returncode == 0, done.stderr
    body = orjson.loads(done.stdout)
    picture = body["picture"]
    assert {i["id"] for i in picture["incidents"]} == {"inc:t:1", "inc:t:2"}
    assert picture["incidents"][0]["sources"] and picture["incidents"][0]["lat"] is not None
    assert picture["annotations"]["inc:t:1"]["status"] == "resolved"
    assert picture["threat"]["global"]["contributors"] == 1, "the resolved incident left the score"
    assert [a["headline"] for a in picture["alerts"]] == ["Road closed at the finish"]
    text = run_cli("replay", "--from", window[0], "--to", window[1], "--at", window[0], redis_url=redis_server.url)
    assert text.stdout.startswith("REPLAY — picture at ") and "incidents: 0" in text.stdout


@pytest.mark.parametrize(("args", "words"), [
    (["--from", "yesterday", "--to", "1h"], "from: 'yesterday' is not a time"),
    (["--from", "1h", "--to", "2h"], "is not after from"),
    (["--from", "10d", "--to", "1h"], "at most 7 days"),
    (["--from", "2h", "--to", "1h", "--at", "2026-13-45T99:00Z"], "at: '2026-13-45T99:00Z' is not a time"),
    (["--from", "2h", "--to", "1h", "--at", "3h"], "outside the window"),
    (["--from", "2h", "--to", "1h", "--tlp", "SECRET"], "not a TLP 2.0 label"),
    (["--from", "2h", "--to", "1h", "--workspace", "nowhere"], "no workspace 'nowhere'"),
])
def test_bad_input_gets_one_line_and_exit_2(redis_server, args, words) -> None:
    done = run_cli("replay", *args, redis_url=redis_server.url)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and words in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.startswith("watchfloor: replay: ")


def test_a_workspace_keeps_its_own_incidents_and_levels(redis_server, window) -> None:
    done = run_cli("replay", "--from", window[0], "--to", window[1], "--workspace", "exercise-marathon", "--json",
                   redis_url=redis_server.url)
    assert done.returncode == 0, done.stderr
    items = orjson.loads(done.stdout)["timeline"]
    assert not [i for i in items if i["kind"].startswith("incident")], "the fires are hundreds of km from the course"
    assert {i["id"] for i in items if i["kind"] == "level"} <= {"global", "exercise-marathon"}
    assert any(i["kind"] == "alert.issue" for i in items)


def test_an_instant_in_the_window_asked_for_but_past_now_is_the_picture_now(redis_server, window) -> None:
    """The window stops at now; --at between now and --to (a debrief typed ahead) shows the picture now."""
    ahead = datetime.now(UTC) + timedelta(minutes=30)
    done = run_cli("replay", "--from", window[0], "--to", f"{ahead + timedelta(minutes=30):%Y-%m-%dT%H:%M:%SZ}",
                   "--at", f"{ahead:%Y-%m-%dT%H:%M:%SZ}", "--json", redis_url=redis_server.url)
    assert done.returncode == 0, done.stderr
    shown = orjson.loads(done.stdout)
    assert shown["picture"]["incidents"] and shown["picture"]["at"] <= f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
