"""The public tip page: plain HTML forms served by FastAPI (not Dash), no sign-in, no third party.

Routes (registered by create_app next to the sign-in pages; all in security.PUBLIC_PATHS)::
    GET  /tip        the form (sets the form's anti-forgery cookie)
    POST /tip        action "review": every field checked (domain.reports.form), the place found
                     (feeds.geocode) or the phone's position named; the tipster confirms the spot.
                     action "edit": the form again, as typed.
                     action "send-spot" | "send-words": throttled and stored whole
                     (domain.reports.tips.submit); the answer is a receipt code and nothing else.
    GET  /tip/more   receipt code + more information
    POST /tip/more   domain.reports.tips.add: the answer says it was added, and nothing of the tip
    GET  /tip.css, /tip.js   the pages' style and script (assets/public/)

Every POST passes the access guard's same-origin check and carries the form's anti-forgery token
(double-submit cookie, as /login). A bad field answers one line naming it in plain words ("Vehicle
1, plate: ..."), with what was typed kept. The throttle counts per address (the guard decides the
address, trusted proxies included) in the domain's short-lived counters. The audit trail records
tips received and refused with neither their content nor the sender's address.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import redis
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from dashboard.login import read_form
from dashboard.panels.figures import ASSETS
from dashboard.security import MAX_TIP_BODY, AccessGuard
from dashboard.tip_html import (
    PEOPLE,
    VEHICLES,
    PageText,
    Spot,
    added_page,
    more_form,
    receipt_page,
    review_page,
    tip_form,
)
from domain.access.audit import Outcome, audit, request_context
from domain.errors import ConfigError, Invalid, NotFound, WatchfloorError
from domain.reports import tips
from domain.reports.form import FormError, clean_text, parse_report
from feeds.geocode import gazetteer
from feeds.geocode.matcher import geocode
from feeds.geocode.model import PRECISIONS
from feeds.geocode.reverse import describe
from layers.boundaries import STATES

log = logging.getLogger(__name__)

PUBLIC_FILES = ASSETS / "public"
COOKIE = "wf_tip"
COOKIE_TLS = "__Host-wf_tip"
REVIEWS_PER_TIP = 10  # checks ("Next: check your tip") one address may ask for per tip it may send
# The guard's policy forbids geolocation everywhere; the tip page alone may ask for it (same origin).
PERMISSIONS = "camera=(), microphone=(), geolocation=(self), payment=(), usb=()"

PERSON_KEYS = {"name": "name", "desc": "description"}
VEHICLE_KEYS = ("plate", "state", "make", "model", "colour")
FORM_FIELDS = ("narrative", "where", "when", "tz", "lat", "lon", "acc", "contact", "anonymous",
               *(f"p{i}_{k}" for i in range(1, PEOPLE + 1) for k in PERSON_KEYS),
               *(f"v{i}_{k}" for i in range(1, VEHICLES + 1) for k in VEHICLE_KEYS))
SPOT_FIELDS = ("spot_name", "spot_lat", "spot_lon", "spot_precision")

UNAVAILABLE = ("We cannot take tips right now: our system is not answering. Your tip was not sent. "
               "Try again in a few minutes.")
EXPIRED = "This page had expired, so your tip was not sent yet. Check it and send it again."

# Domain field names ("vehicles[0].plate") in the tipster's words ("Vehicle 1, plate").
FIELD_WORDS = {"narrative": ("What happened", "narrative"), "location": ("Where", "where"),
               "location.text": ("Where", "where"), "location.label": ("Where", "where"),
               "location.lat": ("Your location", "where"), "location.lon": ("Your location", "where"),
               "time": ("When", "when"), "contact": ("How to reach you", "contact"),
               "anonymous": ("Stay anonymous", "anonymous"), "information": ("More information", "information")}
# The form's generic refusals (domain.reports.form.clean_text) said for the public.
PLAIN_WHY = (
    (re.compile(r"^holds markup.*"), "has < > tags or & codes in it, which we cannot take; remove them"),
    (re.compile(r"^holds control characters.*"), "has invisible control characters in it; type it again"),
    (re.compile(r"^holds bidirectional override characters.*"),
     "has invisible characters that turn text around; type it again"),
    (re.compile(r"^is (\d+) characters; at most (\d+)$"), r"is too long (\1 characters); at most \2"),
    (re.compile(r"^is required$"), "please fill it in"),
)
_FIELD = re.compile(r"^(?P<list>subjects|vehicles)\[(?P<n>\d+)\](?:\.(?P<part>\w+))?$")
_WHEN = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::\d{2})?$")


class ConfirmedSpot(NamedTuple):
    """The place the tipster confirmed, handed to the domain as its geocoder's answer."""

    name: str
    lat: float
    lon: float
    precision: str


