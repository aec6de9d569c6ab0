"""The operator actions as JSON routes on the FastAPI server: annotations, push alerts, outbound
copies (CAP, Atom), alert rules. ``create_app`` calls :func:`register_operator_api` once;
:data:`ROUTES` is the one table of every route, the view that serves it, its role and audit action.
The views are one module per resource: annotations (and split/merge), alerts, rules, audit.

Every route is behind the access middleware (a session is required); here each checks the role,
the TLP marking (domain.access.tlp) and the record, and writes the audit record: reads of annotated
incidents, every write, push and export, and every refusal (401/403/404/409/422 with the reason).

    GET    /api/incidents/{id}/annotation            viewer+ (and screens): the annotation, or null
    PUT    /api/incidents/{id}/annotation            operator+: save fields, with the version it is based on
    GET    /api/incidents/{id}/annotation/history    viewer+: every change (who, when, what)
    POST   /api/incidents/{id}/annotation/validate   supervisor+: criminal intelligence still valid; new review date
    POST   /api/incidents/{id}/annotation/export     operator+: a copy for a recipient outside (logged with reason)
    POST   /api/incidents/{id}/split  {"event": report id}    operator+: take a report out of the incident, for good
    POST   /api/incidents/{id}/merge  {"other": incident id}  operator+: make two incidents one, for good
    POST   /api/alerts                               operator+: push an alert (copies queued, never sent inline)
    GET    /api/alerts[?all=1]                       everyone signed in: alerts they may see
    GET    /api/alerts.atom                          everyone signed in, partners too: Atom feed by their TLP
    GET    /api/alerts/{id}                          the alert (acknowledgements for supervisors)
    GET    /api/alerts/{id}.cap                      the CAP 1.2 document of its latest message
    PUT    /api/alerts/{id}                          its sender or a supervisor: update (CAP Update), with the version
    DELETE /api/alerts/{id}[?version=N]              its sender or a supervisor: withdraw (CAP Cancel)
    POST   /api/alerts/{id}/ack {screen, version}    everyone signed in (people and screens); {"for": wall
                                                     screen} operator+: on behalf of a wall that received it
    POST   /api/alerts/{id}/receipt {screen, version}  everyone signed in: this screen received it
    GET    /api/alerts/{id}/disseminations           supervisor+: every outbound copy and its outcome
    GET    /api/rules, POST /api/rules, DELETE /api/rules/{id}    operator+ reads, supervisor+ writes
    POST   /api/sars                                 operator+: one suspicious-activity report or a list (all or none)
    GET    /api/sars[?state=&kind=&limit=]           viewer+: the reports they may read (viewers: shared, not tips)
    GET    /api/sars/queue                           everyone signed in: how many wait for vetting, the oldest's age
    GET    /api/sars/{id}                            viewer+: one report, its history and the moves they may make
    POST   /api/sars/{id}/move {"to","reason",...}   operator+ screens, supervisor+ shares/keeps (domain.reports.vetting)
    GET    /api/entities[?type=&q=], /api/entities/{id}      viewer+: entities from reports they may read
    POST   /api/entities/{id}/confirm|merge|split    operator+: the analyst's resolution decisions, with a reason
    GET    /api/links?node=&depth=&limit=&types=&since=&until=   viewer+: a bounded neighbourhood (says when cut)
    GET    /api/links.graphml|.csv?node=...[&part=edges|nodes]  viewer+: the same view exported
    GET    /api/links/path?a=&b=                     viewer+: the shortest path, or 404 "no path"
    GET    /api/export?format=geojson|csv|kml|cot[&workspace=&since=&to=]  viewer+: the picture they may see, logged
    POST   /api/brief {format, workspace, since, until, summary, to}       viewer+: a briefing (PDF/HTML) at their TLP
    POST   /api/shares {kind, target, hours, tlp, to}  operator+: a read-only link (/share/<token>), shown once
    GET    /api/shares, DELETE /api/shares/{id}      operator+: live links; withdraw one (its creator or a supervisor)
    GET    /api/rules/queue                          operator+: alerts raised by rules for review
    GET    /api/audit[.jsonl]?since=&until=&user=&action=&outcome=&limit=
                                                     supervisor+: the audit trail, newest first (JSON Lines export)

Partner agencies push with their own token, not a session (dashboard/ingest.py, registered here too):

    POST   /api/ingest?source=&map=&tlp=&interval=   Bearer agency token: GeoJSON, CAP 1.2 or CSV reports
    GET    /agency                                   operator+: what each agency pushed and what was refused

Partner accounts (``watchfloor partner add``: a display-type account with a maximum TLP) may only
read ``/api/alerts.atom`` and the CAP documents it links to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from fastapi import FastAPI

from dashboard.api import alerts, annotations, audit, incidents, products, reports, rules
from dashboard.api.endpoint import Api, Work
from dashboard.ingest import register_partner_intake
from domain.access.accounts import Role
from domain.config.loader import Config


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    action: str  # the audit record's action
    record: Callable[..., str]  # the audit record's record, from the path parameters
    role: Role | None  # the lowest role that may call it (None: everyone signed in)
    work: Work
    body: bool = False  # reads a JSON body
    partners: bool = False  # partner accounts may call it


def _incident(incident_id: str = "", **_: Any) -> str:
    return incident_id


def _alert(alert_id: str = "", **_: Any) -> str:
    return alert_id


def _rule(rule_id: str = "", **_: Any) -> str:
    return rule_id


def _report(report_id: str = "", **_: Any) -> str:
    return report_id


def _entity(entity_id: str = "", **_: Any) -> str:
    return entity_id


def _fixed(name: str) -> Callable[..., str]:
    return lambda **_: name


INCIDENT = "/api/incidents/{incident_id:path}"
NOTE = INCIDENT + "/annotation"
OPERATOR, SUPERVISOR, VIEWER = Role.OPERATOR, Role.SUPERVISOR, Role.VIEWER

# Every operator API route, in matching order (a specific path before the one it would also match).
ROUTES: tuple[Route, ...] = (
    Route("POST", INCIDENT + "/split", "incident.split", _incident, OPERATOR, annotations.split_report, body=True),
    Route("POST", INCIDENT + "/merge", "incident.merge", _incident, OPERATOR, annotations.merge_incident, body=True),
    Route("GET", NOTE + "/history", "annotation.history", _incident, None, annotations.get_history),
    Route("POST", NOTE + "/validate", "intel.validate", _incident, SUPERVISOR, annotations.validate_annotation,
          body=True),
    Route("POST", NOTE + "/export", "annotation.export", _incident, OPERATOR, annotations.export_annotation,
          body=True),
    Route("GET", NOTE, "annotation.read", _incident, None, annotations.get_annotation),
    Route("PUT", NOTE, "annotation.save", _incident, OPERATOR, annotations.put_annotation, body=True),
    Route("GET", "/api/alerts.atom", "alerts.atom", _fixed("atom"), None, alerts.get_atom, partners=True),
    Route("GET", "/api/alerts/{alert_id}.cap", "alert.export", _alert, None, alerts.get_cap, partners=True),
    Route("POST", "/api/alerts", "alert.push", _fixed("new"), OPERATOR, alerts.post_alert, body=True),
    Route("GET", "/api/alerts", "alert.list", _fixed("alerts"), None, alerts.list_alerts),
    Route("POST", "/api/alerts/{alert_id}/ack", "alert.ack", _alert, None, alerts.ack_alert, body=True),
    Route("POST", "/api/alerts/{alert_id}/receipt", "alert.receipt", _alert, None, alerts.receipt_alert, body=True),
    Route("GET", "/api/alerts/{alert_id}/disseminations", "alert.disseminations", _alert, SUPERVISOR,
          alerts.get_disseminations),
    Route("GET", "/api/alerts/{alert_id}", "alert.read", _alert, None, alerts.get_alert),
    Route("PUT", "/api/alerts/{alert_id}", "alert.update", _alert, OPERATOR, alerts.put_alert, body=True),
    Route("DELETE", "/api/alerts/{alert_id}", "alert.cancel", _alert, OPERATOR, alerts.delete_alert),
    Route("GET", "/api/rules/queue", "rule.queue", _fixed("queue"), OPERATOR, rules.get_queue),
    Route("GET", "/api/rules", "rule.list", _fixed("rules"), OPERATOR, rules.get_rules),
    Route("POST", "/api/rules", "rule.add", _fixed("new"), SUPERVISOR, rules.post_rule, body=True),
    Route("DELETE", "/api/rules/{rule_id}", "rule.remove", _rule, SUPERVISOR, rules.delete_rule),
    Route("POST", "/api/sars", "sar.add", _fixed("new"), OPERATOR, reports.post_sars, body=True),
    Route("GET", "/api/sars", "sar.list", _fixed("reports"), VIEWER, reports.list_sars),
    Route("GET", "/api/sars/queue", "sar.queue", _fixed("queue"), None, reports.get_queue),
    Route("POST", "/api/sars/{report_id}/move", "sar.move", _report, VIEWER, reports.move_sar, body=True),
    Route("GET", "/api/sars/{report_id}", "sar.read", _report, VIEWER, reports.get_sar),
    Route("GET", "/api/entities", "entity.list", _fixed("entities"), VIEWER, reports.list_entities),
    Route("POST", "/api/entities/{entity_id}/confirm", "entity.confirm", _entity, OPERATOR, reports.confirm_entity,
          body=True),
    Route("POST", "/api/entities/{entity_id}/merge", "entity.merge", _entity, OPERATOR, reports.merge_entity,
          body=True),
    Route("POST", "/api/entities/{entity_id}/split", "entity.split", _entity, OPERATOR, reports.split_entity,
          body=True),
    Route("GET", "/api/entities/{entity_id}", "entity.read", _entity, VIEWER, reports.get_entity),
    Route("GET", "/api/links.graphml", "links.export", _fixed("graphml"), VIEWER, reports.get_links_graphml),
    Route("GET", "/api/links.csv", "links.export", _fixed("csv"), VIEWER, reports.get_links_csv),
    Route("GET", "/api/links/path", "links.path", _fixed("path"), VIEWER, reports.get_path),
    Route("GET", "/api/links", "links.read", _fixed("links"), VIEWER, reports.get_links),
    Route("GET", "/api/export", "product.export", _fixed("export"), VIEWER, products.get_export),
    Route("POST", "/api/shares", "share.create", _fixed("new"), OPERATOR, products.post_share, body=True),
    Route("GET", "/api/shares", "share.list", _fixed("shares"), OPERATOR, products.list_shares),
    Route("DELETE", "/api/shares/{share_id}", "share.revoke", lambda share_id="", **_: share_id, OPERATOR,
          products.delete_share),
    Route("POST", "/api/brief", "product.brief", _fixed("brief"), VIEWER, products.post_brief, body=True),
    Route("GET", "/api/incidents", "incident.list", _fixed("incidents"), None, incidents.list_incidents),
    Route("GET", INCIDENT, "incident.read", _incident, None, incidents.get_incident),  # after the NOTE routes
    Route("GET", "/api/audit.jsonl", "audit.export", _fixed("audit"), SUPERVISOR, audit.export_audit),
    Route("GET", "/api/audit", "audit.read", _fixed("audit"), SUPERVISOR, audit.get_audit),
)


def register_operator_api(server: FastAPI, config: Config, get_client: Callable[[], redis.Redis | None]) -> None:
    """Add :data:`ROUTES` to ``server`` (after install_security, so they sit behind it).

    Idempotent: a second call on the same server adds nothing."""
    if getattr(server.state, "watchfloor_operator_api", False):
        return
    server.state.watchfloor_operator_api = True
    api = Api.from_config(config, get_client)
    for route in ROUTES:
        server.add_api_route(route.path, api.endpoint(route.action, route.record, route.role, route.work,
                                                      body=route.body, partners=route.partners),
                             methods=[route.method])
    register_partner_intake(server, config, get_client)  # POST /api/ingest (its own Bearer token) and /agency
