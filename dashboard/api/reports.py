"""Suspicious-activity reports, their vetting, entities and links as JSON routes.

Everything reads through the domain's rules (domain.reports): a report only for those who may read it
(NotFound otherwise: its existence is not revealed), a move only by the role that may make it, a graph
node only when a report the reader may see holds it. Every read of a report, every change and every
export is audited; refusals are audited by the endpoint wrapper (and moves by the domain).
"""

from __future__ import annotations

from typing import Any

import redis
from fastapi import Request
from fastapi.responses import Response

from dashboard.api.endpoint import Api, ApiRefusal, json_response
from domain.access.accounts import Role
from domain.access.audit import audit
from domain.agencies.access import owner_fields
from domain.errors import Invalid, NotFound
from domain.reports import entities, graph, store, vetting
from domain.reports.form import FormError
from domain.reports.keys import EntityKeys
from feeds.geocode.matcher import geocode

MAX_BATCH = 100


def _region(api: Api) -> str:
    return str(api.config.phone_region)


def post_sars(api: Api, request: Request, client: redis.Redis, user: Any, data: Any) -> Response:
    """One report or a list: every one checked first; any wrong field and none is stored."""
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > MAX_BATCH:
        raise ApiRefusal(422, "invalid", f"send one report or a list of 1 to {MAX_BATCH}")
    built = []
    for i, item in enumerate(items):
        try:
            rule = item.pop("sharing", None) if isinstance(item, dict) else None
            report = store.build(item, kind="sar", by=user.name, channel="api", geocode=geocode)
            built.append({**report, **owner_fields(client, user, rule)})  # its owner: the maker's agency
        except Invalid as exc:
            raise ApiRefusal(422, "invalid", f"reports[{i}].{exc}" if isinstance(data, list) else str(exc)) from None
        except FormError as exc:
            raise ApiRefusal(422, "invalid", f"reports[{i}].{exc}" if isinstance(data, list) else str(exc)) from None
    store.save_many(client, built, region=_region(api), batch=MAX_BATCH)  # one transaction: all or none
    for report in built:
        audit("sar.add", record=report["id"], reason=f"{report['category']} {report['tlp']} via api")
    return json_response({"ids": [r["id"] for r in built]}, 201)


