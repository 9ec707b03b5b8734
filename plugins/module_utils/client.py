# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one Proxmox VE API client every module of this collection shares.

It wraps proxmoxer's HTTPS backend and adds what modules should not each
reinvent: retries with backoff for transient failures only, task (UPID) waits
whose failure message carries the task's exit status and log tail, PVE version
detection, and errors that say which call failed, on which field, and what PVE
said. It has no Ansible dependency so it can be unit tested on its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

try:
    import requests
    from proxmoxer import ProxmoxAPI
    from proxmoxer.core import AuthenticationError, ResourceException
    HAS_PROXMOXER = True
    PROXMOXER_IMPORT_ERROR = None
except ImportError as import_error:  # pragma: no cover - reported by the module
    HAS_PROXMOXER = False
    PROXMOXER_IMPORT_ERROR = import_error


# PVE answers these with status 500 before the requested change ran, so the
# request can be sent again safely. Sources: pve-cluster Cluster.pm
# (cfs_lock_* "cfs-lock '<id>' error: got lock request timeout"), pve-common
# RESTEnvironment.pm fork_worker ("got no worker upid - start worker failed").
TRANSIENT_MESSAGES = (
    re.compile(r"^cfs-lock '[^']*' error: got lock request timeout"),
    re.compile(r"^cfs-lock '[^']*' error: no quorum"),
    re.compile(r"got no worker upid"),
)
# Gateway-style statuses from pveproxy or a reverse proxy in front of it.
TRANSIENT_STATUSES = (502, 503, 504)
# Methods that may be repeated after a connection broke mid-request; a POST
# creates objects, so it is only repeated when it never reached the server.
IDEMPOTENT_METHODS = ("GET", "PUT", "DELETE")

TASK_LOG_TAIL_LINES = 10
# PVE reports a finished task as "OK", "WARNINGS: <n>" or an error text
# (PVE::Tools::upid_status_is_error).
TASK_SUCCESS = re.compile(r"^(OK|WARNINGS: \d+)$")


class ProxmoxError(Exception):
    """Base of every error this client raises; str() is a user-facing message."""


class ProxmoxConnectionError(ProxmoxError):
    """The API could not be reached, or a login failed."""


class ProxmoxApiError(ProxmoxError):
    """PVE answered a request with an error status."""

    def __init__(self, method, path, status, reason, errors=None):
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        self.errors = errors or {}
        super(ProxmoxApiError, self).__init__(self._message())

    def _message(self):
        text = "{0} {1} failed: HTTP {2} {3}".format(self.method, self.path, self.status, self.reason)
        if self.errors:
            text += " - " + "; ".join(
                "{0}: {1}".format(field, str(detail).strip()) for field, detail in sorted(self.errors.items())
            )
        return text

    @property
    def transient(self):
        if self.status in TRANSIENT_STATUSES:
            return True
        return self.status >= 500 and any(pattern.search(self.reason or "") for pattern in TRANSIENT_MESSAGES)


class ProxmoxTaskError(ProxmoxError):
    """A task (UPID) failed or did not finish in time."""

    def __init__(self, upid, message, exitstatus=None, log_tail=None):
        self.upid = upid
        self.exitstatus = exitstatus
        self.log_tail = log_tail or []
        text = message
        if self.log_tail:
            text += "; last task log lines:\n" + "\n".join(self.log_tail)
        super(ProxmoxTaskError, self).__init__(text)


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

    def at_least(self, major, minor=0):
        return (self.major, self.minor) >= (major, minor)

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


