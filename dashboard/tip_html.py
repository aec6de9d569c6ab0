"""The public tip pages as HTML: the form, the check-and-confirm step, the receipt, "add to a tip".

Plain server-rendered forms with no inline script (the page's only script is the same-origin
``/tip.js``: the time zone, "use my location", copying the receipt code). Everything a tipster typed
goes back into the page escaped, never as markup. What the pages say is in plain words for a phone.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PEOPLE = 2  # person slots on the form (p1_*, p2_*)
VEHICLES = 2  # vehicle slots (v1_*, v2_*)
PERSON_FIELDS = (("name", "Name, if you know it", 200, False),
                 ("desc", "What they looked like and wore, what they did", 1000, True))
VEHICLE_FIELDS = (("plate", "Plate", 15), ("state", "State", 3), ("make", "Make", 60), ("model", "Model", 60),
                  ("colour", "Colour", 60))

# What a found place covers, in words ("city": the geocoder places the tip on the town's centre).
PRECISION_WORDS = {
    "exact": "the spot your words describe",
    "city": "the town or city as a whole, not a street",
    "county": "the county as a whole",
    "admin1": "the state or province as a whole",
    "country": "the country as a whole",
}


@dataclass
class Spot:
    """What the review step found for "where": a place from the words, a phone's position, or neither."""

    kind: str  # "found" | "phone" | "missing" | "none"
    label: str = ""
    lat: float | None = None
    lon: float | None = None
    precision: str = ""
    accuracy: int | None = None


@dataclass
class PageText:
    """What every tip page shares: the emergency number and the form's anti-forgery token."""

    emergency: str
    token: str
    notes: list[str] = field(default_factory=list)


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, text: PageText) -> str:
    number = esc(text.emergency)
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><link rel=\"icon\" href=\"data:,\">"
        "<link rel=\"stylesheet\" href=\"/tip.css\"><script src=\"/tip.js\" defer></script></head><body>"
        f"<div class=\"tip-emergency\" role=\"note\" id=\"tip-emergency\"><strong>Emergency? Call "
        f"<a href=\"tel:{number}\">{number}</a> now.</strong> Tips sent here are not read right away.</div>"
        f"<main>{body}</main></body></html>"
    )


def message(error: str = "", note: str = "", *, error_id: str = "tip-error") -> str:
    out = f'<p class="tip-error" role="alert" id="{error_id}">{esc(error)}</p>' if error else ""
    return out + (f'<p class="tip-note" role="status">{esc(note)}</p>' if note else "")


def hidden(values: dict[str, str], names: Iterable[str]) -> str:
    return "".join(f'<input type="hidden" name="{esc(n)}" value="{esc(values.get(n, ""))}">' for n in names)


def _bad(name: str, bad: str) -> str:
    return ' aria-invalid="true" aria-describedby="tip-error" class="tip-bad"' if name == bad else ""


def text_input(name: str, label: str, values: dict[str, str], bad: str, *, limit: int, hint: str = "",
               extra: str = "") -> str:
    hint_html = f'<span class="tip-hint" id="{name}-hint">{esc(hint)}</span>' if hint else ""
    described = f' aria-describedby="{name}-hint"' if hint and name != bad else ""
    return (f'<label for="tip-{name}">{esc(label)}</label>{hint_html}'
            f'<input id="tip-{name}" name="{name}" value="{esc(values.get(name, ""))}" maxlength="{limit}"'
            f'{described}{_bad(name, bad)}{extra}>')


def text_area(name: str, label: str, values: dict[str, str], bad: str, *, limit: int, rows: int = 3,
              hint: str = "", extra: str = "") -> str:
    hint_html = f'<span class="tip-hint" id="{name}-hint">{esc(hint)}</span>' if hint else ""
    described = f' aria-describedby="{name}-hint"' if hint and name != bad else ""
    return (f'<label for="tip-{name}">{esc(label)}</label>{hint_html}'
            f'<textarea id="tip-{name}" name="{name}" rows="{rows}" maxlength="{limit}"{described}'
            f'{_bad(name, bad)}{extra}>{esc(values.get(name, ""))}</textarea>')


def people_section(values: dict[str, str], bad: str) -> str:
    filled = any(values.get(f"p{i}_{f}") for i in range(1, PEOPLE + 1) for f, *_ in PERSON_FIELDS)
    opened = " open" if filled or bad.startswith("p") else ""
    parts = [f'<details class="tip-more"{opened}><summary>People (optional)</summary>']
    for i in range(1, PEOPLE + 1):
        parts.append(f'<fieldset><legend>Person {i}</legend>')
        for name, label, limit, area in PERSON_FIELDS:
            key = f"p{i}_{name}"
            parts.append(text_area(key, label, values, bad, limit=limit) if area
                         else text_input(key, label, values, bad, limit=limit, extra=' autocomplete="off"'))
        parts.append("</fieldset>")
    return "".join(parts) + "</details>"


