"""JSON Feed 1.0/1.1 news (format ``jsonfeed``): https://www.jsonfeed.org/version/1.1/.

A document is ``{"version": "https://jsonfeed.org/version/1.1", "title": ..., "items": [...]}``.
It is read exactly as the ``rss`` adapter reads an RSS/Atom news item, so a story is the same
report whichever of the two formats a newsroom publishes:

* ``id`` is ``"jsonfeed:" + stable_hash(item id)``; an item without an id (the spec requires one)
  gets ``stable_hash(feed.id, url, title, date_published)`` and a warning.
* ``title`` is the item's title, else the start of its text; ``text`` is ``content_text``, else
  ``content_html`` reduced to plain text (markup is never rendered: scripts and styles are
  dropped with their content), else ``summary``.
* ``time`` is ``date_published`` read strictly (RFC 3339), else ``date_modified``, else the fetch
  time with a warning, exactly as :func:`feeds.sources.rss.entry_time` does; ``updated`` is
  ``date_modified``.
* ``kind`` is the feed's configured kind, else refined from hazard words in the title, else
  ``news`` (:func:`feeds.sources.rss.hazard_kind`).
* JSON Feed carries no position: ``lat``/``lon`` stay empty and the ingest pipeline geocodes the
  title and text, as it does for RSS news.
* ``extra``: the item id, tags, author names, ``external_url``.

A document that is not an object with a JSON Feed ``version`` and an ``items`` list is refused
with one line; an item that is not an object, or has nothing to show, is skipped and counted.
Every string is untrusted: values of the wrong JSON type are ignored, and long strings are cut
before they are cleaned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feeds.contract import DocumentRefused, FeedConfig, ParseResult
from feeds.model import Event, InvalidEvent, iso, stable_hash
from feeds.sources import register
from feeds.sources._json import load_json
from feeds.sources.rss import entry_time, hazard_kind
from feeds.text import BadDate, parse_time, plain_text, safe_link, title_text

VERSION_PREFIXES = ("https://jsonfeed.org/version/1", "http://jsonfeed.org/version/1")
MAX_RAW = 100_000  # characters of one string read before cleaning (the cleaned text is shorter still)
MAX_TAGS = 20
MAX_AUTHORS = 10


def text_of(value: object, limit: int = MAX_RAW) -> str:
    """``value`` when it is a string (cut at ``limit``); "" for any other JSON type."""
    return value[:limit] if isinstance(value, str) else ""


def item_id(value: object) -> str:
    """The item's id as text: a string, or a number (JSON Feed 1.0 feeds sometimes use one)."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return str(value)
    return text_of(value, 2000).strip()


def is_json_feed(doc: object) -> bool:
    """An object whose ``version`` names JSON Feed 1.x (the URL, or a bare 1 / "1" / "1.1")."""
    if not isinstance(doc, dict):
        return False
    version = doc.get("version")
    if isinstance(version, str):
        return version.strip().rstrip("/").startswith(VERSION_PREFIXES) or version.strip() in ("1", "1.0", "1.1")
    return version in (1, 1.1) and not isinstance(version, bool)


def names_of(item: dict[str, Any]) -> list[str]:
    """Author names: 1.1 ``authors`` (a list), else 1.0 ``author`` (one object)."""
    authors = item.get("authors")
    if not isinstance(authors, list):
        authors = [item.get("author")]
    names = [title_text(text_of(a.get("name"), 1000)) for a in authors[:MAX_AUTHORS] if isinstance(a, dict)]
    return [n for n in names if n]


