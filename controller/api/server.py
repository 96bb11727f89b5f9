"""The API's WSGI server: gevent's, with Nagle's algorithm off on every connection, and its own
refusals in the API's envelope.

gevent's pywsgi writes a response's headers and body in separate sends; with Nagle on, the body
waits for the client to acknowledge the headers, which a client delays by up to 40 ms (delayed
ACK) — measured here: 45 ms per keep-alive request with it, 4 ms without.

A request the server refuses before the app sees it (a malformed request line or header, a request
line over 8 KiB) or an app that fails before answering gets pywsgi's bare text answer (an empty
400, `Internal Server Error`); `ApiHandler` answers them as every other error, in Crossbar's
envelope (`{"status": "error", "error": "400", "message", "data", ...}`)."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

from gevent.pywsgi import WSGIHandler, WSGIServer

from controller.api.envelope import error_document

REFUSALS = {
    400: ("400 Bad Request", "invalid request", {"request": {"format": "the HTTP request could not be read"}}),
    414: ("414 Request URI Too Long", "request uri too long",
          {"request": {"maxLength": "the request line is longer than 8 KiB"}}),
    500: ("500 Internal Server Error", "internal error", {}),
}


def refusal(code: int) -> tuple[str, bytes]:
    """The status line and the JSON body of one of the server's own refusals."""
    status, message, data = REFUSALS.get(code, REFUSALS[500])
    body = error_document(int(status[:3]), message, data, request_id=uuid.uuid4().hex)
    return status, json.dumps(body, separators=(",", ":")).encode("utf-8")


class ApiHandler(WSGIHandler):
    """pywsgi's handler, its own refusals in the envelope."""

    def handle_one_request(self) -> Any:
        result = super().handle_one_request()
        if isinstance(result, tuple):  # (code, raw response): the request was refused before the app
            status, body = refusal(int(result[0]))
            head = f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: application/json\r\n" \
                   f"Content-Length: {len(body)}\r\n\r\n"
            return result[0], head.encode("latin-1") + body
        return result

    def _send_error_response_if_possible(self, error_code: int) -> None:
        if self.response_length:
            self.close_connection = True
            return
        status, body = refusal(error_code)
        try:
            self.start_response(status, [("Content-Type", "application/json"), ("Connection", "close"),
                                         ("Content-Length", str(len(body)))])
            self.write(body)
        except OSError:
            self.close_connection = True


class ApiServer(WSGIServer):
    """gevent's WSGI server, TCP_NODELAY on each accepted TCP connection."""

    handler_class = ApiHandler

    def handle(self, sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)
