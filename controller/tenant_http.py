"""HTTP to URLs a tenant wrote (webhook, pivot, a media or recording URL): never to the PBX itself.

A callflow's URL is tenant text. Left alone, it would let a tenant make the controller (webhook,
pivot, pivot's cdr_url) or FreeSWITCH (mod_http_cache, for play and record_call) send requests to
services that listen only for the machine itself: FreeSWITCH's event socket or XML-RPC, Redis,
the controller's API, a cloud's metadata address. Such addresses are refused:

- loopback (127.0.0.0/8, ::1), unspecified (0.0.0.0/8, ::), link-local (169.254.0.0/16, fe80::/10:
  the metadata services), multicast and reserved ranges, IPv4 inside IPv6 judged as the IPv4;
- any address of the machine itself (on Linux a connection to one of its own addresses leaves
  from that same address: the socket's two ends match).

Private networks (10/8, 172.16/12, 192.168/16, fc00::/7) are allowed: an on-premises PBX's web
applications live there. `CONTROLLER_TENANT_HTTP_ALLOW` (networks) lets chosen addresses through
anyway, for a web application on the PBX itself.

The controller's own requests are judged by the address the socket really connected to, after
the connection is made and before a byte is sent (no second name lookup can differ: DNS
rebinding gains nothing), redirects included, with proxies from the environment ignored. A URL
that FreeSWITCH fetches is judged by every address its host resolves to when the call runs it; a
name whose answers change between that look and FreeSWITCH's own is the one case left open.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_NEVER = tuple(ipaddress.ip_network(n) for n in ("0.0.0.0/8", "::/128"))  # "this network"


class RefusedAddressError(OSError):
    """A tenant's URL leads to an address it may not reach."""


def why_refused(address: str, allow: Sequence[Network] = (), *, own: bool = False) -> str | None:
    """Why a tenant's request may not go to `address` (None: it may). `own`: the address is one
    of this machine's."""
    try:
        ip: Address = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allow):
        return None
    for kind, flag in (("a loopback", ip.is_loopback), ("a link-local", ip.is_link_local),
                       ("a multicast", ip.is_multicast), ("an unspecified", ip.is_unspecified),
                       ("a reserved", ip.is_reserved or any(ip in n for n in _NEVER))):
        if flag:
            return f"{ip} is {kind} address"
    if own:
        return f"{ip} is an address of this machine"
    return None


def refuse_peer(sock: socket.socket, allow: Sequence[Network]) -> None:
    """Raise RefusedAddressError unless the connected socket's far end may be reached."""
    peer, local = sock.getpeername()[0], sock.getsockname()[0]
    reason = why_refused(peer, allow, own=peer == local)
    if reason is not None:
        raise RefusedAddressError(f"refused: {reason}")


def refused_url(url: str, allow: Sequence[Network] = ()) -> str | None:
    """Why a URL that FreeSWITCH will fetch may not be used (None: it may): each address its host
    resolves to now is judged (a machine's own addresses by their kind only: FreeSWITCH connects,
    not this process)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        return f"not a URL ({exc})"
    if not host:
        return "no host"
    try:
        found = socket.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return f"{host} does not resolve ({exc})"
    for *_, sockaddr in found:
        reason = why_refused(str(sockaddr[0]), allow)
        if reason is not None:
            return f"{host}: {reason}"
    return None


def refusal(exc: BaseException) -> str | None:
    """The refusal inside a failed request's exception (requests and urllib3 wrap it), or None."""
    seen: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending:
        error = pending.pop()
        if error in seen:
            continue
        seen.append(error)
        if isinstance(error, RefusedAddressError):
            return str(error)
        pending += [e for e in (error.__cause__, error.__context__, *error.args) if isinstance(e, BaseException)]
    return None


def _guarded(base: type[HTTPConnection], allow: Sequence[Network]) -> type[HTTPConnection]:
    def _new_conn(self: HTTPConnection) -> socket.socket:
        sock = base._new_conn(self)
        try:
            refuse_peer(sock, allow)
        except BaseException:  # refused, or the peer already gone (getpeername: ENOTCONN)
            sock.close()
            raise
        return sock

    return type(f"Tenant{base.__name__}", (base,), {"_new_conn": _new_conn})


class _TenantAdapter(HTTPAdapter):
    def __init__(self, allow: Sequence[Network]) -> None:
        self._allow = tuple(allow)
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        pools = {
            "http": type("TenantHTTPPool", (HTTPConnectionPool,),
                         {"ConnectionCls": _guarded(HTTPConnection, self._allow)}),
            "https": type("TenantHTTPSPool", (HTTPSConnectionPool,),
                          {"ConnectionCls": _guarded(HTTPSConnection, self._allow)}),
        }
        self.poolmanager.pool_classes_by_scheme = pools


def session(allow: Sequence[Network] = ()) -> requests.Session:
    """A requests session for a tenant's URL: every connection it makes (redirects too) is
    refused before a byte is sent when its far end is one the tenant may not reach; no proxy
    from the environment (the proxy, not the tenant's host, would be judged)."""
    tenant = requests.Session()
    tenant.trust_env = False
    adapter = _TenantAdapter(allow)
    tenant.mount("http://", adapter)
    tenant.mount("https://", adapter)
    return tenant
