"""Outbound copies of alerts: a signed webhook, e-mail, CAP 1.2 documents and an Atom feed.

Nothing here runs inside a request except building documents: :func:`enqueue` puts one RQ job per
channel and alert version on the queue ``watchfloor-outbound`` (with retries: 10 s, 30 s, 1 min,
5 min, 15 min; run by ``watchfloor outbound work``, which runs RQ's scheduler for the retries) and
returns at once. :func:`deliver` is that job.

Channels (settings, see README "Operator actions")::
    webhook   POST webhook_url, JSON body; header X-Watchfloor-Signature: sha256=<hex HMAC-SHA256 of
              the exact body bytes with webhook_secret>; X-Watchfloor-Delivery: <alert>:<version>:webhook
              (stable across retries: receivers drop repeats). No secret, no webhook.
    email     SMTP to smtp_host:smtp_port (STARTTLS with smtp_starttls, verified against smtp_ca_file or
              the system store; AUTH as smtp_user when set), from smtp_from to each address
              in alert_email_to; the CAP document attached.

Each channel has one ceiling, ``outbound_tlp`` (default TLP:GREEN): an alert marked above it is not
sent (recorded as ``withheld``). Every copy (queued, delivered, failed, withheld) is recorded in the
``wf:disseminations`` stream and the audit trail; an alert about a criminal-intelligence record
also goes to the 28 CFR Part 23 dissemination log (recipient, reason, date) and needs a ``reason``.

A job is at-least-once: a copy already delivered (``wf:outbound:sent:...``) is not sent again.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import smtplib
import ssl
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import orjson
import redis

from domain.access.audit import audit
from domain.access.tlp import TLP, parse
from domain.config.loader import Config, load_config
from domain.operations import alerts, criminal_intel
from domain.operations.alerts import cap_time, current_status, iso_z
from domain.operations.keys import OutboundKeys
from domain.store.connection import client_for, job_queue

log = logging.getLogger(__name__)

QUEUE = OutboundKeys.OUTBOUND_QUEUE
RETRY_INTERVALS = [10, 30, 60, 300, 900]
SIGNATURE_HEADER = "X-Watchfloor-Signature"
DELIVERY_HEADER = "X-Watchfloor-Delivery"
CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
_CATEGORY = {"earthquake": "Geo", "tsunami": "Geo", "volcano": "Geo", "weather": "Met", "cyclone": "Met",
             "flood": "Met", "fire": "Fire", "drought": "Env", "epidemic": "Health", "medical": "Health",
             "security": "Security", "traffic": "Transport"}


class DeliveryError(Exception):
    """A copy could not be delivered; the job fails and RQ retries it."""


def sign(secret: str, body: bytes) -> str:
    """The value of X-Watchfloor-Signature for ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """For receivers (and tests): constant-time check of a signature header."""
    return hmac.compare_digest(sign(secret, body), header or "")


def channels(config: Config) -> list[tuple[str, str]]:
    """(channel, recipient) pairs configured: the webhook URL, each e-mail address."""
    out: list[tuple[str, str]] = []
    if config.webhook_url:
        out.append(("webhook", str(config.webhook_url)))
    if config.smtp_host and config.alert_email_to:
        out += [("email", a.strip()) for a in str(config.alert_email_to).split(",") if a.strip()]
    return out


def record(client: redis.Redis, alert: dict[str, Any], version: int, channel: str, recipient: str,
           outcome: str, reason: str = "", *, by: str = "outbound", source: str | None = None) -> None:
    """One line in ``wf:disseminations`` and the audit trail."""

    client.xadd(OutboundKeys.DISSEMINATIONS, {"alert": alert["id"], "version": str(version), "channel": channel,
                                      "recipient": recipient, "outcome": outcome, "reason": reason[:300],
                                      "tlp": alert["tlp"], "at": iso_z(datetime.now(UTC))})
    audit("alert.disseminate", record=f"{alert['id']} v{version}", outcome="refused" if outcome == "withheld"
          else "failed" if outcome == "failed" else "ok", reason=f"{channel} to {recipient}: {outcome}"
          + (f" ({reason})" if reason else ""), user=by, source=source, client=client)


