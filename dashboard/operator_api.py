"""The operator actions as JSON routes on the FastAPI server: annotations, push alerts, outbound
copies (CAP, Atom), alert rules. ``create_app`` calls :func:`register_operator_api` once.

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
    PUT    /api/alerts/{id}                          operator+: update (CAP Update), with the version
    DELETE /api/alerts/{id}[?version=N]              operator+: withdraw (CAP Cancel)
    POST   /api/alerts/{id}/ack                      everyone signed in (people and screens)
    GET    /api/alerts/{id}/disseminations           supervisor+: every outbound copy and its outcome
    GET    /api/rules, POST /api/rules, DELETE /api/rules/{id}    operator+ reads, supervisor+ writes
    GET    /api/rules/queue                          operator+: alerts raised by rules for review
    GET    /api/audit[.jsonl]?since=&until=&user=&action=&outcome=&limit=
                                                     supervisor+: the audit trail, newest first (JSON Lines export)

Partner accounts (``watchfloor partner add``: a display-type account with a maximum TLP) may only
read ``/api/alerts.atom`` and the CAP documents it links to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
import redis
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dashboard.security import current_user
from domain.access.accounts import Role
from domain.access.audit import AuditQuery, audit
from domain.access.audit import search as audit_search
from domain.access.tlp import incident_marking, max_marking, visible
from domain.config.loader import Config, ConfigError
from domain.errors import AboveMarking, Conflict, RecordError
from domain.operations import alerts, annotations, criminal_intel, outbound, rules
from domain.store.streams import Keys
from workers.fusion import FusionError, merge_incidents, split_incident

MAX_JSON = 64 * 1024
SPLIT_MERGE_WAIT = 20.0  # seconds a split or merge waits for the fuser to apply it (it answers 422 after)
_SENDER = re.compile(r"^[^\s,<&]{1,200}$")


class ApiRefusal(Exception):
    def __init__(self, status: int, error: str, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status, self.error, self.reason, self.extra = status, error, reason, extra


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def is_partner(client: redis.Redis, user: Any) -> bool:
    """A partner account: reads only the Atom feed and the CAP documents it links to."""
    return bool(user is not None and user.role is Role.DISPLAY and client.hget(Keys.user(user.name), "partner") == b"1")


def register_operator_api(server: FastAPI, config: Config, get_client: Callable[[], redis.Redis | None]) -> None:
    """Add the operator routes to ``server`` (after install_security, so they sit behind it).

    Idempotent: a second call on the same server adds nothing."""
    if getattr(server.state, "watchfloor_operator_api", False):
        return
    server.state.watchfloor_operator_api = True
    sender = str(config.cap_sender)
    if not _SENDER.match(sender):
        raise ConfigError(f"cap_sender: {sender[:60]!r} must have no spaces, commas, '<' or '&' (e.g. watchfloor@agency.gov)")
    default_minutes = int(config.alert_default_minutes)
    default_cooldown = int(config.rule_cooldown_minutes)

    def handle(action: str, record: Callable[..., str], role: Role | None, work: Callable[..., Response], *,
               body: bool = False, partners: bool = False) -> Callable[..., Any]:
        """Wrap one route: body read (bounded), session user, role and partner checks, refusals audited."""

        async def endpoint(request: Request) -> Response:
            params = dict(request.path_params)
            rec = record(**params)[:256]
            data: Any = None
            if body:
                raw = await request.body()
                if len(raw) > MAX_JSON:
                    return _refuse(action, rec, ApiRefusal(413, "too large", f"body over {MAX_JSON} bytes"))
                try:
                    data = orjson.loads(raw or b"{}")
                except orjson.JSONDecodeError:
                    return _refuse(action, rec, ApiRefusal(400, "bad request", "the body is not JSON"))
            return await run_in_threadpool(_run, request, action, rec, role, work, params, data, partners)

        return endpoint

    def _run(request: Request, action: str, rec: str, role: Role | None, work: Callable[..., Response],
             params: dict[str, Any], data: Any, partners: bool) -> Response:
        user = current_user(request)
        if user is None:
            return _refuse(action, rec, ApiRefusal(401, "unauthenticated", "no session"))
        client = get_client()
        if client is None:
            return _json({"error": "unavailable", "reason": "Redis unreachable"}, 503)
        try:
            if not partners and is_partner(client, user):
                raise ApiRefusal(403, "forbidden", "partner accounts read only the Atom feed")
            if role is not None and not user.role.grants(role):
                raise ApiRefusal(403, "forbidden", f"needs role {role.value}; has {user.role.value}")
            kwargs = dict(params)
            if data is not None:
                kwargs["data"] = data
            return work(request, client, user, **kwargs)
        except ApiRefusal as exc:
            return _refuse(action, rec, exc)
        except RecordError as exc:
            extra: dict[str, Any] = {}
            if isinstance(exc, Conflict):
                extra = {"changed_by": exc.by, "changed_at": exc.at}
            return _refuse(action, rec, ApiRefusal(exc.status, _word(exc.status), str(exc), **extra))
        except (rules.RuleError, criminal_intel.IntelError) as exc:
            return _refuse(action, rec, ApiRefusal(422, "invalid", str(exc)))
        except (redis.RedisError, OSError):
            return _json({"error": "unavailable", "reason": "Redis unreachable"}, 503)

    # -- annotations ---------------------------------------------------------------------------------
    def get_annotation(request: Request, client: redis.Redis, user: Any, incident_id: str) -> Response:
        _incident, note = annotations.read(client, incident_id, user)
        if note is not None:
            audit("annotation.read", record=incident_id, reason=f"v{note['version']} {note['tlp']}"
                  + (" criminal intelligence" if note.get("criminal_intel") else ""))
        return _json({"incident": incident_id, "annotation": note, "version": note["version"] if note else 0})

    def put_annotation(request: Request, client: redis.Redis, user: Any, incident_id: str, data: Any) -> Response:
        before = annotations.load(client, incident_id)
        saved = annotations.save(client, incident_id, data, user)
        if before is not None and saved["version"] == before["version"]:
            return _json(saved)
        fields = sorted(k for k in data if k != "version") if isinstance(data, dict) else []
        audit("annotation.save", record=incident_id, reason=f"v{saved['version']} {saved['tlp']}: {', '.join(fields)}"
              + (" (criminal intelligence)" if saved.get("criminal_intel") else ""))
        return _json(saved, 201 if before is None else 200)

    def get_history(request: Request, client: redis.Redis, user: Any, incident_id: str) -> Response:
        _incident, note = annotations.read(client, incident_id, user)
        rows = annotations.history(client, incident_id)
        if note is not None:
            audit("annotation.history", record=incident_id, reason=f"{len(rows)} change(s)")
        return _json({"incident": incident_id, "history": rows})

    def validate_annotation(request: Request, client: redis.Redis, user: Any, incident_id: str, data: Any) -> Response:
        saved = annotations.validate_intel(client, incident_id, data, user)
        audit("intel.validate", record=incident_id, reason=f"review date {saved['intel']['review_date']}")
        return _json(saved)

    def export_annotation(request: Request, client: redis.Redis, user: Any, incident_id: str, data: Any) -> Response:
        incident, note = annotations.read(client, incident_id, user)
        if note is None:
            raise ApiRefusal(404, "not found", "no annotation on this incident")
        data = data if isinstance(data, dict) else {}
        recipient, reason = str(data.get("recipient") or "").strip(), str(data.get("reason") or "").strip()
        if note.get("criminal_intel"):
            criminal_intel.log_dissemination(client, incident_id, recipient=recipient, reason=reason, by=user.name,
                                             channel="export")
        elif not recipient:
            raise ApiRefusal(422, "invalid", "recipient: say who the copy is for")
        audit("annotation.export", record=incident_id, reason=f"to {recipient[:100]}: {reason[:150]} ({note['tlp']})")
        return _json({"marking": note["tlp"], "incident": {k: incident.get(k) for k in
                                                           ("id", "title", "kind", "time", "lat", "lon", "severity")},
                      "annotation": note, "recipient": recipient, "reason": reason})

    # -- fusion decisions: split a wrong merge, merge what fusion missed ---------------------------------
    def _visible_incident(client: redis.Redis, user: Any, incident_id: str) -> dict[str, Any]:
        raw = client.hget(Keys.INCIDENTS, incident_id)
        if raw is None:
            raise ApiRefusal(404, "not found", f"no incident {incident_id[:80]!r}")
        incident = orjson.loads(raw)
        marking = incident_marking(incident)
        if not visible(marking, user, client):
            raise ApiRefusal(403, "forbidden", f"the incident is marked {marking.value}, above your maximum")
        return incident

    def split_report(request: Request, client: redis.Redis, user: Any, incident_id: str, data: Any) -> Response:
        _visible_incident(client, user, incident_id)
        event_id = str((data or {}).get("event") or "") if isinstance(data, dict) else ""
        if not event_id:
            raise ApiRefusal(422, "invalid", "event: name the report to take out (its report id)")
        try:
            done = split_incident(client, incident_id, event_id, user.name, wait=SPLIT_MERGE_WAIT)
        except FusionError as exc:
            raise ApiRefusal(422, "invalid", str(exc)) from None
        audit("incident.split", record=incident_id, reason=f"report {event_id[:120]} taken out into {done['new']}")
        return _json({"incident": done["incident"], "new": done["new"]})

    def merge_incident(request: Request, client: redis.Redis, user: Any, incident_id: str, data: Any) -> Response:
        _visible_incident(client, user, incident_id)
        other = str((data or {}).get("other") or "").strip() if isinstance(data, dict) else ""
        if not other:
            raise ApiRefusal(422, "invalid", "other: name the incident to merge with (its incident id)")
        _visible_incident(client, user, other)
        try:
            done = merge_incidents(client, incident_id, other, user.name, wait=SPLIT_MERGE_WAIT)
        except FusionError as exc:
            raise ApiRefusal(422, "invalid", str(exc)) from None
        audit("incident.merge", record=incident_id, reason=f"merged with {other[:120]}; one incident {done['incident']}")
        return _json({"incident": done["incident"]})

    server.add_api_route("/api/incidents/{incident_id:path}/split", handle(
        "incident.split", lambda incident_id: incident_id, Role.OPERATOR, split_report, body=True), methods=["POST"])
    server.add_api_route("/api/incidents/{incident_id:path}/merge", handle(
        "incident.merge", lambda incident_id: incident_id, Role.OPERATOR, merge_incident, body=True), methods=["POST"])

    inc = "/api/incidents/{incident_id:path}/annotation"
    server.add_api_route(inc + "/history", handle("annotation.history", lambda incident_id: incident_id, None,
                                                  get_history), methods=["GET"])
    server.add_api_route(inc + "/validate", handle("intel.validate", lambda incident_id: incident_id,
                                                   Role.SUPERVISOR, validate_annotation, body=True), methods=["POST"])
    server.add_api_route(inc + "/export", handle("annotation.export", lambda incident_id: incident_id, Role.OPERATOR,
                                                 export_annotation, body=True), methods=["POST"])
    server.add_api_route(inc, handle("annotation.read", lambda incident_id: incident_id, None, get_annotation),
                         methods=["GET"])
    server.add_api_route(inc, handle("annotation.save", lambda incident_id: incident_id, Role.OPERATOR,
                                     put_annotation, body=True), methods=["PUT"])

    # -- alerts --------------------------------------------------------------------------------------
    def post_alert(request: Request, client: redis.Redis, user: Any, data: Any) -> Response:
        if isinstance(data, dict) and data.get("incident") and criminal_intel.is_intel(client, str(data["incident"])):
            if not str(data.get("reason") or "").strip():
                raise ApiRefusal(422, "invalid", "the incident's annotation is criminal intelligence: give the "
                                 "dissemination `reason` (28 CFR 23.20(g))")
        alert = alerts.issue(client, data, user, sender=sender, default_minutes=default_minutes)
        audit("alert.push", record=alert["id"], reason=f"{alert['severity']} {alert['scope']} {alert['tlp']}: "
              f"{alert['headline'][:120]}")
        queued = outbound.enqueue(client, alert, config, by=user.name)
        return _json({**alerts.view(client, alert, user), "outbound": queued}, 201)

    def list_alerts(request: Request, client: redis.Redis, user: Any) -> Response:
        everything = request.query_params.get("all") in ("1", "true")
        return _json({"alerts": alerts.list_alerts(client, user, include_inactive=everything)})

    def get_alert(request: Request, client: redis.Redis, user: Any, alert_id: str) -> Response:
        alert = alerts.get_visible(client, alert_id, user)
        return _json(alerts.view(client, alert, user))

    def get_cap(request: Request, client: redis.Redis, user: Any, alert_id: str) -> Response:
        alert = alerts.get_visible(client, alert_id, user)
        document = outbound.cap_document(alert)
        audit("alert.export", record=alert_id, reason=f"CAP {alert['messages'][-1]['msgType']} v{alert['version']} "
              f"{alert['tlp']}")
        if is_partner(client, user):
            _partner_dissemination(client, user, alert, "cap")
        return Response(document, media_type="application/xml",
                        headers={"Content-Disposition": f'inline; filename="{alert_id}.cap.xml"'})

    def get_atom(request: Request, client: redis.Redis, user: Any) -> Response:
        shown = [a for a in (alerts.load(client, i.decode()) for i in client.zrevrange(Keys.ALERT_IDS, 0, 199))
                 if a is not None and alerts.visible(a["tlp"], user, client)
                 and alerts.in_scope(a, user if not is_partner(client, user) else None)]
        document = outbound.atom_feed(shown, base_url=str(request.base_url).rstrip("/"), reader=user.name)
        audit("alerts.atom", record=f"{len(shown)} alert(s)", reason=f"feed up to {max_marking(user, client).value}")
        if is_partner(client, user):
            for alert in shown:
                _partner_dissemination(client, user, alert, "atom")
        return Response(document, media_type="application/atom+xml")

    def put_alert(request: Request, client: redis.Redis, user: Any, alert_id: str, data: Any) -> Response:
        alert = alerts.update(client, alert_id, data, user, default_minutes=default_minutes)
        audit("alert.update", record=alert_id, reason=f"v{alert['version']} {alert['tlp']}")
        queued = outbound.enqueue(client, alert, config, by=user.name)
        return _json({**alerts.view(client, alert, user), "outbound": queued})

    def delete_alert(request: Request, client: redis.Redis, user: Any, alert_id: str) -> Response:
        raw = request.query_params.get("version")
        if raw is not None and not raw.isdigit():
            raise ApiRefusal(400, "bad request", "version must be a number")
        alert = alerts.cancel(client, alert_id, user, int(raw) if raw is not None else None)
        audit("alert.cancel", record=alert_id, reason=f"v{alert['version']}")
        queued = outbound.enqueue(client, alert, config, by=user.name)
        return _json({**alerts.view(client, alert, user), "outbound": queued})

    def ack_alert(request: Request, client: redis.Redis, user: Any, alert_id: str) -> Response:
        alerts.get_visible(client, alert_id, user)
        at = alerts.ack(client, alert_id, user.name)
        audit("alert.ack", record=alert_id, reason=f"acknowledged at {at}")
        return _json({"alert": alert_id, "by": user.name, "at": at})

    def get_disseminations(request: Request, client: redis.Redis, user: Any, alert_id: str) -> Response:
        alerts.get_visible(client, alert_id, user)
        return _json({"alert": alert_id, "disseminations": outbound.disseminations(client, alert_id)})

    def alert_id_of(alert_id: str = "", **_: Any) -> str:
        return alert_id

    server.add_api_route("/api/alerts.atom", handle("alerts.atom", lambda: "atom", None, get_atom, partners=True),
                         methods=["GET"])
    server.add_api_route("/api/alerts/{alert_id}.cap", handle("alert.export", alert_id_of, None, get_cap,
                                                              partners=True), methods=["GET"])
    server.add_api_route("/api/alerts", handle("alert.push", lambda: "new", Role.OPERATOR, post_alert, body=True),
                         methods=["POST"])
    server.add_api_route("/api/alerts", handle("alert.list", lambda: "alerts", None, list_alerts), methods=["GET"])
    server.add_api_route("/api/alerts/{alert_id}/ack", handle("alert.ack", alert_id_of, None, ack_alert),
                         methods=["POST"])
    server.add_api_route("/api/alerts/{alert_id}/disseminations", handle(
        "alert.disseminations", alert_id_of, Role.SUPERVISOR, get_disseminations), methods=["GET"])
    server.add_api_route("/api/alerts/{alert_id}", handle("alert.read", alert_id_of, None, get_alert),
                         methods=["GET"])
    server.add_api_route("/api/alerts/{alert_id}", handle("alert.update", alert_id_of, Role.OPERATOR, put_alert,
                                                          body=True), methods=["PUT"])
    server.add_api_route("/api/alerts/{alert_id}", handle("alert.cancel", alert_id_of, Role.OPERATOR, delete_alert),
                         methods=["DELETE"])

    # -- rules ---------------------------------------------------------------------------------------
    def get_rules(request: Request, client: redis.Redis, user: Any) -> Response:
        return _json({"rules": rules.list_rules(client)})

    def post_rule(request: Request, client: redis.Redis, user: Any, data: Any) -> Response:
        rule = rules.add_rule(client, data, user, default_cooldown)
        audit("rule.add", record=rule["id"], reason=f"{rule['name'][:80]}: {rule['action']}, within {rule['within_km']} km")
        return _json(rule, 201)

    def delete_rule(request: Request, client: redis.Redis, user: Any, rule_id: str) -> Response:
        if not rules.remove_rule(client, rule_id):
            raise ApiRefusal(404, "not found", f"no rule {rule_id[:40]!r}")
        audit("rule.remove", record=rule_id)
        return _json({"removed": rule_id})

    def get_queue(request: Request, client: redis.Redis, user: Any) -> Response:
        shown = [e for e in rules.queue_entries(client) if _queue_visible(client, e, user)]
        return _json({"queue": shown})

    server.add_api_route("/api/rules/queue", handle("rule.queue", lambda: "queue", Role.OPERATOR, get_queue),
                         methods=["GET"])
    server.add_api_route("/api/rules", handle("rule.list", lambda: "rules", Role.OPERATOR, get_rules), methods=["GET"])
    server.add_api_route("/api/rules", handle("rule.add", lambda: "new", Role.SUPERVISOR, post_rule, body=True),
                         methods=["POST"])
    server.add_api_route("/api/rules/{rule_id}", handle("rule.remove", lambda rule_id: rule_id, Role.SUPERVISOR,
                                                        delete_rule), methods=["DELETE"])

    # -- the audit trail (supervisors) -----------------------------------------------------------------
    def _audit_query(request: Request) -> AuditQuery:
        try:
            return AuditQuery.parse(request.query_params)
        except ValueError as exc:
            raise ApiRefusal(422, "invalid", str(exc)) from None

    def get_audit(request: Request, client: redis.Redis, user: Any) -> Response:
        query = _audit_query(request)
        records, more = audit_search(client, query)
        audit("audit.read", record=query.describe()[:200], reason=f"{len(records)} record(s)")
        return _json({"records": [r.to_dict() for r in records], "more": more, "query": query.describe()})

    def export_audit(request: Request, client: redis.Redis, user: Any) -> Response:
        query = _audit_query(request)
        records, more = audit_search(client, query)
        audit("audit.export", record=query.describe()[:200], reason=f"{len(records)} record(s) as JSON Lines"
              + (" (limit reached)" if more else ""))
        body = b"".join(orjson.dumps(r.to_dict()) + b"\n" for r in reversed(records))  # oldest first, as the CLI
        return Response(body, media_type="application/x-ndjson",
                        headers={"Content-Disposition": 'attachment; filename="watchfloor-audit.jsonl"'})

    server.add_api_route("/api/audit.jsonl", handle("audit.export", lambda: "audit", Role.SUPERVISOR, export_audit),
                         methods=["GET"])
    server.add_api_route("/api/audit", handle("audit.read", lambda: "audit", Role.SUPERVISOR, get_audit),
                         methods=["GET"])


def _queue_visible(client: redis.Redis, entry: dict[str, Any], user: Any) -> bool:
    try:
        annotations.check_readable(client, user, entry["incident"], annotations.load(client, entry["incident"]),
                                   annotations.find_incident(client, entry["incident"]))
    except AboveMarking:
        return False
    return True


def _partner_dissemination(client: redis.Redis, user: Any, alert: dict[str, Any], channel: str) -> None:
    """A partner read an alert: record it; for a criminal-intelligence incident, in the 28 CFR log too."""
    client.xadd(Keys.DISSEMINATIONS, {"alert": alert["id"], "version": str(alert["version"]), "channel": channel,
                                      "recipient": f"partner:{user.name}", "outcome": "read", "reason": "",
                                      "tlp": alert["tlp"], "at": alerts.iso_z(alerts._now())})
    if alert.get("incident") and criminal_intel.is_intel(client, alert["incident"]):
        criminal_intel.log_dissemination(client, alert["incident"], recipient=f"partner:{user.name}",
                                         reason=alert.get("reason") or "partner alert feed", by=user.name,
                                         channel=channel)


def _word(status: int) -> str:
    return {400: "bad request", 403: "forbidden", 404: "not found", 409: "conflict", 413: "too large",
            422: "invalid"}.get(status, "refused")


def _refuse(action: str, record: str, exc: ApiRefusal) -> Response:
    audit(action, record=record, outcome="refused", reason=f"{exc.status}: {exc.reason}")
    return _json({"error": exc.error, "reason": exc.reason, **exc.extra}, exc.status)