class ProxmoxClient:
    """Talks to one PVE API endpoint with token or ticket (password) auth."""

    def __init__(self, host, user, password=None, token_id=None, token_secret=None, port=8006,
                 validate_certs=True, ca_path=None, timeout=10, retries=3, backoff=0.5,
                 sleep=time.sleep, clock=time.monotonic):
        if not HAS_PROXMOXER:
            raise ProxmoxError("the proxmoxer and requests Python libraries are required: {0}".format(PROXMOXER_IMPORT_ERROR))
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
        self._api = None
        self._version = None

    # --- connection ---------------------------------------------------------------

    @property
    def endpoint(self):
        return "https://{0}:{1}".format(self.host, self.port)

    def _connect(self):
        if self.verify is False:
            # The user chose validate_certs=false; one warning per request helps nobody.
            requests.packages.urllib3.disable_warnings()  # pylint: disable=no-member
        options = dict(host=self.host, port=self.port, user=self.user, verify_ssl=self.verify, timeout=self.timeout)
        if self._token_id:
            options.update(token_name=self._token_id, token_value=self._token_secret)
        else:
            options.update(password=self._password)
        try:
            return ProxmoxAPI(**options)
        except AuthenticationError as error:
            status = re.search(r"code: (\d+)", str(error))
            raise _LoginFailed(int(status.group(1)) if status else None, str(error))

    def api(self):
        """The proxmoxer handle, logging in on first use (with retries)."""
        if self._api is None:
            self._api = self._with_retries("POST", "/access/ticket", self._connect)
        return self._api

    # --- requests -------------------------------------------------------------------

    def get(self, path, **params):
        return self.request("GET", path, **params)

    def post(self, path, **params):
        return self.request("POST", path, **params)

    def put(self, path, **params):
        return self.request("PUT", path, **params)

    def delete(self, path, **params):
        return self.request("DELETE", path, **params)

    def request(self, method, path, **params):
        """Send one API call; `path` is relative to /api2/json, e.g. "/cluster/status"."""
        params = dict((key, _wire_value(value)) for key, value in params.items() if value is not None)
        resource = self.api()(path.strip("/"))

        def send():
            try:
                if method in ("GET", "DELETE"):
                    return resource._request(method, params=params)  # pylint: disable=protected-access
                return resource._request(method, data=params)  # pylint: disable=protected-access
            except ResourceException as error:
                raise ProxmoxApiError(method, path, error.status_code, error.content, error.errors)

        return self._with_retries(method, path, send)

    def _with_retries(self, method, path, call):
        attempt = 0
        while True:
            try:
                return call()
            except (ProxmoxApiError, _LoginFailed) as error:
                if not error.transient or attempt >= self.retries:
                    if isinstance(error, _LoginFailed):
                        raise ProxmoxConnectionError(self._login_message(error))
                    raise
            except requests.exceptions.RequestException as error:
                if not _may_resend(method, error) or attempt >= self.retries:
                    hint = " (check validate_certs and ca_path)" if isinstance(error, requests.exceptions.SSLError) else ""
                    raise ProxmoxConnectionError("{0} {1} on {2} failed after {3} attempt(s){4}: {5}".format(
                        method, path, self.endpoint, attempt + 1, hint, error))
            self._sleep(min(self.backoff * (2 ** attempt), 10))
            attempt += 1

    def _login_message(self, error):
        how = "API token {0}!{1}".format(self.user, self._token_id) if self._token_id else "user {0} (password)".format(self.user)
        return "login to {0} as {1} failed: {2}".format(self.endpoint, how, error)

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

        Returns the task's final status dict.
        """
        node = upid_node(upid)
        base = "/nodes/{0}/tasks/{1}".format(node, upid)
        label = what or "task {0}".format(upid)
        deadline = self._clock() + timeout
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
            self._sleep(interval)

    def task_log_tail(self, upid, lines=TASK_LOG_TAIL_LINES):
        """The last lines of a task's log (PVE pages the log; 5000 lines cover real tasks)."""
        entries = self.get("/nodes/{0}/tasks/{1}/log".format(upid_node(upid), upid), start=0, limit=5000)
        return [entry.get("t", "") for entry in entries[-lines:]]


class _LoginFailed(Exception):
    """proxmoxer's AuthenticationError, with the HTTP status it hides in its text."""

    def __init__(self, status, text):
        self.status = status
        super(_LoginFailed, self).__init__(text)

    @property
    def transient(self):
        return self.status is not None and self.status >= 500


def _may_resend(method, error):
    """Whether a request that failed at the transport level can be sent again."""
    if isinstance(error, requests.exceptions.SSLError):
        return False  # a certificate problem does not heal by waiting
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(error, requests.exceptions.ConnectionError):
        # A refused connection never reached PVE; a broken one might have.
        return method in IDEMPOTENT_METHODS or "NewConnectionError" in repr(error)
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return method in IDEMPOTENT_METHODS
    if isinstance(error, requests.exceptions.Timeout):
        return method == "GET"
    return False


def _wire_value(value):
    """PVE takes booleans as 0/1; lists go out as repeated keys (array parameters)."""
    if isinstance(value, bool):
        return int(value)
    return value