@dataclass
class Slots:
    """Which form slot (Person 2...) each checked subject or vehicle came from."""

    people: list[int]
    vehicles: list[int]


# -- from the form to the domain's shape ------------------------------------------------------------
def form_values(form: dict[str, str], names: tuple[str, ...] = FORM_FIELDS) -> dict[str, str]:
    return {name: form.get(name, "") for name in names}


def when_iso(when: str, tz: str) -> str:
    """The form's local "2026-04-20T14:05" and the browser's offset (minutes, as JavaScript's
    getTimezoneOffset) as an ISO time with its zone; FormError when it is not a date and time."""
    when = when.strip()
    if not when:
        return ""
    match = _WHEN.match(when)
    if not match:
        raise FormError("time: give the date and the time, e.g. 2026-04-20 14:05")
    try:
        minutes = -int(tz)
    except ValueError:
        minutes = 0  # no script ran: the time is read as UTC
    if not -900 <= minutes <= 900:
        minutes = 0
    sign = "+" if minutes >= 0 else "-"
    return f"{match[1]}T{match[2]}:00{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def report_data(values: dict[str, str]) -> tuple[dict[str, Any], Slots]:
    """The form as the domain's report shape (domain.reports.form), and where each list item came from."""
    slots = Slots([], [])
    subjects, vehicles = [], []
    for i in range(1, PEOPLE + 1):
        person = {key: values.get(f"p{i}_{field}", "") for field, key in PERSON_KEYS.items()}
        if any(v.strip() for v in person.values()):
            subjects.append(person)
            slots.people.append(i)
    for i in range(1, VEHICLES + 1):
        vehicle = {key: values.get(f"v{i}_{key}", "") for key in VEHICLE_KEYS}
        if any(v.strip() for v in vehicle.values()):
            vehicles.append(vehicle)
            slots.vehicles.append(i)
    data: dict[str, Any] = {"narrative": values.get("narrative", ""), "time": when_iso(values.get("when", ""),
                                                                                       values.get("tz", "")),
                            "subjects": subjects, "vehicles": vehicles, "contact": values.get("contact", ""),
                            "anonymous": values.get("anonymous") == "yes"}
    location: dict[str, Any] = {}
    if values.get("where", "").strip():
        location["text"] = values["where"]
    if values.get("lat") or values.get("lon"):
        location.update(lat=values.get("lat"), lon=values.get("lon"))
    if location:
        data["location"] = location
    return data, slots


def field_words(exc: WatchfloorError, slots: Slots) -> tuple[str, str]:
    """One line naming the field in plain words, and the form field to mark."""
    text = str(exc)
    name, _, why = text.partition(": ")
    for pattern, plain in PLAIN_WHY:
        why = pattern.sub(plain, why)
    if name in FIELD_WORDS:
        words, form_field = FIELD_WORDS[name]
        if name == "time" and why.endswith("is in the future"):  # the domain's line quotes the time in UTC
            why = "that time is in the future; leave it empty if it is happening now"
        return f"{words}: {why}", form_field
    match = _FIELD.match(name)
    if match:
        index = int(match["n"])
        people = match["list"] == "subjects"
        taken = slots.people if people else slots.vehicles
        slot = taken[index] if index < len(taken) else index + 1
        part = match["part"] or ""
        key = {"description": "desc"}.get(part, part)
        words = f"{'Person' if people else 'Vehicle'} {slot}" + (f", {'description' if key == 'desc' else part}"
                                                                 if part else "")
        return f"{words}: {why}", f"{'p' if people else 'v'}{slot}_{key or ('name' if people else 'plate')}"
    return text[:300], ""


def place_words(found: Any) -> str:
    """ "Boston, Massachusetts" or "Helsinki, Finland" for a geocoded place."""
    if found.country == "US" and found.admin1 in STATES:
        region = STATES[found.admin1][1]
    else:
        region = gazetteer().country_names.get(found.country or "", found.country or "")
    return f"{found.name}, {region}" if region and region != found.name else found.name