def disseminations(client: redis.Redis, alert_id: str | None = None) -> list[dict[str, str]]:
    rows = []
    for entry_id, raw in client.xrange(OutboundKeys.DISSEMINATIONS):
        row = {k.decode(): v.decode() for k, v in raw.items()}
        if alert_id is None or row.get("alert") == alert_id:
            rows.append({"id": entry_id.decode(), **row})
    return rows


def enqueue(client: redis.Redis, alert: dict[str, Any], config: Config, *, by: str) -> list[str]:
    """Queue one delivery job per configured channel for the alert's current version; the job ids.

    Returns at once. Channels whose ceiling is below the alert's marking are recorded as withheld."""
    from rq import Retry

    version = int(alert["version"])
    ceiling = parse(str(config.outbound_tlp))
    intel_incident = alert.get("incident") if alert.get("incident") and criminal_intel.is_intel(
        client, alert["incident"]) else None
    queue = job_queue(QUEUE, client)
    jobs: list[str] = []
    for channel, recipient in channels(config):
        if not ceiling.allows(alert["tlp"]):
            record(client, alert, version, channel, recipient, "withheld",
                   f"marked {alert['tlp']}, above outbound_tlp {ceiling.value}", by=by)
            continue
        if channel == "webhook" and not config.webhook_secret:
            record(client, alert, version, channel, recipient, "withheld", "webhook_secret is not set", by=by)
            continue
        if intel_incident:
            try:
                criminal_intel.log_dissemination(client, intel_incident, recipient=recipient,
                                                 reason=alert.get("reason") or "", by=by, channel=channel)
            except criminal_intel.IntelError as exc:
                record(client, alert, version, channel, recipient, "withheld", str(exc), by=by)
                continue
        job_id = f"outbound-{alert['id']}-{version}-{channel}-{hashlib.sha256(recipient.encode()).hexdigest()[:8]}"
        queue.enqueue(deliver, alert["id"], version, channel, recipient, job_id=job_id,
                      retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                      job_timeout=int(float(config.outbound_timeout) * 3 + 30), result_ttl=86_400,
                      failure_ttl=30 * 86_400)
        record(client, alert, version, channel, recipient, "queued", by=by)
        jobs.append(job_id)
    return jobs


def _message_of(alert: dict[str, Any], version: int) -> dict[str, Any]:
    for message in alert["messages"]:
        if message["alert"]["version"] == version:
            return message
    raise DeliveryError(f"alert {alert['id']} has no version {version}")


def deliver(alert_id: str, version: int, channel: str, recipient: str,
            config: Config | None = None, client: redis.Redis | None = None) -> dict[str, Any]:
    """The RQ job: send one version of one alert to one recipient. Raises DeliveryError to retry."""
    from rq import get_current_job

    config = config or load_config()
    if client is None:
        job = get_current_job()
        if job is not None:
            client = job.connection
        else:
            client = client_for(config)
    alert = alerts.load(client, alert_id)
    if alert is None:
        return {"alert": alert_id, "skipped": "no such alert"}
    sent_key = OutboundKeys.outbound_sent(alert_id, version, f"{channel}:{hashlib.sha256(recipient.encode()).hexdigest()[:8]}")
    if client.exists(sent_key):
        return {"alert": alert_id, "skipped": "already delivered"}
    if not parse(str(config.outbound_tlp)).allows(alert["tlp"]):
        record(client, alert, version, channel, recipient, "withheld", "above outbound_tlp")
        return {"alert": alert_id, "skipped": "above outbound_tlp"}
    message = _message_of(alert, version)
    document = cap_document(alert, version)
    try:
        if channel == "webhook":
            _post_webhook(config, recipient, alert, message, document)
        elif channel == "email":
            _send_email(config, recipient, message, document)
        else:
            raise DeliveryError(f"unknown channel {channel!r}")
    except (DeliveryError, OSError, smtplib.SMTPException, http.client.HTTPException) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        record(client, alert, version, channel, recipient, "failed", reason)
        log.warning("alert copy failed: %s", reason, extra={"alert": alert_id, "channel": channel})
        raise DeliveryError(reason) from None
    client.set(sent_key, "1", ex=30 * 86_400)
    record(client, alert, version, channel, recipient, "delivered")
    return {"alert": alert_id, "version": version, "channel": channel, "delivered": True}


