"""Alert rules: an incident of a kind and minimum severity inside or near a watch zone raises an alert.

Rules live in Redis (``wf:rules``), managed through the API (``/api/rules``, supervisors) so a duty
supervisor can add one during an event without a restart, and every change is audited. A rule::
    {"id": "r-…", "name": "Quake near the course", "kinds": ["earthquake"] (empty: any),
     "min_severity": "moderate", "workspaces": ["marathon"] (empty: every workspace),
     "within_km": 5.0 (0: inside the perimeter), "action": "queue" | "push",
     "cooldown_minutes": 30, "tlp": "TLP:GREEN", "enabled": true}

:func:`evaluate_rules` takes new or changed incidents (or events: dicts with ``id``, ``kind``,
``severity``, ``lat``, ``lon``, ``title``) and, for each rule, workspace and incident that matches
(``Workspace.distance`` <= ``within_km``):

* an incident raises a rule for a workspace once (``wf:rule:<id>:seen``, kept a day);
* after raising, the rule is **cooling down** for that workspace for ``cooldown_minutes`` (``SET NX
  EX``, atomic across processes): further matches are counted as suppressed, not raised, so one
  storm does not fire fifty times;
* ``queue``: the proposal goes to ``wf:rule-queue`` for an operator (``GET /api/rules/queue``);
  ``push``: an alert scoped to the workspace is issued at once (and copied out), and the queue
  entry names it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from domain.access.accounts import Role
from domain.access.audit import audit
from domain.access.tlp import TLP, TLPError, highest, incident_marking, max_marking, parse
from domain.config.loader import load_config
from domain.config.workspaces import workspaces_for
from domain.errors import RecordError, WatchfloorError
from domain.operations import alerts, outbound
from domain.operations.annotations import find_incident
from domain.operations.keys import RuleKeys
from feeds.model import Kind
from layers.zones import Workspace

SEVERITY_RANK = {"unknown": 0, "minor": 1, "moderate": 2, "severe": 3, "extreme": 4}
ACTIONS = ("queue", "push")
RULE_ID = re.compile(r"^r-[0-9a-f]{12}$")
SEEN_TTL = 86_400
FIELDS = ("name", "kinds", "min_severity", "workspaces", "within_km", "action", "cooldown_minutes", "tlp", "enabled")


class RuleError(WatchfloorError, ValueError):
    status = 422


@dataclass(frozen=True)
class RuleActor:
    """Who issues an alert a rule pushes (audit user ``rule:<id>``); supervisors' defaults."""

    name: str

    @property
    def role(self) -> Any:
        return Role.SUPERVISOR


def _now() -> datetime:
    return datetime.now(UTC)


