"""Tips from the public (``/tip``): no sign-in, throttled per address, a receipt code and nothing else.

The sender's address only ever appears in a short-lived counter key, hashed, that expires with its
window (``tip_per_hour`` tips an hour per address); it is never stored with the tip. A tip is a report
like any other (kind ``tip``) and goes through the same vetting; the tipster gets a receipt code with
which they may add information later, and which reveals nothing of any tip.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import redis

from domain.errors import WatchfloorError
from domain.reports.keys import ReportKeys
from domain.reports.store import Geocoder, add_information, build, receipt_code, save_new

WINDOW_SECONDS = 3600


class Throttled(WatchfloorError):
    """Too many tips from one address in the window (429)."""

    status = 429


def throttle(client: redis.Redis, address: str, per_hour: int, now: float | None = None) -> None:
    """Count one tip (or addition) from ``address``; Throttled past ``per_hour`` in the hour."""
    now = time.time() if now is None else now
    digest = hashlib.sha256(f"tip|{address}".encode()).hexdigest()[:32]
    key = ReportKeys.tip_throttle(digest, int(now // WINDOW_SECONDS))
    with client.pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS + 60)
        count, _ = pipe.execute()
    if int(count) > per_hour:
        raise Throttled("too many tips from this connection in the last hour; if this is an emergency call 911, "
                        "otherwise try again later")


def submit(client: redis.Redis, data: Any, *, address: str, per_hour: int, geocode: Geocoder | None = None,
           region: str = "US") -> tuple[dict[str, Any], str]:
    """Check, throttle and store one tip; (the stored tip, its receipt code)."""
    throttle(client, address, per_hour)  # first: a flood of malformed tips is still a flood
    report = build(data, kind="tip", by="public", channel="tip", geocode=geocode)
    code = receipt_code()
    save_new(client, report, region=region, receipt=code)
    return report, code


def add(client: redis.Redis, code: str, text: Any, *, address: str, per_hour: int) -> str:
    throttle(client, address, per_hour)
    return add_information(client, code, text)
