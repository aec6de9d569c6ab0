"""A report's entities with the evidence of each resolution, and the analyst's decisions on them:
confirm, merge with a candidate or another entity id, split chosen mentions out (operator and above,
each with a reason, audited like the annotation API's writes).

A reader sees an entity's mentions only from reports they may read (``store.can_see``), and merge
candidates only among entities they could reach that way: nobody learns of a person, plate or phone
known only from a report above their marking."""

from __future__ import annotations

from typing import Any

import redis
from dash import dcc, html

from dashboard.reports.plain import field_words, iso_words
from domain.access.audit import audit
from domain.errors import Invalid, NotFound
from domain.reports import entities
from domain.reports.store import can_see, load

TYPE_WORDS = {"person": "Person", "vehicle": "Vehicle", "phone": "Phone", "email": "E-mail",
              "organisation": "Organisation", "address": "Address"}
MIN_REASON = 5


class Readable:
    """Which reports one reader may read, each looked up once per page render."""

    def __init__(self, client: redis.Redis, user: Any) -> None:
        self.client, self.user, self._seen = client, user, {}

    def __call__(self, report_id: str) -> bool:
        if report_id not in self._seen:
            report = load(self.client, report_id)
            self._seen[report_id] = report is not None and can_see(report, self.user, self.client)
        return self._seen[report_id]

    def entity(self, entity_id: str) -> dict[str, Any] | None:
        """The entity and the mentions this reader may see; None when they may see none of it."""
        record = entities.load(self.client, entity_id)
        if record is None:
            return None
        shown = [m for m in entities.mentions(self.client, record["id"]) if self(m["report"])]
        return {**record, "mentions": shown} if shown else None


def _mention_line(mention: dict[str, Any], report_id: str) -> html.Li:
    where = (html.Span("this report", className="wf-muted") if mention["report"] == report_id else
             dcc.Link(mention["report"], href=f"/reports?id={mention['report']}"))
    return html.Li([where, f" · {field_words(mention['field']) or mention['field']}: ", html.Strong(mention.get("raw", "")),
                    html.Span(f" — {mention.get('why', '')}", className="wf-sar-evidence")])


def entity_block(record: dict[str, Any], report_id: str, candidates: list[dict[str, Any]] | None) -> html.Div:
    """One entity: what it is, why each mention is it, its history; the decisions when ``candidates``
    is not None (operators)."""
    eid = record["id"]
    head = html.Div([
        html.Span(TYPE_WORDS.get(record["type"], record["type"]), className="wf-sar-etype"),
        html.Strong(record.get("label", ""), className="wf-sar-elabel"),
        html.Span(eid, className="wf-muted wf-sar-eid"),
        html.Span("confirmed" if record.get("confirmed") else "not confirmed",
                  className="wf-sar-econf" + (" wf-ok" if record.get("confirmed") else "")),
        html.A("show links", href=f"/links?node=E:{eid}", className="wf-sar-links"),
    ], className="wf-sar-ehead")
    ordered = sorted(record["mentions"], key=lambda m: (m["report"] != report_id, m["report"], m["field"]))  # this report first
    parts: list[Any] = [head, html.Ul([_mention_line(m, report_id) for m in ordered], className="wf-sar-mentions")]
    if record.get("history"):
        parts.append(html.Ul([html.Li(f"{iso_words(h.get('at'))} {h.get('by', '')}: {h.get('reason', '')}", className="wf-muted")
                              for h in record["history"][-5:]], className="wf-sar-ehistory"))
    if candidates is not None:
        parts.append(_decisions(record, candidates))
    return html.Div(parts, className="wf-sar-entity", **{"data-entity": eid})


