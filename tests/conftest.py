"""Shared fixtures: a real Redis server (never a fake), the feed corpus, loopback HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from watchfloor.redis_server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent


def corpus_dir() -> Path | None:
    env = os.environ.get("WATCHFLOOR_CORPUS")
    path = Path(env) if env else ROOT.parent / "shared" / "corpus"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus (or $WATCHFLOOR_CORPUS). Absent: skip on a user's clone, fail under CI."""
    path = corpus_dir()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but the feed corpus is missing: expected ../shared/corpus or $WATCHFLOOR_CORPUS")
        pytest.skip("feed corpus not present (../shared/corpus); set WATCHFLOOR_CORPUS to run these tests")
    return path


@pytest.fixture(scope="session", autouse=True)
def own_stack_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests' stacks register in a directory of their own: a `make run` the developer has open
    is not theirs to find, and theirs are not the developer's."""
    saved = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(tmp_path_factory.mktemp("runtime"))
    yield
    if saved is None:
        os.environ.pop("XDG_RUNTIME_DIR", None)
    else:
        os.environ["XDG_RUNTIME_DIR"] = saved


@pytest.fixture(scope="session", autouse=True)
def marathon_scenario() -> Iterator[None]:
    """The suite's screens and pipelines were written against the marathon scenario (Boston); the
    default Helsinki scenario has tests of its own (tests/layers/test_streets.py), which set it explicitly."""
    saved = os.environ.get("WATCHFLOOR_SCENARIO")
    os.environ["WATCHFLOOR_SCENARIO"] = saved or "marathon"
    yield
    if saved is None:
        os.environ.pop("WATCHFLOOR_SCENARIO", None)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One real redis-server for the session, on a free loopback port."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """A client on a flushed database, flushed again afterwards (RQ's habit)."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Real headless Chromium (Debian's, `make browser`), one per test module."""
    from playwright.sync_api import sync_playwright

    from tests.watchfloor.test_stack import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
