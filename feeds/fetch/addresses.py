"""Where a URL may lead: parsing, name resolution within the deadline, and the SSRF guard."""

from __future__ import annotations

import ipaddress
import socket
import threading
from urllib.parse import SplitResult, quote, urlsplit

from feeds.fetch.limits import _CGNAT, _NAT64, FetchError, FetchLimits, IPAddress, _Deadline, _os_reason, _Target


def _refuse(message: str) -> FetchError:
    return FetchError(message, word="refused")


def _parse_url(url: str) -> _Target:
    """Split and vet a URL's form (scheme, host, port, characters); no resolution yet."""
    if not isinstance(url, str) or not url.strip():
        raise _refuse("no URL given")
    url = url.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise _refuse("URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _refuse(f"malformed URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = scheme[:20] or "no scheme"
        raise _refuse(f"URL scheme {shown!r} refused; only http and https feeds are fetched")
    host = parts.hostname
    if not host:
        raise _refuse("URL has no host")
    if parts.username is not None or parts.password is not None:
        raise _refuse(f"URL for {host} carries credentials; put them in the feed settings, not the URL")
    if "%" in host:
        raise _refuse(f"host {host[:60]!r} has a zone index or escapes; refused")
    try:
        host.encode("idna")
    except UnicodeError:
        raise _refuse(f"host name {host[:60]!r} is not a valid domain name") from None
    if _literal_ip(host) is None and _is_unusual_numeric(host):
        raise _refuse(f"host {host[:60]!r} is a numeric address in an unusual form; write it as a plain IP")
    path = parts.path or "/"
    target = path + (f"?{parts.query}" if parts.query else "")
    # Non-ASCII in the path would break the request line; percent-encode it, keep existing escapes.
    target = quote(target, safe="/%:@!$&'()*+,;=-._~?")
    clean = SplitResult(parts.scheme, parts.netloc, parts.path, parts.query, "").geturl()
    return _Target(clean, scheme, host, port or (443 if scheme == "https" else 80), target)


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_unusual_numeric(host: str) -> bool:
    """True for forms inet_aton accepts but no one writes: 2130706433, 0x7f000001, 127.1, 0177.0.0.1."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[list[ipaddress.IPv4Address], bool]:
    """IPv4 addresses carried inside an IPv6 one, and whether the IPv4 one is all that is reached
    (mapped, compatible, NAT64) rather than merely embedded (6to4, Teredo)."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped], True
    if ip in _NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)], True
    if int(ip) >> 32 == 0 and int(ip) > 1:
        # Deprecated IPv4-compatible ::a.b.c.d (:: and ::1 are judged as themselves).
        return [ipaddress.IPv4Address(int(ip))], True
    if ip.sixtofour is not None:
        return [ip.sixtofour], False
    if ip.teredo is not None:
        return list(ip.teredo), False
    return [], False


def _address_refusal(ip: IPAddress, allow_local: bool) -> str | None:
    """Why this address may not be fetched from, or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded, replaces = _embedded_ipv4(ip)
        for inner in embedded:
            reason = _address_refusal(inner, allow_local)
            if reason:
                return f"{reason} (IPv4 {inner} inside IPv6)"
        if replaces:
            return None
    if ip.is_loopback:
        return None if allow_local else "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared (carrier-grade NAT)"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def _resolve(host: str, port: int) -> list[tuple[int, tuple]]:
    """Every (family, sockaddr) the name resolves to; a seam for tests."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [(family, sockaddr) for family, _type, _proto, _canon, sockaddr in infos]


def _resolve_within(host: str, port: int, clock: _Deadline) -> list[tuple[int, tuple]]:
    """Resolve under the deadline: getaddrinfo itself cannot be timed out, so it runs in a thread."""
    literal = _literal_ip(host)
    if literal is not None:
        family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
        return [(family, (host, port, 0, 0) if family == socket.AF_INET6 else (host, port))]
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["addresses"] = _resolve(host, port)
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="watchfloor-resolve", daemon=True)
    worker.start()
    worker.join(clock.remaining(host))
    if worker.is_alive():
        raise FetchError(f"cannot resolve {host} within {clock.seconds:g} s", word="timeout")
    error = outcome.get("error")
    if isinstance(error, socket.gaierror):
        raise FetchError(f"cannot resolve host {host} ({error.strerror or error})", word="unreachable")
    if isinstance(error, (UnicodeError, ValueError)):
        raise _refuse(f"host name {host[:60]!r} is not a valid domain name")
    if isinstance(error, OSError):
        raise FetchError(f"cannot resolve host {host} ({_os_reason(error)})", word="unreachable")
    if isinstance(error, BaseException):
        raise error
    addresses = outcome.get("addresses")
    if not addresses:
        raise FetchError(f"host {host} resolves to no address", word="unreachable")
    return addresses  # type: ignore[return-value]


def _vet(url: str, allow_local: bool, clock: _Deadline) -> tuple[_Target, list[tuple[int, tuple]]]:
    """Parse the URL, resolve its host once, refuse it if ANY resolved address is refused."""
    target = _parse_url(url)
    addresses = _resolve_within(target.host, target.port, clock)
    seen: set[str] = set()
    usable: list[tuple[int, tuple]] = []
    for family, sockaddr in addresses:
        try:
            ip = ipaddress.ip_address(sockaddr[0])
        except ValueError:
            raise _refuse(f"host {target.host} resolves to an unreadable address") from None
        reason = _address_refusal(ip, allow_local)
        if reason:
            shown = target.host if str(ip) == target.host else f"{target.host} ({ip})"
            raise _refuse(f"address of {shown} is {reason}; refused to fetch from it")
        if str(ip) not in seen:
            seen.add(str(ip))
            usable.append((family, sockaddr))
    return target, usable


def check_url(url: str, *, allow_local: bool = False) -> None:
    """Raise FetchError(word="refused") unless ``url`` may be fetched: an http(s) URL without
    credentials whose host resolves only to allowed addresses (public ones; loopback too when
    ``allow_local``). Resolves the name; a name that does not resolve raises word="unreachable"."""
    _vet(url, allow_local, _Deadline(FetchLimits.deadline))


# --- the connection -------------------------------------------------------------------------------