def webhook_body(alert: dict[str, Any], message: dict[str, Any], document: bytes) -> bytes:
    return orjson.dumps({
        "delivery": f"{alert['id']}:{message['alert']['version']}:webhook",
        "msgType": message["msgType"], "identifier": message["identifier"], "sent": message["sent"],
        "alert": message["alert"], "cap": document.decode("utf-8"),
    })


def _post_webhook(config: Config, url: str, alert: dict[str, Any], message: dict[str, Any], document: bytes) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("webhook_url is not an http(s) URL")
    body = webhook_body(alert, message, document)
    timeout = float(config.outbound_timeout)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                           context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body, headers={
            "Content-Type": "application/json", SIGNATURE_HEADER: sign(str(config.webhook_secret), body),
            DELIVERY_HEADER: f"{alert['id']}:{message['alert']['version']}:webhook", "User-Agent": "Watchfloor"})
        response = conn.getresponse()
        response.read(65_536)
        if not 200 <= response.status < 300:
            raise DeliveryError(f"webhook answered HTTP {response.status}")
    finally:
        conn.close()


def _send_email(config: Config, to: str, message: dict[str, Any], document: bytes) -> None:
    snapshot = message["alert"]
    mail = EmailMessage()
    words = {"Alert": "", "Update": "UPDATE: ", "Cancel": "CANCELLED: "}[message["msgType"]]
    mail["Subject"] = f"[{snapshot['tlp']}] {words}{snapshot['severity'].upper()}: {snapshot['headline']}"[:250]
    mail["From"] = str(config.smtp_from)
    mail["To"] = to
    mail["Message-ID"] = f"<{message['identifier']}@watchfloor>"
    mail.set_content(
        f"{snapshot['tlp']}\n\n{snapshot['headline']}\n\n{snapshot.get('text') or ''}\n\n"
        f"Severity: {snapshot['severity']}\nScope: {snapshot['scope']}\nExpires: {snapshot['expires']}\n"
        f"Issued by {snapshot['issued_by']} at {snapshot['issued_at']}; {message['msgType']} "
        f"{message['identifier']}\n\n{snapshot['tlp']}: share only as this marking allows.\n")
    mail.add_attachment(document, maintype="application", subtype="cap+xml", filename=f"{message['identifier']}.xml")
    with smtplib.SMTP(str(config.smtp_host), int(config.smtp_port), timeout=float(config.outbound_timeout)) as smtp:
        if config.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=str(config.smtp_ca_file) or None))
        if config.smtp_user:  # config.check_smtp guarantees TLS here unless the relay is on loopback
            smtp.login(str(config.smtp_user), str(config.smtp_password))
        smtp.send_message(mail)