def list_sars(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    query = request.query_params
    state, kind = query.get("state") or None, query.get("kind") or None
    if state and state not in vetting.STATES:
        raise ApiRefusal(422, "invalid", f"state: one of {', '.join(vetting.STATES)}")
    rows = store.listing(client, user, state=state, kind=kind, limit=_int(query.get("limit"), 200, 1, 1000))
    audit("sar.list", record=f"{state or 'all'}/{kind or 'all'}", reason=f"{len(rows)} report(s)")
    return json_response({"reports": [summary(r) for r in rows]})


def summary(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report.get(k) for k in ("id", "kind", "state", "category", "time", "received_at", "tlp", "location")}


def get_queue(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    status = store.queue_status(client, float(api.config.sar_queue_target_hours))
    return json_response({**status, "line": store.queue_line(status)})


def get_sar(api: Api, request: Request, client: redis.Redis, user: Any, report_id: str) -> Response:
    report = store.read(client, report_id, user)
    audit("sar.read", record=report_id, reason=f"{report['state']} {report['tlp']}")
    report.pop("receipt", None)
    operator = user.role.grants(Role.OPERATOR)
    return json_response({
        "report": report,
        "history": store.history(client, report_id) if operator else [],
        "moves": [{"to": m.target, "name": m.name} for m in vetting.moves_from(report["state"], user)],
        "entities": entities.report_entities(client, report_id),
    })


def move_sar(api: Api, request: Request, client: redis.Redis, user: Any, report_id: str, data: Any) -> Response:
    try:
        report = vetting.move(client, report_id, data, user)
    except (NotFound, Invalid) as exc:  # already audited by the domain; answered without a second record
        return json_response({"error": "not found" if isinstance(exc, NotFound) else "invalid", "reason": str(exc)},
                             exc.status)
    except vetting.Refused as exc:
        return json_response({"error": "forbidden", "reason": str(exc)}, 403)
    return json_response({"report": summary(report)})


def list_entities(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    query = request.query_params
    kind, text = query.get("type") or "", (query.get("q") or "").casefold()
    limit = _int(query.get("limit"), 100, 1, 1000)
    walker = graph.Walker(client, user)
    rows = []
    for raw_id in client.zrevrange(EntityKeys.ENTITIES, 0, -1):
        node = walker.entity(raw_id.decode())
        if node is None or (kind and node["type"] != kind) or (text and text not in node["label"].casefold()):
            continue
        rows.append({**node, "id": raw_id.decode()})
        if len(rows) >= limit:
            break
    audit("entity.list", record=kind or "all", reason=f"{len(rows)} entity(ies)")
    return json_response({"entities": rows})


def get_entity(api: Api, request: Request, client: redis.Redis, user: Any, entity_id: str) -> Response:
    walker = graph.Walker(client, user)
    node = walker.entity(entity_id)
    if node is None:
        raise ApiRefusal(404, "not found", f"no entity {entity_id[:60]!r} that you may see")
    record = entities.load(client, entity_id) or {}
    seen = [m for m in entities.mentions(client, record.get("id", entity_id)) if walker.report(m["report"]) is not None]
    audit("entity.read", record=entity_id, reason=f"{node['type']} {len(seen)} mention(s)")
    operator = user.role.grants(Role.OPERATOR)
    return json_response({**node, "id": record.get("id", entity_id), "mentions": seen,
                          "history": record.get("history", []) if operator else [],
                          "candidates": entities.candidates(client, entity_id) if operator else [],
                          "timeline": graph.timeline(client, entity_id, user)})


def decide_entity(api: Api, request: Request, client: redis.Redis, user: Any, entity_id: str, action: str,
                  data: Any) -> Response:
    data = data if isinstance(data, dict) else {}
    if graph.Walker(client, user).entity(entity_id) is None:
        raise ApiRefusal(404, "not found", f"no entity {entity_id[:60]!r} that you may see")
    reason = str(data.get("reason") or "").strip()[:300]
    if len(reason) < vetting.MIN_REASON:
        raise ApiRefusal(422, "invalid", "reason: say why (it is kept with the entity)")
    if action == "confirm":
        done = entities.confirm(client, entity_id, by=user.name, reason=reason)
    elif action == "merge":
        other = str(data.get("other") or "")
        if graph.Walker(client, user).entity(other) is None:
            raise ApiRefusal(404, "not found", f"other: no entity {other[:60]!r} that you may see")
        done = entities.merge(client, entity_id, other, by=user.name, reason=reason)
    else:
        wanted = data.get("mentions")
        if not isinstance(wanted, list) or not all(isinstance(m, str) for m in wanted):
            raise ApiRefusal(422, "invalid", "mentions: a list of mention ids to take out")
        done = entities.split(client, entity_id, wanted, by=user.name, reason=reason)
    audit(f"entity.{action}", record=entity_id, reason=f"{reason} -> {done['id']}")
    return json_response({"entity": {k: done[k] for k in ("id", "type", "label", "confirmed")}})


def confirm_entity(api: Api, request: Request, client: redis.Redis, user: Any, entity_id: str, data: Any) -> Response:
    return decide_entity(api, request, client, user, entity_id, "confirm", data)


def merge_entity(api: Api, request: Request, client: redis.Redis, user: Any, entity_id: str, data: Any) -> Response:
    return decide_entity(api, request, client, user, entity_id, "merge", data)


def split_entity(api: Api, request: Request, client: redis.Redis, user: Any, entity_id: str, data: Any) -> Response:
    return decide_entity(api, request, client, user, entity_id, "split", data)


def _view(api: Api, request: Request, client: redis.Redis, user: Any) -> dict[str, Any]:
    query = request.query_params
    start = graph.node_id_for(client, query.get("node") or "", _region(api))
    types = {t for t in (query.get("types") or "").split(",") if t}
    view = graph.neighbourhood(client, start or "", user, depth=_int(query.get("depth"), 2, 1, 4),
                               limit=_int(query.get("limit"), 500, 1, graph.MAX_LIMIT), types=types or None,
                               since=query.get("since") or "", until=query.get("until") or "")
    if not view["found"]:
        raise ApiRefusal(404, "not found", f"node: nothing you may see is {str(query.get('node'))[:60]!r}")
    return view


def get_links(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    view = _view(api, request, client, user)
    audit("links.read", record=view["start"], reason=f"{len(view['nodes'])} node(s)"
          + (" (truncated)" if view["truncated"] else ""))
    return json_response(view)


def get_links_graphml(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    view = _view(api, request, client, user)
    audit("links.export", record=view["start"], reason=f"GraphML {len(view['nodes'])} node(s)")
    return Response(graph.graphml(view), media_type="application/graphml+xml",
                    headers={"Content-Disposition": 'attachment; filename="watchfloor-links.graphml"'})


def get_links_csv(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    view = _view(api, request, client, user)
    part = request.query_params.get("part") or "edges"
    if part not in ("edges", "nodes"):
        raise ApiRefusal(422, "invalid", "part: edges or nodes")
    audit("links.export", record=view["start"], reason=f"CSV {part} {len(view['nodes'])} node(s)")
    body = graph.edges_csv(view) if part == "edges" else graph.nodes_csv(view)
    return Response(body, media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="watchfloor-links-{part}.csv"'})


def get_path(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    query = request.query_params
    a = graph.node_id_for(client, query.get("a") or "", _region(api)) or ""
    b = graph.node_id_for(client, query.get("b") or "", _region(api)) or ""
    found = graph.path(client, a, b, user) if a and b else None
    audit("links.path", record=f"{a} {b}"[:200], reason="found" if found else "no path")
    if found is None:
        return json_response({"error": "not found", "reason": "no path"}, 404)
    return json_response({"path": found})


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(raw) if raw not in (None, "") else default
    except ValueError:
        raise ApiRefusal(422, "invalid", f"{raw[:20]!r} is not a whole number") from None
    return max(low, min(high, value))
