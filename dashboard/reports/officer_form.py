"""The officer's report (operator and above): every ISE-SAR 1.5.5 field on one form, the privacy
rules on the form itself, and a wrong field told in plain words next to the form with what was
typed kept (the domain checks everything: domain.reports.form.parse_report).

Component ids are fixed (``wf-sar-...``) except the repeated subject and vehicle rows, which are
pattern-matched (``{"wf-sar-subject": part, "i": n}``) so "add another" appends a row without
touching what is typed in the others."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from dash import ALL, ClientsideFunction, Dash, Input, Output, Patch, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.offload import off_the_loop
from dashboard.reports.plain import plain
from dashboard.security import current_user, requires
from domain.access.audit import audit
from domain.access.tlp import TLP, max_marking
from domain.agencies.access import owner_fields
from domain.config.loader import Config
from domain.errors import Invalid
from domain.reports.categories import CATEGORIES, SECTORS
from domain.reports.form import MAX_ITEMS, SUBJECT_FIELDS, VEHICLE_FIELDS
from domain.reports.store import build, save_new
from feeds.geocode.matcher import geocode

PRIVACY_NOTE = ("Race, ethnicity, national origin or religion are never a reason for suspicion: write them only "
                "as part of a specific description of a person. Activity the First Amendment protects (speech, "
                "protest, worship, the press) is not reported without facts of criminal activity.")
SUBJECT_WORDS = {"name": "Name", "dob": "Date of birth (YYYY-MM-DD)", "description": "Description"}
VEHICLE_WORDS = {"plate": "Plate", "state": "State", "make": "Make", "model": "Model", "colour": "Colour"}
FIELD_IDS = ("wf-sar-cat-crim", "wf-sar-cat-more", "wf-sar-sector", "wf-sar-narrative", "wf-sar-time",
             "wf-sar-loc-text", "wf-sar-lat", "wf-sar-lon", "wf-sar-phones", "wf-sar-emails", "wf-sar-orgs",
             "wf-sar-source", "wf-sar-officer", "wf-sar-tlp")


def _category_options(criminal: bool) -> list[dict[str, Any]]:
    return [{"label": html.Span([html.Span(f"{c.title} ", className="wf-sar-cat-title"),
                                 html.Span(c.code, className="wf-sar-code"),
                                 html.Span(c.meaning, className="wf-sar-cat-help")]),
             "value": c.code} for c in CATEGORIES if c.criminal == criminal]


def _field(label: str, component: Any, hint: str = "") -> html.Div:
    return html.Div([html.Label(label, htmlFor=component.id) if isinstance(component.id, str) else html.Span(label),
                     component, html.Div(hint, className="wf-muted") if hint else None], className="wf-sar-field")


def subject_row(i: int) -> html.Fieldset:
    inputs = [html.Label([SUBJECT_WORDS[part],
                          (dcc.Textarea if part == "description" else dcc.Input)(
                              id={"wf-sar-subject": part, "i": i}, className="wf-input",
                              **({"rows": 2, "maxLength": 1000} if part == "description"
                                 else {"type": "text", "maxLength": 200 if part == "name" else 10}))])
              for part in SUBJECT_FIELDS]
    return html.Fieldset([html.Legend(f"Subject {i + 1}"), *inputs], className="wf-sar-row")


def vehicle_row(i: int) -> html.Fieldset:
    inputs = [html.Label([VEHICLE_WORDS[part], dcc.Input(id={"wf-sar-vehicle": part, "i": i}, type="text",
                                                          className="wf-input", maxLength=15 if part == "plate" else 60)])
              for part in VEHICLE_FIELDS]
    return html.Fieldset([html.Legend(f"Vehicle {i + 1}"), *inputs], className="wf-sar-row wf-sar-vehicle")


def markings_for(user: Any) -> list[str]:
    """The markings a person may give a report: none above what they may read themselves."""
    ceiling = max_marking(user) if user is not None else TLP.RED
    return [t.value for t in TLP if ceiling.allows(t)]


def officer_form(user: Any, hidden: bool) -> html.Section:
    """The form; ``user`` None gives the full form (Dash's validation layout at start-up)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
    markings = markings_for(user)
    tlp = "TLP:AMBER" if "TLP:AMBER" in markings else markings[-1]
    return html.Section([
        html.H2("Officer's report"),
        html.Div([html.Strong("Privacy: "), PRIVACY_NOTE], className="wf-sar-privacy", role="note"),
        html.Fieldset([
            html.Legend("Behaviour category"),
            html.Div([
                html.Div([html.H4("Defined criminal activity"),
                          dcc.RadioItems(id="wf-sar-cat-crim", options=_category_options(True), className="wf-sar-cats")]),
                html.Div([html.H4("Needs more facts during vetting"),
                          dcc.RadioItems(id="wf-sar-cat-more", options=_category_options(False), className="wf-sar-cats")]),
            ], className="wf-sar-cat-groups"),
        ], className="wf-sar-block"),
        html.Div([
            _field("Target sector", dcc.Dropdown(id="wf-sar-sector", options=list(SECTORS), placeholder="choose a sector",
                                                 className="wf-dropdown")),
            _field("Date and time (UTC)", dcc.Input(id="wf-sar-time", type="datetime-local", value=now, className="wf-input")),
            _field("Marking", dcc.RadioItems(id="wf-sar-tlp", options=markings, value=tlp, inline=True, className="wf-radio")),
        ], className="wf-sar-grid"),
        _field("Narrative: the articulable facts (what was seen or heard, by whom, for how long)",
               dcc.Textarea(id="wf-sar-narrative", rows=6, maxLength=8000, className="wf-input")),
        html.Div([
            _field("Location (address or place)", dcc.Input(id="wf-sar-loc-text", type="text", maxLength=300,
                                                             className="wf-input")),
            _field("or latitude", dcc.Input(id="wf-sar-lat", type="text", inputMode="decimal", maxLength=20,
                                            className="wf-input", placeholder="e.g. 60.1699")),
            _field("longitude", dcc.Input(id="wf-sar-lon", type="text", inputMode="decimal", maxLength=20,
                                          className="wf-input", placeholder="e.g. 24.9384")),
        ], className="wf-sar-grid wf-sar-where"),
        html.H3("Subjects"),
        html.Div([subject_row(0)], id="wf-sar-subjects"),
        html.Button("Add a subject", id="wf-sar-add-subject", n_clicks=0, type="button", className="wf-button wf-secondary"),
        html.H3("Vehicles"),
        html.Div([vehicle_row(0)], id="wf-sar-vehicles"),
        html.Button("Add a vehicle", id="wf-sar-add-vehicle", n_clicks=0, type="button", className="wf-button wf-secondary"),
        html.Div([
            _field("Phones (one a line)", dcc.Textarea(id="wf-sar-phones", rows=2, className="wf-input")),
            _field("E-mails (one a line)", dcc.Textarea(id="wf-sar-emails", rows=2, className="wf-input")),
            _field("Organisations (one a line)", dcc.Textarea(id="wf-sar-orgs", rows=2, className="wf-input")),
        ], className="wf-sar-grid"),
        html.Div([
            _field("Source (how this came to you)", dcc.Input(id="wf-sar-source", type="text", maxLength=200,
                                                               className="wf-input", placeholder="patrol observation")),
            _field("Reporting officer", dcc.Input(id="wf-sar-officer", type="text", maxLength=200, className="wf-input",
                                                  value=getattr(user, "name", ""))),
        ], className="wf-sar-grid"),
        html.Div([html.Button("File the report", id="wf-sar-file", n_clicks=0, type="button", className="wf-button"),
                  html.Div(id="wf-sar-form-error", className="wf-sar-error", role="alert", **{"aria-live": "assertive"}),
                  dcc.Store(id="wf-sar-bad-field")],
                 className="wf-sar-submit"),
    ], id="wf-sar-form", className="wf-sar-form wf-form", hidden=hidden)


FIELD_DOM = {"category": "wf-sar-cat-crim", "sector": "wf-sar-sector", "narrative": "wf-sar-narrative",
             "time": "wf-sar-time", "location": "wf-sar-loc-text", "location.text": "wf-sar-loc-text",
             "location.lat": "wf-sar-lat", "location.lon": "wf-sar-lon", "phones": "wf-sar-phones",
             "emails": "wf-sar-emails", "organisations": "wf-sar-orgs", "source": "wf-sar-source",
             "reporting_officer": "wf-sar-officer", "tlp": "wf-sar-tlp"}
_ROW = re.compile(r"^(subjects|vehicles)\[(\d+)\](?:\.(\w+))?")


def field_dom_id(message: str) -> str | None:
    """The DOM id of the form field a domain message names first (``vehicles[0].plate: ...``)."""
    path = str(message).partition(": ")[0]
    row = _ROW.match(path)
    if row:
        kind = "wf-sar-subject" if row[1] == "subjects" else "wf-sar-vehicle"
        part = row[3] or ("name" if row[1] == "subjects" else "plate")
        return json.dumps({kind: part, "i": int(row[2])}, sort_keys=True, separators=(",", ":"))  # as Dash writes it
    return FIELD_DOM.get(path) or FIELD_DOM.get(re.sub(r"\[\d+\]$", "", path))


def _lines(text: Any) -> list[str]:
    return [line.strip() for line in str(text or "").splitlines() if line.strip()]


def _rows(values: list[dict[str, Any]], key: str, parts: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of the repeated fieldsets from the pattern-matched states, in row order, empty rows left out."""
    rows: dict[int, dict[str, str]] = {}
    for state in values:
        rows.setdefault(int(state["id"]["i"]), {})[state["id"][key]] = str(state.get("value") or "").strip()
    return [{p: row.get(p, "") for p in parts} for _i, row in sorted(rows.items()) if any(row.values())]


def form_data(fields: dict[str, Any], subjects: list[dict[str, Any]], vehicles: list[dict[str, Any]]) -> dict[str, Any]:
    """The report as domain.reports.form reads it, from the form's values (nothing checked here)."""
    location: dict[str, Any] = {}
    if str(fields.get("wf-sar-loc-text") or "").strip():
        location["text"] = fields["wf-sar-loc-text"]
    for name, key in (("lat", "wf-sar-lat"), ("lon", "wf-sar-lon")):
        if str(fields.get(key) or "").strip():
            location[name] = str(fields[key]).strip()
    data: dict[str, Any] = {
        "category": fields.get("wf-sar-cat-crim") or fields.get("wf-sar-cat-more") or "",
        "sector": fields.get("wf-sar-sector") or "", "narrative": fields.get("wf-sar-narrative") or "",
        "time": fields.get("wf-sar-time") or "", "subjects": _rows(subjects, "wf-sar-subject", SUBJECT_FIELDS),
        "vehicles": _rows(vehicles, "wf-sar-vehicle", VEHICLE_FIELDS), "phones": _lines(fields.get("wf-sar-phones")),
        "emails": _lines(fields.get("wf-sar-emails")), "organisations": _lines(fields.get("wf-sar-orgs")),
        "source": fields.get("wf-sar-source") or "", "reporting_officer": fields.get("wf-sar-officer") or "",
        "tlp": fields.get("wf-sar-tlp") or "",
    }
    if location:
        data["location"] = location
    return data


def register_form(app: Dash, config: Config, get_client: Callable[[], redis.Redis | None]) -> None:
    @app.callback(Output("wf-sar-cat-crim", "value"), Output("wf-sar-cat-more", "value"),
                  Input("wf-sar-cat-crim", "value"), Input("wf-sar-cat-more", "value"), prevent_initial_call=True)
    def one_category(crim: Any, more: Any) -> tuple[Any, Any]:
        """The two groups are one choice: picking in one clears the other."""
        if ctx.triggered_id == "wf-sar-cat-crim":
            return no_update, (None if crim else no_update)
        return (None if more else no_update), no_update

    for kind, row in (("subject", subject_row), ("vehicle", vehicle_row)):
        _register_add_row(app, kind, row)

    app.clientside_callback(ClientsideFunction(namespace="wfreports", function_name="markField"),
                            Output("wf-sar-form-error", "title"), Input("wf-sar-bad-field", "data"), prevent_initial_call=True)

    @app.callback(Output("wf-sar-form-error", "children"), Output("wf-sar-nav", "href"), Output("wf-sar-bad-field", "data"),
                  Input("wf-sar-file", "n_clicks"), *[State(i, "value") for i in FIELD_IDS],
                  State({"wf-sar-subject": ALL, "i": ALL}, "value"), State({"wf-sar-vehicle": ALL, "i": ALL}, "value"),
                  prevent_initial_call=True)
    @off_the_loop
    @requires("operator")
    def file_report(n_clicks: int | None, *values: Any) -> tuple[Any, Any, Any]:
        if not n_clicks:
            raise PreventUpdate
        fields = dict(zip(FIELD_IDS, values[:len(FIELD_IDS)], strict=True))
        data = form_data(fields, ctx.states_list[-2], ctx.states_list[-1])
        return _file(config, get_client, data)


def _register_add_row(app: Dash, kind: str, row: Callable[[int], Any]) -> None:
    @app.callback(Output(f"wf-sar-{kind}s", "children"), Input(f"wf-sar-add-{kind}", "n_clicks"),
                  prevent_initial_call=True)
    def add_row(n_clicks: int | None) -> Any:
        if not n_clicks or n_clicks >= MAX_ITEMS:
            raise PreventUpdate
        patch = Patch()
        patch.append(row(int(n_clicks)))  # rows 1, 2...: row 0 is in the layout; typed values stay
        return patch


def _file(config: Config, get_client: Callable[[], redis.Redis | None], data: dict[str, Any]) -> tuple[Any, Any, Any]:
    user = current_user()
    client = get_client()
    if client is None or user is None:
        return "Not filed: the data store is unreachable. Nothing was lost from the form; try again.", no_update, None
    if data["tlp"] and data["tlp"] not in markings_for(user):
        return (f"Marking: you may mark a report up to {markings_for(user)[-1]}, the highest you may read.", no_update,
                "wf-sar-tlp")
    try:
        report = {**build(data, kind="sar", by=user.name, channel="desk", geocode=geocode),
                  **owner_fields(client, user)}  # its owner: the officer's agency, with its default rule
        save_new(client, report, region=str(config.phone_region))
    except Invalid as exc:
        audit("sar.add", record="(desk form)", outcome="refused", reason=str(exc)[:300])
        return [html.Strong("Not filed. "), plain(str(exc))], no_update, field_dom_id(str(exc))
    except (redis.RedisError, OSError):
        return "Not filed: the data store is unreachable. Nothing was lost from the form; try again.", no_update, None
    audit("sar.add", record=report["id"], reason=f"{report['category']} {report['tlp']} via the desk form")
    return "", f"/reports?id={report['id']}&filed=1", None


__all__ = ["PRIVACY_NOTE", "field_dom_id", "form_data", "markings_for", "officer_form", "register_form"]
