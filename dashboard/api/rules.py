"""Alert rules and the queue of alerts they raised for review."""

from __future__ import annotations

from typing import Any

import redis
from fastapi import Request
from fastapi.responses import Response

from dashboard.api.endpoint import Api, ApiRefusal, json_response
from domain.access.audit import audit
from domain.errors import AboveMarking
from domain.operations import annotations, rules


def get_rules(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    return json_response({"rules": rules.list_rules(client)})


def post_rule(api: Api, request: Request, client: redis.Redis, user: Any, data: Any) -> Response:
    rule = rules.add_rule(client, data, user, api.default_cooldown)
    audit("rule.add", record=rule["id"], reason=f"{rule['name'][:80]}: {rule['action']}, within {rule['within_km']} km")
    return json_response(rule, 201)


def delete_rule(api: Api, request: Request, client: redis.Redis, user: Any, rule_id: str) -> Response:
    if not rules.remove_rule(client, rule_id):
        raise ApiRefusal(404, "not found", f"no rule {rule_id[:40]!r}")
    audit("rule.remove", record=rule_id)
    return json_response({"removed": rule_id})


def get_queue(api: Api, request: Request, client: redis.Redis, user: Any) -> Response:
    shown = [e for e in rules.queue_entries(client) if queue_visible(client, e, user)]
    return json_response({"queue": shown})


def queue_visible(client: redis.Redis, entry: dict[str, Any], user: Any) -> bool:
    try:
        annotations.check_readable(
            client,
            user,
            entry["incident"],
            annotations.load(client, entry["incident"]),
            annotations.find_incident(client, entry["incident"]),
        )
    except AboveMarking:
        return False
    return True