def phone_words(lat: float, lon: float) -> str:
    named = describe(lat, lon)
    return named["label"] if named else f"{lat:.4f}, {lon:.4f}"


def accuracy(values: dict[str, str]) -> int | None:
    try:
        metres = int(float(values.get("acc") or ""))
    except ValueError:
        return None
    return metres if 0 < metres < 1_000_000 else None


def find_spot(report: dict[str, Any], values: dict[str, str]) -> Spot:
    """What "where" is on the map: the phone's position, the place the words name, or neither."""
    location = report.get("location") or {}
    if "lat" in location:
        return Spot("phone", phone_words(location["lat"], location["lon"]), location["lat"], location["lon"],
                    accuracy=accuracy(values))
    if not location.get("text"):
        return Spot("none")
    found = geocode(location["text"])
    if found is None:
        return Spot("missing")
    return Spot("found", place_words(found), round(found.lat, 6), round(found.lon, 6), found.precision)


def confirmed_spot(form: dict[str, str]) -> ConfirmedSpot:
    """The spot the review step showed (sent back in its hidden fields); FormError if it was altered."""
    name = clean_text(form.get("spot_name"), "location.label")
    try:
        lat, lon = float(form.get("spot_lat", "")), float(form.get("spot_lon", ""))
    except ValueError:
        raise FormError("location: the place we found was lost; check your tip again") from None
    if not (name and -90 <= lat <= 90 and -180 <= lon <= 180) or form.get("spot_precision") not in PRECISIONS:
        raise FormError("location: the place we found was lost; check your tip again")
    return ConfirmedSpot(name, lat, lon, form["spot_precision"])


def send_data(values: dict[str, str], form: dict[str, str], action: str) -> tuple[dict[str, Any], Slots,
                                                                                     Callable[[str], Any] | None]:
    """What to store and how to place it: the confirmed spot, the phone's position, or the words only."""
    data, slots = report_data(values)
    location = data.get("location") or {}
    if "lat" in location:
        try:
            location["label"] = f"the tipster's phone: {phone_words(float(location['lat']), float(location['lon']))}"
        except (TypeError, ValueError):
            pass  # the domain names the bad coordinate
        return data, slots, None
    if action == "send-spot" and location.get("text"):
        spot = confirmed_spot(form)
        return data, slots, lambda _text: spot
    return data, slots, None  # words only: never placed where the tipster said it is not


# -- the pages ---------------------------------------------------------------------------------------
def record(outcome: Outcome, reason: str, action: str = "tip.receive", tip_id: str = "") -> None:
    """An audit record of a tip received or refused: never its content, never the sender's address."""
    audit(action, record=tip_id or "-", outcome=outcome, reason=reason, user="public", source="-")


def retry_after(now: float | None = None) -> int:
    now = time.time() if now is None else now
    return max(1, int(tips.WINDOW_SECONDS - now % tips.WINDOW_SECONDS))


