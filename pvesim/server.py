"""The threaded HTTP(S) listener: PVE's API under /api2, the simulator's side channel under /_sim.

Only the wire format lives here; what to answer is decided by dispatch.py and sidechannel.py.
Like pveproxy (pve-http-server AnyEvent.pm): methods other than GET/POST/PUT/DELETE get
501 "method '<M>' not available", the server calls itself "pve-api-daemon/3.0", and the
connection is closed after every error status (keep_alive = 0 for codes >= 400).
"""

import email.utils
import ipaddress
import json
import socket
import ssl
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pvesim.dispatch import Response
from pvesim import sidechannel

KNOWN_METHODS = ("GET", "POST", "PUT", "DELETE")
OTHER_METHODS = ("HEAD", "PATCH", "OPTIONS", "TRACE", "CONNECT")
SOCKET_TIMEOUT = 30
MAX_BODY = 64 * 1024  # AnyEvent.pm $limit_max_post


class ApiRequestHandler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive like pveproxy."""

    protocol_version = "HTTP/1.1"
    server_version = "pve-api-daemon/3.0"
    sys_version = ""
    timeout = SOCKET_TIMEOUT

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Quiet: the request log is available under /_sim/requests."""

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._write(Response.plain_error(501, "for data too large"))
            return
        body = self.rfile.read(length) if length else b""
        sim = self.server.sim
        if self.path.startswith("/_sim/") or self.path == "/_sim":
            if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                self._write(Response.for_message(403, "side channel is loopback only"))
                return
            status, document = sidechannel.handle(sim, self.command, self.path, body)
            self._write(Response(status, "OK" if status == 200 else "Error", json.dumps(document).encode("utf-8"),
                                 "application/json;charset=UTF-8"))
            return
        self._write(sim.dispatcher.handle(self.command, self.path, self.headers, body))

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def _unknown_method(self):
        self._write(Response.for_message(501, "method '%s' not available" % self.command))

    do_HEAD = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _unknown_method

    def _write(self, response):
        if response.reset:
            self._reset_connection()
            return
        # The reason phrase can carry user input (UTF-8, like Perl writes it), so the status
        # line is built here instead of by send_response (which insists on latin-1).
        self._headers_buffer = [("%s %d %s\r\n" % (self.protocol_version, response.status, response.reason)).encode("utf-8", "replace")]
        self.send_header("Server", self.version_string())
        self.send_header("Date", email.utils.formatdate(usegmt=True))
        self.send_header("Cache-Control", "max-age=0")
        self.send_header("Pragma", "no-cache")
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        if response.status >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(response.body)

    def _reset_connection(self):
        """Injected fault: drop the TCP connection without any answer (RST via SO_LINGER 0)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class ApiServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with the TLS handshake done in the connection's own thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, sim, ssl_context=None):
        self.sim = sim
        self.ssl_context = ssl_context
        super().__init__(address, ApiRequestHandler)

    def finish_request(self, request, client_address):
        """Wrap the socket in TLS (if configured) before handling; close it afterwards."""
        request.settimeout(SOCKET_TIMEOUT)
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
