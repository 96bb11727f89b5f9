"""The API's WSGI server: gevent's, with Nagle's algorithm off on every connection.

gevent's pywsgi writes a response's headers and body in separate sends; with Nagle on, the body
waits for the client to acknowledge the headers, which a client delays by up to 40 ms (delayed
ACK) — measured here: 45 ms per keep-alive request with it, 4 ms without."""

from __future__ import annotations

import socket
from typing import Any

from gevent.pywsgi import WSGIServer


class ApiServer(WSGIServer):
    """gevent's WSGI server, TCP_NODELAY on each accepted TCP connection."""

    def handle(self, sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)
