"""The Sentinel URL form and the durability parameters (no server needed: parsing only)."""

from __future__ import annotations

import pytest

from domain.store import durability, sentinel
from domain.store.connection import connect


def test_a_sentinel_url_names_every_sentinel_the_service_and_both_passwords() -> None:
    url, replicas, wait_ms = sentinel.durability_of(
        "redis+sentinel://wf:p%40ss@10.0.0.1:26379,[::1]:26380/watchfloor?db=2&sentinel_password=s%25x"
        "&wait_replicas=1&wait_ms=1500")
    assert (replicas, wait_ms) == (1, 1500) and "wait_" not in url
    target = sentinel.parse(url)
    assert target.sentinels == (("10.0.0.1", 26379), ("::1", 26380))
    assert (target.service, target.db, target.username) == ("watchfloor", 2, "wf")
    assert (target.password, target.sentinel_password) == ("p@ss", "s%x")  # decoded once
    assert sentinel.parse("redis+sentinel://:pw@h:1/svc").sentinel_password == "pw"  # same password by default
    assert sentinel.parse("rediss+sentinel://h:1/svc").tls


def test_redaction_hides_every_password() -> None:
    shown = sentinel.redact("redis+sentinel://wf:secret1@h:1,h:2/svc?sentinel_password=secret2&db=0")
    assert "secret" not in shown and "h:1,h:2/svc" in shown


@pytest.mark.parametrize("url", ["redis+sentinel://h/svc", "redis+sentinel://h:99999/svc", "redis+sentinel://h:1/",
                                 "redis+sentinel://h:1/a b", "redis+sentinel://h:1/svc?db=16",
                                 "redis+sentinel://h:1/svc?password=x", "redis://h/0?wait_replicas=9"])
def test_malformed_urls_are_refused_with_the_form(url: str) -> None:
    with pytest.raises(sentinel.SentinelUrlError) as caught:
        sentinel.parse(sentinel.durability_of(url)[0])
    assert "form:" in str(caught.value) or "example:" in str(caught.value)


def test_the_client_carries_the_durability_asked_for() -> None:
    client = connect("redis://127.0.0.1:1/0?wait_replicas=1&wait_ms=700")  # nothing connects until a command
    assert durability.wanted(client) == (1, 700)
    assert durability.wanted(connect("redis://127.0.0.1:1/0")) == (0, 0)
