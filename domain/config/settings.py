"""The one table of settings. It feeds the config file reader, the environment, the CLI's
``watchfloor settings`` listing and the README; a test fails when one is undocumented."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.errors import ConfigError


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
    Setting("redis_url", "", "Redis to use (redis://, rediss://, or redis+sentinel://HOST:PORT,.../SERVICE under Sentinel). Empty: start an embedded local "
            "redis-server on 127.0.0.1 with its data under data_dir.", "REDIS_URL"),
    Setting("redis_maxmemory_mb", 0, "Memory limit of the embedded Redis in MB (0: half the host's memory). "
            "At the limit it refuses new writes cleanly and never evicts data; every screen warns at 80 %.",
            "WATCHFLOOR_REDIS_MAXMEMORY_MB", int, 0, 10_000_000),
    Setting("redis_ha", False, "`watchfloor up` starts a Sentinel-watched store instead of the single embedded "
            "one: a primary, a replica and three sentinels on 127.0.0.1 (what `watchfloor up --ha` does; for trying "
            "failover on one machine). Ignored when redis_url is set.", "WATCHFLOOR_REDIS_HA", bool),
    Setting("data_dir", "var", "Where the embedded Redis keeps its append-only file and where "
            "run-time files live.", "WATCHFLOOR_DATA_DIR"),
    Setting("host", "127.0.0.1", "Address the web app listens on. Anything but loopback should sit "
            "behind a TLS proxy.", "WATCHFLOOR_HOST"),
    Setting("port", 8050, "Port of the web app.", "PORT", int, 1, 65535),
    Setting("workers", 2, "RQ worker processes started by `watchfloor up`.", "WATCHFLOOR_WORKERS", int, 0, 64),
    Setting("web_processes", 1, "Web app processes started by `watchfloor up`; they share its one listening "
            "port (the supervisor holds the socket), so one can die and restart while the others answer.",
            "WATCHFLOOR_WEB_PROCESSES", int, 1, 64),
    Setting("web_threads", 64, "Threads per web process for callbacks that read Redis (the event loop never "
            "waits on the store).", "WATCHFLOOR_WEB_THREADS", int, 4, 1024),
    Setting("push_reader", "SHARED", "How a web process follows changes for its open push streams: SHARED (one "
            "reader per process wakes them all) or PER-STREAM (one Redis connection each, the former way; for "
            "comparison).", "WATCHFLOOR_PUSH_READER", choices=("SHARED", "PER-STREAM")),
    Setting("exercise", True, "Serve the built-in exercise scenario on loopback and poll it.",
            "WATCHFLOOR_EXERCISE", bool),
    Setting("exercise_port", 0, "Port of the exercise feed server (0: a free port).",
            "WATCHFLOOR_EXERCISE_PORT", int, 0, 65535),
    Setting("exercise_url", "", "Base URL that `exercise:` feed URLs resolve to; set by `watchfloor up`.",
            "WATCHFLOOR_EXERCISE_URL"),
    Setting("scenario", "helsinki", "Exercise scenario: a built-in name or a path to a scenario TOML file.",
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
    Setting("wall_cycle_seconds", 20, "How long the wall shows each view (map, each event, threat board, "
            "timeline) before the next; pin one with /wall?view=NAME.", "WATCHFLOOR_WALL_CYCLE_SECONDS", int, 3, 3600),
    Setting("map_online_style", "", "A MapLibre style URL (https://) the screens use instead of the app's own "
            "offline style, for a floor that has the internet and wants a provider's map. Empty: the offline "
            "style only, and no map request leaves the machine.", "WATCHFLOOR_MAP_ONLINE_STYLE"),
    Setting("map_max_points", 5000, "Past this many live incidents a screen's map gets the most important ones as "
            "markers (inside or near a workspace, then the most severe, then the newest; this many) and every other "
            "one counted in a hexagon bin; below it, every incident is a marker.", "WATCHFLOOR_MAP_MAX_POINTS",
            int, 10, 1_000_000),
    Setting("map_bin_degrees", 3.0, "Size of the map's hexagon bins (centre to corner, in degrees of longitude) "
            "when the picture is aggregated.", "WATCHFLOOR_MAP_BIN_DEGREES", float, 0.05, 45),
    Setting("metrics_token", "", "Bearer token Prometheus sends to read /metrics. Empty: /metrics answers "
            "only direct requests from this host (loopback, no proxy in between).", "WATCHFLOOR_METRICS_TOKEN"),
    Setting("user_agent", "Watchfloor/0.1 (+feed poller)", "User-Agent sent with every feed request: name your "
            "agency and a contact, as api.weather.gov asks (e.g. \"Watchfloor (ops@agency.gov)\").",
            "WATCHFLOOR_USER_AGENT"),
    Setting("log_format", "text", "Log lines as text (with the structured fields as key=value) or as JSON Lines "
            "for a log collector.", "WATCHFLOOR_LOG_FORMAT", choices=("TEXT", "JSON")),
    Setting("log_level", "INFO", "Log level of every process.", "WATCHFLOOR_LOG_LEVEL",
            choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    # -- fusion (workers/fusion.py) ---------------------------------------------------------------
    Setting("fusion_window_hours", 72.0, "The fuser keeps an incident in memory (new reports can join it) until "
            "it has had no report for this many hours and its time is as old; it stays stored after that.",
            "WATCHFLOOR_FUSION_WINDOW_HOURS", float, 0.01, 8760),
    Setting("fusion_lock_seconds", 15, "Leader lock of the fuser: a standby `watchfloor fuse` takes over within "
            "this many seconds after the active one dies.", "WATCHFLOOR_FUSION_LOCK_SECONDS", int, 2, 600),
    # -- history (workers/retention.py, workers/checkpoint.py) -------------------------------------
    Setting("events_retention_days", 30.0, "Reports older than this many days leave the report stream `wf:events`, "
            "written first to compressed files under data_dir/archive/events/ (one gzip JSON Lines file per day, "
            "readable by a replay); only what the fuser has checkpointed and every reader has read. 0 keeps the "
            "stream whole.", "WATCHFLOOR_EVENTS_RETENTION_DAYS", float, 0, 36_500),
    Setting("incident_max_age_days", 30.0, "An incident with no new report for this many days (and out of the "
            "fusion window) leaves the live picture and the screens; it is kept in `wf:incidents:aged`, still "
            "found by its id (drawer, API, CLI). 0: incidents never age out.", "WATCHFLOOR_INCIDENT_MAX_AGE_DAYS",
            float, 0, 36_500),
    # -- access control (dashboard/security.py) ----------------------------------------------------
    Setting("environment", "production", "production or development. Debug mode is refused unless this is "
            "development.", "WATCHFLOOR_ENVIRONMENT", choices=("PRODUCTION", "DEVELOPMENT")),
    Setting("debug", False, "Dash debug mode (tracebacks in the browser). Only allowed with environment = "
            "development; the app refuses to start otherwise.", "DASH_DEBUG", bool),
    Setting("session_idle_minutes", 30.0, "A person's session ends after this many minutes without "
            "interaction (timer refreshes do not count). Display screens are exempt.",
            "WATCHFLOOR_SESSION_IDLE_MINUTES", float, 0.05, 1440),
    Setting("login_attempts_per_address", 20, "Sign-in attempts one address may make in a minute; past it, "
            "429 with Retry-After and one audit record for the rest of the minute.",
            "WATCHFLOOR_LOGIN_ATTEMPTS_PER_ADDRESS", int, 1, 10_000),
    Setting("login_attempts_per_account", 10, "Sign-in attempts for one account in a minute, from anywhere.",
            "WATCHFLOOR_LOGIN_ATTEMPTS_PER_ACCOUNT", int, 1, 10_000),
    Setting("lockout_minutes", 15.0, "An account locked after five failed sign-ins opens again by itself after "
            "this long (`watchfloor user unlock NAME` opens it at once).", "WATCHFLOOR_LOCKOUT_MINUTES",
            float, 0.01, 10_080),
    Setting("session_max_hours", 12.0, "A person's session ends this many hours after sign-in, active or not.",
            "WATCHFLOOR_SESSION_MAX_HOURS", float, 0.01, 168),
    Setting("display_session_days", 30, "A display screen's session ends this many days after its token was "
            "exchanged; opening the screen URL again starts a new one.", "WATCHFLOOR_DISPLAY_SESSION_DAYS",
            int, 1, 400),
    Setting("secure_cookies", False, "Always mark cookies Secure and send HSTS: set it when TLS ends at a "
            "proxy that does not send X-Forwarded-Proto.", "WATCHFLOOR_SECURE_COOKIES", bool),
    Setting("trusted_proxies", "", "Comma-separated proxy IP addresses whose X-Forwarded-For and "
            "X-Forwarded-Proto are believed (source address in the audit, TLS detection). Empty: none.",
            "WATCHFLOOR_TRUSTED_PROXIES"),
    Setting("audit_retention_days", 400, "Audit records older than this are trimmed (by age, never by count); "
            "at least 366.", "WATCHFLOOR_AUDIT_RETENTION_DAYS", int, 366, 36_500),
    # -- operator actions (domain/operations/alerts.py, outbound.py, rules.py) ----------------------------------
    Setting("alert_default_minutes", 360, "A push alert without an expiry expires this many minutes after it is "
            "issued.", "WATCHFLOOR_ALERT_DEFAULT_MINUTES", int, 1, 43_200),
    Setting("cap_sender", "watchfloor@localhost", "CAP 1.2 `sender` of the alerts Watchfloor issues (no spaces "
            "or commas), e.g. watchfloor@fusion.example.gov.", "WATCHFLOOR_CAP_SENDER"),
    Setting("outbound_tlp", "TLP:GREEN", "Highest TLP label copied out by webhook and e-mail; alerts marked "
            "above it are withheld (and the withholding recorded).", "WATCHFLOOR_OUTBOUND_TLP",
            choices=("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")),
    Setting("outbound_timeout", 10.0, "Seconds one webhook POST or SMTP conversation may take before the copy "
            "is retried later.", "WATCHFLOOR_OUTBOUND_TIMEOUT", float, 0.5, 120),
    Setting("webhook_url", "", "POST a signed JSON copy of every alert here (empty: no webhook).",
            "WATCHFLOOR_WEBHOOK_URL"),
    Setting("webhook_secret", "", "Key of the HMAC-SHA256 signature in X-Watchfloor-Signature (required for the "
            "webhook; set it in the environment, not the config file).", "WATCHFLOOR_WEBHOOK_SECRET"),
    Setting("smtp_host", "", "SMTP relay for e-mail copies of alerts (empty: no e-mail).", "WATCHFLOOR_SMTP_HOST"),
    Setting("smtp_port", 25, "Port of the SMTP relay.", "WATCHFLOOR_SMTP_PORT", int, 1, 65535),
    Setting("smtp_starttls", False, "Use STARTTLS with the SMTP relay.", "WATCHFLOOR_SMTP_STARTTLS", bool),
    Setting("smtp_from", "watchfloor@localhost", "From address of e-mail copies.", "WATCHFLOOR_SMTP_FROM"),
    Setting("smtp_user", "", "Account to authenticate to the SMTP relay with (empty: no authentication). Needs "
            "smtp_starttls unless the relay is on loopback.", "WATCHFLOOR_SMTP_USER"),
    Setting("smtp_password", "", "Password of smtp_user (set it in the environment, not the config file).",
            "WATCHFLOOR_SMTP_PASSWORD"),
    Setting("smtp_ca_file", "", "CA certificates (PEM) to verify the SMTP relay's STARTTLS certificate with, for "
            "a relay signed by an agency CA (empty: the system's store).", "WATCHFLOOR_SMTP_CA_FILE"),
    Setting("alert_email_to", "", "Comma-separated addresses that get an e-mail copy of every alert.",
            "WATCHFLOOR_ALERT_EMAIL_TO"),
    Setting("rule_cooldown_minutes", 30, "Default cooldown of an alert rule: after it fires for a workspace it "
            "stays quiet there this long.", "WATCHFLOOR_RULE_COOLDOWN_MINUTES", int, 1, 1440),
    Setting("intel_purge_notice_days", 7, "28 CFR Part 23: the daily purge job first announces a criminal-intelligence "
            "record past its review date (audited preview), then purges it this many days later if still not "
            "validated.", "WATCHFLOOR_INTEL_PURGE_NOTICE_DAYS", int, 1, 90),
    Setting("sar_retention_days", 365, "Suspicious-activity reports and tips not shared as ISE-SAR are purged this "
            "many days after they were received (a purge record keeps ids and dates, never content).",
            "WATCHFLOOR_SAR_RETENTION_DAYS", int, 1, 3650),
    Setting("sar_queue_target_hours", 24.0, "Vetting target: the desk and the wall show reports waiting longer "
            "than this as late.", "WATCHFLOOR_SAR_QUEUE_TARGET_HOURS", float, 0.25, 720),
    Setting("tip_per_hour", 5, "Tips (and additions to tips) one address may send to /tip in an hour; the "
            "address is kept only in a counter that expires with the hour.", "WATCHFLOOR_TIP_PER_HOUR", int, 1, 1000),
    Setting("push_per_minute", 60, "Pushes one partner agency may make to POST /api/ingest in a minute (all its "
            "tokens together); more are answered 429 with Retry-After.", "WATCHFLOOR_PUSH_PER_MINUTE", int, 1, 100_000),
    Setting("daily_brief_at", "06:00", "UTC time (HH:MM) the daily brief of the whole picture is written to "
            "<data_dir>/briefs/ as PDF; empty: no daily brief.", "WATCHFLOOR_DAILY_BRIEF_AT"),
    Setting("daily_brief_tlp", "TLP:AMBER", "Highest TLP marking the daily brief may hold (it is for the floor).",
            "WATCHFLOOR_DAILY_BRIEF_TLP", choices=("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")),
    Setting("emergency_number", "911", "The number the public tip page (/tip) tells people to call in an "
            "emergency, in its banner and its answers (digits only: 911, 112, 999, 000).",
            "WATCHFLOOR_EMERGENCY_NUMBER"),
    Setting("phone_region", "US", "Country (ISO 3166 alpha-2) whose numbering plan reads phone numbers written "
            "without a country code, e.g. (617) 555-0142.", "WATCHFLOOR_PHONE_REGION"),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def coerce(setting: Setting, raw: Any, where: str) -> Any:
    """Turn ``raw`` into the setting's type, or raise ValueError naming ``where`` and the fix."""

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
