"""The one table of settings. It feeds the config file reader, the environment, the CLI's
``watchfloor settings`` listing and the README; a test fails when one is undocumented."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    env: str
    kind: type = str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting("redis_url", "", "Redis to use (redis:// or rediss://). Empty: start an embedded local "
            "redis-server on 127.0.0.1 with its data under data_dir.", "REDIS_URL"),
    Setting("data_dir", "var", "Where the embedded Redis keeps its append-only file and where "
            "run-time files live.", "WATCHFLOOR_DATA_DIR"),
    Setting("host", "127.0.0.1", "Address the web app listens on. Anything but loopback should sit "
            "behind a TLS proxy.", "WATCHFLOOR_HOST"),
    Setting("port", 8050, "Port of the web app.", "PORT", int, 1, 65535),
    Setting("workers", 2, "RQ worker processes started by `watchfloor up`.", "WATCHFLOOR_WORKERS", int, 0, 64),
    Setting("exercise", True, "Serve the built-in exercise scenario on loopback and poll it.",
            "WATCHFLOOR_EXERCISE", bool),
    Setting("exercise_port", 0, "Port of the exercise feed server (0: a free port).",
            "WATCHFLOOR_EXERCISE_PORT", int, 0, 65535),
    Setting("exercise_url", "", "Base URL that `exercise:` feed URLs resolve to; set by `watchfloor up`.",
            "WATCHFLOOR_EXERCISE_URL"),
    Setting("scenario", "marathon", "Exercise scenario: a built-in name or a path to a scenario TOML file.",
            "WATCHFLOOR_SCENARIO"),
    Setting("scenario_speed", 1.0, "Exercise clock multiplier (10: ten times faster than real time).",
            "WATCHFLOOR_SCENARIO_SPEED", float, 0.01, 10000),
    Setting("fetch_timeout", 20.0, "Total deadline in seconds for one fetch, connection to last byte.",
            "WATCHFLOOR_FETCH_TIMEOUT", float, 0.5, 600),
    Setting("fetch_max_bytes", 20_000_000, "Largest feed document accepted, after decompression, in bytes.",
            "WATCHFLOOR_FETCH_MAX_BYTES", int, 1024, 1_000_000_000),
    Setting("refresh_ms", 2000, "How often open screens ask for new events, in milliseconds.",
            "WATCHFLOOR_REFRESH_MS", int, 250, 600_000),
    Setting("stale_seconds", 20, "A screen shows STALE when it has not heard from the server for this "
            "many seconds.", "WATCHFLOOR_STALE_SECONDS", int, 2, 86_400),
    Setting("log_level", "INFO", "Log level of every process.", "WATCHFLOOR_LOG_LEVEL",
            choices=("DEBUG", "INFO", "WARNING", "ERROR")),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def coerce(setting: Setting, raw: Any, where: str) -> Any:
    """Turn ``raw`` into the setting's type, or raise ValueError naming ``where`` and the fix."""
    from watchfloor.config import ConfigError

    convert: Callable[[Any], Any]
    if setting.kind is bool:
        if isinstance(raw, bool):
            value: Any = raw
        elif str(raw).strip().lower() in ("1", "true", "yes", "on"):
            value = True
        elif str(raw).strip().lower() in ("0", "false", "no", "off", ""):
            value = False
        else:
            raise ConfigError(f"{where}: {raw!r} is not true or false")
        return value
    convert = setting.kind
    try:
        if setting.kind in (int, float) and isinstance(raw, bool):
            raise ValueError
        value = convert(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {raw!r} is not a {setting.kind.__name__}") from None
    if setting.minimum is not None and value < setting.minimum:
        raise ConfigError(f"{where}: {value} is below the minimum {setting.minimum:g}")
    if setting.maximum is not None and value > setting.maximum:
        raise ConfigError(f"{where}: {value} is above the maximum {setting.maximum:g}")
    if setting.choices and value.upper() not in setting.choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(setting.choices)}")
    return value.upper() if setting.choices else value
