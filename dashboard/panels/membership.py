"""The signed-in person's name and agency in a screen's header (desk and tablet), and the admin's
link to the agencies page (dashboard/agencies_page.py)."""

from __future__ import annotations

from dash import html

from dashboard.security import current_user, has_role

__all__ = ["admin_link", "pushes_link", "who"]


def who() -> html.Span | None:
    """"dana · MBTA" (an account of no agency: "dana · host center"); None when nobody is signed in."""
    user = current_user()
    if user is None:
        return None
    agency = user.agency or "host center"
    return html.Span([html.Span(user.name, className="wf-who-name"), html.Span(agency, className="wf-who-agency")],
                     className="wf-who", title=f"Signed in as {user.name}, {agency}")


def admin_link() -> html.A | None:
    return html.A("Agencies", href="/agencies", className="wf-button wf-audit-link") if has_role("admin") else None


def pushes_link() -> html.A | None:
    """"Pushes" (/agency, what partners pushed and what was refused) for whoever that page shows
    something: an agency's operators and above (their own agency), the host center's supervisors and admins."""
    user = current_user()
    if user is None:
        return None
    if (user.agency and has_role("operator")) or (not user.agency and has_role("supervisor")):
        return html.A("Pushes", href="/agency", className="wf-button wf-audit-link wf-pushes-open",
                      title="What partner agencies pushed to Watchfloor, and what was refused")
    return None
