"""The watchfloor CLI as a user runs it: a subprocess, JSON Lines out, one-line refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.stack import ROOT

REQUIRED = {"id", "source", "kind", "title", "time", "lat", "lon", "severity"}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "watchfloor.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


@pytest.mark.corpus
def test_parse_prints_one_json_event_per_line(corpus):
    result = run("parse", str(corpus / "usgs-geojson" / "significant_month_2023-10-11_api1.10.3.json"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines
    for line in lines:
        event = json.loads(line)
        assert REQUIRED <= set(event)
        assert event["time"].endswith("Z")
        assert event["kind"] == "earthquake" and event["id"].startswith("usgs:")


@pytest.mark.corpus
def test_parse_refuses_a_hostile_document_in_one_line(corpus):
    result = run("parse", str(corpus / "hostile" / "defusedxml_billion-laughs_xmlbomb.xml"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "refused" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.corpus
def test_parse_with_forced_format_and_unknown_format(corpus):
    doc = str(corpus / "gdacs" / "gdacs_rss_2019-12-30.xml")
    forced = run("parse", doc, "--format", "rss")
    assert forced.returncode == 0 and all(json.loads(x)["id"].startswith("rss:") for x in forced.stdout.splitlines())
    unknown = run("parse", doc, "--format", "nope")
    assert unknown.returncode == 2 and "known formats" in unknown.stderr and "Traceback" not in unknown.stderr


def test_parse_url_goes_through_the_ssrf_guard():
    result = run("parse", "http://169.254.169.254/latest/meta-data")
    assert result.returncode == 2 and "refused" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.redis
@pytest.mark.corpus
def test_ingest_twice_changes_nothing_the_second_time(corpus, tmp_path):
    env = {"WATCHFLOOR_DATA_DIR": str(tmp_path / "var"), "REDIS_URL": ""}
    doc = str(corpus / "usgs-geojson" / "4.5_week_2018-06-12_api1.5.8.json")
    first = run("ingest", doc, env=env)
    assert first.returncode == 0, first.stderr
    assert " new, 0 updated, 0 already seen" in first.stdout
    second = run("ingest", doc, env=env)
    assert "0 new, 0 updated," in second.stdout and "already seen" in second.stdout
    listed = run("incidents", "--json", env=env)
    rows = [json.loads(x) for x in listed.stdout.splitlines()]
    new_count = int(first.stdout.split(": ", 1)[1].split(" new")[0])
    assert len(rows) == new_count
    assert all(r["reports"] and r["reports"][0]["source"] for r in rows)


def test_version_names_the_installed_release():
    import importlib.metadata

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"watchfloor {importlib.metadata.version('watchfloor')}"


def test_json_logs_carry_the_structured_fields_text_logs_used_to_drop(tmp_path):
    import logging

    from watchfloor.logs import JsonFormatter, TextFormatter

    record = logging.LogRecord("feeds.fetch", logging.INFO, __file__, 1, "fetched %s", ("feed",), None)
    record.host, record.status, record.bytes = "earthquake.usgs.gov", 200, 5120  # what extra= sets
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "fetched feed" and line["logger"] == "feeds.fetch" and line["level"] == "INFO"
    assert (line["host"], line["status"], line["bytes"]) == ("earthquake.usgs.gov", 200, 5120)
    assert line["time"].endswith("Z")
    text = TextFormatter().format(record)
    assert "host='earthquake.usgs.gov' status=200 bytes=5120" in text and "\n" not in text
    # A process started with log_format = "json" writes JSON Lines on stderr.
    result = run("geocode", "Ridgecrest, California", env={"WATCHFLOOR_LOG_FORMAT": "json",
                                                            "WATCHFLOOR_LOG_LEVEL": "DEBUG"})
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert logged and all({"time", "level", "logger", "message"} <= set(entry) for entry in logged)
