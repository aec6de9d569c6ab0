"""The sign-in, sign-out and change-password pages: plain HTML served by FastAPI (not Dash), no script.

Routes (registered by create_app after dashboard.middleware.install_security)::
    GET  /login         the form (sets a pre-session anti-forgery cookie)
    POST /login         check the password; a NEW session id on success; audit either way
    GET|POST /logout    end the session (a replayed cookie then fails); audit
    GET  /password      change-password form (required after a one-time password)
    POST /password      change it: every other session of the account ends
    GET  /login.css     the pages' style sheet
"""

from __future__ import annotations

import html
import secrets
from urllib.parse import parse_qsl

import redis
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dashboard.security import AccessGuard, safe_next, session_of
from domain.access.accounts import AccountError, AccountStore, LoginOutcome, check_password
from domain.access.audit import Outcome, audit, request_context
from domain.access.sessions import SessionKind, SessionStore
from domain.access.throttle import SignInThrottle, Verdict

UNAVAILABLE = ("Sign-in is unavailable: the data store is unreachable or full. Screens already open keep "
               "showing the last known picture.")
FAILED = ("Sign-in failed. Check the name and password. After five failed attempts an account is locked "
          "for a while; an administrator can unlock it at once.")

CSS = """
:root { color-scheme: dark; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
       background: #0b1118; color: #d8e1ea; font: 15px/1.4 system-ui, sans-serif; }
main { width: 22rem; padding: 2rem; background: #121b26; border: 1px solid #24344a; border-radius: 6px; }
h1 { margin: 0 0 1.25rem; font-size: 1.1rem; letter-spacing: .18em; }
label { display: block; margin: .8rem 0 .25rem; font-size: .85rem; color: #9fb0c2; }
input { box-sizing: border-box; width: 100%; padding: .55rem .6rem; background: #0b1118; color: inherit;
        border: 1px solid #2f4560; border-radius: 4px; font-size: 1rem; }
button { margin-top: 1.25rem; width: 100%; padding: .6rem; background: #2d6cdf; color: #fff; border: 0;
         border-radius: 4px; font-size: 1rem; cursor: pointer; }
.wf-error { margin: 0 0 1rem; padding: .6rem; background: #3a1418; border: 1px solid #7a2630; border-radius: 4px; }
.wf-note { margin: 0 0 1rem; color: #9fb0c2; font-size: .9rem; }
"""


def _page(title: str, body: str, status: int = 200, cookies: list[str] | None = None) -> HTMLResponse:
    text = (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(title)} · Watchfloor</title><link rel=\"icon\" href=\"data:,\">"
        "<link rel=\"stylesheet\" href=\"/login.css\"></head><body><main>"
        f"<h1>WATCHFLOOR</h1>{body}</main></body></html>"
    )
    response = HTMLResponse(text, status_code=status)
    for cookie in cookies or []:
        response.headers.append("set-cookie", cookie)
    return response


def _message(error: str = "", note: str = "") -> str:
    out = f'<p class="wf-error" role="alert">{html.escape(error)}</p>' if error else ""
    return out + (f'<p class="wf-note">{html.escape(note)}</p>' if note else "")


