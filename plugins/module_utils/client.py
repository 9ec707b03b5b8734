# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one Proxmox VE API client every module of this collection shares.

It speaks PVE's HTTPS API with plain ``requests`` and adds what modules should
not each reinvent: a read is retried on transient failures; a write is resent
only when PVE guarantees it did not run, and otherwise its outcome is confirmed
from what PVE holds (or reported as uncertain, never resent blindly); task
(UPID) waits whose failure message carries the task's exit status and log tail;
PVE version detection; and errors that say which call failed, on which field,
and what PVE said, also as a structured ``failure`` for ``failed_when``. It has
no Ansible dependency so it can be unit tested on its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as import_error:  # pragma: no cover - reported by the module
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = import_error

COLLECTION_VERSION = "0.1.0"
USER_AGENT = "homecloud.proxmox/{0}".format(COLLECTION_VERSION)

# PVE answers these with status 500 before the requested change ran, so any request,
# a write too, can be sent again safely. Sources: pve-cluster src/PVE/Cluster.pm
# (cfs_lock: "cfs-lock '<id>' error: got lock request timeout", "... no quorum"),
# pve-common src/PVE/RESTEnvironment.pm fork_worker ("got no worker upid - start worker failed").
NOT_RUN_MESSAGES = (
    re.compile(r"^cfs-lock '[^']*' error: got lock request timeout"),
    re.compile(r"^cfs-lock '[^']*' error: no quorum"),
    re.compile(r"got no worker upid"),
)
# Gateway-style statuses from pveproxy or a reverse proxy in front of it. For a read they
# are transient; for a write they say nothing about whether PVE made the change.
GATEWAY_STATUSES = (502, 503, 504)
WRITE_METHODS = ("POST", "PUT", "DELETE")

TASK_LOG_TAIL_LINES = 10
FIRST_POLL_INTERVAL = 0.25
# PVE reports a finished task as "OK", "WARNINGS: <n>" or an error text
# (pve-common src/PVE/Tools.pm upid_status_is_error).
TASK_SUCCESS = re.compile(r"^(OK|WARNINGS: \d+)$")


class ProxmoxError(Exception):
    """Base of every error this client raises; str() is a user-facing message."""

    method = None
    path = None
    status = None
    reason = None
    errors = {}

    @property
    def failure(self):
        """The structured form of the error, for the modules' `failure` result."""
        return dict(method=self.method, path=self.path, status=self.status, reason=self.reason,
                    errors=dict(self.errors or {}))


class ProxmoxConnectionError(ProxmoxError):
    """The API could not be reached, or a login failed."""

    def __init__(self, message, method=None, path=None, status=None, reason=None):
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        super(ProxmoxConnectionError, self).__init__(message)


class ProxmoxApiError(ProxmoxError):
    """PVE answered a request with an error status."""

    def __init__(self, method, path, status, reason, errors=None, details=None):
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        self.errors = errors or {}
        # Lines of PVE's message after the first (the reason): a 400 raised inside the SDN lock
        # reaches the client as a 500 whose field errors are only in these lines.
        self.details = details or []
        super(ProxmoxApiError, self).__init__(self._message())

    def _message(self):
        text = "{0} {1} failed: HTTP {2} {3}".format(self.method, self.path, self.status, self.reason)
        if self.details and not self.errors:
            text += " - " + "; ".join(self.details)
        if self.errors:
            text += " - " + "; ".join(
                "{0}: {1}".format(field, str(detail).strip()) for field, detail in sorted(self.errors.items())
            )
        return text

    @property
    def not_run(self):
        """PVE said so itself: the request was refused before it did anything."""
        return self.status == 500 and any(pattern.search(self.reason or "") for pattern in NOT_RUN_MESSAGES)

    @property
    def transient(self):
        """Worth sending again: for reads a gateway error too, for writes only `not_run`."""
        return self.not_run or (self.status in GATEWAY_STATUSES and self.method not in WRITE_METHODS)


class ProxmoxUncertainError(ProxmoxError):
    """A write whose outcome is unknown: PVE may or may not have made the change."""

    def __init__(self, method, path, cause, status=None, reason=None):
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        self.cause = cause
        super(ProxmoxUncertainError, self).__init__(
            "{0} {1}: the outcome is unknown ({2}); PVE may or may not have made this change".format(method, path, cause))

    @property
    def failure(self):
        failure = super(ProxmoxUncertainError, self).failure
        failure["uncertain"] = True
        return failure


