"""Briefings: what a situation report holds for its reader's TLP, and the PDF read back by a PDF text
extractor (pypdf) that finds the TLP line at the top and bottom of every page."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pypdf import PdfReader

from domain.access.tlp import TLP
from domain.picture.keys import IncidentKeys
from domain.products import briefing, exports
from tests.domain.test_access import run_cli
from tests.domain.test_exports import SQUARE

pytestmark = pytest.mark.redis


def seed(client, count: int = 60) -> None:
    now = datetime.now(UTC)
    for n in range(count):
        marking = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER")[n % 3]
        client.hset(IncidentKeys.INCIDENTS, f"inc:{n}", orjson.dumps({
            "id": f"inc:{n}", "kind": "security", "title": f"Incident {n} {marking}",
            "lat": 60.165 + (n % 7) / 1000, "lon": 24.94 + (n % 11) / 1000,
            "severity": ("minor", "moderate", "severe")[n % 3], "tlp": marking,
            "time": (now - timedelta(minutes=5 * n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "reports": [{"event_id": f"e{n}", "source": "rss"}]}))


def make(client, ceiling, **kw):
    return briefing.gather(client, ceiling=ceiling, by="duty", workspaces=[SQUARE], workspace=kw.pop("workspace", None),
                           since=datetime.now(UTC) - timedelta(hours=24), **kw)


def test_nothing_above_the_readers_level_goes_in(redis_client):
    seed(redis_client)
    brief = make(redis_client, TLP.GREEN, summary="Crowds <b>heavy</b> at the square.")
    titles = {r["title"] for r in brief.incidents}
    assert titles and not any("TLP:AMBER" in t for t in titles)
    assert brief.marking is TLP.GREEN
    document = briefing.html(brief)
    assert "TLP:AMBER" not in document.replace("TLP:AMBER+STRICT", "")  # not even in a caveat
    assert "Crowds &lt;b&gt;heavy&lt;/b&gt;" in document and "<b>heavy" not in document
    assert "OpenStreetMap" in document  # the street basemap drew the map


def test_every_pdf_page_carries_the_marking_top_and_bottom(redis_client):
    seed(redis_client)
    brief = make(redis_client, TLP.AMBER, workspace=SQUARE)
    body = briefing.produce(redis_client, brief, "pdf", recipient="Fire dept", channel="test")
    assert brief.marking is TLP.AMBER
    pages = PdfReader(io.BytesIO(body)).pages
    assert len(pages) >= 2
    for page in pages:
        height = float(page.mediabox.height)
        found: list[tuple[str, float]] = []
        page.extract_text(visitor_text=lambda text, cm, tm, *_, found=found: found.append(
            (text.strip(), tm[5] * cm[3] + cm[5])))
        top = [y for text, y in found if text == "TLP:AMBER"]
        bottom = [y for text, y in found if text.startswith("TLP:AMBER: Limited disclosure")]
        assert top and max(top) > height * 0.9, found[:5]  # in the top margin
        assert bottom and min(bottom) < height * 0.1, found[-5:]  # in the bottom margin
    log = list(exports.disseminations(redis_client))
    assert log[-1]["to"] == "Fire dept" and log[-1]["what"].startswith("briefing pdf: New Year's Eve")


def test_the_cli_writes_the_morning_brief(redis_client, redis_server, tmp_path):
    seed(redis_client, 12)
    out = tmp_path / "brief.pdf"
    done = run_cli("brief", "--out", str(out), "--tlp", "TLP:GREEN", "--summary", "Quiet night.",
                   redis_url=redis_server.url)
    assert done.returncode == 0, done.stderr
    text = "".join(p.extract_text() for p in PdfReader(str(out)).pages)
    assert "Quiet night." in text and "TLP:GREEN" in text and "Incident 2 TLP:AMBER" not in text
    bad = run_cli("brief", "--out", str(tmp_path / "b.docx"), redis_url=redis_server.url)
    assert bad.returncode == 2 and "name a .pdf or an .html file" in bad.stderr