def check_rule(body: Any, user: Any, client: redis.Redis, default_cooldown: int = 30) -> dict[str, Any]:
    """A validated rule from an API body; RuleError naming the field otherwise."""

    if not isinstance(body, dict):
        raise RuleError("the body must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise RuleError(f"unknown field {unknown[0]!r}; fields: {', '.join(FIELDS)}")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 120:
        raise RuleError("name: required, at most 120 characters")
    kinds = body.get("kinds", [])
    valid_kinds = {k.value for k in Kind}
    if not isinstance(kinds, list) or any(k not in valid_kinds for k in kinds):
        raise RuleError(f"kinds: a list of {', '.join(sorted(valid_kinds))} (empty: any)")
    severity = body.get("min_severity", "moderate")
    if severity not in SEVERITY_RANK:
        raise RuleError(f"min_severity: one of {', '.join(SEVERITY_RANK)}")
    spaces = body.get("workspaces", [])
    if not isinstance(spaces, list) or any(not isinstance(s, str) or len(s) > 64 for s in spaces):
        raise RuleError("workspaces: a list of workspace ids (empty: every workspace)")
    within = body.get("within_km", 0)
    if isinstance(within, bool) or not isinstance(within, (int, float)) or not 0 <= within <= 500:
        raise RuleError("within_km: kilometres from the perimeter, 0 (inside) to 500")
    action = body.get("action", "queue")
    if action not in ACTIONS:
        raise RuleError("action: queue (to the operator queue) or push (an alert at once)")
    cooldown = body.get("cooldown_minutes", default_cooldown)
    if isinstance(cooldown, bool) or not isinstance(cooldown, (int, float)) or not 0.05 <= cooldown <= 1440:
        raise RuleError("cooldown_minutes: 0.05 to 1440")
    try:
        marking = parse(body.get("tlp", TLP.GREEN.value))
    except TLPError as exc:
        raise RuleError(f"tlp: {exc}") from None
    if not max_marking(user, client).allows(marking):
        raise RuleError(f"tlp: above your maximum {max_marking(user, client).value}")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError("enabled: true or false")
    return {"name": name.strip(), "kinds": kinds, "min_severity": severity, "workspaces": spaces,
            "within_km": float(within), "action": action, "cooldown_minutes": float(cooldown),
            "tlp": marking.value, "enabled": enabled}


def add_rule(client: redis.Redis, body: Any, user: Any, default_cooldown: int = 30) -> dict[str, Any]:
    rule = check_rule(body, user, client, default_cooldown)
    rule = {"id": "r-" + secrets.token_hex(6), **rule, "created_by": user.name,
            "created_at": _now().strftime("%Y-%m-%dT%H:%M:%SZ")}
    client.hset(RuleKeys.RULES, rule["id"], orjson.dumps(rule))
    return rule


def remove_rule(client: redis.Redis, rule_id: str) -> bool:
    if not RULE_ID.match(rule_id or ""):
        return False
    return bool(client.hdel(RuleKeys.RULES, rule_id))


def list_rules(client: redis.Redis) -> list[dict[str, Any]]:
    return sorted((orjson.loads(v) for v in client.hvals(RuleKeys.RULES)), key=lambda r: r["created_at"])


def queue_entries(client: redis.Redis, count: int = 200) -> list[dict[str, Any]]:
    rows = client.xrevrange(RuleKeys.RULE_QUEUE, count=count)
    return [{"entry": sid.decode(), **orjson.loads(fields[b"p"])} for sid, fields in rows]


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    to_dict = getattr(item, "to_dict", None)
    return to_dict() if callable(to_dict) else {}


def _default_workspaces() -> list[Workspace]:
    return workspaces_for(load_config())


def evaluate_rules(client: redis.Redis, events: Iterable[Any], workspaces: Iterable[Workspace] | None = None, *,
                   config: Any = None) -> list[dict[str, Any]]:
    """Run every enabled rule over ``events`` (incidents or events, as dicts or Event objects).

    Returns what happened, one dict per match: ``status`` raised | pushed | suppressed (cooling
    down), ``rule``, ``workspace``, ``incident``, ``distance_km``, ``where`` and ``alert`` when
    pushed. Safe to call from several processes at once and with the same events again."""

    rules = [r for r in list_rules(client) if r.get("enabled")]
    if not rules:
        return []
    spaces = list(workspaces) if workspaces is not None else _default_workspaces()
    items = [d for d in (_as_dict(e) for e in events) if d.get("lat") is not None and d.get("lon") is not None]
    results: list[dict[str, Any]] = []
    for rule in rules:
        for item in items:
            if rule["kinds"] and item.get("kind") not in rule["kinds"]:
                continue
            if SEVERITY_RANK.get(str(item.get("severity") or "unknown"), 0) < SEVERITY_RANK[rule["min_severity"]]:
                continue
            for space in spaces:
                if rule["workspaces"] and space.id not in rule["workspaces"]:
                    continue
                distance, where = space.distance(float(item["lat"]), float(item["lon"]))
                if distance > rule["within_km"]:
                    continue
                seen = RuleKeys.rule_seen(rule["id"])
                if not client.sadd(seen, f"{space.id} {item['id']}"):
                    continue  # this incident already raised this rule for this workspace
                client.expire(seen, SEEN_TTL)
                outcome = {"rule": rule["id"], "rule_name": rule["name"], "workspace": space.id,
                           "incident": item["id"], "title": str(item.get("title") or "")[:200],
                           "kind": item.get("kind"), "severity": item.get("severity"),
                           "distance_km": round(distance, 2), "where": where,
                           "at": _now().strftime("%Y-%m-%dT%H:%M:%SZ")}
                cooldown = max(1, int(rule["cooldown_minutes"] * 60))
                if not client.set(RuleKeys.rule_cooldown(rule["id"], space.id), item["id"], nx=True, ex=cooldown):
                    results.append({**outcome, "status": "suppressed"})
                    continue
                if rule["action"] == "push":
                    outcome.update(_push(client, rule, space, item, outcome, config))
                else:
                    outcome["status"] = "raised"
                client.xadd(RuleKeys.RULE_QUEUE, {"p": orjson.dumps(outcome)}, maxlen=10_000, approximate=True)
                audit(f"rule.{outcome['status']}", record=f"{rule['id']} {space.id} {item['id']}"[:256],
                      reason=f"{item.get('kind')} {item.get('severity')} {distance:.1f} km from {where}"
                      + (f"; alert {outcome['alert']}" if outcome.get("alert") else ""),
                      user=f"rule:{rule['id']}", source="rules", client=client)
                results.append(outcome)
    return results


def _push(client: redis.Redis, rule: dict[str, Any], space: Workspace, item: dict[str, Any],
          outcome: dict[str, Any], config: Any) -> dict[str, Any]:

    actor = RuleActor(f"rule:{rule['id']}")
    stored = find_incident(client, item["id"])
    marking = highest(rule["tlp"], incident_marking(stored or item))
    where = "inside" if outcome["distance_km"] == 0 else f"{outcome['distance_km']} km from"
    body = {"headline": f"{rule['name']}: {outcome['title'] or item.get('kind')}"[:160],
            "text": f"{item.get('kind')} ({item.get('severity')}) {where} {outcome['where']} of {space.name}. "
                    f"Raised by rule {rule['name']}.",
            "severity": str(item.get("severity") or "unknown"), "scope": f"zone:{space.id}", "tlp": marking.value,
            "exercise": bool(item.get("exercise") or space.exercise)}
    if stored is not None:
        body["incident"] = item["id"]
    sender = str(getattr(config, "cap_sender", "") or "watchfloor@localhost") if config is not None else "watchfloor@localhost"
    try:
        alert = alerts.issue(client, body, actor, sender=sender, issued_by=actor.name)
    except RecordError as exc:
        return {"status": "raised", "push_failed": str(exc)}
    if config is not None:
        outbound.enqueue(client, alert, config, by=actor.name)
    return {"status": "pushed", "alert": alert["id"]}