async def read_form(request: Request, limit: int = 16 * 1024) -> dict[str, str] | None:
    """An urlencoded form, bounded; None when too large or not a form."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    try:
        return dict(parse_qsl(b"".join(chunks).decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return None


def _store_reachable(guard: AccessGuard) -> bool:
    client = guard.get_client()
    if client is None:
        return False
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


class SignInPages:
    """The sign-in, sign-out and password pages, over the access guard's settings and store."""

    def __init__(self, guard: AccessGuard) -> None:
        self.guard = guard
        self.lockout_seconds = float(guard.config.lockout_minutes) * 60

    def throttle(self, address: str, account: str) -> Verdict:
        """Count a sign-in attempt; the store is looked up per request (Redis may come and go)."""
        client = self.guard.get_client()
        if client is None:
            raise redis.ConnectionError("no Redis")
        return SignInThrottle(client, int(self.guard.config.login_attempts_per_address),
                              int(self.guard.config.login_attempts_per_account)).attempt(address, account)

    def tls(self, request: Request) -> bool:
        return self.guard.is_tls(request.scope)

    def login_form(self, next_path: str, error: str = "", status: int = 200, note: str = "",
                   request: Request | None = None) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        secure = self.tls(request) if request is not None else False
        cookie = (f"{self.guard.login_cookie_name(secure)}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600"
                  f"{'; Secure' if secure else ''}")
        body = (
            _message(error, note)
            + '<form method="post" action="/login" autocomplete="on">'
            + f'<input type="hidden" name="csrf" value="{html.escape(token)}">'
            + f'<input type="hidden" name="next" value="{html.escape(next_path)}">'
            + '<label for="wf-user">Name</label>'
            + '<input id="wf-user" name="username" autocomplete="username" required autofocus maxlength="64">'
            + '<label for="wf-password">Password</label>'
            + '<input id="wf-password" name="password" type="password" autocomplete="current-password" required>'
            + '<button type="submit">Sign in</button></form>'
        )
        return _page("Sign in", body, status, [cookie])

    def login_css(self) -> Response:
        return Response(CSS, media_type="text/css", headers={"cache-control": "public, max-age=3600"})

    def login_page(self, request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        note = "You have signed out." if request.query_params.get("signed_out") else ""
        if not _store_reachable(self.guard):
            # Say so plainly instead of failing after the password is typed.
            return self.login_form(next_path, status=503, request=request,
                              error="DEGRADED: the data store is unreachable, so sign-in is unavailable until it "
                                    "is back. Screens already open keep showing the last known picture.")
        return self.login_form(next_path, note=note, request=request)

    async def login_submit(self, request: Request) -> Response:
        ctx = request_context.get()
        client = self.guard.get_client()
        form = await read_form(request)
        if form is None:
            return self.login_form("/", "The sign-in form could not be read; try again.", 400, request=request)
        next_path = safe_next(form.get("next"))
        name = form.get("username", "").strip().lower()[:64]
        expected = request.cookies.get(self.guard.login_cookie_name(self.tls(request)), "")
        if not expected or not secrets.compare_digest(expected, form.get("csrf", "")):
            audit("login", record=name, outcome=Outcome.REFUSED, reason="sign-in form token missing or wrong",
                  user=name or "-")
            return self.login_form(next_path, "The sign-in page expired; try again.", 400, request=request)
        if client is None:
            return self.login_form(next_path, "Sign-in is unavailable: Redis is unreachable.", 503, request=request)
        try:
            verdict = await run_in_threadpool(self.throttle, ctx.source if ctx else "-", name)
        except (redis.RedisError, OSError):
            return self.login_form(next_path, UNAVAILABLE, 503, request=request)
        if verdict.retry_after is not None:
            if verdict.first_refusal:  # one record per window and limit, not one per attempt of a flood
                audit("login", record=name, outcome=Outcome.REFUSED, user=name or "-",
                      reason=f"{verdict.reason}; further attempts this minute answered 429, not recorded")
            page = self.login_form(next_path, f"Too many sign-in attempts. Wait {verdict.retry_after} s and try again.",
                              429, request=request)
            page.headers["Retry-After"] = str(verdict.retry_after)
            return page
        accounts = AccountStore(client, self.lockout_seconds)
        try:
            result = await run_in_threadpool(accounts.verify, name, form.get("password", ""))
        except (redis.RedisError, OSError):  # down, or full and refusing writes: say so, never a 500
            return self.login_form(next_path, UNAVAILABLE, 503, request=request)
        if not result.ok:
            audit("login", record=name, outcome=Outcome.FAILED, reason=result.outcome.value, user=name or "-")
            if result.locked_now:
                audit("account.lock", record=name, outcome=Outcome.OK, user="system",
                      reason=f"locked after five failed sign-ins for {self.lockout_seconds / 60:g} min; "
                             "`watchfloor user unlock` reopens it at once")
            return self.login_form(next_path, FAILED, 401, request=request)
        user = result.user
        assert user is not None
        store = SessionStore(client, self.guard.limits)
        old = self.guard.cookie_value(request.scope, self.tls(request))
        try:
            if old:
                store.revoke(old)  # renewal: the pre-login id (if any) never becomes the signed-in one
            sid, _ = store.create(user, SessionKind.PERSON, ctx.source if ctx else "-")
        except (redis.RedisError, OSError):
            return self.login_form(next_path, UNAVAILABLE, 503, request=request)
        audit("login", record=user.name, outcome=Outcome.OK, user=user.name,
              reason="one-time password: change required" if user.must_change_password else "")
        target = "/password" if user.must_change_password else next_path
        response = RedirectResponse(target, status_code=303)
        response.headers.append("set-cookie", self.guard.session_cookie(sid, self.tls(request), SessionKind.PERSON))
        response.headers.append("set-cookie", f"{self.guard.login_cookie_name(self.tls(request))}=; Path=/; Max-Age=0")
        return response

    async def logout(self, request: Request) -> Response:
        client = self.guard.get_client()
        secure = self.tls(request)
        sid = self.guard.cookie_value(request.scope, secure)
        name = None
        if sid and client is not None:
            name = SessionStore(client, self.guard.limits).revoke(sid)
        if name:
            audit("logout", record=name, user=name)
        response = RedirectResponse("/login?signed_out=1", status_code=303)
        for cookie in self.guard.clear_cookies(secure):
            response.headers.append("set-cookie", cookie)
        return response


    def password_form(self, error: str = "", status: int = 200, note: str = "") -> HTMLResponse:
        body = (
            _message(error, note)
            + '<form method="post" action="/password">'
            + '<label for="wf-current">Current password</label>'
            + '<input id="wf-current" name="current" type="password" autocomplete="current-password" required>'
            + '<label for="wf-new">New password (at least 12 characters)</label>'
            + '<input id="wf-new" name="new" type="password" autocomplete="new-password" required minlength="12">'
            + '<label for="wf-confirm">New password again</label>'
            + '<input id="wf-confirm" name="confirm" type="password" autocomplete="new-password" required>'
            + '<button type="submit">Change password</button></form>'
        )
        return _page("Change password", body, status)

    def password_page(self, request: Request) -> Response:
        session = session_of(request)
        if session is None or session.user.is_display:
            return Response(status_code=403)
        note = "Choose your own password before you go on." if session.user.must_change_password else ""
        return self.password_form(note=note)

    async def password_submit(self, request: Request) -> Response:
        session = session_of(request)
        client = self.guard.get_client()
        if session is None or session.user.is_display or client is None:
            return Response(status_code=403)
        form = await read_form(request)
        if form is None:
            return self.password_form("The form could not be read; try again.", 400)
        name = session.user.name
        if form.get("new", "") != form.get("confirm", ""):
            return self.password_form("The two new passwords differ.", 400)
        try:
            check_password(form.get("new", ""), name)
        except AccountError as exc:
            return self.password_form(str(exc).capitalize() + ".", 400)
        if form.get("new") == form.get("current"):
            return self.password_form("The new password must differ from the current one.", 400)
        accounts = AccountStore(client)
        result = await run_in_threadpool(accounts.verify, name, form.get("current", ""))
        if not result.ok:
            audit("account.password", record=name, outcome=Outcome.FAILED, reason=f"current password: {result.outcome.value}")
            if result.locked_now:
                audit("account.lock", record=name, reason="locked after five failed password checks", user="system")
            if result.outcome is LoginOutcome.LOCKED or result.locked_now:
                return RedirectResponse("/login", status_code=303)
            return self.password_form("The current password is wrong.", 401)
        user = await run_in_threadpool(accounts.set_password, name, form["new"])  # ends every session
        sid, _ = SessionStore(client, self.guard.limits).create(user, SessionKind.PERSON, session.source)
        audit("account.password", record=name, reason="changed by the account holder; other sessions ended")
        response = RedirectResponse("/", status_code=303)
        response.headers.append("set-cookie", self.guard.session_cookie(sid, self.tls(request), SessionKind.PERSON))
        return response


def register_login_routes(server: FastAPI, guard: AccessGuard) -> None:
    """Add the sign-in pages to ``server`` (after install_security, so the guard sees them first)."""
    pages = SignInPages(guard)
    server.add_api_route("/login.css", pages.login_css, methods=["GET"], include_in_schema=False)
    server.add_api_route("/login", pages.login_page, methods=["GET"], include_in_schema=False)
    server.add_api_route("/login", pages.login_submit, methods=["POST"], include_in_schema=False)
    server.add_api_route("/logout", pages.logout, methods=["GET", "POST"], include_in_schema=False)
    server.add_api_route("/password", pages.password_page, methods=["GET"], include_in_schema=False)
    server.add_api_route("/password", pages.password_submit, methods=["POST"], include_in_schema=False)