def _decisions(record: dict[str, Any], candidates: list[dict[str, Any]]) -> html.Details:
    eid = record["id"]
    options = [{"label": f"{c['label']} ({c['id']}): {c['why']}", "value": c["id"]} for c in candidates]
    split = ([html.Label(["Mentions to take out into a new entity",
                          dcc.Checklist(id={"wf-ent-in": "mentions", "entity": eid}, value=[], className="wf-sar-split",
                                        options=[{"label": f"{m['report']} · {field_words(m['field']) or m['field']}: "
                                                           f"{m.get('raw', '')}", "value": m["id"]}
                                                 for m in record["mentions"]])]),
              html.Button("Split them out", type="button", n_clicks=0, id={"wf-ent": "split", "entity": eid},
                          className="wf-button wf-secondary")]
             if len(record["mentions"]) > 1 else [html.P("One mention: nothing to split.", className="wf-muted")])
    return html.Details([
        html.Summary("Decide on this entity"),
        html.Label(["Reason (kept with the entity and in the audit trail)",
                    dcc.Input(id={"wf-ent-in": "reason", "entity": eid}, type="text", maxLength=300, className="wf-input")]),
        html.Button("Confirm the resolution", type="button", n_clicks=0, id={"wf-ent": "confirm", "entity": eid},
                    className="wf-button"),
        html.Div([
            html.Label(["Merge into this entity: a candidate",
                        dcc.Dropdown(id={"wf-ent-in": "other", "entity": eid}, options=options, className="wf-dropdown",
                                     placeholder="no candidates" if not options else "choose a candidate")]),
            html.Label(["or another entity's id",
                        dcc.Input(id={"wf-ent-in": "other-id", "entity": eid}, type="text", maxLength=60,
                                  className="wf-input", placeholder="EVE-…")]),
            html.Button("Merge", type="button", n_clicks=0, id={"wf-ent": "merge", "entity": eid}, className="wf-button"),
        ], className="wf-sar-merge"),
        *split,
    ], className="wf-sar-decide")


def entities_panel(client: redis.Redis, user: Any, report_id: str, can_decide: bool) -> list[Any]:
    readable = Readable(client, user)
    blocks = []
    for entity_id in entities.report_entities(client, report_id):
        record = readable.entity(entity_id)
        if record is None:
            continue
        candidates = None
        if can_decide:
            candidates = [c for c in entities.candidates(client, record["id"]) if readable.entity(c["id"])]
        blocks.append(entity_block(record, report_id, candidates))
    return [html.H4("Entities"), *(blocks or [html.P("No people, vehicles, phones, e-mails, organisations or addresses "
                                                      "in this report.", className="wf-muted")])]


def decide(client: redis.Redis, user: Any, action: str, entity_id: str, inputs: dict[str, Any]) -> str:
    """Carry out one decision for ``user``; what was done, in words. Invalid/NotFound (audited as
    refused) when it cannot be done."""
    try:
        done, record = _decide(client, user, action, entity_id, inputs)
    except (Invalid, NotFound) as exc:
        audit(f"entity.{action}", record=entity_id[:120], outcome="refused", reason=str(exc)[:300])
        raise
    audit(f"entity.{action}", record=record, reason=done[:300])
    return done


def _decide(client: redis.Redis, user: Any, action: str, entity_id: str, inputs: dict[str, Any]) -> tuple[str, str]:
    readable = Readable(client, user)
    if readable.entity(entity_id) is None:
        raise NotFound(f"no entity {entity_id[:60]!r} that you may read")
    reason = " ".join(str(inputs.get("reason") or "").split())[:300]
    if len(reason) < MIN_REASON:
        raise Invalid("reason: say why (at least a few words); it is kept with the entity")
    if action == "confirm":
        entities.confirm(client, entity_id, by=user.name, reason=reason)
        return f"Confirmed {entity_id}: {reason}", entity_id
    if action == "merge":
        other = str(inputs.get("other-id") or "").strip() or str(inputs.get("other") or "").strip()
        if not other:
            raise Invalid("other: choose a candidate or type another entity's id")
        found = entities.find(client, other)
        if found is None or readable.entity(found) is None:
            raise NotFound(f"other: no entity {other[:60]!r} that you may read")
        kept = entities.merge(client, entity_id, found, by=user.name, reason=reason)
        return f"Merged {found} into {kept['id']}: {reason}", f"{kept['id']} <- {found}"
    if action == "split":
        chosen = [str(m) for m in inputs.get("mentions") or []]
        if not chosen:
            raise Invalid("mentions: tick the mentions that are not the same as the rest")
        if not all(readable(m.rsplit(":", 1)[0]) for m in chosen):
            raise NotFound("mentions: one of them is not in a report you may read")
        new = entities.split(client, entity_id, chosen, by=user.name, reason=reason)
        return f"Split {len(chosen)} mention(s) out of {entity_id} into {new['id']}: {reason}", f"{entity_id} -> {new['id']}"
    raise Invalid(f"to: {action[:20]!r} is not a decision")


__all__ = ["Readable", "decide", "entities_panel", "entity_block"]
