"""Helpers for tests that talk to a running Simulator over HTTP(S) with requests."""

from simcore.testing import REQUEST_TIMEOUT, SimSession

__all__ = ["API_PREFIX", "REQUEST_TIMEOUT", "ApiSession", "assert_pve_error", "ok", "plain_error"]

API_PREFIX = "/api2/json"


class ApiSession(SimSession):
    """A requests session (simcore.testing.SimSession) bound to one simulator, logged in with
    its token or a ticket; api() calls go to /api2/json<path>."""

    api_prefix = API_PREFIX

    def __init__(self, sim, auth="token", user="root@pam", password=None):
        super().__init__(sim)
        self.csrf_token = None
        if auth == "token":
            tokenid, secret = next(iter(sim.tokens.items()))
            self.headers["Authorization"] = "PVEAPIToken=%s=%s" % (tokenid, secret)
        elif auth == "ticket":
            answer = self.api("POST", "/access/ticket", data={"username": user, "password": password or sim.root_password})
            answer.raise_for_status()
            login = answer.json()["data"]
            self.cookies.set("PVEAuthCookie", login["ticket"])
            self.csrf_token = login["CSRFPreventionToken"]
            self.headers["CSRFPreventionToken"] = self.csrf_token
        elif auth is not None:
            raise ValueError("auth must be 'token', 'ticket' or None")


def assert_pve_error(response, status, reason, errors=None, message=None):
    """Check an error answer: status, reason phrase, and for JSON errors the body's errors map.

    `message=None` expects the JSON formatter's body with message = reason + "\\n" when
    `errors` is given (PVE::Exception), `message=""` an empty body (authentication failures).
    """
    assert (response.status_code, response.reason) == (status, reason), (response.status_code, response.reason, response.text)
    if message == "":
        assert response.content == b""
        return
    document = response.json()
    assert document["data"] is None
    if message is not None:
        assert document["message"] == message
    assert document.get("errors") == errors


def ok(api, method, api_path, **params):
    """A successful call through an ApiSession; GET and DELETE send their parameters in the
    query string (PVE refuses a body there). Returns the answer's data."""
    answer = api.api(method, api_path, **{"params" if method in ("GET", "DELETE") else "data": params})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def plain_error(response, message):
    """A plain die: 500, reason = first line, message = full text, no errors map."""
    assert_pve_error(response, 500, message.split("\n", 1)[0], None, message)
