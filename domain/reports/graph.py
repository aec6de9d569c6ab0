"""Links between entities, reports and incidents, computed on the server and bounded when drawn.

Nodes are ``R:<report>``, ``E:<entity>`` and ``I:<incident>``; edges join a report to each entity it
mentions and to each incident it names. Every walk reads through :func:`domain.reports.store.can_see`
and the incident's TLP marking, so a person never sees a node only known from a report above their
level: an entity is reached only through a report they may read, and its label comes from those
reports alone.

:func:`neighbourhood` draws a bounded neighbourhood (``limit`` nodes, nearest first) and says when it
was cut (``truncated``, with how many more were reachable at the last depth); :func:`path` finds the
shortest path between two nodes with a bidirectional breadth-first search; exports are GraphML
(networkx) and CSV.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import orjson
import redis

from domain.access.accounts import Role
from domain.access.tlp import visible
from domain.agencies.access import may_see
from domain.picture.keys import IncidentKeys
from domain.reports import annotated, entities
from domain.reports.keys import ReportKeys
from domain.reports.store import can_see, role_of
from domain.reports.store import load as load_report

MAX_LIMIT = 2000
MAX_PATH_VISITS = 50_000
REPORT_TYPES = ("report", "tip")


@dataclass
class Walker:
    """Reads nodes and their visible neighbours for one user, remembering what it read."""

    client: redis.Redis
    user: Any
    since: str = ""
    until: str = ""
    nodes: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def report(self, report_id: str) -> dict[str, Any] | None:
        node_id = f"R:{report_id}"
        if node_id not in self.nodes:
            report = load_report(self.client, report_id)
            ok = report is not None and can_see(report, self.user, self.client)
            when = (report or {}).get("time", "")
            if ok and ((self.since and when < self.since) or (self.until and when > self.until)):
                ok = False
            self.nodes[node_id] = _report_node(report) if ok else None
        return self.nodes[node_id]

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        node_id = f"I:{incident_id}"
        if node_id not in self.nodes:
            raw = self.client.hget(IncidentKeys.INCIDENTS, incident_id)
            record = orjson.loads(raw) if raw is not None else {"id": incident_id, "title": incident_id}
            ok = may_see(record, self.user, self.client) if self.user is not None else True
            self.nodes[node_id] = {"id": node_id, "type": "incident", "label": str(record.get("title") or
                                   incident_id)[:120], "time": record.get("time", ""), "lat": record.get("lat"),
                                   "lon": record.get("lon")} if ok else None
        return self.nodes[node_id]

    def entity(self, entity_id: str) -> dict[str, Any] | None:
        node_id = f"E:{entity_id}"
        if node_id not in self.nodes:
            record = entities.load(self.client, entity_id)
            rows = entities.mentions(self.client, entity_id) if record is not None else []
            seen = [r for r in rows if (self.report(r["report"]) is not None if r.get("report")
                                        else self.annotation_ok(r))]
            if record is None or not seen:
                self.nodes[node_id] = None
            else:
                labels = [r["raw"] for r in seen]
                label = record["label"] if record["type"] in ("vehicle", "phone", "email") else \
                    max(set(labels), key=labels.count)
                self.nodes[node_id] = {"id": node_id, "type": record["type"], "label": label[:120],
                                       "reports": sorted({r["report"] for r in seen if r.get("report")}),
                                       "confirmed": record.get("confirmed", False)}
        return self.nodes[node_id]

    def annotation_ok(self, row: dict[str, Any]) -> bool:
        """A mention from an annotation, under the annotation's rule: its marking, and criminal
        intelligence for operators and above (domain.operations.annotations.check_readable)."""
        if self.user is None:
            return True
        role = role_of(self.user)
        if role is Role.DISPLAY or (row.get("intel") and not role.grants(Role.OPERATOR)):
            return False
        return visible(row.get("tlp"), self.user, self.client) and self.incident(row["incident"]) is not None

    def node(self, node_id: str) -> dict[str, Any] | None:
        kind, _, ident = node_id.partition(":")
        return {"R": self.report, "E": self.entity, "I": self.incident}.get(kind, lambda _i: None)(ident)

    def neighbours(self, node_id: str) -> list[str]:
        kind, _, ident = node_id.partition(":")
        out: list[str] = []
        if kind == "R":
            report = load_report(self.client, ident) or {}
            out += [f"E:{e}" for e in entities.report_entities(self.client, ident)]
            out += [f"I:{i}" for i in report.get("incidents") or []]
        elif kind == "E":
            entity_id = entities.resolve_alias(self.client, ident)
            out += [f"R:{r}" for r in entities.linked_reports(self.client, entity_id)]
            out += sorted({f"I:{r['incident']}" for r in entities.linked_annotations(self.client, entity_id)
                           if self.annotation_ok(r)})
        elif kind == "I":
            out += [f"R:{r.decode()}" for r in sorted(self.client.smembers(ReportKeys.incident_reports(ident)))]
            out += [f"E:{e}" for e in entities.report_entities(self.client, annotated.source(ident))]
        return [n for n in out if self.node(n) is not None]


def _report_node(report: dict[str, Any] | None) -> dict[str, Any] | None:
    if report is None:
        return None
    location = report.get("location") or {}
    return {"id": f"R:{report['id']}", "type": "tip" if report["kind"] == "tip" else "report",
            "label": f"{report['id']} {report.get('category') or 'tip'}", "time": report.get("time", ""),
            "state": report["state"], "tlp": report["tlp"], "lat": location.get("lat"), "lon": location.get("lon")}


def node_id_for(client: redis.Redis, text: str, region: str = "US") -> str | None:
    """A node id from ``R:..``/``E:..``/``I:..``, a report id, an entity id or ``type:value``."""
    text = (text or "").strip()
    if text[:2] in ("R:", "E:", "I:"):
        return text
    if client.exists(ReportKeys.report(text)):
        return f"R:{text}"
    found = entities.find(client, text, region)
    return f"E:{found}" if found else None


def neighbourhood(client: redis.Redis, start: str, user: Any, *, depth: int = 2, limit: int = 500,
                  types: set[str] | None = None, since: str = "", until: str = "") -> dict[str, Any]:
    """The nodes within ``depth`` links of ``start`` that ``user`` may see, at most ``limit`` of them."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    walker = Walker(client, user, since, until)
    if walker.node(start) is None:
        return {"nodes": [], "edges": [], "truncated": False, "found": False}
    order, dist, edges = [start], {start: 0}, set()
    frontier, truncated, left_out = deque([start]), False, 0
    while frontier:
        current = frontier.popleft()
        if dist[current] >= depth:
            continue
        for other in walker.neighbours(current):
            if types and other != start and walker.node(other)["type"] not in types:
                continue
            if other not in dist:
                if len(order) >= limit:
                    truncated, left_out = True, left_out + 1
                    continue
                dist[other] = dist[current] + 1
                order.append(other)
                frontier.append(other)
            edges.add(tuple(sorted((current, other))))
    kept = set(order)
    nodes = [{**walker.node(n), "depth": dist[n]} for n in order]
    graph = nx.Graph()
    graph.add_nodes_from(kept)
    graph.add_edges_from(e for e in edges if e[0] in kept and e[1] in kept)
    for node in nodes:
        node["degree"] = graph.degree(node["id"])
    return {"nodes": nodes, "edges": [{"source": a, "target": b} for a, b in sorted(graph.edges())],
            "truncated": truncated, "left_out": left_out, "found": True, "start": start, "depth": depth}


