"""Every screen's layout renders from plain data (no browser, no Redis): a broken component fails here."""

from __future__ import annotations

import pytest
from dash.development.base_component import Component

from dashboard.screens import SCREENS, screen_layout
from domain.config.loader import load_config
from domain.config.workspaces import workspaces_for
from domain.picture.markers import marker_row


def _ids(component: Component) -> list[object]:
    found = []
    stack = [component]
    while stack:
        node = stack.pop()
        if isinstance(node, Component):
            if getattr(node, "id", None) is not None:
                found.append(node.id)
            children = getattr(node, "children", None)
            stack.extend(children if isinstance(children, (list, tuple)) else [children])
    return found


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)
def test_screen_layout_renders_with_unique_ids(screen):
    config = load_config(env={})
    spaces = workspaces_for(config)
    row = marker_row({"id": "usgs:x", "title": "<b>M 4</b>", "time": "2026-11-22T10:00:00Z", "lat": 42.3, "lon": -71.1,
                      "severity": "moderate", "kind": "earthquake", "source": "usgs-geojson"})
    layout = screen_layout(screen, config, {"rows": [row], "cursor": "0-0", "ok": True}, spaces[0] if spaces else None, spaces)
    ids = [str(i) for i in _ids(layout)]
    assert len(ids) == len(set(ids)), "duplicate component ids"
    assert any("'map'" in i for i in ids) and any("'banner'" in i for i in ids)
    assert "&lt;b&gt;M 4&lt;/b&gt;" in row["text"], "hover text must be escaped"


def test_the_detail_drawer_offers_split_and_merge_to_operators_only():
    from dashboard.panels.detail import detail_panel

    incident = {"id": "inc:usgs:x", "title": "M 5.1", "reports": [{"event_id": "usgs:x", "source": "usgs-geojson"},
                                                                  {"event_id": "rss:y", "source": "rss"}]}
    reports = [{"id": "usgs:x", "source": "usgs-geojson", "time": "2026-11-30T01:00:00Z"},
               {"id": "rss:y", "source": "rss", "time": "2026-11-30T01:01:00Z"}]
    editable = str(detail_panel(incident, reports, [], can_edit=True))
    assert editable.count("data-action='split-report'") == 2 and "data-event='rss:y'" in editable
    assert "merge-incident" in editable and "wf-merge-other" in editable
    read_only = str(detail_panel(incident, reports, [], can_edit=False))
    assert "split-report" not in read_only and "merge-incident" not in read_only
    single = str(detail_panel({**incident, "reports": incident["reports"][:1]}, reports[:1], [], can_edit=True))
    assert "split-report" not in single  # one report: nothing to split


def test_the_drawer_lists_merge_candidates_for_operators_as_text():
    from dash import dcc, html

    from dashboard.panels.detail import detail_panel
    from domain.picture.candidates import Candidate

    incident = {"id": "inc:usgs:x", "title": "M 5.1", "lat": 34.0, "lon": -118.0,
                "reports": [{"event_id": "usgs:x", "source": "usgs-geojson"}]}
    reports = [{"id": "usgs:x", "source": "usgs-geojson", "time": "2026-11-30T01:00:00Z"}]
    hostile = "<img src=x onerror=alert(1)>Quake"
    found = [Candidate(id="inc:rss:y", title=hostile, kind="earthquake", sources=2, distance_km=12.4, hours=-1.5,
                       score=0.07, same_kind=True),
             Candidate(id="inc:rss:z", title="Flood", kind="flood", sources=1, distance_km=0.3, hours=0.0,
                       score=0.001, same_kind=False)]
    panel = detail_panel(incident, reports, [], can_edit=True, candidates=found)
    rows, stack = [], list(panel)
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend(node)
        elif hasattr(node, "children"):
            assert not isinstance(node, dcc.Markdown) and not hasattr(node, "dangerously_allow_html")
            if "wf-candidate " in f"{getattr(node, 'className', '')} " and isinstance(node, html.Li):
                rows.append(node)
            stack.append(node.children)
    rows.reverse()
    assert [r.to_plotly_json()["props"]["data-wf-candidate"] for r in rows] == ["inc:rss:y", "inc:rss:z"]
    text = str(panel)
    buttons = [r.children[1].to_plotly_json()["props"] for r in rows]
    assert [b["data-other"] for b in buttons] == ["inc:rss:y", "inc:rss:z"]
    assert all(b["data-action"] == "merge-incident" and b["data-incident"] == "inc:usgs:x" for b in buttons)
    facts = [r.children[0].children[1].children for r in rows]
    assert facts == ["earthquake · 2 sources · 12 km · 1 h 30 min earlier", "flood · 1 source · < 1 km · same time"]
    assert rows[0].children[0].children[0].children == hostile  # a plain string child: React renders it as text
    assert "wf-merge-other" in text  # the typed id stays, as the fallback
    viewer = str(detail_panel(incident, reports, [], can_edit=False, candidates=found))
    assert "Merge with" not in viewer and hostile not in viewer and "inc:rss:y" not in viewer
    assert "No other incident that close." in str(detail_panel(incident, reports, [], can_edit=True, candidates=[]))
    assert "unavailable" in str(detail_panel(incident, reports, [], can_edit=True, candidates=None))
