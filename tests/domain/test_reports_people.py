"""People named without a date of birth are never joined by the name alone (domain/reports/entities.py):
two "John Smith"s, or every subject written "Unknown", are not one person until an analyst merges them."""

from __future__ import annotations

import pytest

from domain.reports import entities, store

pytestmark = [pytest.mark.redis]


def _add(client, *names: str, dob: str = "") -> dict:
    data = {"category": "PHOTO", "narrative": "A man photographed the gate and the guard rota for twenty minutes.",
            "time": "2026-04-20T14:05:00Z", "subjects": [{"name": n, **({"dob": dob} if dob else {})} for n in names]}
    return store.save_new(client, store.build(data, kind="sar", by="olga", channel="desk"))


def test_the_same_name_without_a_date_of_birth_is_not_the_same_person(redis_client):
    first, second = _add(redis_client, "John Smith"), _add(redis_client, "John Smith")
    twice = _add(redis_client, "Unknown", "Unknown")
    ids = [entities.report_entities(redis_client, r["id"]) for r in (first, second, twice)]
    assert ids[0] != ids[1] and len(ids[2]) == 2, "a name alone joins nobody"
    assert entities.find(redis_client, "person:John Smith") == ids[0][0]  # the first still found by its name
    assert [c["id"] for c in entities.candidates(redis_client, ids[1][0])] == ids[0], "offered to the analyst instead"
    # With the same date of birth the same name is one person.
    dated = [_add(redis_client, "Ann Doe", dob="1990-01-31") for _ in range(2)]
    assert entities.report_entities(redis_client, dated[0]["id"]) == entities.report_entities(redis_client, dated[1]["id"])
