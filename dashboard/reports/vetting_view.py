"""The vetting queue and one report's detail, as HTML from the domain (domain.reports.store, vetting).

Everything a reader gets comes through ``store.listing`` and ``store.read``: viewers only ever see
reports shared as ISE-SAR that did not start as tips, nobody sees above their TLP maximum. Report
text is passed as component children (text nodes), never as HTML."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from dashboard.reports.plain import age_of, field_words, iso_words
from domain.reports.categories import BY_CODE, CATEGORIES
from domain.reports.store import WAITING, role_of
from domain.reports.vetting import STATES, moves_from

LIST_LIMIT = 500
STATE_WORDS = {"waiting": "Waiting", "received": "Received", "screened": "Screened", "review": "Analyst review",
               "shared": "Shared (ISE-SAR)", "kept": "Kept as information", "closed": "Closed"}
MOVE_WORDS = {"close": "Close the report", "withdraw": "Withdraw (close)"}
AFFIRMATIONS = [
    {"label": "Race, ethnicity, national origin or religion were not a reason for suspicion (at most part of a "
              "specific description of a subject).", "value": "protected_attributes"},
    {"label": "No activity the First Amendment protects is reported without facts of criminal activity.",
     "value": "first_amendment"},
]


def kind_word(report: dict[str, Any]) -> str:
    return "Tip" if report.get("kind") == "tip" else "Report"


def category_words(code: str | None) -> str:
    category = BY_CODE.get(code or "")
    return f"{category.title} ({category.code})" if category else "not yet categorised"


def states_for(user: Any) -> list[str]:
    return ["waiting", *STATES] if role_of(user).grants("operator") else ["shared"]


def href(**params: Any) -> str:
    query = {k: v for k, v in params.items() if v}
    return "/reports" + (f"?{urlencode(query)}" if query else "")


def queue_panel(reports: list[dict[str, Any]], user: Any, state: str, selected: str | None, target_hours: float,
                now: float | None = None) -> list[Any]:
    """State tabs with counts and the rows of one state (waiting: oldest first, the others newest first)."""
    now = time.time() if now is None else now
    counts = {s: sum(1 for r in reports if r["state"] == s) for s in STATES}
    counts["waiting"] = sum(counts[s] for s in WAITING)
    tabs = html.Nav([dcc.Link([STATE_WORDS[s], html.Span(str(counts[s]), className="wf-sar-count")],
                              href=href(state=s), className="wf-sar-tab" + (" wf-sar-tab-on" if s == state else ""))
                     for s in states_for(user)], className="wf-sar-tabs", **{"aria-label": "Reports by state"})
    shown = [r for r in reports if (r["state"] in WAITING if state == "waiting" else r["state"] == state)]
    if state == "waiting":
        shown.sort(key=lambda r: r["received"])
    rows = [_queue_row(r, state, selected, target_hours, now) for r in shown]
    empty = html.P("Nothing here." if role_of(user).grants("operator") else
                   "No shared reports at your marking yet.", className="wf-muted")
    more = (html.P(f"Only the newest {LIST_LIMIT} reports are listed.", className="wf-muted")
            if len(reports) >= LIST_LIMIT else None)
    return [tabs, html.Div(rows or [empty], className="wf-sar-list"), more]


def _queue_row(report: dict[str, Any], state: str, selected: str | None, target_hours: float, now: float) -> Any:
    late = report["state"] in WAITING and now - float(report["received"]) > target_hours * 3600
    excerpt = " ".join(str(report.get("narrative") or "").split())[:110]
    return dcc.Link([
        html.Span(report["id"], className="wf-sar-id"),
        html.Span(kind_word(report), className=f"wf-sar-kind wf-sar-kind-{report.get('kind', 'sar')}"),
        html.Span(STATE_WORDS[report["state"]], className="wf-sar-state"),
        html.Span(category_words(report.get("category")), className="wf-sar-cat"),
        html.Span([age_of(report["received"], now), html.Strong(" LATE") if late else None], className="wf-sar-age",
                  title=f"received {iso_words(report.get('received_at'))}"),
        html.Span(excerpt, className="wf-sar-excerpt"),
    ], href=href(state=state, id=report["id"]), className="wf-sar-item" + (" wf-sar-item-on" if report["id"] == selected else ""))


def _kv(pairs: list[tuple[str, Any]]) -> html.Table:
    return html.Table([html.Tr([html.Th(k), html.Td(v if isinstance(v, (list, html.Span, html.Div)) else str(v))])
                       for k, v in pairs if v not in (None, "", [])], className="wf-kv wf-sar-kv")


def _where(location: dict[str, Any]) -> str:
    parts = [location.get("text") or ""]
    if location.get("lat") is not None:
        parts.append(f"{location['lat']:.5f}, {location['lon']:.5f}")
    if location.get("label") and location.get("label") != location.get("text"):
        parts.append(f"placed at {location['label']}" + (f" ({location['precision']})" if location.get("precision") else ""))
    return " · ".join(p for p in parts if p)


def _table(head: list[str], rows: list[list[Any]], css: str) -> html.Table:
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])),
                       html.Tbody([html.Tr([html.Td(str(c or "")) for c in row]) for row in rows])], className=css)


def report_fields(report: dict[str, Any]) -> list[Any]:
    category = BY_CODE.get(report.get("category") or "")
    parts: list[Any] = [_kv([
        ("Category", html.Span([category_words(report.get("category")),
                                html.Span(f" {category.meaning}" if category else "", className="wf-muted")])),
        ("Target sector", report.get("sector")), ("When (UTC)", iso_words(report.get("time"))),
        ("Where", _where(report.get("location") or {})), ("Source", report.get("source")),
        ("Reporting officer", report.get("reporting_officer")),
        ("Entered", f"{iso_words(report.get('received_at'))} by {report.get('entered_by')} via {report.get('channel')}"),
        ("Marking", report.get("tlp")),
        ("Contact", "anonymous" if report.get("anonymous") else report.get("contact")),
        ("Phones", ", ".join(report.get("phones") or [])), ("E-mails", ", ".join(report.get("emails") or [])),
        ("Organisations", ", ".join(report.get("organisations") or [])),
        ("Addresses", ", ".join(report.get("addresses") or [])),
        ("Shared", f"by {report['shared']['by']} at {iso_words(report['shared']['at'])}, privacy affirmed; review by "
                   f"{report['shared']['review_date']}" if report.get("shared") else None),
    ]), html.H4("Narrative"), html.P(report.get("narrative") or "", className="wf-detail-text wf-sar-narrative")]
    if report.get("subjects"):
        parts += [html.H4("Subjects"), _table(["Name", "Date of birth", "Description"],
                                              [[s.get("name"), s.get("dob"), s.get("description")] for s in report["subjects"]],
                                              "wf-sar-table")]
    if report.get("vehicles"):
        parts += [html.H4("Vehicles"), _table(["Plate", "State", "Make", "Model", "Colour"],
                                              [[v.get(k) for k in ("plate", "state", "make", "model", "colour")]
                                               for v in report["vehicles"]], "wf-sar-table")]
    if report.get("addenda"):
        parts += [html.H4("The tipster's additions"),
                  html.Ul([html.Li([html.Span(iso_words(a.get("at")) + " ", className="wf-muted"), a.get("text", "")],
                                   className="wf-detail-text") for a in report["addenda"]], className="wf-sar-addenda")]
    return parts


def privacy_box(report: dict[str, Any]) -> Any:
    flags = report.get("privacy_flags") or []
    if not flags:
        return None
    return html.Div([html.Strong("Privacy: look at this before any move"),
                     html.Ul([html.Li(f) for f in flags])], className="wf-sar-flags", role="alert")


def history_table(rows: list[dict[str, Any]]) -> list[Any]:
    return [html.H4("History"), _table(["When (UTC)", "Who", "From", "To", "Reason"],
                                       [[iso_words(r.get("at")), r.get("by"), STATE_WORDS.get(r.get("from"), "—"),
                                         STATE_WORDS.get(r.get("to"), r.get("to")), r.get("reason")] for r in rows],
                                       "wf-sar-table wf-sar-history")]


def moves_panel(report: dict[str, Any], user: Any) -> list[Any]:
    """The moves ``user`` may make out of the report's state, each needing a reason; screening asks
    for the category, sharing for the two affirmations (the domain checks both again)."""
    rid = report["id"]
    moves = moves_from(report["state"], user)
    if not moves:
        waiting_for = "an analyst (supervisor)" if report["state"] in ("review", "kept", "shared") else "an operator"
        return [html.H4("Vetting"), html.P(f"No move is yours to make here; {waiting_for} decides.", className="wf-muted")]
    parts: list[Any] = [html.H4("Vetting")]
    if report["state"] in WAITING:
        parts.append(html.Label(["Behaviour category" + (" (screening decides it)" if report["state"] == "received" else ""),
                                 dcc.Dropdown(id={"wf-sar": "category", "report": rid}, value=report.get("category") or None,
                                              options=[{"label": f"{c.code}: {c.title}", "value": c.code} for c in CATEGORIES],
                                              placeholder="choose the category", className="wf-dropdown")]))
    if any(m.target == "shared" for m in moves):
        parts.append(html.Fieldset([html.Legend("Before sharing, affirm both"),
                                    dcc.Checklist(id={"wf-sar": "affirm", "report": rid}, options=AFFIRMATIONS, value=[],
                                                  className="wf-sar-affirm")], className="wf-sar-affirm-box"))
    parts.append(html.Label(["Reason (kept with the report and in the audit trail)",
                             dcc.Textarea(id={"wf-sar": "reason", "report": rid}, rows=2, maxLength=500, className="wf-input")]))
    parts.append(html.Div([html.Button(MOVE_WORDS.get(m.name, m.name[0].upper() + m.name[1:]), type="button", n_clicks=0,
                                       id={"wf-sar-move": m.target, "report": rid},
                                       className="wf-button" + (" wf-secondary" if m.target == "closed" else ""))
                           for m in moves], className="wf-sar-moves"))
    return parts


def mention_words(field: str) -> str:
    return field_words(field) or field


__all__ = ["AFFIRMATIONS", "LIST_LIMIT", "STATE_WORDS", "category_words", "history_table", "href", "kind_word",
           "mention_words", "moves_panel", "privacy_box", "queue_panel", "report_fields", "states_for"]
