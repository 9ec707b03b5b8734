"""The threaded HTTP(S) listener every simulator shares.

It only knows the wire: which requests go to the side channel (paths under the simulator's
`side_prefix`, loopback clients only) and which to the simulator's API pipeline
(`sim.handle_api`), the body limit, keep-alive, TLS in the connection's thread, and the
connection-reset fault. What the simulated system calls itself, the extra headers it sends, and
how its listener-level errors look are the simulator's (attributes and hooks of
simcore.SimulatorBase, see README.md).
"""

import email.utils
import ipaddress
import json
import socket
import ssl
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SOCKET_TIMEOUT = 30
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


class Response:  # pylint: disable=too-few-public-methods
    """What the listener writes: status, reason phrase, body, extra headers; or a connection reset."""

    def __init__(self, status, reason, body=b"", content_type=None, reset=False, headers=()):
        self.status = status
        self.reason = reason
        self.body = body
        self.content_type = content_type
        self.reset = reset
        self.headers = list(headers)

    @classmethod
    def connection_reset(cls):
        """The `reset` fault: no answer at all, the TCP connection is dropped."""
        return cls(0, "", reset=True)

    @classmethod
    def side_channel(cls, status, document):
        """A side-channel answer: plain JSON, the same shape in every simulator."""
        return cls(status, "OK" if status == 200 else "Error", json.dumps(document).encode("utf-8"), JSON_CONTENT_TYPE)


def is_loopback_client(client_address):
    """True for a client on 127.0.0.0/8 or ::1: the only ones the side channel answers."""
    return ipaddress.ip_address(client_address[0]).is_loopback


class SimRequestHandler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive."""

    protocol_version = "HTTP/1.1"
    sys_version = ""
    timeout = SOCKET_TIMEOUT

    def version_string(self):
        """The Server header: the simulated daemon's name."""
        return self.server.sim.server_name

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Quiet: the request log is available under the side channel."""

    def _is_side_channel(self):
        prefix = self.server.sim.side_prefix
        return self.path == prefix or self.path.startswith(prefix + "/")

    def _serve(self):
        sim = self.server.sim
        if self.command not in sim.api_methods and not self._is_side_channel():
            self._write(sim.unknown_method_response(self.command))
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > sim.max_body:
            self._write(sim.body_too_large_response(length))
            return
        body = self.rfile.read(length) if length else b""
        if self._is_side_channel():
            if not is_loopback_client(self.client_address):
                self._write(Response.side_channel(403, {"error": "side channel is loopback only"}))
                return
            self._write(Response.side_channel(*sim.handle_side_channel(self.command, self.path, body)))
            return
        self._write(sim.handle_api(self.command, self.path, self.headers, body))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve
    do_HEAD = do_OPTIONS = do_TRACE = do_CONNECT = _serve

    def _write(self, response):
        if response.reset:
            self._reset_connection()
            return
        # The reason phrase can carry user input (UTF-8), so the status line is built here
        # instead of by send_response (which insists on latin-1).
        self._headers_buffer = [("%s %d %s\r\n" % (self.protocol_version, response.status, response.reason)).encode("utf-8", "replace")]
        self.send_header("Server", self.version_string())
        self.send_header("Date", email.utils.formatdate(usegmt=True))
        for name, value in list(self.server.sim.response_headers) + response.headers:
            self.send_header(name, value)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        if response.status >= 400 and self.server.sim.close_after_error:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _reset_connection(self):
        """Injected fault: drop the TCP connection without any answer (RST via SO_LINGER 0)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class SimServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with the TLS handshake done in the connection's own thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, sim, ssl_context=None):
        self.sim = sim
        self.ssl_context = ssl_context
        super().__init__(address, SimRequestHandler)

    def finish_request(self, request, client_address):
        """Wrap the socket in TLS (if configured) before handling; close it afterwards."""
        request.settimeout(SOCKET_TIMEOUT)
        # The handler writes the headers and the body separately: with Nagle's algorithm on, the body
        # waits for the client's delayed ACK of the headers (about 40 ms on Linux) on every answer.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        try:
            tls_socket = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that does not trust us or talks plain HTTP: nothing to answer
        try:
            super().finish_request(tls_socket, client_address)
        finally:
            tls_socket.close()

    def handle_error(self, request, client_address):
        """Connections that clients drop (or that faults reset) are not worth a traceback; bugs are."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def tls_context(cert_file, key_file):
    """A server-side TLS context for the generated certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context
