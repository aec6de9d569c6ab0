"""Sign-in attempts, counted per source address and per account in fixed windows, in Redis (every
app process shares the counts; every key expires with its window, so memory stays bounded
whatever a flood sends).

A flood costs one audit record per window and address: the attempt that crosses a limit is recorded
with a summary, the rest of the window is answered 429 with ``Retry-After`` and not recorded.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import redis

from domain.store.streams import PREFIX

WINDOW_SECONDS = 60


def _key(kind: str, who: str, window: int) -> str:
    digest = hashlib.sha256(who.encode("utf-8", "replace")).hexdigest()[:24]  # any name, bounded key size
    return f"{PREFIX}:throttle:login:{kind}:{digest}:{window}"


@dataclass(frozen=True)
class Verdict:
    """``retry_after`` seconds when the attempt must wait (None: go ahead); ``first_refusal`` for the
    one attempt of a window that crossed a limit (the one to audit); ``reason`` says which limit."""

    retry_after: int | None = None
    first_refusal: bool = False
    reason: str = ""


class SignInThrottle:
    def __init__(self, client: redis.Redis, per_address: int, per_account: int) -> None:
        self.client = client
        self.per_address = per_address
        self.per_account = per_account

    def attempt(self, address: str, account: str, now: float | None = None) -> Verdict:
        """Count one sign-in attempt from ``address`` for ``account``; whether it may go ahead."""
        now = time.time() if now is None else now
        window = int(now // WINDOW_SECONDS)
        keys = (_key("addr", address, window), _key("acct", account or "-", window))
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS * 2)
        by_address, _, by_account, _ = pipe.execute()
        retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
        if int(by_address) > self.per_address:
            return Verdict(retry_after, int(by_address) == self.per_address + 1,
                           f"more than {self.per_address} sign-in attempts from this address in a minute")
        if int(by_account) > self.per_account:
            return Verdict(retry_after, int(by_account) == self.per_account + 1,
                           f"more than {self.per_account} sign-in attempts for this account in a minute")
        return Verdict()
