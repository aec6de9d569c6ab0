"""Every screen's layout renders from plain data (no browser, no Redis): a broken component fails here."""

from __future__ import annotations

import pytest
from dash.development.base_component import Component

from dashboard.picture import marker_row
from dashboard.screens import SCREENS, screen_layout
from watchfloor.config import load_config
from watchfloor.workspaces import workspaces_for


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