def path(client: redis.Redis, a: str, b: str, user: Any, *, max_depth: int = 8) -> list[dict[str, Any]] | None:
    """The shortest path of visible nodes from ``a`` to ``b``, or None (bidirectional BFS, bounded)."""
    walker = Walker(client, user)
    if walker.node(a) is None or walker.node(b) is None:
        return None
    if a == b:
        return [walker.node(a)]
    parents = ({a: None}, {b: None})
    frontiers = ([a], [b])
    visits = 0
    for _ in range(max_depth):
        side = 0 if len(frontiers[0]) <= len(frontiers[1]) else 1
        nxt = []
        for current in frontiers[side]:
            for other in walker.neighbours(current):
                visits += 1
                if other in parents[side]:
                    continue
                parents[side][other] = current
                if other in parents[1 - side]:
                    return [walker.node(n) for n in _join(parents, other)]
                nxt.append(other)
            if visits > MAX_PATH_VISITS:
                return None
        frontiers = (nxt, frontiers[1]) if side == 0 else (frontiers[0], nxt)
        if not nxt:
            return None
    return None


def _join(parents: tuple[dict[str, str | None], dict[str, str | None]], meet: str) -> list[str]:
    left, node = [], meet
    while node is not None:
        left.append(node)
        node = parents[0][node]
    right, node = [], parents[1][meet]
    while node is not None:
        right.append(node)
        node = parents[1][node]
    return list(reversed(left)) + right


def timeline(client: redis.Redis, entity_id: str, user: Any) -> list[dict[str, Any]]:
    """The reports ``user`` may read that mention an entity, oldest first, with their places."""
    walker = Walker(client, user)
    rows = [walker.report(r) for r in entities.linked_reports(client, entities.resolve_alias(client, entity_id))]
    return sorted((r for r in rows if r is not None), key=lambda r: r["time"])


def to_networkx(view: dict[str, Any]) -> nx.Graph:
    graph = nx.Graph()
    for node in view["nodes"]:
        graph.add_node(node["id"], **{k: ("" if v is None else (",".join(v) if isinstance(v, list) else v))
                                      for k, v in node.items() if k != "id"})
    graph.add_edges_from((e["source"], e["target"]) for e in view["edges"])
    return graph


def graphml(view: dict[str, Any]) -> str:
    return "\n".join(nx.generate_graphml(to_networkx(view)))


def edges_csv(view: dict[str, Any]) -> str:
    labels = {n["id"]: n for n in view["nodes"]}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["source", "source_type", "source_label", "target", "target_type", "target_label"])
    for edge in view["edges"]:
        a, b = labels[edge["source"]], labels[edge["target"]]
        writer.writerow([a["id"], a["type"], _safe(a["label"]), b["id"], b["type"], _safe(b["label"])])
    return out.getvalue()


def nodes_csv(view: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "type", "label", "time", "depth", "degree"])
    for n in view["nodes"]:
        writer.writerow([n["id"], n["type"], _safe(n["label"]), n.get("time", ""), n.get("depth", ""), n["degree"]])
    return out.getvalue()


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


__all__ = ["Walker", "edges_csv", "graphml", "neighbourhood", "node_id_for", "nodes_csv", "path",
           "timeline"]
