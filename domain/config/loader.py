"""Configuration: the settings table, a TOML file and the environment, validated once.

Precedence: environment variable > config file > default. The config file is ``--config``,
else ``WATCHFLOOR_CONFIG``, else ``./watchfloor.toml`` when present, else the built-in default
(``domain/config/default.toml``). Every error names the key and the fix.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from domain.agencies.sharing import parse_rule
from domain.config.settings import BY_NAME, SETTINGS, coerce
from domain.errors import ConfigError, Invalid
from domain.store import sentinel
from feeds.contract import FeedConfig
from feeds.model import TLP_LABELS
from layers.zones import Venue, Workspace

DEFAULT_CONFIG = Path(__file__).with_name("default.toml")
_FEED_KEYS = {f for f in FeedConfig.__dataclass_fields__}
_AREA_HINT = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")  # ISO 3166-1 alpha-2, optionally -subdivision
_AGENCY_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,15}$")
_FEED_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Config:
    values: dict[str, Any]
    feeds: tuple[FeedConfig, ...] = ()
    workspaces: tuple[Workspace, ...] = ()
    source: str = "defaults"
    raw: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def data_path(self) -> Path:
        return Path(self.values["data_dir"]).expanduser().resolve()

    def feed(self, feed_id: str) -> FeedConfig:
        for feed in self.feeds:
            if feed.id == feed_id:
                return feed
        raise ConfigError(f"feeds: no feed with id {feed_id!r}; configured: {', '.join(f.id for f in self.feeds)}")

    def resolve_url(self, feed: FeedConfig) -> tuple[str, bool]:
        """The URL to fetch and whether loopback is allowed (exercise feeds only)."""
        if feed.url.startswith("exercise:"):
            base = self.values.get("exercise_url") or ""
            if not base:
                raise ConfigError(
                    f"feeds.{feed.id}.url: exercise feeds need the exercise server; run `watchfloor up` "
                    "or set WATCHFLOOR_EXERCISE_URL"
                )
            return base.rstrip("/") + "/" + feed.url[len("exercise:"):].lstrip("/"), True
        return feed.url, feed.allow_local


def config_path(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("WATCHFLOOR_CONFIG")
    if env:
        return Path(env)
    local = Path("watchfloor.toml")
    return local if local.exists() else DEFAULT_CONFIG


def load_config(path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Config:
    """Read and validate the configuration; ConfigError on anything wrong."""
    env = dict(os.environ) if env is None else env
    file = config_path(str(path) if path else None)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {file} does not exist; pass --config PATH or unset WATCHFLOOR_CONFIG") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {file} cannot be read: {exc}") from None

    unknown = set(raw) - {"watchfloor", "feeds", "workspaces"}
    if unknown:
        raise ConfigError(
            f"{file}: unknown top-level key {sorted(unknown)[0]!r}; allowed: [watchfloor], [[feeds]], [[workspaces]]"
        )
    section = raw.get("watchfloor", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{file}: [watchfloor] must be a table")
    values: dict[str, Any] = {}
    for key in section:
        if key not in BY_NAME:
            raise ConfigError(f"{file}: unknown setting watchfloor.{key}; see `watchfloor settings` for the list")
    for setting in SETTINGS:
        if setting.env in env and env[setting.env] != "":
            values[setting.name] = coerce(setting, env[setting.env], f"environment {setting.env}")
        elif setting.name in section:
            values[setting.name] = coerce(setting, section[setting.name], f"{file}: watchfloor.{setting.name}")
        else:
            values[setting.name] = setting.default
    check_redis_url(values["redis_url"], "REDIS_URL" if env.get("REDIS_URL") else f"{file}: watchfloor.redis_url")
    agent = str(values["user_agent"])
    if not agent or len(agent) > 200 or not all(32 <= ord(ch) <= 126 for ch in agent):
        raise ConfigError(f"user_agent: {agent[:40]!r} must be 1-200 printable ASCII characters "
                          "(e.g. \"Watchfloor (ops@agency.gov)\")")
    check_smtp(values, str(file))
    online = str(values.get("map_online_style") or "")
    if online and (urlsplit(online).scheme != "https" or not urlsplit(online).hostname):
        raise ConfigError(f"map_online_style: {online[:80]!r} must be an https:// URL of a MapLibre style JSON "
                          "(or empty for the offline style)")
    feeds = tuple(_read_feeds(raw.get("feeds", []), file))
    workspaces = tuple(read_workspaces(raw.get("workspaces", []), str(file)))
    return Config(values=values, feeds=feeds, workspaces=workspaces, source=str(file), raw=raw)


def check_smtp(values: dict[str, Any], file: str) -> None:
    """SMTP credentials never cross the network in clear, and a CA file must be readable."""
    user, host = values.get("smtp_user"), str(values.get("smtp_host") or "")
    if user and not values.get("smtp_password"):
        raise ConfigError(f"{file}: watchfloor.smtp_user is set but smtp_password is empty; "
                          "set WATCHFLOOR_SMTP_PASSWORD in the environment")
    if user and not values.get("smtp_starttls") and host not in ("127.0.0.1", "::1", "localhost"):
        raise ConfigError(f"{file}: watchfloor.smtp_user: the password would cross the network in clear; "
                          "set smtp_starttls = true (or use a relay on loopback)")
    ca_file = values.get("smtp_ca_file")
    if ca_file and not os.access(ca_file, os.R_OK):
        raise ConfigError(f"{file}: watchfloor.smtp_ca_file: {str(ca_file)[:200]!r} is not a readable file; "
                          "give the path of a PEM bundle or leave it empty")


def check_redis_url(url: str, where: str) -> None:
    if not url:
        return
    try:
        url = sentinel.durability_of(url)[0]
        if sentinel.is_sentinel(url):
            sentinel.parse(url)
            return
    except sentinel.SentinelUrlError as exc:
        raise ConfigError(f"{where}: {sentinel.redact(url)!r}: {exc}") from None
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"{where}: {url!r} is not a redis:// URL (example: redis://127.0.0.1:6379/0, or "
                          f"{sentinel.EXAMPLE} under Sentinel)")
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"{where}: {url!r} has no host (example: redis://127.0.0.1:6379/0)")


def _read_feeds(items: Any, file: Path) -> list[FeedConfig]:
    if not isinstance(items, list):
        raise ConfigError(f"{file}: feeds must be an array of tables ([[feeds]])")
    feeds: list[FeedConfig] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"{file}: feeds[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a table")
        fid = item.get("id")
        if not isinstance(fid, str) or not _FEED_ID.match(fid):
            raise ConfigError(f"{where}.id: {fid!r} must be lower-case letters, digits, '-', '_' or '.'")
        where = f"{file}: feeds.{fid}"
        if fid in seen:
            raise ConfigError(f"{where}: the id is used twice; give each feed its own id")
        seen.add(fid)
        unknown = set(item) - _FEED_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}; allowed: {', '.join(sorted(_FEED_KEYS))}")
        url = item.get("url")
        if not isinstance(url, str) or not url:
            raise ConfigError(f"{where}.url: missing; give the feed's http(s) URL")
        if not url.startswith("exercise:"):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"{where}.url: {url!r} is not an http(s) URL")
        interval = item.get("interval", 60)
        if not isinstance(interval, int) or isinstance(interval, bool) or not 5 <= interval <= 86_400:
            raise ConfigError(f"{where}.interval: {interval!r} must be whole seconds between 5 and 86400")
        for flag in ("exercise", "allow_local", "enabled", "teaches_places"):
            if flag in item and not isinstance(item[flag], bool):
                raise ConfigError(f"{where}.{flag}: {item[flag]!r} must be true or false")
        for text_key in ("format", "name", "kind", "country"):
            if text_key in item and not isinstance(item[text_key], str):
                raise ConfigError(f"{where}.{text_key}: must be a string")
        stale = item.get("stale_after", 3)
        if not isinstance(stale, int) or isinstance(stale, bool) or not 1 <= stale <= 1000:
            raise ConfigError(f"{where}.stale_after: {stale!r} must be a whole number of intervals, 1 to 1000")
        country = item.get("country")
        if isinstance(country, str) and not _AREA_HINT.match(country):
            raise ConfigError(f"{where}.country: {country[:20]!r} must be an ISO 3166 code such as \"US\", \"AU\" or, "
                              "for a state's feed, \"AU-QLD\" or \"US-CA\"")
        tlp = item.get("tlp")
        if tlp is not None and tlp not in TLP_LABELS:
            raise ConfigError(f"{where}.tlp: {str(tlp)[:40]!r} is not a TLP 2.0 label; use one of {', '.join(TLP_LABELS)}")
        _check_owner(item, where)
        feeds.append(FeedConfig(**{**item, "interval": interval}))
    return feeds


def _check_owner(item: dict[str, Any], where: str) -> None:
    """``agency`` (an agency code) and ``sharing`` (a rule, only with an agency) of a feed entry."""
    agency, sharing = item.get("agency"), item.get("sharing")
    if agency is not None:
        if not isinstance(agency, str) or not _AGENCY_CODE.match(agency):
            raise ConfigError(f"{where}.agency: {str(agency)[:20]!r} is not an agency code (e.g. \"BPD\": "
                              "upper-case letters, digits and -, up to 16)")
    if sharing is not None:
        if agency is None:
            raise ConfigError(f"{where}.sharing: needs agency = \"CODE\" (a public feed is shared with all)")
        try:
            item["sharing"] = str(parse_rule(str(sharing), field=f"{where}.sharing"))
        except Invalid as exc:
            raise ConfigError(str(exc)) from None


_WORKSPACE_KEYS = {"id", "name", "venues", "route", "route_km", "near_km", "center", "zoom"}


def _lat_lon(value: Any, where: str) -> tuple[float, float]:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or not (-90 <= value[0] <= 90 and -180 <= value[1] <= 180)
    ):
        raise ConfigError(f"{where}: {value!r} must be [lat, lon] in degrees")
    return float(value[0]), float(value[1])


def _positive(value: Any, where: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 500:
        raise ConfigError(f"{where}: {value!r} must be a number of kilometres between 0 and 500")
    return float(value)


def read_workspaces(items: Any, where_file: str) -> list[Workspace]:
    """``[[workspaces]]`` tables: major events with venues (lat, lon, radius_km) and/or a course."""
    if not isinstance(items, list):
        raise ConfigError(f"{where_file}: workspaces must be an array of tables ([[workspaces]])")
    out: list[Workspace] = []
    for index, item in enumerate(items):
        where = f"{where_file}: workspaces[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a table")
        wid = item.get("id")
        if not isinstance(wid, str) or not _FEED_ID.match(wid):
            raise ConfigError(f"{where}.id: {wid!r} must be lower-case letters, digits, '-', '_' or '.'")
        where = f"{where_file}: workspaces.{wid}"
        unknown = set(item) - _WORKSPACE_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}; allowed: {', '.join(sorted(_WORKSPACE_KEYS))}")
        venues = []
        for v_index, venue in enumerate(item.get("venues", [])):
            at = f"{where}.venues[{v_index}]"
            if not isinstance(venue, dict) or not isinstance(venue.get("name"), str):
                raise ConfigError(f"{at}: must be a table with name, lat, lon, radius_km")
            lat, lon = _lat_lon([venue.get("lat"), venue.get("lon")], at)
            venues.append(Venue(venue["name"], lat, lon, _positive(venue.get("radius_km"), f"{at}.radius_km", 0.5)))
        route = tuple(_lat_lon(p, f"{where}.route[{i}]") for i, p in enumerate(item.get("route", [])))
        if not venues and len(route) < 2:
            raise ConfigError(f"{where}: give at least one venue or a route of two points or more")
        center = _lat_lon(item["center"], f"{where}.center") if "center" in item else None
        out.append(
            Workspace(
                id=wid,
                name=str(item.get("name") or wid),
                venues=tuple(venues),
                route=route,
                route_km=_positive(item.get("route_km"), f"{where}.route_km", 0.3),
                near_km=_positive(item.get("near_km"), f"{where}.near_km", 5.0),
                center=center,
                zoom=float(item.get("zoom", 11)),
            )
        )
    return out
