"""Node positions for the link graph, worked out on the server: a radial tree around the start.

The start sits in the middle; each node is on the ring of its distance (in drawn links) from it, in
the middle of an angular sector as wide as the number of leaves under it, so a report's entities
sit beside it and a hub's neighbours spread all round. Rings grow with the number of nodes on them
so nodes keep a minimum spacing; a crowded ring alternates its nodes over a few sub-rings. It is linear in the number of nodes and links (500 nodes: about a
millisecond), and the same nodes and links always give the same places, so redrawing the view
(a path highlighted, a filter undone) does not move what the analyst was looking at; nodes an
expansion or a path added are hung in their parent's sector and move nothing already drawn. Parts not
connected to the start (a path elsewhere) get their own radial tree to the right.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from typing import Any

RING_GAP = 150.0
NODE_SPACING = 24.0
RING_SHARE = 100  # nodes a ring takes before it is staggered over sub-rings (a smaller disc, bigger nodes)
MAX_SUB_RINGS = 6
COMPONENT_GAP = 200.0


def positions(view: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """``{node id: (x, y)}`` for every node of ``view``. Nodes marked ``added`` (by an expansion or a
    path) are placed within their parent's sector without moving anything else."""
    ids = [n["id"] for n in view["nodes"]]
    if not ids:
        return {}
    grown = {n["id"] for n in view["nodes"] if n.get("added")}
    links: dict[str, list[str]] = defaultdict(list)
    known = set(ids)
    for edge in view["edges"]:
        a, b = edge["source"], edge["target"]
        if a in known and b in known:
            links[a].append(b)
            links[b].append(a)
    first = view.get("start") if view.get("start") in known else next(iter(view.get("path") or []), ids[0])
    placed: dict[str, tuple[float, float]] = {}
    left = 0.0
    for root in [first] + [i for i in ids if i != first]:
        if root in placed:
            continue
        children = _tree(root, links, grown)
        local = _radial(root, children, grown)
        radius = max((math.hypot(x, y) for x, y in local.values()), default=0.0)
        shift = left + radius if placed else 0.0
        for node, (x, y) in local.items():
            placed[node] = (round(x + shift, 1), round(y, 1))
        left = shift + radius + COMPONENT_GAP
    return placed


def _tree(root: str, links: dict[str, list[str]], grown: set[str]) -> dict[str, list[str]]:
    """Breadth-first tree from ``root``: each node's children (its first discoverer is its parent).
    The nodes of the view itself first, then the added ones hung from them: adding never re-parents."""
    children: dict[str, list[str]] = {root: []}
    walked = [root]
    for allowed in (lambda n: n not in grown, lambda n: True):
        queue = deque(walked)
        while queue:
            current = queue.popleft()
            for other in links.get(current, []):
                if other not in children and allowed(other):
                    children[other] = []
                    children[current].append(other)
                    queue.append(other)
                    walked.append(other)
    return children


def _radial(root: str, children: dict[str, list[str]], grown: set[str]) -> dict[str, tuple[float, float]]:
    depth: dict[str, int] = {root: 0}
    order = [root]
    for node in order:  # breadth-first: grows while walked
        for child in children[node]:
            depth[child] = depth[node] + 1
            order.append(child)
    leaves: dict[str, int] = {}
    for node in reversed(order):  # an added node takes no room from the others: it shares its parent's
        leaves[node] = max(1, sum(leaves[c] for c in children[node] if c not in grown))
    radius, subs = _rings(order, depth, grown)
    angle = {root: 0.0}
    sector = {root: (0.0, 2 * math.pi)}
    for node in order:
        start, end = sector[node]
        span = end - start
        extra = [c for c in children[node] if c in grown]
        for i, child in enumerate(extra):
            sector[child] = (start + span * i / len(extra), start + span * (i + 1) / len(extra))
            angle[child] = start + span * (i + 0.5) / len(extra)
        for child in (c for c in children[node] if c not in grown):
            width = span * leaves[child] / leaves[node]
            sector[child] = (start, start + width)
            angle[child] = start + width / 2
            start += width
    seen: dict[tuple[int, bool], int] = defaultdict(int)
    out = {}
    for node in order:
        ring, added = depth[node], node in grown
        r = radius[ring] + (seen[ring, added] % subs[ring]) * NODE_SPACING * 1.5
        seen[ring, added] += 1
        out[node] = (r * math.cos(angle[node]), r * math.sin(angle[node]))
    return out


def _rings(order: list[str], depth: dict[str, int], grown: set[str]) -> tuple[dict[int, float], dict[int, int]]:
    """Each ring's radius and how many sub-rings its nodes alternate over (a hub's 500 neighbours on
    one ring would make a disc so wide that every node shrank to a dot when fitted). Sized by the
    view's own nodes where a ring has any, so an expansion does not move them."""
    own: dict[int, int] = defaultdict(int)
    every: dict[int, int] = defaultdict(int)
    for node in order:
        every[depth[node]] += 1
        own[depth[node]] += node not in grown
    radius, subs, outer = {0: 0.0}, {0: 1}, 0.0
    for ring in range(1, max(depth.values()) + 1):
        count = own[ring] or every[ring]
        subs[ring] = min(MAX_SUB_RINGS, max(1, math.ceil(count / RING_SHARE)))
        radius[ring] = max(outer + RING_GAP, count * NODE_SPACING / (2 * math.pi * subs[ring]))
        outer = radius[ring] + (subs[ring] - 1) * NODE_SPACING * 1.5
    return radius, subs


__all__ = ["positions"]
