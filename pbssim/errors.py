"""Errors that become PBS-shaped HTTP answers.

How PBS answers errors (proxmox-rs proxmox-rest-server src/formatter.rs error_to_response and
src/rest.rs, proxmox-router HttpError, proxmox-schema src/schema.rs ParameterError):
- an `HttpError` (http_bail!/http_err!) keeps its status code and message;
- any other error (a plain `bail!`, a parameter error, a failed check_privs) is a 400;
- the body is the message itself as text (not a JSON document), sent with the JSON content type;
- the reason phrase is the status code's standard one (hyper), never the message;
- a ParameterError with one entry reads "parameter verification failed - '<name>': <msg>",
  with several "parameter verification failed:\n- '<name>': <msg>\n..." (trimmed).
"""

from http import HTTPStatus

HTTP_BAD_REQUEST = 400
HTTP_UNAUTHORIZED = 401
HTTP_FORBIDDEN = 403
HTTP_NOT_FOUND = 404

# proxmox-rest-server src/rest.rs: the router's own answers
PERMISSION_CHECK_FAILED = "permission check failed"
AUTHENTICATION_FAILED = "authentication failed"


def reason_phrase(status):
    """The standard reason phrase hyper sends for a status code."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class ApiError(Exception):
    """An error answer: status code and message text."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def bail(message):
    """A plain anyhow `bail!`: PBS answers it with 400 and the text."""
    return ApiError(HTTP_BAD_REQUEST, message)


def http_error(status, message):
    """An `http_bail!`/`http_err!` with its own status code."""
    return ApiError(status, message)


def format_parameter_errors(errors):
    """proxmox-schema ParameterError's Display of [(name, message), ...]."""
    if len(errors) == 1:
        name, message = errors[0]
        return "parameter verification failed - '%s': %s" % (name, message)
    lines = "".join("- '%s': %s\n" % (name, message) for name, message in errors)
    return ("parameter verification failed:\n" + lines).strip()


class ParamError(ApiError):
    """A ParameterError (schema verification or `param_bail!`): 400 with the Display text."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__(HTTP_BAD_REQUEST, format_parameter_errors(self.errors))


def param_bail(name, message):
    """proxmox-schema `param_bail!(name, message)`."""
    return ParamError([(name, message)])
