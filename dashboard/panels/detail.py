"""The detail drawer: every field of one incident, its provenance and its CAP fields. Feed text
is rendered as text nodes; only http(s) links become links, and they are shown as their URL."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from domain.agencies.access import owner_text
from domain.picture.candidates import MAX_HOURS, MAX_KM, Candidate
from domain.picture.markers import SEVERITY_COLOURS, precision_text
from feeds.text import safe_link

CAP_FIELDS = ("status", "msgType", "scope", "urgency", "severity", "certainty", "event", "effective", "onset",
              "expires", "areaDesc", "sender", "identifier", "sent", "references")


def _rows(pairs: list[tuple[str, Any]]) -> html.Table:
    return html.Table([html.Tr([html.Th(k), html.Td("" if v is None else str(v))]) for k, v in pairs if v not in (None, "", [])],
                      className="wf-kv")


def report_panel(event: dict[str, Any]) -> list[Any]:
    """One contributing report: its text, position, provenance and CAP fields."""
    link = safe_link(event.get("link"))
    where = "unplaced" if event.get("lat") is None else f"{event['lat']:.4f}, {event['lon']:.4f}"
    provenance = event.get("provenance") or {}
    cap = (event.get("extra") or {}).get("cap") or {}
    extra = {k: v for k, v in (event.get("extra") or {}).items() if k != "cap" and not isinstance(v, (dict, list))}
    fields = provenance.get("fields") or {}
    parts: list[Any] = [
        html.P(event.get("text") or "", className="wf-detail-text"),
        _rows([("Source", event.get("source")), ("Feed", event.get("feed")), ("Owner", owner_text(event)),
               ("Time (UTC)", event.get("time")),
               ("Updated", event.get("updated")), ("Position", where),
               ("Precision", precision_text(event)),
               ("Placed by", event.get("placed_by") or ("source" if event.get("lat") is not None else None)),
               ("Place", event.get("place")), ("Magnitude", event.get("magnitude")), ("Depth km", event.get("depth_km")),
               ("Report id", event.get("id")), ("Raw id", provenance.get("raw_id")),
               ("Fetched", provenance.get("fetched_at")), ("Link", link)]),
    ]
    if link:
        parts.append(html.A("Open the source report", href=link, target="_blank", rel="noopener noreferrer nofollow"))
    if fields:
        parts += [html.H5("Where each value came from"), _rows(sorted(fields.items()))]
    if cap:
        parts += [html.H5("CAP"), _rows([(k, cap.get(k)) for k in CAP_FIELDS])]
    if extra:
        parts += [html.H5("More"), _rows(sorted(extra.items()))]
    if event.get("warnings"):
        parts += [html.H5("Warnings"), html.Ul([html.Li(w) for w in event["warnings"]])]
    return parts


STATUSES = ("new", "acknowledged", "monitoring", "escalated", "resolved", "closed")
TLPS = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")


def annotation_panel(incident_id: str, note: dict[str, Any] | None, can_write: bool) -> list[Any]:
    """The incident's annotation (already checked against the reader's TLP) and, for operators, a
    form that saves through PUT /api/incidents/{id}/annotation with the version it was based on,
    so a concurrent change is reported ("changed by X at T"), never overwritten."""
    note = note or {}
    shown = [
        _rows([("Status", note.get("status")), ("Assignee", note.get("assignee")), ("Tags", ", ".join(note.get("tags") or [])),
               ("Marking", note.get("tlp")), ("Version", note.get("version")),
               ("Last change", f"{note.get('updated_by', '')} {note.get('updated_at', '')}".strip() or None)]),
        html.P(note.get("note") or "", className="wf-detail-text"),
    ] if note else [html.P("No annotation yet.", className="wf-muted")]
    if not can_write:
        return [html.H4("Annotation"), *shown]
    form = html.Div(
        [
            html.Label("Status", htmlFor="wf-ann-status"),
            html.Select([html.Option(s, value=s, selected=(note.get("status") or "new") == s) for s in STATUSES],
                        id="wf-ann-status", className="wf-input"),
            html.Label("Marking", htmlFor="wf-ann-tlp"),
            html.Select([html.Option(t, value=t, selected=(note.get("tlp") or "TLP:GREEN") == t) for t in TLPS],
                        id="wf-ann-tlp", className="wf-input"),
            html.Label("Assignee (account name)", htmlFor="wf-ann-assignee"),
            dcc.Input(id="wf-ann-assignee", className="wf-input", type="text", maxLength=64,
                      value=note.get("assignee") or "", autoComplete="off", debounce=True),
            html.Label("Tags (comma-separated)", htmlFor="wf-ann-tags"),
            dcc.Input(id="wf-ann-tags", className="wf-input", type="text", maxLength=400,
                      value=", ".join(note.get("tags") or []), autoComplete="off", debounce=True),
            html.Label("Note (plain text)", htmlFor="wf-ann-note"),
            html.Textarea(note.get("note") or "", id="wf-ann-note", className="wf-input", rows=4, maxLength=4000),
            html.Button("Save annotation", className="wf-button", **{
                "data-action": "save-annotation", "data-incident": incident_id, "data-version": str(note.get("version") or 0)}),
            html.Div(className="wf-form-result", role="status"),
        ],
        className="wf-form",
    )
    return [html.H4("Annotation"), *shown, form]


def _apart(hours: float) -> str:
    minutes = round(abs(hours) * 60)
    if minutes == 0:
        return "same time"
    h, m = divmod(minutes, 60)
    return (f"{h} h {m:02d} min" if h else f"{m} min") + (" later" if hours > 0 else " earlier")


def merge_candidates_panel(incident: dict[str, Any], candidates: list[Candidate] | None) -> html.Div:
    """For operators: the incidents most likely to be the same happening (domain/picture/candidates.py,
    already filtered by the reader's marking), each with a button that merges through
    POST /api/incidents/{id}/merge like the typed id. Feed strings are text nodes and attribute values."""
    own = incident.get("id") or ""
    head = [html.H4("Merge with…"),
            html.P(f"Incidents within {MAX_KM:.0f} km and {MAX_HOURS:.0f} h that may be the same happening: "
                   "same kind first, then nearest in place and time.", className="wf-muted")]
    if candidates is None:
        body: list[Any] = [html.P("Candidates unavailable (data store unreachable).", className="wf-muted")]
    elif not candidates:
        body = [html.P("No other incident that close." if incident.get("lat") is not None
                       else "This incident has no position, so there is nothing near it to suggest.",
                       className="wf-muted")]
    else:
        body = [html.Ul([html.Li([
            html.Div([
                html.Div(c.title or "(untitled)", className="wf-candidate-title"),
                html.Div(" · ".join([c.kind or "unknown kind", f"{c.sources} source{'s' if c.sources != 1 else ''}",
                                     "< 1 km" if c.distance_km < 1 else f"{c.distance_km:.0f} km", _apart(c.hours)]),
                         className="wf-muted wf-candidate-facts"),
            ], className="wf-candidate-text"),
            html.Button("Merge", className="wf-button wf-candidate-merge", **{
                "data-action": "merge-incident", "data-incident": own, "data-other": c.id,
                "aria-label": f"Merge with {c.title or c.id}"[:300]}),
        ], className="wf-candidate" + (" wf-candidate-same" if c.same_kind else ""), **{"data-wf-candidate": c.id})
            for c in candidates], className="wf-candidates")]
    return html.Div([*head, *body, html.Div(className="wf-form-result", role="status")],
                    className="wf-form wf-merge-candidates")


def fusion_controls(incident: dict[str, Any], candidates: list[Candidate] | None = None) -> html.Div:
    """For operators: merge this incident with one of the suggested candidates, or with another
    named by its id; the decision sticks for new reports; the split buttons sit on each report.
    All post to the API, which checks role and marking."""
    return html.Div([merge_candidates_panel(incident, candidates), html.Div([
        html.Label("Or another incident, by its id:", htmlFor="wf-merge-other"),
        html.Div([
            dcc.Input(id="wf-merge-other", className="wf-input", type="text", maxLength=300,
                      placeholder="inc:…", autoComplete="off", debounce=True),
            html.Button("Merge into one", className="wf-button", **{"data-action": "merge-incident",
                                                                     "data-incident": incident.get("id") or ""}),
        ], className="wf-inline"),
        html.Div(className="wf-form-result", role="status"),
    ], className="wf-form")], className="wf-fusion-controls")


PLACE_WORDS = {"hospital": "Hospital", "police": "Police", "fire_station": "Fire station",
               "ambulance_station": "Ambulance station", "clinic": "Clinic"}


def _distance(km: float) -> str:
    return f"{km * 1000:.0f} m" if km < 1 else f"{km:.1f} km"


def nearby_panel(nearby: dict[str, list[dict[str, Any]]] | None) -> list[Any]:
    """Where to send people: the nearest hospitals and responders, and how the distance was taken."""
    if nearby is None:
        return [html.H4("Nearest hospitals"),
                html.P("No street basemap covers this place (watchfloor basemap import adds one).", className="wf-muted")]
    rows = []
    for group in ("hospitals", "responders", "clinics"):
        for place in nearby.get(group) or []:
            what = PLACE_WORDS.get(place.get("class"), place.get("class"))
            if place.get("emergency") == "yes":
                what += " (emergency department)"
            rows.append((what, f"{place.get('name') or '(unnamed)'} · {_distance(place['km'])} {place['by']}"))
    head = [html.H4("Nearest hospitals")]
    if not nearby.get("hospitals"):
        head.append(html.P("No hospital within 50 km in the street data.", className="wf-muted"))
    return [*head, _rows(rows)] if rows else head


def detail_panel(incident: dict[str, Any], reports: list[dict[str, Any]],
                 annotation: list[Any] | None = None, can_edit: bool = False,
                 candidates: list[Candidate] | None = None,
                 nearby: dict[str, list[dict[str, Any]]] | None = None) -> list[Any]:
    """A fused incident and every report that contributed to it, each traceable to its source.
    ``can_edit`` (operators) adds the split and merge controls, with the merge ``candidates``
    (None: they could not be computed); for others they are neither rendered nor passed."""
    sev = incident.get("severity") or "unknown"
    sources = sorted({r.get("source") or "" for r in incident.get("reports") or []} - {""})
    n = len(sources)
    superseded = set(incident.get("superseded") or [])
    where = "unplaced" if incident.get("lat") is None else f"{incident['lat']:.4f}, {incident['lon']:.4f}"
    supplied = {r.get("event_id"): ", ".join(r.get("fields") or []) for r in incident.get("reports") or []}
    parts: list[Any] = [
        html.Button("Close (Esc)", className="wf-close", **{"data-action": "close-detail"}),
        html.H3(incident.get("title") or "(untitled)"),
        html.Div([html.Span(sev.upper(), className="wf-sev", style={"borderColor": SEVERITY_COLOURS.get(sev, "#bbb")}),
                  html.Span(" EXERCISE" if incident.get("exercise") else "", className="wf-ex-tag")]),
        html.P(f"Corroborated by {n} source{'s' if n != 1 else ''}: {', '.join(sources)}" if n > 1
               else f"Single source: {', '.join(sources) or 'unknown'}", className="wf-corroboration"),
        _rows([("Kind", incident.get("kind")), ("Time (UTC)", incident.get("time")), ("Position", where),
               ("Precision", precision_text(incident)), ("Placed by", incident.get("placed_by")),
               ("Place", incident.get("place")), ("Magnitude", incident.get("magnitude")),
               ("Incident id", incident.get("id"))]),
        *(nearby_panel(nearby) if incident.get("lat") is not None else []),
        *(annotation or []),
        html.H4(f"Reports ({len(reports)})"),
    ]
    for event in sorted(reports, key=lambda e: e.get("time") or ""):
        label = f"{(event.get('source') or '?').upper()} · {(event.get('time') or '')[:16].replace('T', ' ')}Z · {event.get('title') or ''}"
        note = " (superseded)" if event.get("id") in superseded else ""
        gave = supplied.get(event.get("id"))
        summary = [html.Span(label + note)] + ([html.Span(f"  supplied: {gave}", className="wf-muted")] if gave else [])
        split = [html.Div([
            html.Button("Not the same happening: split this report out", className="wf-button wf-split", **{
                "data-action": "split-report", "data-incident": incident.get("id") or "", "data-event": event.get("id") or ""}),
            html.Div(className="wf-form-result", role="status")], className="wf-form")] if can_edit and len(reports) > 1 else []
        parts.append(html.Details([html.Summary(summary), *report_panel(event), *split], open=len(reports) == 1,
                                  className="wf-report"))
    if can_edit:
        parts.append(fusion_controls(incident, candidates))
    return parts