class ProxmoxTaskError(ProxmoxError):
    """A task (UPID) failed or did not finish in time."""

    def __init__(self, upid, message, exitstatus=None, log_tail=None):
        self.upid = upid
        self.exitstatus = exitstatus
        self.log_tail = log_tail or []
        self.reason = exitstatus
        try:
            self.path = "/nodes/{0}/tasks/{1}/status".format(upid_node(upid), upid)
            self.method = "GET"
        except ProxmoxError:
            pass
        text = message
        if self.log_tail:
            text += "; last task log lines:\n" + "\n".join(self.log_tail)
        super(ProxmoxTaskError, self).__init__(text)

    @property
    def failure(self):
        failure = super(ProxmoxTaskError, self).failure
        failure.update(upid=self.upid, exitstatus=self.exitstatus, log_tail=list(self.log_tail))
        return failure


class PveVersion:
    """The PVE release a cluster runs, from GET /version."""

    def __init__(self, data):
        self.data = data
        numbers = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", str(data.get("version", "")))
        if not numbers:
            raise ProxmoxError("GET /version returned no usable version: {0!r}".format(data))
        self.major = int(numbers.group(1))
        self.minor = int(numbers.group(2))
        self.patch = int(numbers.group(3) or 0)

    def at_least(self, major, minor=0, patch=0):
        return (self.major, self.minor, self.patch) >= (major, minor, patch)

    def as_dict(self):
        result = dict(self.data)
        result.update(major=self.major, minor=self.minor, patch=self.patch)
        return result

    def __str__(self):
        return "{0}.{1}.{2}".format(self.major, self.minor, self.patch)


def upid_node(upid):
    """The node a task runs on, from its UPID (UPID:<node>:<pid>:...)."""
    parts = str(upid).split(":")
    if len(parts) < 3 or parts[0] != "UPID":
        raise ProxmoxError("not a task id (UPID): {0!r}".format(upid))
    return parts[1]


def confirmed_write(method, path, confirm, cause, error, last_attempt):
    """After a write with an unknown outcome (a lost connection, a 5xx): ``confirm()`` reads the object back.
    True if the server holds the change, False if it does not and the write may be sent again; raises
    ProxmoxUncertainError when nobody can tell, and ``error`` when it does not hold and no attempt is left.
    The Proxmox VE, Backup Server and Cloudflare clients share it."""
    try:
        outcome = confirm() if confirm is not None else None
    except ProxmoxError as reread_error:
        cause = "{0}; reading it back failed too: {1}".format(cause, reread_error)
        outcome = None
    if outcome is None:
        raise ProxmoxUncertainError(method, path, cause, error.status, error.reason)
    if outcome is False and last_attempt:
        raise error
    return outcome


