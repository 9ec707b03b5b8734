"""pveproxy's wire, as the parameters of simcore's listener (simcore.server).

Like pveproxy (pve-http-server src/PVE/APIServer/AnyEvent.pm): the server calls itself
"pve-api-daemon/3.0", answers carry "Cache-Control: max-age=0" and "Pragma: no-cache", methods
other than GET/POST/PUT/DELETE get 501 "method '<M>' not available", a body over $limit_max_post
(64 KiB) gets 501 "for data too large", and the connection is closed after every error status
(keep_alive = 0 for codes >= 400). pvesim.Simulator sets these on simcore.SimulatorBase.
"""

from simcore.server import SOCKET_TIMEOUT, SimRequestHandler, SimServer, tls_context

from pvesim.dispatch import Response

__all__ = ["ApiRequestHandler", "ApiServer", "KNOWN_METHODS", "MAX_BODY", "RESPONSE_HEADERS", "SERVER_NAME", "SOCKET_TIMEOUT",
           "body_too_large_response", "tls_context", "unknown_method_response"]

SERVER_NAME = "pve-api-daemon/3.0"
KNOWN_METHODS = ("GET", "POST", "PUT", "DELETE")
RESPONSE_HEADERS = (("Cache-Control", "max-age=0"), ("Pragma", "no-cache"))
MAX_BODY = 64 * 1024  # AnyEvent.pm $limit_max_post
ApiRequestHandler = SimRequestHandler
ApiServer = SimServer


def unknown_method_response(method):
    """AnyEvent.pm unshift_read_header: an HTTP method pveproxy does not serve."""
    return Response.for_message(501, "method '%s' not available" % method)


def body_too_large_response(_length):
    """AnyEvent.pm: a Content-Length over $limit_max_post."""
    return Response.plain_error(501, "for data too large")
