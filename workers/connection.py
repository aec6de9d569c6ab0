"""How every process finds Redis: ``REDIS_URL`` when set, else the embedded server that a
running ``watchfloor up`` published under the data directory."""

from __future__ import annotations

import redis

from watchfloor.config import Config, ConfigError
from watchfloor.redis_server import running_url


class RedisUnavailable(ConfigError):
    """No Redis to talk to; the message says what to run."""


def redis_url(config: Config) -> str | None:
    """The configured URL, or the embedded server's if one is running; None if neither."""
    if config.redis_url:
        return str(config.redis_url)
    return running_url(config.data_path / "redis")


def connect(url: str, *, timeout: float = 5.0) -> redis.Redis:
    """A client that retries a dropped connection on its next command (Redis restarts)."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=15,
        retry_on_timeout=True,
    )


def client_for(config: Config) -> redis.Redis:
    url = redis_url(config)
    if url is None:
        raise RedisUnavailable(
            f"no Redis: REDIS_URL is unset and no embedded server is running for {config.data_path}; "
            "start one with `watchfloor up` (or `make run`) or set REDIS_URL"
        )
    return connect(url)