def vehicles_section(values: dict[str, str], bad: str) -> str:
    filled = any(values.get(f"v{i}_{f}") for i in range(1, VEHICLES + 1) for f, *_ in VEHICLE_FIELDS)
    opened = " open" if filled or bad.startswith("v") else ""
    parts = [f'<details class="tip-more"{opened}><summary>Vehicles (optional)</summary>']
    for i in range(1, VEHICLES + 1):
        parts.append(f'<fieldset class="tip-vehicle"><legend>Vehicle {i}</legend>')
        for name, label, limit in VEHICLE_FIELDS:
            caps = ' autocapitalize="characters"' if name in ("plate", "state") else ""
            parts.append(f'<div class="tip-cell tip-{name}">'
                         + text_input(f"v{i}_{name}", label, values, bad, limit=limit,
                                      extra=f' autocomplete="off"{caps}') + "</div>")
        parts.append("</fieldset>")
    return "".join(parts) + "</details>"


def where_section(values: dict[str, str], bad: str) -> str:
    have = values.get("lat") and values.get("lon")
    status = "Your phone's location will go with your tip." if have else ""
    return (
        text_input("where", "Where did it happen?", values, bad, limit=300,
                   hint="An address, a place name or a town. Or use your phone's location.",
                   extra=' autocomplete="street-address"')
        + '<div class="tip-locate"><button type="button" id="tip-locate" class="tip-secondary" hidden>'
        "Use my location</button>"
        f'<button type="button" id="tip-unlocate" class="tip-link"{"" if have else " hidden"}>'
        "Do not use my location</button>"
        f'<p id="tip-locate-status" class="tip-hint" role="status">{esc(status)}</p></div>'
        + hidden(values, ("lat", "lon", "acc"))
    )


def tip_form(values: dict[str, str], text: PageText, error: str = "", bad: str = "") -> str:
    """The first step: everything the tipster can tell, with what they typed kept."""
    anonymous = " checked" if values.get("anonymous") == "yes" else ""
    body = (
        "<h1>Report suspicious activity</h1>"
        '<p class="tip-lead">Tell us what you saw. You do not have to give your name. '
        "We do not keep your internet address with your tip.</p>"
        + message(error, "".join(text.notes))
        + '<form method="post" action="/tip" novalidate>'
        f'<input type="hidden" name="csrf" value="{esc(text.token)}">'
        + text_area("narrative", "What happened? (required)", values, bad, limit=8000, rows=6,
                    hint="What people did or said, and what made it stand out. Someone's race, religion or "
                         "origin alone is not suspicious: describe what they did.",
                    extra=' required minlength="20"')
        + where_section(values, bad)
        + text_input("when", "When did it happen?", values, bad, limit=25,
                     hint="Leave it empty if it is happening now.", extra=' type="datetime-local"')
        + hidden(values, ("tz",))
        + people_section(values, bad)
        + vehicles_section(values, bad)
        + '<fieldset class="tip-contact"><legend>Can we contact you? (optional)</legend>'
        + text_input("contact", "Phone or e-mail", values, bad, limit=300,
                     hint="Only the people who read tips see it.", extra=' autocomplete="off"')
        + f'<label class="tip-check"><input type="checkbox" name="anonymous" value="yes"{anonymous}>'
        "I want to stay anonymous: do not send a contact</label></fieldset>"
        '<button type="submit" name="action" value="review" class="tip-primary">Next: check your tip</button>'
        "</form>"
        '<p class="tip-foot"><a href="/tip/more">Already sent a tip? Add to it with your receipt code</a></p>'
    )
    return page("Report suspicious activity", body, text)


def _spot_html(spot: Spot, where: str) -> str:
    if spot.kind == "found":
        return (f'<p>We found: <strong class="tip-place">{esc(spot.label)}</strong></p>'
                f'<p class="tip-hint">That is {esc(PRECISION_WORDS.get(spot.precision, "an area"))}. The words you '
                f'typed go with it: “{esc(where)}”. ({spot.lat:.4f}, {spot.lon:.4f})</p>')
    if spot.kind == "phone":
        within = f" (within about {spot.accuracy} m)" if spot.accuracy else ""
        return (f'<p>Your phone\'s location: <strong class="tip-place">{esc(spot.label)}</strong>{within}</p>'
                f'<p class="tip-hint">({spot.lat:.5f}, {spot.lon:.5f})</p>')
    if spot.kind == "missing":
        return (f'<p>We could not find “{esc(where)}” on our map.</p><p class="tip-hint">Your words go with '
                "the tip as you typed them, and the people who read it will look for the place. "
                "Or change them: a street with its town, or the name of a place, helps.</p>")
    return '<p>You did not say where.</p><p class="tip-hint">If you can, change your tip and add a place.</p>'