class ProxmoxClient:
    """Talks to one PVE API endpoint with token or ticket (password) auth."""

    # The name of the login ticket's cookie (module_utils/pbs.py's client sends PBS's).
    ticket_cookie = "PVEAuthCookie"

    def __init__(self, host, user, password=None, token_id=None, token_secret=None, port=8006,
                 validate_certs=True, ca_path=None, timeout=10, retries=3, backoff=0.5,
                 sleep=time.sleep, clock=time.monotonic):
        if not HAS_REQUESTS:
            raise ProxmoxError("the requests Python library is required: {0}".format(REQUESTS_IMPORT_ERROR))
        self.host = host
        self.port = port
        self.user = user
        self._password = password
        self._token_id = token_id
        self._token_secret = token_secret
        self.verify = (ca_path or True) if validate_certs else False
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._clock = clock
        self._session = None
        self._csrf_token = None
        self._version = None
        self.last_call = None  # "METHOD /path" of the latest request, for messages about surprises

    # --- connection ---------------------------------------------------------------

    @property
    def endpoint(self):
        return "https://{0}:{1}".format(self.host, self.port)

    @property
    def userid(self):
        """Who PVE sees: user@realm, or user@realm!tokenname (the `user` of tasks and logs)."""
        return "{0}!{1}".format(self.user, self._token_id) if self._token_id else self.user

    @property
    def auth_description(self):
        if self._token_id:
            return "API token {0}!{1}".format(self.user, self._token_id)
        return "user {0} (password)".format(self.user)

    def _url(self, path):
        return "{0}/api2/json/{1}".format(self.endpoint, path.strip("/"))

    def _new_session(self):
        session = requests.Session()
        session.verify = self.verify
        session.headers["User-Agent"] = USER_AGENT
        if self.verify is False:
            # The user chose validate_certs=false: silence only the warning about exactly that.
            from urllib3.exceptions import InsecureRequestWarning  # pylint: disable=import-outside-toplevel
            import warnings  # pylint: disable=import-outside-toplevel
            warnings.simplefilter("ignore", InsecureRequestWarning)
        if self._token_id:
            session.headers["Authorization"] = "PVEAPIToken={0}!{1}={2}".format(self.user, self._token_id, self._token_secret)
        return session

    def session(self):
        """The requests session, logged in on first use (a ticket login is retried like a read)."""
        if self._session is None:
            session = self._new_session()
            if not self._token_id:
                data = self._with_retries("POST", "/access/ticket", lambda: self._login(session), login=True)
                session.cookies.set(self.ticket_cookie, data["ticket"])
                self._csrf_token = data["CSRFPreventionToken"]
            self._session = session
        return self._session

    def _login(self, session):
        return self._send(session, "POST", "/access/ticket", dict(username=self.user, password=self._password))["data"]

    def _login_failed(self, error):
        return ProxmoxConnectionError(
            "login to {0} as {1} failed: HTTP {2} authentication failure (PVE: {3}); check the {4}".format(
                self.endpoint, self.auth_description, error.status, error.reason,
                "token id and secret, and that the token and its user are enabled and not expired" if self._token_id
                else "user name with its realm (root@pam) and the password"),
            method=error.method, path=error.path, status=error.status, reason=error.reason)

    # --- requests -------------------------------------------------------------------

    def get(self, path, **params):
        return self.request("GET", path, **params)

    def post(self, path, **params):
        return self.request("POST", path, **params)

    def put(self, path, **params):
        return self.request("PUT", path, **params)

    def delete(self, path, **params):
        return self.request("DELETE", path, **params)

    def request(self, method, path, confirm=None, **params):
        """Send one API call and return its `data`; `path` is relative to /api2/json.

        A write whose outcome is unknown (a gateway error, a connection lost after the
        request was sent) is never resent blindly: `confirm()` is asked what PVE holds now
        and answers True (the change is in place: done, returns None), False (it is not:
        the write is sent again) or None (cannot tell). Without `confirm`, or when it
        cannot tell, ProxmoxUncertainError says so.
        """
        return self.request_document(method, path, confirm=confirm, **params).get("data")

    def request_document(self, method, path, confirm=None, **params):
        """Like request(), but the whole answer ({"data": ..., "total": ...})."""
        return self.call(method, path, params, confirm=confirm)

    def call(self, method, path, params, confirm=None):
        """Like request_document(), with the parameters as one dict: for calls that take
        parameters named like this method's own arguments (PUT /access/acl has `path`)."""
        params = dict((key, _wire_value(value)) for key, value in params.items() if value is not None)
        session = self.session()
        return self._with_retries(method, path, lambda: self._send(session, method, path, params), confirm=confirm)

    def _send(self, session, method, path, params):
        self.last_call = "{0} {1}".format(method, path)
        headers = {}
        if method in WRITE_METHODS and self._csrf_token:
            headers["CSRFPreventionToken"] = self._csrf_token
        options = dict(params=params) if method in ("GET", "DELETE") else dict(data=params)
        # verify per request: a session's own setting loses to REQUESTS_CA_BUNDLE in requests.
        answer = session.request(method, self._url(path), headers=headers, timeout=self.timeout, verify=self.verify, **options)
        try:
            document = answer.json()
        except ValueError:
            document = None
        if not 200 <= answer.status_code < 300:
            raise self._api_error(method, path, answer, document)
        if not isinstance(document, dict):
            raise ProxmoxError("{0} {1} returned an answer that is not a JSON object: {2!r}".format(method, path, answer.text[:200]))
        return document

    def _api_error(self, method, path, answer, document):
        """The ProxmoxApiError of an error answer: PVE puts its message in the reason phrase and
        its field errors in the JSON body (module_utils/pbs.py's client reads PBS's text body)."""
        errors = document.get("errors") if isinstance(document, dict) else None
        message = document.get("message") if isinstance(document, dict) else None
        details = [line.strip() for line in str(message or "").split("\n")[1:] if line.strip()]
        return ProxmoxApiError(method, path, answer.status_code, answer.reason, errors if isinstance(errors, dict) else None,
                               details)

    def _with_retries(self, method, path, call, confirm=None, login=False):
        write = method in WRITE_METHODS and not login
        attempt = 0
        while True:
            try:
                return call()
            except ProxmoxApiError as error:
                if error.status == 401:
                    raise self._login_failed(error)
                if write and error.status in GATEWAY_STATUSES:
                    if self._confirmed(method, path, confirm, "HTTP {0} {1}".format(error.status, error.reason), error, attempt):
                        return {"data": None}
                elif not (error.transient or login and error.status in GATEWAY_STATUSES) or attempt >= self.retries:
                    raise
            except requests.exceptions.RequestException as error:
                if _never_reached(error) or not write and _read_may_resend(error):
                    if attempt >= self.retries:
                        raise self._connection_failed(method, path, attempt, error)
                elif write and not isinstance(error, requests.exceptions.SSLError):
                    lost = self._connection_failed(method, path, attempt, error)
                    if self._confirmed(method, path, confirm, "the connection was lost: {0}".format(error), lost, attempt):
                        return {"data": None}
                else:
                    raise self._connection_failed(method, path, attempt, error)
            self._sleep(min(self.backoff * (2 ** attempt), 10))
            attempt += 1

    def _confirmed(self, method, path, confirm, cause, error, attempt):
        return confirmed_write(method, path, confirm, cause, error, attempt >= self.retries)

    def _connection_failed(self, method, path, attempt, error):
        hint = " (check validate_certs and ca_path)" if isinstance(error, requests.exceptions.SSLError) else ""
        return ProxmoxConnectionError("{0} {1} on {2} failed after {3} attempt(s){4}: {5}".format(
            method, path, self.endpoint, attempt + 1, hint, error), method=method, path=path)

    # --- PVE facts ----------------------------------------------------------------------

    @property
    def version(self):
        """The cluster's PveVersion (one GET /version per client)."""
        if self._version is None:
            self._version = PveVersion(self.get("/version"))
        return self._version

    # --- tasks ------------------------------------------------------------------------------

    def wait_task(self, upid, timeout=120, interval=1.0, what=None):
        """Poll a task until it stops; raise ProxmoxTaskError unless it ended OK.

        Polls quickly at first (most tasks of this collection end within a second or two),
        then every `interval` seconds. Returns the task's final status dict.
        """
        node = upid_node(upid)
        base = "/nodes/{0}/tasks/{1}".format(node, upid)
        label = what or "task {0}".format(upid)
        deadline = self._clock() + timeout
        pause = min(FIRST_POLL_INTERVAL, interval)
        while True:
            status = self.get(base + "/status")
            if status.get("status") == "stopped":
                exitstatus = status.get("exitstatus", "")
                if TASK_SUCCESS.match(exitstatus):
                    return status
                raise ProxmoxTaskError(upid, "{0} failed on node {1}: {2}".format(label, node, exitstatus),
                                       exitstatus=exitstatus, log_tail=self.task_log_tail(upid))
            if self._clock() >= deadline:
                raise ProxmoxTaskError(upid, "{0} on node {1} did not finish within {2} s (status: {3})".format(
                    label, node, timeout, status.get("status")), log_tail=self.task_log_tail(upid))
            self._sleep(pause)
            pause = min(pause * 2, interval)

    def task_log_tail(self, upid, lines=TASK_LOG_TAIL_LINES):
        """The last lines of a task's log: PVE pages the log, so read its total, then the tail."""
        path = "/nodes/{0}/tasks/{1}/log".format(upid_node(upid), upid)
        total = int(self.request_document("GET", path, start=0, limit=1).get("total") or 0)
        entries = self.get(path, start=max(total - lines, 0), limit=lines)
        return [entry.get("t", "") for entry in entries]


def _never_reached(error):
    """Transport failures that guarantee the request never reached PVE."""
    if isinstance(error, requests.exceptions.SSLError):
        return False  # a certificate problem does not heal by waiting
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    # A refused connection (urllib3 NewConnectionError) never sent a byte.
    return isinstance(error, requests.exceptions.ConnectionError) and "NewConnectionError" in repr(error)


def _read_may_resend(error):
    """Transport failures after which a read can simply be sent again."""
    return not isinstance(error, (requests.exceptions.SSLError, requests.exceptions.InvalidURL,
                                  requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema))


def _wire_value(value):
    """PVE takes booleans as 0/1; lists go out as repeated keys (array parameters)."""
    if isinstance(value, bool):
        return int(value)
    return value
