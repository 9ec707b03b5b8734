"""Exceptions that become PVE-shaped HTTP error responses.

How PVE turns errors into responses (pve-manager PVE/HTTPServer.pm rest_handler,
pve-http-server src/PVE/APIServer/Formatter/Standard.pm, pve-common src/PVE/Exception.pm):
- a PVE::Exception keeps its code, its message and its `errors` map;
- any other `die "text"` is a 500 whose message is the full text;
- the JSON body is {"data": null, "message": ..., "errors": {...}} (errors only if non-empty);
- the HTTP reason phrase is the first line of the message (AnyEvent.pm `response`).
Authentication failures never reach the formatter: they are answered with status and reason
only, and an empty body (AnyEvent.pm authenticate_and_handle_request).
"""

HTTP_BAD_REQUEST = 400
HTTP_UNAUTHORIZED = 401
HTTP_FORBIDDEN = 403
HTTP_INTERNAL_SERVER_ERROR = 500
HTTP_NOT_IMPLEMENTED = 501

PARAM_EXC_MESSAGE = "Parameter verification failed.\n"


class ApiError(Exception):
    """An error answered with a JSON body (PVE::Exception or a plain die)."""

    def __init__(self, status, message, errors=None, plain=False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}
        self.plain = plain

    def body(self):
        """The JSON formatter's error document."""
        document = {"data": None, "message": self.message}
        if self.errors:
            document["errors"] = self.errors
        return document

    def stringify(self):
        """PVE::Exception::stringify: "<code> <msg>" plus one "<param>: <text>" line per error.

        Used where PVE interpolates an exception into a string (e.g. pve-network's SDN lock
        wrapper), which turns a 400 into the text of a plain 500.
        """
        if self.plain:
            return self.message
        text = "%s %s" % (self.status, self.message)
        if not text.endswith("\n"):
            text += "\n"
        for name, error in self.errors.items():
            text += "%s: %s\n" % (name, error)
        return text


class ParamError(ApiError):
    """raise_param_exc: 400 "Parameter verification failed." with a per-parameter map."""

    def __init__(self, errors):
        super().__init__(HTTP_BAD_REQUEST, PARAM_EXC_MESSAGE, errors)


class PermissionDenied(ApiError):
    """raise_perm_exc (pve-common Exception.pm): 403 "Permission check failed[ (<what>)]"."""

    def __init__(self, what=None):
        message = "Permission check failed"
        if what:
            message += " (%s)" % what
        super().__init__(HTTP_FORBIDDEN, message + "\n")


def die(text):
    """A plain Perl `die "text"`: HTTP 500 with the full text as message."""
    return ApiError(HTTP_INTERNAL_SERVER_ERROR, text, plain=True)


class AuthError(Exception):
    """Authentication failure: status and reason phrase only, empty body."""

    def __init__(self, message, status=HTTP_UNAUTHORIZED):
        super().__init__(message)
        self.status = status
        self.message = message


class NotImplementedBySim(ApiError):
    """A method that exists in the schema but has no simulated handler yet.

    Never a fake success: 501 like PVE's "Method '<M> <path>' not implemented", with a suffix
    that tells a user it is the simulator, not PVE, that lacks it.
    """

    def __init__(self, method, rel_uri):
        super().__init__(HTTP_NOT_IMPLEMENTED, "Method '%s %s' not implemented by pvesim\n" % (method, rel_uri))


def not_in_schema(method, rel_uri):
    """PVE's answer when find_handler finds nothing (pve-manager PVE/HTTPServer.pm rest_handler)."""
    return ApiError(HTTP_NOT_IMPLEMENTED, "Method '%s %s' not implemented" % (method, rel_uri), plain=True)