def _summary(report: dict[str, Any], values: dict[str, str]) -> str:
    rows = [("What happened", report.get("narrative", ""))]
    rows.append(("When", values.get("when_words") or "Now"))
    for i, person in enumerate(report.get("subjects") or [], 1):
        rows.append((f"Person {i}", " — ".join(v for v in (person.get("name"), person.get("description")) if v)))
    for i, car in enumerate(report.get("vehicles") or [], 1):
        plate = " ".join(v for v in (car.get("plate"), car.get("state")) if v)
        rows.append((f"Vehicle {i}", ", ".join(v for v in (plate, car.get("colour"), car.get("make"),
                                                             car.get("model")) if v)))
    if report.get("anonymous"):
        contact = "None: you stay anonymous" + (" (the contact you typed is not sent)" if values.get("contact") else "")
    else:
        contact = report.get("contact") or "None given"
    rows.append(("Contact", contact))
    return '<dl class="tip-summary">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows) + "</dl>"


def review_page(values: dict[str, str], report: dict[str, Any], spot: Spot, text: PageText,
                carried: Iterable[str]) -> str:
    """The second step: the place we found (or the phone's), the tip as we read it, and send or change."""
    if spot.kind == "found":
        buttons = ('<button type="submit" name="action" value="send-spot" class="tip-primary">'
                   "Yes, that is the place: send my tip</button>"
                   '<button type="submit" name="action" value="send-words" class="tip-secondary">'
                   "Not that place: send with my words only</button>")
    else:
        buttons = '<button type="submit" name="action" value="send-words" class="tip-primary">Send my tip</button>'
    spot_fields = {"spot_name": spot.label, "spot_lat": f"{spot.lat}" if spot.lat is not None else "",
                   "spot_lon": f"{spot.lon}" if spot.lon is not None else "", "spot_precision": spot.precision}
    body = (
        "<h1>Check your tip</h1>"
        + message("", "".join(text.notes))
        + '<section class="tip-where" aria-labelledby="tip-where-h"><h2 id="tip-where-h">Where</h2>'
        + _spot_html(spot, values.get("where", "")) + "</section>"
        + '<section aria-labelledby="tip-what-h"><h2 id="tip-what-h">Your tip</h2>' + _summary(report, values)
        + "</section>"
        + '<form method="post" action="/tip" class="tip-actions">'
        f'<input type="hidden" name="csrf" value="{esc(text.token)}">'
        + hidden(values, carried) + hidden(spot_fields, spot_fields)
        + buttons
        + '<button type="submit" name="action" value="edit" class="tip-link">Change my tip</button></form>'
    )
    return page("Check your tip", body, text)


def receipt_page(code: str, text: PageText) -> str:
    """The answer to a stored tip: its receipt code, and nothing else of it."""
    body = (
        "<h1>Thank you. Your tip was received.</h1>"
        '<section class="tip-receipt" aria-labelledby="tip-code-h"><h2 id="tip-code-h">Your receipt code</h2>'
        f'<p class="tip-code" id="tip-code">{esc(code)}</p>'
        '<button type="button" id="tip-copy" class="tip-secondary" data-copy="tip-code" hidden>Copy the code</button>'
        "<p>Write it down or take a screenshot now: we cannot show it to you again.</p></section>"
        "<p>With this code you can add information to your tip later. It does not show your tip to anyone, "
        "you included.</p>"
        '<p><a class="tip-button" href="/tip/more">Add information now</a></p>'
        '<p class="tip-foot"><a href="/tip">Send another tip</a></p>'
    )
    return page("Tip received", body, text)


def more_form(values: dict[str, str], text: PageText, error: str = "", bad: str = "", note: str = "") -> str:
    """Add information to a tip with its receipt code."""
    body = (
        "<h1>Add to a tip you sent</h1>"
        '<p class="tip-lead">You need the receipt code you got when you sent your tip.</p>'
        + message(error, note)
        + '<form method="post" action="/tip/more" novalidate>'
        f'<input type="hidden" name="csrf" value="{esc(text.token)}">'
        + text_input("code", "Receipt code", values, bad, limit=40, hint="It looks like ABCD-EFGH-JKMN.",
                     extra=' autocomplete="off" autocapitalize="characters" spellcheck="false" required')
        + text_area("information", "What would you like to add?", values, bad, limit=2000, rows=6,
                    extra=" required")
        + '<button type="submit" class="tip-primary">Add to my tip</button></form>'
        '<p class="tip-foot"><a href="/tip">Send a new tip instead</a></p>'
    )
    return page("Add to a tip", body, text)


def added_page(text: PageText) -> str:
    body = ("<h1>Thank you. We added your information to your tip.</h1>"
            "<p>Keep your receipt code if you may want to add more later.</p>"
            '<p class="tip-foot"><a href="/tip/more">Add more</a> · <a href="/tip">Send a new tip</a></p>')
    return page("Information added", body, text)