# -- CAP 1.2 ----------------------------------------------------------------------------------------------
def cap_document(alert: dict[str, Any], version: int | None = None) -> bytes:
    """The CAP 1.2 message of one version of the alert (default: the latest).

    The first version is ``Alert``, later ones ``Update`` and a withdrawal ``Cancel``; each names
    every earlier message in ``references`` (sender,identifier,sent). Marked above TLP:CLEAR:
    scope Restricted with the label in ``restriction``; the label is also a ``code``."""
    message = _message_of(alert, version) if version is not None else alert["messages"][-1]
    snapshot = message["alert"]
    earlier = [m for m in alert["messages"] if m["alert"]["version"] < snapshot["version"]]
    ET.register_namespace("", CAP_NS)

    def sub(parent: ET.Element, name: str, text: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
        element.text = text
        return element

    root = ET.Element(f"{{{CAP_NS}}}alert")
    sub(root, "identifier", message["identifier"])
    sub(root, "sender", message["sender"])
    sub(root, "sent", message["sent"])
    sub(root, "status", "Exercise" if snapshot.get("exercise") else "Actual")
    sub(root, "msgType", message["msgType"])
    sub(root, "source", f"Watchfloor ({snapshot['issued_by']})")
    marking = parse(snapshot["tlp"])
    if marking is TLP.CLEAR:
        sub(root, "scope", "Public")
    else:
        sub(root, "scope", "Restricted")
        sub(root, "restriction", f"{marking.value}: share only as TLP 2.0 allows for this label")
    sub(root, "code", marking.value)
    if message["msgType"] == "Cancel":
        sub(root, "note", f"Withdrawn by {snapshot.get('updated_by') or snapshot['issued_by']}")
    if earlier:
        sub(root, "references", " ".join(f"{m['sender']},{m['identifier']},{m['sent']}" for m in earlier))
    info = ET.SubElement(root, f"{{{CAP_NS}}}info")
    sub(info, "language", "en-US")
    sub(info, "category", _CATEGORY.get(str(snapshot.get("kind") or ""), "Other"))
    sub(info, "event", snapshot["headline"][:160])
    sub(info, "urgency", snapshot.get("urgency") or "Unknown")
    sub(info, "severity", str(snapshot["severity"]).capitalize())
    sub(info, "certainty", snapshot.get("certainty") or "Unknown")
    sub(info, "effective", message["sent"])
    expires = datetime.fromisoformat(snapshot["expires"].replace("Z", "+00:00"))
    sub(info, "expires", cap_time(expires))
    sub(info, "senderName", "Watchfloor")
    sub(info, "headline", snapshot["headline"])
    if snapshot.get("text"):
        sub(info, "description", snapshot["text"])
    parameter = ET.SubElement(info, f"{{{CAP_NS}}}parameter")
    sub(parameter, "valueName", "watchfloor:scope")
    sub(parameter, "value", snapshot["scope"])
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


# -- Atom ------------------------------------------------------------------------------------------------
def atom_feed(alert_list: list[dict[str, Any]], *, base_url: str, reader: str) -> bytes:
    """An Atom 1.0 feed of ``alert_list`` (already filtered for the reader), newest first."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{name}", attrs)
        if text is not None:
            element.text = text
        return element

    now = iso_z(datetime.now(UTC))
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", "urn:watchfloor:alerts")
    sub(feed, "title", f"Watchfloor alerts for {reader}")
    sub(feed, "updated", max((a["updated_at"] for a in alert_list), default=now))
    sub(feed, "link", rel="self", href=f"{base_url}/api/alerts.atom")
    author = sub(feed, "author")
    sub(author, "name", "Watchfloor")
    for alert in alert_list:
        entry = sub(feed, "entry")
        status = current_status(alert)
        sub(entry, "id", f"urn:watchfloor:alert:{alert['id']}")
        word = "" if status in ("active", "updated") else f" ({status})"
        sub(entry, "title", f"[{alert['tlp']}] {alert['severity'].upper()}: {alert['headline']}{word}")
        sub(entry, "updated", alert["updated_at"])
        sub(entry, "published", alert["issued_at"])
        sub(entry, "summary", alert.get("text") or alert["headline"])
        sub(entry, "category", term=alert["tlp"], label="TLP")
        sub(entry, "category", term=alert["severity"], label="severity")
        sub(entry, "category", term=status, label="status")
        sub(entry, "link", rel="alternate", type="application/cap+xml", href=f"{base_url}/api/alerts/{alert['id']}.cap")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8", xml_declaration=False)
