"""The administrators' page for agencies and sharing: ``/agencies``.

Lists agencies (code, kind, TLP ceiling, default rule, members), the people the admin manages and the
per-source rules of its agencies; forms add or change an agency, assign a person, set a source's rule,
remove an agency. Every action goes through domain/agencies/admin.py (the host center's admins do
everything; an agency administrator only its own agency), runs in an admin-only callback, and is
audited; a refusal is one line on the page and an audit record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from dash import Dash, Input, Output, State, ctx, dcc, html

from dashboard.offload import off_the_loop
from dashboard.security import current_user, has_role, requires
from domain.access.audit import audit, audit_refusal
from domain.access.tlp import TLP
from domain.agencies import admin
from domain.agencies.store import KINDS, AgencyStore
from domain.errors import WatchfloorError

FIELD = "wf-input wf-audit-field"
BUTTONS = ("wf-ag-save", "wf-ag-remove", "wf-ag-assign", "wf-ag-source")


def _input(label: str, id_: str, placeholder: str = "") -> html.Label:
    return html.Label([label, dcc.Input(id=id_, type="text", value="", maxLength=120, placeholder=placeholder,
                                        className=FIELD)])


def agencies_layout() -> html.Div:
    user = current_user()
    if user is not None and not has_role("admin", user):
        audit_refusal("page.read", record="/agencies", reason=f"needs role admin; has {user.role.value}", throttle=False)
        return html.Div([html.H1("Agencies"), html.P("Agencies are managed by administrators.", className="wf-refused")],
                        className="wf-audit wf-theme-light")
    kinds = [{"label": v, "value": k} for k, v in KINDS.items()]
    return html.Div([
        html.Header([html.Span("WATCHFLOOR", className="wf-brand"), html.Span("Agencies and sharing", className="wf-subtitle"),
                     html.A("Back to the desk", href="/", className="wf-button")], className="wf-header"),
        html.P(id="wf-ag-status", className="wf-audit-status", role="status"),
        html.H2("Agencies"),
        html.Div(id="wf-ag-agencies", className="wf-audit-table"),
        html.Form([
            _input("Code", "wf-ag-code", "BFD"), _input("Name", "wf-ag-name", "Boston Fire Department"),
            html.Label(["Kind", dcc.Dropdown(id="wf-ag-kind", options=kinds, value="law-enforcement", clearable=False,
                                             className="wf-audit-field")]),
            html.Label(["TLP ceiling", dcc.Dropdown(id="wf-ag-tlp", options=TLP.labels(), value="TLP:AMBER",
                                                    clearable=False, className="wf-audit-field")]),
            _input("Default sharing", "wf-ag-sharing", "all, own or agencies:A,B"), _input("Contact", "wf-ag-contact"),
            html.Button("Add or change", id="wf-ag-save", type="button", n_clicks=0, className="wf-button"),
            html.Button("Remove agency", id="wf-ag-remove", type="button", n_clicks=0, className="wf-button"),
        ], className="wf-audit-filters", **{"aria-label": "Agency"}),
        html.H2("People"),
        html.Div(id="wf-ag-people", className="wf-audit-table"),
        html.Form([_input("Person", "wf-ag-person"), _input("Agency code", "wf-ag-member-of", "none: host center"),
                   html.Button("Assign", id="wf-ag-assign", type="button", n_clicks=0, className="wf-button")],
                  className="wf-audit-filters", **{"aria-label": "Membership"}),
        html.H2("Sharing per source"),
        html.Div(id="wf-ag-sources", className="wf-audit-table"),
        html.Form([_input("Agency code", "wf-ag-src-agency"), _input("Source (feed) id", "wf-ag-src-id"),
                   _input("Rule", "wf-ag-src-rule", "all, own or agencies:A,B"),
                   html.Button("Set", id="wf-ag-source", type="button", n_clicks=0, className="wf-button")],
                  className="wf-audit-filters", **{"aria-label": "Source sharing"}),
    ], className="wf-audit wf-theme-light wf-agencies")


def _table(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> html.Table:
    return html.Table([html.Thead(html.Tr([html.Th(c) for c in columns])),
                       html.Tbody([html.Tr([html.Td(str(v)) for v in row]) for row in rows])])


def _tables(client: redis.Redis, user: Any) -> tuple[Any, Any, Any]:
    people = admin.people(client, user)
    counts: dict[str, int] = {}
    for person in people:
        counts[person.agency] = counts.get(person.agency, 0) + 1
    agencies = _table(("code", "name", "kind", "TLP ceiling", "default sharing", "members", "contact"),
                      [(a.code, a.name, KINDS.get(a.kind, a.kind), a.tlp.value, a.sharing.describe(),
                        counts.get(a.code, 0) if admin.manages(user, a.code) else "-", a.contact)
                       for a in AgencyStore(client).list()])
    people_table = _table(("name", "role", "agency", "state"),
                          [(p.name, p.role.value, p.agency or "host center", "disabled" if p.disabled else "active")
                           for p in people])
    sources = _table(("agency", "source", "rule"), [(code, source, rule) for code, rules in
                                                    admin.sources_of(client, user).items() for source, rule in rules.items()])
    return agencies, people_table, sources


def _act(client: redis.Redis, user: Any, which: str, v: dict[str, str]) -> str:
    if which == "wf-ag-save":
        if AgencyStore(client).get(v["code"]) is None:
            done = admin.add_agency(client, user, v["code"], v["name"], kind=v["kind"], contact=v["contact"],
                                    tlp=v["tlp"], sharing=v["sharing"] or None)
            audit("agency.create", record=done.code, reason=f"{done.name}; up to {done.tlp.value}; {done.sharing}")
            return f"Added {done.code}: {done.name}."
        done = admin.update_agency(client, user, v["code"], tlp=v["tlp"], sharing=v["sharing"] or None,
                                   contact=v["contact"] or None)
        audit("agency.update", record=done.code, reason=f"up to {done.tlp.value}; shares with {done.sharing.describe()}")
        return f"Changed {done.code}: up to {done.tlp.value}, shares with {done.sharing.describe()}."
    if which == "wf-ag-remove":
        gone = admin.remove_agency(client, user, v["code"])
        audit("agency.remove", record=gone.code, reason=gone.name)
        return f"Removed {gone.code}."
    if which == "wf-ag-assign":
        person = admin.assign(client, user, v["person"], v["member_of"] or None)
        audit("account.agency", record=person.name, reason=f"member of {person.agency or 'the host center'}")
        return f"{person.name} is now a member of {person.agency or 'the host center'}."
    rule = admin.set_source(client, user, v["src_agency"], v["src_id"], v["src_rule"])
    audit("agency.source", record=f"{v['src_agency'].upper()}/{v['src_id']}", reason=rule)
    return f"{v['src_agency'].upper()} source {v['src_id']}: {rule}."


def register_agencies_page(app: Dash, get_client: Callable[[], redis.Redis | None]) -> None:
    names = ("code", "name", "kind", "tlp", "sharing", "contact", "person", "member_of", "src_agency", "src_id", "src_rule")
    ids = ("wf-ag-code", "wf-ag-name", "wf-ag-kind", "wf-ag-tlp", "wf-ag-sharing", "wf-ag-contact", "wf-ag-person",
           "wf-ag-member-of", "wf-ag-src-agency", "wf-ag-src-id", "wf-ag-src-rule")

    @app.callback(
        Output("wf-ag-status", "children"), Output("wf-ag-agencies", "children"), Output("wf-ag-people", "children"),
        Output("wf-ag-sources", "children"),
        *[Input(b, "n_clicks") for b in BUTTONS],
        *[State(i, "value") for i in ids],
    )
    @off_the_loop
    @requires("admin")
    def act(*args: Any) -> tuple[str, Any, Any, Any]:
        values = {n: " ".join(str(a or "").split()) for n, a in zip(names, args[len(BUTTONS):], strict=True)}
        client, user = get_client(), current_user()
        if client is None:
            return "The data store is unreachable.", [], [], []
        said = ""
        which = ctx.triggered_id if isinstance(ctx.triggered_id, str) else None
        if which in BUTTONS:
            try:
                said = _act(client, user, which, values)
            except WatchfloorError as exc:
                audit(which.replace("wf-ag-", "agency.page."), record=values.get("code") or values.get("person") or "-",
                      outcome="refused", reason=str(exc)[:200])
                said = f"Not done: {exc}"
        return (said, *_tables(client, user))
