"""Webhook POSTs that cannot be turned inward (SSRF).

- Only `https://` URLs, unless `KASSA_WEBHOOK_ALLOW_HTTP` (dev and tests; refused in production).
- At send time the host is resolved once; every address it resolves to must be public (not
  private, loopback, link-local, multicast, reserved, shared or unspecified, also inside IPv4-mapped
  IPv6), unless `KASSA_WEBHOOK_ALLOW_PRIVATE` (dev and tests; refused in production).
- The connection is made to that checked address (TLS still verifies the certificate for the
  URL's host name, sent as SNI and `Host`), so a second DNS answer cannot redirect it: no
  rebinding window.
- Redirects are not followed (a 3xx is a failed delivery); no proxy; bounded time and answer size.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext

MAX_URL_LENGTH = 2000
ANSWER_BYTES_READ = 4096
INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


class Refused(Exception):
    """The URL or the address it leads to is not allowed; nothing was sent."""


@dataclass(frozen=True)
class Answer:
    status_code: int | None  # None: no HTTP answer (refused, timeout, TLS or connection error)
    error: str
    duration_ms: float

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def address_allowed(address: str) -> bool:
    if settings.KASSA_WEBHOOK_ALLOW_PRIVATE:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not address_allowed(str(embedded)):
            return False
    return ip.is_global and not (
        ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
    )


def url_check(url: str) -> Target:
    """The URL's parts, or Refused with the reason (also used when an endpoint is saved)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise Refused(gettext("A URL of at most %(n)d characters.") % {"n": MAX_URL_LENGTH})
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise Refused(gettext("The URL contains spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused(gettext("Not a valid URL.")) from None
    allowed = ("https", "http") if settings.KASSA_WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        raise Refused(gettext("Webhook URLs must start with https://."))
    if parts.username is not None or parts.password is not None:
        raise Refused(gettext("The URL must not carry a user name or password."))
    if parts.fragment:
        raise Refused(gettext("The URL must not have a fragment (#...)."))
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise Refused(gettext("The URL has no host."))
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise Refused(gettext("The URL's host name is not valid.")) from None
    if ip is not None and not address_allowed(host):
        raise Refused(gettext("Webhooks cannot be sent to a private, loopback or link-local address."))
    internal = host == "localhost" or host.endswith(INTERNAL_SUFFIXES) or "." not in host
    if ip is None and internal and not settings.KASSA_WEBHOOK_ALLOW_PRIVATE:
        raise Refused(gettext("Webhooks cannot be sent to an internal host name."))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (`KASSA_WEBHOOK_RESOLVE` names fixed ones, like curl's --resolve)."""
    fixed = settings.KASSA_WEBHOOK_RESOLVE.get(host)
    if fixed:
        return [fixed]
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def _connect(target: Target, address: str, timeout: float):
    sock = socket.create_connection((address, target.port), timeout=timeout)
    if target.scheme != "https":
        return sock
    context = ssl.create_default_context(cafile=settings.KASSA_WEBHOOK_CA_FILE or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        return context.wrap_socket(sock, server_hostname=target.host)
    except BaseException:
        sock.close()
        raise


def _error(exception: BaseException) -> str:
    if isinstance(exception, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exception, ssl.SSLCertVerificationError):
        return "TLS certificate not trusted: " + (exception.verify_message or "")[:120]
    if isinstance(exception, ssl.SSLError):
        return "TLS error"
    if isinstance(exception, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exception, socket.gaierror):
        return "host name not found"
    return type(exception).__name__


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url` under the rules above; the answer's status code, or why there was none."""
    started = time.monotonic()

    def answer(status_code, error=""):
        return Answer(status_code, error[:200], round((time.monotonic() - started) * 1000, 1))

    timeout = settings.KASSA_WEBHOOK_TIMEOUT
    try:
        target = url_check(url)
        addresses = resolve(target.host, target.port)
        refused = [address for address in addresses if not address_allowed(address)]
        if refused or not addresses:
            raise Refused(f"address not allowed: {refused[0] if refused else 'none'}")
        sock = _connect(target, addresses[0], timeout)
    except Refused as refusal:
        return answer(None, f"refused: {refusal}")
    except (OSError, ssl.SSLError) as error:
        return answer(None, _error(error))
    connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    connection.sock = sock  # already connected, to the checked address
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(ANSWER_BYTES_READ)
        return answer(response.status)
    except (OSError, http.client.HTTPException) as error:
        return answer(None, _error(error))
    finally:
        connection.close()
