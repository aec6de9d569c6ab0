"""How every operator API route runs: the body read (bounded), the session user, the role and
partner checks, the domain's refusals turned into HTTP answers, and every refusal audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import redis
from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dashboard.security import current_user
from domain.access.accounts import Role
from domain.access.audit import audit
from domain.access.keys import AccountKeys
from domain.config.loader import Config, ConfigError
from domain.errors import Conflict, RecordError
from domain.operations import criminal_intel, rules

MAX_JSON = 64 * 1024
_SENDER = re.compile(r"^[^\s,<&]{1,200}$")

# A route's work: (api, request, client, user, **path params[, data]) -> the response.
Work = Callable[..., Response]


class ApiRefusal(Exception):
    def __init__(self, status: int, error: str, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status, self.error, self.reason, self.extra = status, error, reason, extra


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def is_partner(client: redis.Redis, user: Any) -> bool:
    """A partner account: reads only the Atom feed and the CAP documents it links to."""
    return bool(user is not None and user.role is Role.DISPLAY and client.hget(AccountKeys.user(user.name), "partner") == b"1")


@dataclass(frozen=True)
class Api:
    """What the routes share: the configuration, the store, and the settings they read."""

    config: Config
    get_client: Callable[[], redis.Redis | None]
    sender: str
    default_minutes: int
    default_cooldown: int

    @classmethod
    def from_config(cls, config: Config, get_client: Callable[[], redis.Redis | None]) -> Api:
        sender = str(config.cap_sender)
        if not _SENDER.match(sender):
            raise ConfigError(f"cap_sender: {sender[:60]!r} must have no spaces, commas, '<' or '&' "
                              "(e.g. watchfloor@agency.gov)")
        return cls(config, get_client, sender, int(config.alert_default_minutes), int(config.rule_cooldown_minutes))

    def endpoint(self, action: str, record: Callable[..., str], role: Role | None, work: Work, *,
                 body: bool = False, partners: bool = False) -> Callable[..., Any]:
        """Wrap one route: body read (bounded), session user, role and partner checks, refusals audited."""

        async def endpoint(request: Request) -> Response:
            params = dict(request.path_params)
            rec = record(**params)[:256]
            data: Any = None
            if body:
                raw = await request.body()
                if len(raw) > MAX_JSON:
                    return refuse(action, rec, ApiRefusal(413, "too large", f"body over {MAX_JSON} bytes"))
                try:
                    data = orjson.loads(raw or b"{}")
                except orjson.JSONDecodeError:
                    return refuse(action, rec, ApiRefusal(400, "bad request", "the body is not JSON"))
            return await run_in_threadpool(self._run, request, action, rec, role, work, params, data, partners)

        return endpoint

    def _run(self, request: Request, action: str, rec: str, role: Role | None, work: Work,
             params: dict[str, Any], data: Any, partners: bool) -> Response:
        user = current_user(request)
        if user is None:
            return refuse(action, rec, ApiRefusal(401, "unauthenticated", "no session"))
        client = self.get_client()
        if client is None:
            return json_response({"error": "unavailable", "reason": "Redis unreachable"}, 503)
        try:
            if not partners and is_partner(client, user):
                raise ApiRefusal(403, "forbidden", "partner accounts read only the Atom feed")
            if role is not None and not user.role.grants(role):
                raise ApiRefusal(403, "forbidden", f"needs role {role.value}; has {user.role.value}")
            kwargs = dict(params)
            if data is not None:
                kwargs["data"] = data
            return work(self, request, client, user, **kwargs)
        except ApiRefusal as exc:
            return refuse(action, rec, exc)
        except RecordError as exc:
            extra: dict[str, Any] = {}
            if isinstance(exc, Conflict):
                extra = {"changed_by": exc.by, "changed_at": exc.at}
            return refuse(action, rec, ApiRefusal(exc.status, _word(exc.status), str(exc), **extra))
        except (rules.RuleError, criminal_intel.IntelError) as exc:
            return refuse(action, rec, ApiRefusal(422, "invalid", str(exc)))
        except (redis.RedisError, OSError):
            return json_response({"error": "unavailable", "reason": "Redis unreachable"}, 503)


def _word(status: int) -> str:
    return {400: "bad request", 403: "forbidden", 404: "not found", 409: "conflict", 413: "too large",
            422: "invalid"}.get(status, "refused")


def refuse(action: str, record: str, exc: ApiRefusal) -> Response:
    audit(action, record=record, outcome="refused", reason=f"{exc.status}: {exc.reason}")
    return json_response({"error": exc.error, "reason": exc.reason, **exc.extra}, exc.status)
