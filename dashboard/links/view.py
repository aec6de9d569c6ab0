"""What the link-analysis page draws, assembled on the server for the signed-in reader.

The browser keeps only a small state: the node the view starts from, the nodes the analyst expanded
(in order) and the two ends of a shortest path. Every draw and every export rebuilds the view from
that state through :mod:`domain.reports.graph` with the reader as ``user``, so the page can never
show, or export, a node the reader may not see, whatever the browser sends back; and an export is
exactly what is drawn.

    start        graph.neighbourhood(start, depth, types, since, until), at most LIMIT nodes
    expanded     each: its neighbours one step out, merged while there is room; the rest counted
    path         graph.path(a, b): its nodes and links added (even past LIMIT: at most a few)

Nodes not in the start's neighbourhood carry ``added`` ("expand" or "path"): they are placed
without moving the others (dashboard.links.radial) and say so in an export.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from domain.access.tlp import TLP, highest, incident_marking
from domain.picture.keys import IncidentKeys
from domain.reports import graph

LIMIT = 500
DEPTHS = (1, 2, 3)
MAX_EXPANSIONS = 40
NODE_TYPES = ("person", "vehicle", "phone", "email", "organisation", "address", "report", "tip", "incident")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NODE = re.compile(r"^[REI]:[^\s]{1,120}$")


@dataclass
class Query:
    """What the page asks for, checked: anything the browser sent that is not a known shape is dropped."""

    start: str | None = None
    depth: int = 2
    types: set[str] | None = None
    since: str = ""
    until: str = ""
    expanded: list[str] = field(default_factory=list)
    path: tuple[str, str] | None = None

    @classmethod
    def parse(cls, state: Any, depth: Any = 2, types: Any = None, since: Any = "", until: Any = "") -> Query:
        state = state if isinstance(state, dict) else {}
        start = state.get("start")
        expanded = [n for n in (state.get("expanded") or []) if isinstance(n, str) and _NODE.match(n)]
        ends = state.get("path")
        path = (ends[0], ends[1]) if isinstance(ends, list) and len(ends) == 2 and all(
            isinstance(e, str) and _NODE.match(e) for e in ends) else None
        chosen = {t for t in (types if isinstance(types, list) else NODE_TYPES) if t in NODE_TYPES}
        return cls(start=start if isinstance(start, str) and _NODE.match(start) else None,
                   depth=depth if depth in DEPTHS else 2,
                   types=None if chosen == set(NODE_TYPES) else chosen,
                   since=f"{since}T00:00:00Z" if isinstance(since, str) and _DATE.match(since) else "",
                   until=f"{until}T23:59:59Z" if isinstance(until, str) and _DATE.match(until) else "",
                   expanded=list(dict.fromkeys(expanded))[:MAX_EXPANSIONS], path=path)


def build_view(client: redis.Redis, user: Any, query: Query, limit: int = LIMIT) -> dict[str, Any]:
    """The nodes and links to draw (``graph.neighbourhood``'s shape) plus ``path``: the path's node
    ids, [] when asked and there is none, None when not asked; ``left_out`` counts nodes not drawn."""
    view: dict[str, Any] = {"nodes": [], "edges": [], "truncated": False, "left_out": 0, "found": False,
                            "start": query.start, "depth": query.depth, "path": None}
    edges: set[tuple[str, str]] = set()
    if query.start:
        base = graph.neighbourhood(client, query.start, user, depth=query.depth, limit=limit, types=query.types,
                                   since=query.since, until=query.until)
        if base["found"]:
            view.update(found=True, truncated=base["truncated"], left_out=base.get("left_out", 0))
            view["nodes"] = [dict(n) for n in base["nodes"]]
            edges |= {_pair(e["source"], e["target"]) for e in base["edges"]}
    for node_id in query.expanded:
        _expand(client, user, query, view, edges, node_id, limit)
    if query.path is not None:
        _add_path(client, user, query.path, view, edges)
    drawn = {n["id"] for n in view["nodes"]}
    view["edges"] = [{"source": a, "target": b} for a, b in sorted(edges) if a in drawn and b in drawn]
    degree: dict[str, int] = {}
    for edge in view["edges"]:
        for end in (edge["source"], edge["target"]):
            degree[end] = degree.get(end, 0) + 1
    for node in view["nodes"]:
        node["degree"] = degree.get(node["id"], 0)
    return view


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _expand(client: redis.Redis, user: Any, query: Query, view: dict[str, Any], edges: set[tuple[str, str]],
            node_id: str, limit: int) -> None:
    """Merge ``node_id``'s neighbours one step out while there is room; count the rest as left out."""
    have = {n["id"]: n for n in view["nodes"]}
    parent = have.get(node_id)
    if parent is None:  # not drawn any more (a filter changed): nothing to expand from
        return
    around = graph.neighbourhood(client, node_id, user, depth=1, limit=graph.MAX_LIMIT, types=query.types,
                                 since=query.since, until=query.until)
    for node in around["nodes"]:
        if node["id"] in have:
            continue
        if len(view["nodes"]) >= limit:
            view["truncated"] = True
            view["left_out"] += 1
            continue
        have[node["id"]] = {**node, "depth": (parent.get("depth") or 0) + 1, "added": "expand"}
        view["nodes"].append(have[node["id"]])
    if around.get("truncated"):
        view["truncated"] = True
        view["left_out"] += around.get("left_out", 0)
    edges |= {_pair(e["source"], e["target"]) for e in around["edges"]}


def _add_path(client: redis.Redis, user: Any, ends: tuple[str, str], view: dict[str, Any],
              edges: set[tuple[str, str]]) -> None:
    found = graph.path(client, ends[0], ends[1], user)
    if not found:
        view["path"] = []
        return
    have = {n["id"] for n in view["nodes"]}
    for node in found:
        if node["id"] not in have:
            view["nodes"].append({**node, "depth": None, "added": "path"})
            have.add(node["id"])
    ids = [n["id"] for n in found]
    edges |= {_pair(a, b) for a, b in zip(ids, ids[1:], strict=False)}
    view["path"] = ids


def marking(client: redis.Redis, view: dict[str, Any]) -> TLP:
    """The view's marking: the most restrictive of its reports' and incidents' (TLP:CLEAR for none)."""
    labels: list[str | TLP | None] = [n.get("tlp") for n in view["nodes"] if n["type"] in ("report", "tip")]
    incidents = [n["id"][2:] for n in view["nodes"] if n["type"] == "incident"]
    if incidents:
        for raw in client.hmget(IncidentKeys.INCIDENTS, incidents):
            labels.append(incident_marking(orjson.loads(raw)) if raw is not None else None)
    return highest(*labels)


def truncation_line(view: dict[str, Any]) -> str:
    """"Showing 500 of 613+ nodes: narrow by type or date" when the view was cut, else ""."""
    if not view["truncated"]:
        return ""
    shown = len(view["nodes"])
    return f"Showing {shown} of {shown + max(1, view['left_out'])}+ nodes: narrow by type or date"


__all__ = ["DEPTHS", "LIMIT", "MAX_EXPANSIONS", "NODE_TYPES", "Query", "build_view", "marking", "truncation_line"]
