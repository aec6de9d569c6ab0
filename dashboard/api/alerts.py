"""Push alerts and their outbound copies: CAP documents, the Atom feed partners read."""

from __future__ import annotations

from typing import Any

import redis
from fastapi import Request
from fastapi.responses import Response

from dashboard.api.endpoint import Api, ApiRefusal, is_partner, json_response
from domain.access.audit import audit
from domain.access.tlp import max_marking
from domain.agencies.access import may_see
from domain.operations import alerts, criminal_intel, outbound
from domain.operations.keys import AlertKeys, OutboundKeys


def post_alert(api: Api, request: Request, client: redis.Redis, user: Any, data: Any) -> Response:
    if isinstance(data, dict) and data.get("incident") and criminal_intel.is_intel(client, str(data["incident"])):
        if not str(data.get("reason") or "").strip():
            raise ApiRefusal(
                422,
                "invalid",
                "the incident's annotation is criminal intelligence: give the dissemination `reason` (28 CFR 23.20(g))",
            )
    alert = alerts.issue(client, data, user, sender=api.sender, default_minutes=api.default_minutes)
    audit(
        "alert.push",
        record=alert["id"],
        reason=f"{alert['severity']} {alert['scope']} {alert['tlp']}: {alert['headline'][:120]}",
    )
    queued = outbound.enqueue(client, alert, api.config, by=user.name)
    alerts.ack(client, alert, user.name)  # who wrote it knows it: their own screens are not taken over
    return json_response({**alerts.view(client, alert, user), "outbound": queued}, 201)


def list_alerts(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    everything = request.query_params.get("all") in ("1", "true")
    return json_response({"alerts": alerts.list_alerts(client, user, include_inactive=everything)})


def get_alert(api: Api, request: Request, client: redis.Redis, user: Any, alert_id: str) -> Response:
    alert = alerts.get_visible(client, alert_id, user)
    return json_response(alerts.view(client, alert, user))


def get_cap(api: Api, request: Request, client: redis.Redis, user: Any, alert_id: str) -> Response:
    alert = alerts.get_visible(client, alert_id, user)
    document = outbound.cap_document(alert)
    audit(
        "alert.export",
        record=alert_id,
        reason=f"CAP {alert['messages'][-1]['msgType']} v{alert['version']} {alert['tlp']}",
    )
    if is_partner(client, user):
        partner_dissemination(client, user, alert, "cap")
    return Response(
        document,
        media_type="application/xml",
        headers={"Content-Disposition": f'inline; filename="{alert_id}.cap.xml"'},
    )


def get_atom(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    shown = [
        a
        for a in (alerts.load(client, i.decode()) for i in client.zrevrange(AlertKeys.ALERT_IDS, 0, 199))
        if a is not None
        and may_see(a, user, client)
        and alerts.in_scope(a, user if not is_partner(client, user) else None)
    ]
    document = outbound.atom_feed(shown, base_url=str(request.base_url).rstrip("/"), reader=user.name)
    audit("alerts.atom", record=f"{len(shown)} alert(s)", reason=f"feed up to {max_marking(user, client).value}")
    if is_partner(client, user):
        for alert in shown:
            partner_dissemination(client, user, alert, "atom")
    return Response(document, media_type="application/atom+xml")


def put_alert(api: Api, request: Request, client: redis.Redis, user: Any, alert_id: str, data: Any) -> Response:
    alert = alerts.update(client, alert_id, data, user, default_minutes=api.default_minutes)
    audit("alert.update", record=alert_id, reason=f"v{alert['version']} {alert['tlp']}")
    queued = outbound.enqueue(client, alert, api.config, by=user.name)
    alerts.ack(client, alert, user.name)  # the sender sees a supervisor's change; the one who made it does not
    return json_response({**alerts.view(client, alert, user), "outbound": queued})


def delete_alert(api: Api, request: Request, client: redis.Redis, user: Any, alert_id: str) -> Response:
    raw = request.query_params.get("version")
    if raw is not None and not raw.isdigit():
        raise ApiRefusal(400, "bad request", "version must be a number")
    alert = alerts.cancel(client, alert_id, user, int(raw) if raw is not None else None)
    audit("alert.cancel", record=alert_id, reason=f"v{alert['version']}")
    queued = outbound.enqueue(client, alert, api.config, by=user.name)
    return json_response({**alerts.view(client, alert, user), "outbound": queued})


def _ack_body(data: Any) -> dict[str, Any]:
    body = data if isinstance(data, dict) else {}
    unknown = sorted(set(body) - {"screen", "for", "version"})
    if unknown:
        raise ApiRefusal(400, "bad request", f"unknown field {unknown[0]!r}; fields: screen, for, version")
    return body


def ack_alert(api: Api, request: Request, client: redis.Redis, user: Any, alert_id: str, data: Any = None) -> Response:
    """Acknowledge for oneself (``screen``: the screen it was done on; a wall's acknowledgement is
    the screen's), or, operators and above, ``for`` a wall screen that received it."""
    body = _ack_body(data)
    alert = alerts.get_visible(client, alert_id, user)
    target = body.get("for")
    if target is not None:
        if not user.role.grants(alerts.ON_BEHALF_ROLE) or user.is_display:
            raise ApiRefusal(403, "forbidden", f"acknowledging for a screen needs role {alerts.ON_BEHALF_ROLE}")
        who = str(target)
        record = alerts.ack_for(client, alert, who, user, body.get("version"))
    else:
        who = alerts.ack_identity(user, body.get("screen"))
        record = alerts.ack(client, alert, who, version=body.get("version"))
    audit("alert.ack", record=alert_id,
          reason=f"v{record['version']} acknowledged at {record['at']}" + (f" for {who}" if target else ""))
    return json_response({"alert": alert_id, "by": user.name, "for": who, **record})


def receipt_alert(api: Api, request: Request, client: redis.Redis, user: Any, alert_id: str, data: Any = None
                  ) -> Response:
    """A screen reports that it received the alert (``screen``, ``version``): its sender sees it."""
    body = data if isinstance(data, dict) else {}
    alert = alerts.get_visible(client, alert_id, user)
    record = alerts.receipt(client, alert, user, str(body.get("screen") or ""), body.get("version"))
    audit("alert.receipt", record=alert_id, reason=f"v{record['version']} on {record['screen']} at {record['at']}")
    return json_response({"alert": alert_id, **record})


def get_disseminations(api: Api, request: Request, client: redis.Redis, user: Any, alert_id: str) -> Response:
    alerts.get_visible(client, alert_id, user)
    return json_response({"alert": alert_id, "disseminations": outbound.disseminations(client, alert_id)})


def partner_dissemination(client: redis.Redis, user: Any, alert: dict[str, Any], channel: str) -> None:
    """A partner read an alert: record it; for a criminal-intelligence incident, in the 28 CFR log too."""
    client.xadd(
        OutboundKeys.DISSEMINATIONS,
        {
            "alert": alert["id"],
            "version": str(alert["version"]),
            "channel": channel,
            "recipient": f"partner:{user.name}",
            "outcome": "read",
            "reason": "",
            "tlp": alert["tlp"],
            "at": alerts.iso_z(alerts._now()),
        },
    )
    if alert.get("incident") and criminal_intel.is_intel(client, alert["incident"]):
        criminal_intel.log_dissemination(
            client,
            alert["incident"],
            recipient=f"partner:{user.name}",
            reason=alert.get("reason") or "partner alert feed",
            by=user.name,
            channel=channel,
        )
