"""Reading JSON and delimited-text documents, shared by the JSON and CSV adapters: decoding that
repairs and flags bad bytes instead of refusing, and numbers that are finite or nothing."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from feeds.contract import DocumentRefused


def load_json(data: bytes) -> tuple[Any, list[str]]:
    """Decode a JSON document; DocumentRefused (one line) when it is not JSON.

    Invalid UTF-8 is replaced and flagged in the returned warnings rather than refused. The
    non-standard numbers NaN/Infinity (Python's json.dumps writes them) are read, flagged, and
    left for the per-feature checks to refuse, so one bad feature does not sink the document.
    """
    warnings: list[str] = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return orjson.loads(data), warnings
    except orjson.JSONDecodeError:
        pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "replace")
        warnings.append("document is not valid UTF-8; undecodable bytes replaced")
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DocumentRefused(f"not valid JSON: {_one_line(exc)}") from None
    if "NaN" in text or "Infinity" in text or "e999" in text.lower():
        warnings.append("document contains non-standard JSON numbers (NaN/Infinity)")
    return doc, warnings


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:160]


def number(value: object) -> float | None:
    """A finite float from a JSON number or numeric string; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def integer(value: object) -> int | None:
    """An int from a JSON number or numeric string (``"12"``, ``12.0``); None otherwise."""
    result = number(value)
    return int(result) if result is not None and result.is_integer() else None


def decode_text(data: bytes) -> tuple[str, list[str]]:
    """Bytes as text: UTF-8 (BOM dropped); invalid bytes replaced and flagged."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return data.decode("utf-8-sig", "replace"), ["document is not valid UTF-8; undecodable bytes replaced"]