class JsonFeed:
    """The ``jsonfeed`` format."""

    name = "jsonfeed"

    def sniff(self, head: str) -> int:
        """98 when the head names the JSON Feed version URL (above ReliefWeb's 95: a news feed may
        well link reliefweb.int); 60 for an object with ``version``, ``items`` and JSON Feed item
        fields; 0 otherwise."""
        if not head.lstrip("\ufeff \t\r\n").startswith("{"):
            return 0
        if "jsonfeed.org/version/" in head:
            return 98
        if '"version"' in head and '"items"' in head and any(
            f'"{key}"' in head for key in ("content_html", "content_text", "home_page_url", "feed_url")
        ):
            return 60
        return 0

    def parse(self, data: bytes, feed: FeedConfig, fetched_at: datetime) -> ParseResult:
        """One news event per item; DocumentRefused when the document is not a JSON Feed."""
        doc, warnings = load_json(data)
        if not is_json_feed(doc):
            raise DocumentRefused("not a JSON Feed (expected an object whose version is https://jsonfeed.org/version/1.1)")
        items = doc.get("items")
        if not isinstance(items, list):
            raise DocumentRefused("JSON Feed has no items list")
        result = ParseResult(warnings=warnings)
        skipped = 0
        for n, item in enumerate(items, 1):
            if not isinstance(item, dict):
                skipped += 1
                continue
            try:
                event = self._event(item, feed, fetched_at)
            except (InvalidEvent, BadDate, ValueError, TypeError, AttributeError) as exc:
                result.warnings.append(f"item {n} skipped: {plain_text(exc, 160)}")
                continue
            if event is None:
                result.warnings.append(f"item {n} is empty (no title, text, link or id); skipped")
                continue
            result.events.append(event)
            result.warnings.extend(f"item {n}: {w}" for w in event.warnings)
        if skipped:
            result.warnings.append(f"{skipped} of {len(items)} items are not objects; skipped")
        return result

    def _event(self, item: dict[str, Any], feed: FeedConfig, fetched_at: datetime) -> Event | None:
        warnings: list[str] = []
        raw_text = text_of(item.get("content_text")) or text_of(item.get("content_html")) or text_of(item.get("summary"))
        text = plain_text(raw_text)
        title = title_text(text_of(item.get("title"))) or title_text(text)
        link = safe_link(text_of(item.get("url"), 4000)) or safe_link(text_of(item.get("external_url"), 4000))
        if item.get("url") and link is None:
            warnings.append("url is not an absolute http(s) URL; dropped")
        guid = item_id(item.get("id"))
        if not (title or text or link or guid):
            return None
        published, modified = text_of(item.get("date_published"), 100), text_of(item.get("date_modified"), 100)
        time, time_field = entry_time({"published": published, "updated": modified}, fetched_at, warnings)
        time_field = {"published": "date_published", "updated": "date_modified"}.get(time_field, time_field)
        updated = None
        if modified:
            try:
                updated = parse_time(modified)[0]
            except BadDate as exc:
                warnings.append(f"date_modified ignored ({exc})")
        if not guid:
            warnings.append("item has no id; identified by its url, title and date")
        event_id = "jsonfeed:" + (stable_hash(guid) if guid else stable_hash(feed.id, link, title, published))
        tags = item.get("tags") if isinstance(item.get("tags"), list) else []
        extra: dict[str, Any] = {
            "guid": plain_text(guid, 500) or None,
            "tags": [t for t in (plain_text(text_of(tag, 1000), 60) for tag in tags[:MAX_TAGS]) if t],
            "authors": names_of(item),
            "external_url": safe_link(text_of(item.get("external_url"), 4000)),
        }
        return Event(
            id=event_id,
            source=self.name,
            kind=hazard_kind(feed, title),
            title=title or "(untitled)",
            text=text,
            time=time,
            updated=updated,
            link=link,
            feed=feed.id,
            exercise=feed.exercise,
            extra={k: v for k, v in extra.items() if v},
            provenance={
                "feed": feed.id,
                "raw_id": plain_text(guid, 500) or None,
                "fetched_at": iso(fetched_at),
                "fields": {
                    "id": "id" if guid else "hash(feed,url,title,date_published)",
                    "time": time_field,
                    "updated": "date_modified",
                    "title": "title",
                    "text": "content_text|content_html|summary",
                    "link": "url|external_url",
                },
            },
            warnings=tuple(warnings),
        )


SOURCE = register(JsonFeed())