class TipPages:
    """The public tip pages over the access guard's settings, store and address rules."""

    def __init__(self, guard: AccessGuard) -> None:
        self.guard = guard
        self.per_hour = int(guard.config.tip_per_hour)
        self.region = str(guard.config.phone_region)
        self.emergency = str(guard.config.emergency_number).strip()
        if not re.fullmatch(r"\d{2,6}", self.emergency):
            raise ConfigError(f"emergency_number: {self.emergency[:20]!r} is not a number to dial (digits, e.g. 911)")
        self.css = (PUBLIC_FILES / "tip.css").read_bytes()
        self.js = (PUBLIC_FILES / "tip.js").read_bytes()

    # -- plumbing ------------------------------------------------------------------------------------
    def cookie_name(self, request: Request) -> str:
        return COOKIE_TLS if self.guard.is_tls(request.scope) else COOKIE

    def text(self, request: Request, note: str = "") -> PageText:
        """The page's shared text with the form token: the browser's own when it has one, else new."""
        token = request.cookies.get(self.cookie_name(request), "")
        if not re.fullmatch(r"[A-Za-z0-9_\-]{32}", token):
            token = secrets.token_urlsafe(24)
        return PageText(self.emergency, token, [note] if note else [])

    def respond(self, request: Request, body: str, text: PageText, status: int = 200,
                keep_token: bool = True) -> HTMLResponse:
        response = HTMLResponse(body, status_code=status)
        secure = self.guard.is_tls(request.scope)
        name = self.cookie_name(request)
        if keep_token:
            response.headers.append("set-cookie", f"{name}={text.token}; Path=/; HttpOnly; SameSite=Strict; "
                                                  f"Max-Age=7200{'; Secure' if secure else ''}")
        else:  # the tip is in: a reload of the answer cannot send it twice
            response.headers.append("set-cookie", f"{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
                                                  f"{'; Secure' if secure else ''}")
        response.headers["permissions-policy"] = PERMISSIONS
        return response

    def token_ok(self, request: Request, form: dict[str, str]) -> bool:
        expected = request.cookies.get(self.cookie_name(request), "")
        return bool(expected) and secrets.compare_digest(expected.encode(), form.get("csrf", "").encode())

    def address(self) -> str:
        ctx = request_context.get()
        return ctx.source if ctx is not None else "-"

    def client(self) -> redis.Redis:
        client = self.guard.get_client()
        if client is None:
            raise redis.ConnectionError("no Redis")
        return client

    def first_refusal(self, client: redis.Redis) -> bool:
        """True once per throttle window and address: a flood costs one audit record, not one each."""
        try:
            tips.throttle(client, f"refused|{self.address()}", 1)
        except tips.Throttled:
            return False
        return True

    def throttled(self, request: Request, client: redis.Redis, body: Callable[[PageText], str]) -> HTMLResponse:
        wait = retry_after()
        if self.first_refusal(client):
            record(Outcome.REFUSED, f"more than {self.per_hour} tips an hour from one address; "
                                    "the rest of this hour answered 429, not recorded")
        text = self.text(request)
        page = self.respond(request, body(text), text, 429)
        page.headers["Retry-After"] = str(wait)
        return page

    def throttle_message(self, refused: str = "this one was not sent") -> str:
        minutes = max(1, round(retry_after() / 60))
        return (f"Too many tips from this connection in the last hour, so {refused}. If this is an "
                f"emergency, call {self.emergency} now. Otherwise try again in about {minutes} minutes.")

    # -- /tip ----------------------------------------------------------------------------------------
    def form_page(self, request: Request) -> Response:
        note = ""
        try:
            self.client().ping()
        except (redis.RedisError, OSError):
            note = UNAVAILABLE.replace(" Your tip was not sent.", "")
        text = self.text(request, note)
        return self.respond(request, tip_form({}, text), text)

    async def submit(self, request: Request) -> Response:
        form = await read_form(request, MAX_TIP_BODY)
        if form is None:
            text = self.text(request)
            return self.respond(request, tip_form({}, text, "Your tip could not be read (too long, or not a "
                                                             "form). Shorten it and try again."), text, 413)
        values = form_values(form)
        action = form.get("action", "review")
        text = self.text(request)
        if action == "edit":
            return self.respond(request, tip_form(values, text), text)
        if not self.token_ok(request, form):
            record(Outcome.REFUSED, "tip form token missing or wrong")
            return self.respond(request, tip_form(values, text, EXPIRED), text, 400)
        try:
            if action in ("send-spot", "send-words"):
                return await run_in_threadpool(self.send, request, form, values, action)
            return await run_in_threadpool(self.review, request, values)
        except (redis.RedisError, OSError) as exc:
            log.warning("tip not taken: Redis unreachable (%s)", type(exc).__name__)
            return self.respond(request, tip_form(values, text, UNAVAILABLE), text, 503)

    def refused(self, request: Request, exc: WatchfloorError, slots: Slots, values: dict[str, str],
                step: str) -> HTMLResponse:
        line, bad = field_words(exc, slots)
        record(Outcome.REFUSED, f"{step}: {str(exc).partition(':')[0][:60]} refused")  # the field, not its value
        text = self.text(request)
        return self.respond(request, tip_form(values, text, line, bad), text, getattr(exc, "status", 422))

    def review(self, request: Request, values: dict[str, str]) -> Response:
        client = self.client()
        slots = Slots([], [])
        try:
            tips.throttle(client, f"review|{self.address()}", self.per_hour * REVIEWS_PER_TIP)
        except tips.Throttled:
            return self.throttled(request, client, lambda t: tip_form(values, t, self.throttle_message()))
        try:
            data, slots = report_data(values)
            report = parse_report(data, kind="tip")
        except FormError as exc:
            return self.refused(request, exc, slots, values, "check")
        spot = find_spot(report, values)
        shown = dict(values, when_words=values.get("when", "").replace("T", " ") + " (your time)"
                     if values.get("when") else "")
        text = self.text(request)
        return self.respond(request, review_page(shown, report, spot, text, FORM_FIELDS), text)

    def send(self, request: Request, form: dict[str, str], values: dict[str, str], action: str) -> Response:
        client = self.client()
        slots = Slots([], [])
        try:
            data, slots, place = send_data(values, form, action)
            _, code = tips.submit(client, data, address=self.address(), per_hour=self.per_hour, geocode=place,
                                  region=self.region)
        except tips.Throttled:
            return self.throttled(request, client, lambda t: tip_form(values, t, self.throttle_message()))
        except (FormError, Invalid) as exc:
            return self.refused(request, exc, slots, values, "send")
        record(Outcome.OK, "public tip stored; receipt code issued")
        text = self.text(request)
        return self.respond(request, receipt_page(code, text), text, keep_token=False)

    # -- /tip/more -----------------------------------------------------------------------------------
    def more_page(self, request: Request) -> Response:
        text = self.text(request)
        return self.respond(request, more_form({}, text), text)

    async def more_submit(self, request: Request) -> Response:
        form = await read_form(request, MAX_TIP_BODY)
        text = self.text(request)
        if form is None:
            return self.respond(request, more_form({}, text, "Your information could not be read (too long, or "
                                                             "not a form). Shorten it and try again."), text, 413)
        values = form_values(form, ("code", "information"))
        if not self.token_ok(request, form):
            record(Outcome.REFUSED, "tip form token missing or wrong", "tip.more")
            return self.respond(request, more_form(values, text, EXPIRED.replace("your tip", "it")), text, 400)
        if not values["code"].strip():
            return self.respond(request, more_form(values, text, "Receipt code: is required (it looks like "
                                                                 "ABCD-EFGH-JKMN)", "code"), text, 422)
        try:
            return await run_in_threadpool(self.add, request, values)
        except (redis.RedisError, OSError) as exc:
            log.warning("tip addition not taken: Redis unreachable (%s)", type(exc).__name__)
            return self.respond(request, more_form(values, text, UNAVAILABLE.replace("tip", "information")), text,
                                503)

    def add(self, request: Request, values: dict[str, str]) -> Response:
        client = self.client()
        text = self.text(request)
        try:
            tip_id = tips.add(client, values["code"], values["information"], address=self.address(),
                              per_hour=self.per_hour)
        except tips.Throttled:
            return self.throttled(request, client, lambda t: more_form(
                values, t, self.throttle_message("your information was not added")))
        except NotFound:
            record(Outcome.REFUSED, "no tip has that receipt code", "tip.more")
            return self.respond(request, more_form(values, text, "Receipt code: no tip has this code. Check it "
                                                                 "and try again, or send a new tip.", "code"), text, 404)
        except (FormError, Invalid) as exc:
            line, bad = field_words(exc, Slots([], []))
            record(Outcome.REFUSED, f"{str(exc).partition(':')[0][:60]} refused", "tip.more")
            return self.respond(request, more_form(values, text, line, bad), text, 422)
        record(Outcome.OK, "information added to a public tip", "tip.more", tip_id)
        return self.respond(request, added_page(text), text)

    # -- static --------------------------------------------------------------------------------------
    def tip_css(self) -> Response:
        return Response(self.css, media_type="text/css", headers={"cache-control": "public, max-age=3600"})

    def tip_js(self) -> Response:
        return Response(self.js, media_type="text/javascript", headers={"cache-control": "public, max-age=3600"})


def register_tip_routes(server: FastAPI, guard: AccessGuard) -> None:
    """Add the public tip pages to ``server`` (after install_security; before Dash's own routes).
    ConfigError when ``emergency_number`` is not a number to dial."""
    pages = TipPages(guard)
    server.add_api_route("/tip.css", pages.tip_css, methods=["GET"], include_in_schema=False)
    server.add_api_route("/tip.js", pages.tip_js, methods=["GET"], include_in_schema=False)
    server.add_api_route("/tip", pages.form_page, methods=["GET"], include_in_schema=False)
    server.add_api_route("/tip", pages.submit, methods=["POST"], include_in_schema=False)
    server.add_api_route("/tip/more", pages.more_page, methods=["GET"], include_in_schema=False)
    server.add_api_route("/tip/more", pages.more_submit, methods=["POST"], include_in_schema=False)
