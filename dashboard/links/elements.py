"""How the link graph looks: cytoscape elements, the stylesheet, the layout and the legend.

Each node type has a colour (Okabe-Ito, colour-blind safe) and a shape, so a type never rests on
colour alone; the legend draws both. The shortest path is drawn thick in magenta with the word
"path" in the legend. Layouts are chosen so the browser never freezes: the force layout (cose) is
quadratic and only runs up to FORCE_MAX nodes ("auto" picks it up to AUTO_FORCE_MAX); larger views are drawn in rings around the start,
placed on the server (dashboard.links.radial), so the browser only draws them.
"""

from __future__ import annotations

from typing import Any

from dash import html

from dashboard.links.radial import positions

FORCE_MAX = 100  # the force layout blocks the browser ~0.8 s at 100 nodes here, ~10 s at 500 (bench/links.py)
AUTO_FORCE_MAX = 40  # "auto" uses it only where it is instant
LABEL_CHARS = 28
PATH_COLOUR = "#ff4fd8"
EDGE_COLOUR = "#51657f"
INK = "#e6edf3"
BACKGROUND = "#0b1320"
# type: (colour, cytoscape shape, the word the legend uses)
LOOK: dict[str, tuple[str, str, str]] = {
    "person": ("#e69f00", "ellipse", "person"),
    "vehicle": ("#56b4e9", "round-rectangle", "vehicle"),
    "phone": ("#009e73", "triangle", "phone"),
    "email": ("#cc79a7", "vee", "e-mail"),
    "organisation": ("#0072b2", "hexagon", "organisation"),
    "address": ("#d55e00", "pentagon", "address"),
    "report": ("#e6edf3", "rectangle", "report"),
    "tip": ("#93a4b8", "diamond", "tip"),
    "incident": ("#f0e442", "star", "incident"),
}
LAYOUTS = [{"label": "auto", "value": "auto"}, {"label": "force", "value": "force"},
           {"label": "rings", "value": "rings"}, {"label": "grid", "value": "grid"}]


def short(label: str, limit: int = LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def elements(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Cytoscape elements of a view: nodes (classes: their type, ``start``, ``path``) then links."""
    on_path = set(view.get("path") or [])
    path_ids = view.get("path") or []
    path_links = {tuple(sorted(p)) for p in zip(path_ids, path_ids[1:], strict=False)}
    places = positions(view)
    out: list[dict[str, Any]] = []
    for node in view["nodes"]:
        classes = [f"type-{node['type']}"]
        if node["id"] == view.get("start"):
            classes.append("start")
        if node["id"] in on_path:
            classes.append("path")
        out.append({"data": {"id": node["id"], "label": short(str(node.get("label") or node["id"])),
                             "type": node["type"], "depth": node.get("depth"), "time": node.get("time") or ""},
                    "position": {"x": places[node["id"]][0], "y": places[node["id"]][1]},
                    "classes": " ".join(classes)})
    for edge in view["edges"]:
        a, b = edge["source"], edge["target"]
        out.append({"data": {"id": f"{a}|{b}", "source": a, "target": b},
                    "classes": "path" if tuple(sorted((a, b))) in path_links else ""})
    return out


def stylesheet() -> list[dict[str, Any]]:
    sheet: list[dict[str, Any]] = [
        {"selector": "node", "style": {"label": "data(label)", "color": INK, "font-size": 10,
                                       "text-valign": "bottom", "text-margin-y": 3, "width": 18, "height": 18,
                                       "min-zoomed-font-size": 9, "text-outline-color": BACKGROUND,
                                       "text-outline-width": 2, "border-width": 1, "border-color": BACKGROUND}},
        {"selector": "edge", "style": {"width": 1.2, "line-color": EDGE_COLOUR, "curve-style": "haystack"}},
    ]
    for kind, (colour, shape, _word) in LOOK.items():
        sheet.append({"selector": f".type-{kind}", "style": {"background-color": colour, "shape": shape}})
    sheet += [
        {"selector": ".start", "style": {"width": 30, "height": 30, "border-width": 3, "border-color": INK,
                                         "font-size": 12, "font-weight": "bold"}},
        {"selector": "node.path", "style": {"border-width": 5, "border-color": PATH_COLOUR, "width": 26,
                                            "height": 26, "z-index": 10}},
        {"selector": "edge.path", "style": {"width": 6, "line-color": PATH_COLOUR, "z-index": 10}},
        {"selector": "node:selected", "style": {"border-width": 5, "border-color": "#ffffff",
                                                "overlay-color": "#ffffff", "overlay-opacity": 0.15}},
    ]
    return sheet


def layout(view: dict[str, Any], choice: str, run: int) -> tuple[dict[str, Any], str]:
    """The layout for ``view`` and a note when the choice was changed to keep the browser responsive.
    ``run`` changes on every draw so the browser places the nodes again. "rings" places them where
    the server put them (dashboard.links.radial); the force layout starts from there."""
    count = len(view["nodes"])
    note = ""
    if choice == "force" and count > FORCE_MAX:
        choice, note = "rings", f"The force layout is for up to {FORCE_MAX} nodes; these {count} are drawn in rings."
    if choice == "auto":
        choice = "force" if count <= AUTO_FORCE_MAX else "rings"
    common = {"animate": False, "fit": True, "padding": 40, "wfRun": run}
    if choice == "force":
        return {"name": "cose", "randomize": False, "nodeRepulsion": 9000, "idealEdgeLength": 70,
                "numIter": 1000, **common}, note
    if choice == "grid":
        return {"name": "grid", "avoidOverlap": True, **common}, note
    return {"name": "preset", **common}, note


def legend() -> html.Div:
    """Each type's shape and colour with its word, and the path's look."""
    items = [html.Span([html.Span(className=f"wf-links-swatch wf-links-shape-{shape}", style={"background": colour}),
                        word], className="wf-links-legend-item", **{"data-type": kind})
             for kind, (colour, shape, word) in LOOK.items()]
    items.append(html.Span([html.Span(className="wf-links-swatch wf-links-path-swatch",
                                      style={"background": PATH_COLOUR}), "path"], className="wf-links-legend-item"))
    return html.Div(items, className="wf-links-legend", **{"aria-label": "Legend"})



__all__ = ["AUTO_FORCE_MAX", "FORCE_MAX", "LAYOUTS", "LOOK", "PATH_COLOUR", "elements", "layout", "legend", "short", "stylesheet"]
