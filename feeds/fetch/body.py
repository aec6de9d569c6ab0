"""Reading a response body within the size cap, decompressing it safely."""

from __future__ import annotations

import http.client
import zlib

from feeds.fetch.limits import _MEDIA_TYPE, _READ_CHUNK, FetchError


class _Body:
    """Collects the body under the cap, decoding gzip/deflate incrementally."""

    def __init__(self, encoding: str, cap: int, host: str) -> None:
        self.cap = cap
        self.host = host
        self.raw_bytes = 0
        self.parts: list[bytes] = []
        self.size = 0
        self.encoding = encoding
        self._decoder: zlib._Decompress | None = None
        self._pending = b""  # deflate: the first bytes, until zlib-wrapped vs raw can be told
        if encoding == "gzip":
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def _too_large(self, what: str) -> FetchError:
        return FetchError(f"{what} from {self.host} exceeds the {_size(self.cap)} cap; stopped", word="too-large")

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            raise self._too_large("decoded body" if self.encoding else "body")
        if data:
            self.parts.append(data)

    def feed(self, data: bytes) -> None:
        self.raw_bytes += len(data)
        if self.raw_bytes > self.cap:
            raise self._too_large("body")
        if not self.encoding:
            self._keep(data)
            return
        if self._decoder is None:  # deflate, not yet started
            self._pending += data
            if len(self._pending) < 2:
                return
            data, self._pending = self._pending, b""
            first = (data[0] << 8) | data[1]
            # RFC 9110 "deflate" is zlib-wrapped, but many servers send raw deflate.
            zlib_wrapped = data[0] & 0x0F == 8 and first % 31 == 0
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
        self._decode(data)

    def _decode(self, data: bytes) -> None:
        decoder = self._decoder
        assert decoder is not None
        while data:
            if decoder.eof:
                if self.encoding != "gzip" or not decoder.unused_data.lstrip(b"\0"):
                    return  # trailing padding after the stream: ignored
                # A gzip file may hold several members; each is decoded under the same cap.
                data = decoder.unused_data
                decoder = self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                # max_length: never more than one byte past the cap is ever produced.
                out = decoder.decompress(data, self.cap - self.size + 1)
            except zlib.error as exc:
                raise FetchError(
                    f"{self.encoding} body from {self.host} is corrupt ({exc})", word="bad-response"
                ) from None
            self._keep(out)
            data = decoder.unconsumed_tail if not decoder.eof else decoder.unused_data

    def finish(self) -> bytes:
        if self.encoding:
            if self._decoder is None:
                if self._pending:
                    raise FetchError(f"{self.encoding} body from {self.host} is truncated", word="bad-response")
                return b""  # an empty body carries no stream at all
            if not self._decoder.eof:
                try:
                    self._keep(self._decoder.flush())
                except zlib.error:
                    pass
                if not self._decoder.eof:
                    raise FetchError(f"{self.encoding} body from {self.host} is truncated", word="bad-response")
        return b"".join(self.parts)


def _size(count: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if count >= scale:
            return f"{count / scale:g} {unit}"
    return f"{count} bytes"


def _content_encoding(response: http.client.HTTPResponse, host: str) -> str:
    value = (response.getheader("Content-Encoding") or "").strip().lower()
    if value in ("", "identity"):
        return ""
    if value in ("gzip", "x-gzip"):
        return "gzip"
    if value == "deflate":
        return "deflate"
    shown = _header_token(value) or "unreadable"
    raise FetchError(f"{host} answered with unsupported Content-Encoding {shown!r}", word="bad-response")


def _header_token(value: str | None) -> str | None:
    """A header value reduced to something safe to show: printable ASCII, short."""
    if not value:
        return None
    cleaned = "".join(ch for ch in value if 32 < ord(ch) < 127)[:60]
    return cleaned or None


def _media_type(value: str | None) -> str | None:
    if not value:
        return None
    match = _MEDIA_TYPE.match(value.strip())
    return match.group(0).lower() if match else None


def _read_body(response: http.client.HTTPResponse, cap: int, host: str) -> bytes:
    declared_text = response.getheader("Content-Length")
    declared: int | None = None
    if declared_text is not None and not response.chunked:
        if not declared_text.strip().isdigit():
            # Unreadable or conflicting lengths are how responses get smuggled; refuse them.
            raise FetchError(f"{host} sent an invalid Content-Length", word="bad-response")
        declared = int(declared_text)
        if declared > cap:
            raise FetchError(
                f"body from {host} is {_size(declared)} by Content-Length, over the {_size(cap)} cap; not read",
                word="too-large",
            )
    body = _Body(_content_encoding(response, host), cap, host)
    while True:
        chunk = response.read(_READ_CHUNK)
        if not chunk:
            break
        body.feed(chunk)
    if declared is not None and body.raw_bytes < declared:
        # http.client does not raise here: a body cut short must not pass for a whole document.
        raise FetchError(
            f"{host} closed the connection after {body.raw_bytes} of {declared} bytes", word="bad-response"
        )
    return body.finish()


# --- one request, then the redirect loop ----------------------------------------------------------


