"""The only network code in Watchfloor: fetch one feed document, bounded and SSRF-checked.

:func:`fetch` promises:

- only ``http`` and ``https`` URLs, never with credentials in them;
- every host, on the first URL and on every redirect hop, is resolved once and EVERY resolved
  address is checked (:func:`check_url`); the connection goes to an address that was checked,
  never to the name again, so DNS rebinding cannot swap in an internal address;
- one total deadline, from name resolution to the last byte, across all redirects;
- a cap on the raw body and on the body after gzip/deflate decoding (decoded incrementally with
  ``max_length``, so a gzip bomb never expands in memory);
- conditional GET (``If-None-Match`` / ``If-Modified-Since``), a 304 is ``not_modified``;
- nothing but :class:`FetchError` for network and protocol problems, with a one-line reason a
  duty officer can act on and a short ``word`` for feed health.

Exceptions (see :mod:`feeds.contract`)::

    FeedError
    └── FetchError      .word: unreachable | timeout | too-large | refused | http-error
                               | redirects | bad-response
                        .status: the HTTP status, or None

Response bodies are never logged; messages name the host, never the full URL (query strings
often carry API keys).
"""

from feeds.fetch.addresses import check_url
from feeds.fetch.limits import FetchError, FetchLimits, FetchResult
from feeds.fetch.proxy import Proxy, proxy_for
from feeds.fetch.request import fetch, retry_after_seconds

__all__ = ['FetchError', 'FetchLimits', 'FetchResult', 'Proxy', 'check_url', 'fetch', 'proxy_for', 'retry_after_seconds']
