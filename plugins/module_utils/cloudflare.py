# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Cloudflare API v4: its client, the connection options of the cloudflare_* modules, and the
input rules the modules check before their first request.

The modules converge with the collection's engine (objects.py: plan, then write; check mode is
the plan without the sending), so the client offers the call interface ``Write.send`` uses:
``call(method, path, params, confirm)`` answering ``{"data": result}``.

The client uses ``ansible.module_utils.urls.open_url`` and nothing outside ansible-core:
cloudflare_tunnel runs on the gateway host, where no extra Python library is installed.
Facts from Cloudflare's API documentation (developers.cloudflare.com/fundamentals/api/ and the
API reference): every answer is the envelope ``{"success", "errors": [{"code", "message"}],
"messages", "result"}``; list answers carry ``result_info`` ``{page, per_page, count,
total_count, total_pages}`` and take ``page``/``per_page``; a token is sent as
``Authorization: Bearer <token>``; a request over the rate limit is answered 429 (with
``Retry-After``) and was not processed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import socket
import time

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import quote, urlencode
from ansible.module_utils.urls import open_url

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import (
    USER_AGENT,
    ProxmoxError,
    confirmed_write,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import (
    MASK,
    ConvergeModule,
    ObjectModule,
    Write,
)

DEFAULT_API_URL = "https://api.cloudflare.com/client/v4"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Statuses after which a read is sent again; 429 also for a write: the request was not processed.
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_RETRY_AFTER = 30  # seconds: a longer Retry-After fails the module instead of stalling it
PER_PAGE = 50
MAX_PAGES = 200  # a guard against an endless result_info

# The suffix of a tunnel's CNAME target (<tunnel id>.cfargotunnel.com), from Cloudflare's tunnel DNS docs.
TUNNEL_CNAME_SUFFIX = ".cfargotunnel.com"
# An Access team's domain is <team>.cloudflareaccess.com (GET /accounts/{id}/access/organizations: auth_domain).
ACCESS_DOMAIN_SUFFIX = ".cloudflareaccess.com"
# Account ids (and zone ids) are 32 hex digits (the API reference: "Identifier", maxLength 32).
ACCOUNT_ID_RE = re.compile(r"^[0-9a-f]{32}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Go's time.ParseDuration, as Access's session_duration takes it ("Must be in the format 300ms or 2h45m.
# Valid time units are: ns, us (or µs), ms, s, m, h."): one or more <number><unit>.
GO_DURATION_RE = re.compile("^(?:[0-9]+(?:\\.[0-9]+)?(?:ns|us|\u00b5s|ms|s|m|h))+$")
HOSTNAME_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class CloudflareError(ProxmoxError):
    """An error answer or a transport failure of the Cloudflare API (a ProxmoxError, so the
    engine's failure handling, ``written`` and ``failure`` apply unchanged)."""

    def __init__(self, message, method=None, path=None, status=None, reason=None, errors=None):
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        self.errors = errors or {}
        super(CloudflareError, self).__init__(message)


class CloudflareApiError(CloudflareError):
    """Cloudflare answered with an error: HTTP status plus the envelope's errors [{code, message}]."""

    def __init__(self, method, path, status, api_errors, retry_after=None):
        self.retry_after = retry_after  # the Retry-After header of a 429 or 503, in seconds
        entries = [entry for entry in api_errors or [] if isinstance(entry, dict)]
        errors = dict((str(entry.get("code")), str(entry.get("message"))) for entry in entries)
        reason = "; ".join("{0}: {1}".format(entry.get("code"), entry.get("message")) for entry in entries) or "no error details"
        super(CloudflareApiError, self).__init__(
            "{0} {1} failed: HTTP {2} - {3}".format(method, path, status, reason), method, path, status, reason, errors)

    @property
    def codes(self):
        return set(self.errors)


class CloudflareInputError(CloudflareError):
    """A module option Cloudflare would refuse (or this collection refuses), found before any request."""


class CloudflareWrite(Write):
    """A Write whose parameters are a JSON body: nested rules and lists are shown as JSON in
    ``writes`` (Write shows PVE's flat key=value form)."""

    def __str__(self):
        shown = " ".join("{0}={1}".format(key, MASK if key in self.secret_keys else json_text(self.params[key]))
                         for key in sorted(self.params))
        return "{0} {1}{2}".format(self.method, self.path, " " + shown if shown else "")


def json_text(value):
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def cloudflare_argument_spec():
    """The connection options of the cloudflare_* modules (doc fragment homecloud.proxmox.cloudflare);
    the environment variables are the ones Cloudflare's own tools (Terraform provider, cloudflared) read."""
    return dict(
        api_token=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["CLOUDFLARE_API_TOKEN"])),
        account_id=dict(type="str", fallback=(env_fallback, ["CLOUDFLARE_ACCOUNT_ID"])),
        api_url=dict(type="str", default=DEFAULT_API_URL, fallback=(env_fallback, ["CLOUDFLARE_API_URL"])),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path", fallback=(env_fallback, ["CLOUDFLARE_CA_PATH"])),
        api_timeout=dict(type="int", default=30),
    )


def create_cloudflare_module(argument_spec, **kwargs):
    """An AnsibleModule with the Cloudflare connection options merged in."""
    spec = cloudflare_argument_spec()
    spec.update(argument_spec)
    return AnsibleModule(argument_spec=spec, **kwargs)


class CloudflareClient:
    """Talks to the Cloudflare API v4 with an API token.

    Reads are retried on 429 and 5xx with a bounded backoff that honours ``Retry-After``. A write
    is sent again only after a 429 (Cloudflare did not process it) or a connection that was never
    made; after any other failure its outcome is unknown, and like ProxmoxClient the client asks
    ``confirm()`` (True: in place, False: send again, None: cannot tell) or fails saying so.
    """

    def __init__(self, token, api_url=DEFAULT_API_URL, validate_certs=True, ca_path=None, timeout=30, retries=3,
                 backoff=1.0, sleep=time.sleep, opener=open_url):
        self._token = token
        self.api_url = str(api_url or DEFAULT_API_URL).rstrip("/")
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._open = opener
        self.last_call = None

    # --- the interface of objects.Write ---------------------------------------------------

    def call(self, method, path, params, confirm=None):
        """One request; answers {"data": result, "result_info": ...}. GET and DELETE send
        ``params`` as the query, the other methods as the JSON body."""
        document = self._with_retries(method, path, params, confirm)
        return dict(data=document.get("result"), result_info=document.get("result_info"))

    def get(self, path, **params):
        return self.call("GET", path, params)["data"]

    def list(self, path, **params):
        """Every item of a paged list, following result_info's pages."""
        items = []
        page = 1
        while page <= MAX_PAGES:
            answer = self.call("GET", path, dict(params, page=page, per_page=params.get("per_page", PER_PAGE)))
            items.extend(answer["data"] or [])
            info = answer.get("result_info") or {}
            total_pages = info.get("total_pages")
            if total_pages is None:
                # some lists answer count/total_count only: stop when a page came back short or empty
                if not answer["data"] or info.get("total_count") is None or len(items) >= int(info["total_count"]):
                    return items
            elif page >= int(total_pages):
                return items
            page += 1
        raise CloudflareError("GET {0}: more than {1} pages; narrow the request".format(path, MAX_PAGES), "GET", path)

    # --- transport ----------------------------------------------------------------------------

    def _url(self, path, query):
        url = self.api_url + "/" + path.lstrip("/")
        pairs = [(key, wire_query(value)) for key, value in sorted(query.items()) if value is not None]
        return url + ("?" + urlencode(pairs) if pairs else "")

    def _send(self, method, path, params):
        self.last_call = "{0} {1}".format(method, path)
        params = dict((key, value) for key, value in (params or {}).items() if value is not None)
        query = params if method in ("GET", "DELETE") else {}
        body = None if method in ("GET", "DELETE") else json.dumps(params).encode("utf-8")
        headers = {"Authorization": "Bearer " + self._token, "Accept": "application/json", "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            answer = self._open(self._url(path, query), data=body, headers=headers, method=method, timeout=self.timeout,
                                validate_certs=self.validate_certs, ca_path=self.ca_path, http_agent=USER_AGENT,
                                follow_redirects="none", use_proxy=True)
            status, text, retry_after = answer.getcode(), answer.read(), None
        except HTTPError as error:
            status, text = error.code, error.read() if error.fp is not None else b""
            retry_after = error.headers.get("Retry-After") if error.headers is not None else None
        document = parse_document(text)
        if not 200 <= status < 300 or document is None or document.get("success") is False:
            if document is None and 200 <= status < 300:
                raise CloudflareError("{0} {1} answered HTTP {2} with a body that is not Cloudflare's JSON envelope".format(
                    method, path, status), method, path, status)
            raise CloudflareApiError(method, path, status, (document or {}).get("errors"), retry_after)
        return document

    def _with_retries(self, method, path, params, confirm):
        write = method in WRITE_METHODS
        attempt = 0
        while True:
            try:
                return self._send(method, path, params)
            except CloudflareApiError as error:
                if error.status not in RETRY_STATUSES:
                    raise
                if write and error.status != 429:
                    # a 5xx after a write says nothing about whether Cloudflare made the change
                    if self._confirmed(method, path, confirm, "HTTP {0}".format(error.status), error, attempt):
                        return {"result": None}
                elif attempt >= self.retries:
                    raise
                self._sleep(self._pause(attempt, error.retry_after, method, path))
            except (URLError, socket.timeout, ConnectionError) as error:
                reached = not _never_reached(error)
                if attempt >= self.retries and (not write or not reached):
                    raise CloudflareError("{0} {1} on {2} failed after {3} attempt(s): {4}".format(
                        method, path, self.api_url, attempt + 1, _reason(error)), method, path)
                if write and reached:
                    lost = CloudflareError("{0} {1}: {2}".format(method, path, _reason(error)), method, path)
                    if self._confirmed(method, path, confirm, "the connection was lost: {0}".format(_reason(error)), lost, attempt):
                        return {"result": None}
                self._sleep(self._pause(attempt, None, method, path))
            attempt += 1

    def _pause(self, attempt, retry_after, method, path):
        if retry_after is not None:
            try:
                seconds = float(retry_after)
            except ValueError:
                seconds = None
            if seconds is not None:
                if seconds > MAX_RETRY_AFTER:
                    raise CloudflareError("{0} {1}: Cloudflare asks to wait {2} s (Retry-After), more than {3} s; try again "
                                          "later".format(method, path, int(seconds), MAX_RETRY_AFTER), method, path, 429)
                return max(seconds, 0)
        return min(self.backoff * (2 ** attempt), 10)

    def _confirmed(self, method, path, confirm, cause, error, attempt):
        return confirmed_write(method, path, confirm, cause, error, attempt >= self.retries)


def parse_document(text):
    try:
        document = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text or "")
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def wire_query(value):
    """Query values as Cloudflare reads them: booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _reason(error):
    return getattr(error, "reason", None) or error


def _never_reached(error):
    """A refused connection or a failed name lookup: the request never left this host."""
    reason = getattr(error, "reason", error)
    return isinstance(reason, (ConnectionRefusedError, socket.gaierror))


def path_segment(value):
    """One path segment (an id) quoted, so a value cannot step into another path."""
    return quote(str(value), safe="")


# --- the module base -----------------------------------------------------------------------------------


class CloudflareModuleMixin:  # pylint: disable=too-few-public-methods
    """Makes one of the objects.py engines talk to Cloudflare: the same result, failure, check mode
    and diff handling (ProxmoxModule.execute), with a CloudflareClient from the connection options."""

    def __init__(self, module, client=None):  # pylint: disable=super-init-not-called
        # ProxmoxModule.__init__ builds a PVE client from the api_* options, which these modules lack
        self.module = module
        self.result = dict(changed=False)
        self.working_on = None
        params = module.params
        if client is None:
            client = CloudflareClient(params["api_token"], api_url=params.get("api_url"),
                                      validate_certs=params.get("validate_certs", True), ca_path=params.get("ca_path"),
                                      timeout=params.get("api_timeout") or 30)
        self.client = client

    @property
    def account_id(self):
        """The account the tunnel and Access calls go to (checked before the first request)."""
        return check_account_id(self.module.params.get("account_id"))

    def account_path(self, *parts):
        return "/accounts/{0}/{1}".format(path_segment(self.account_id), "/".join(parts))

    def protect(self, *secrets):
        """Keep secret values out of everything Ansible prints (also at -vvv)."""
        for secret in secrets:
            if secret:
                self.module.no_log_values.add(secret)


class CloudflareObjectModule(CloudflareModuleMixin, ObjectModule):
    """ObjectModule (one object, state present/absent) against Cloudflare."""


class CloudflareConvergeModule(CloudflareModuleMixin, ConvergeModule):
    """ConvergeModule (plan, then write) against Cloudflare."""


# --- input rules ---------------------------------------------------------------------------------


def check_account_id(account_id):
    if not account_id:
        raise CloudflareInputError("account_id: required by this module (or the environment variable CLOUDFLARE_ACCOUNT_ID); "
                                   "it is the 32 hex digit id of the Cloudflare account; nothing was changed")
    value = str(account_id).strip().lower()
    if not ACCOUNT_ID_RE.match(value):
        raise CloudflareInputError("account_id {0!r}: a Cloudflare account id is 32 hex digits; nothing was changed".format(account_id))
    return value


def check_uuid(value, option):
    text = str(value or "").strip().lower()
    if not UUID_RE.match(text):
        raise CloudflareInputError("{0} {1!r}: expected a UUID (8-4-4-4-12 hex digits); nothing was changed".format(option, value))
    return text


def check_go_duration(value, option):
    """Access session durations are Go durations (300ms, 24h, 2h45m)."""
    if value is None:
        return None
    if not GO_DURATION_RE.match(str(value)):
        raise CloudflareInputError("{0} {1!r}: expected a duration such as 24h, 30m or 2h45m (units ns, us, ms, s, m, h); "
                                   "nothing was changed".format(option, value))
    return str(value)


def check_hostname(value, option, zone=None):
    """A DNS host name (lower case, no trailing dot), inside ``zone`` when given."""
    name = str(value or "").strip().rstrip(".").lower()
    labels = name.split(".")
    if not name or len(name) > 253 or not all(HOSTNAME_LABEL_RE.match(label) for label in labels if label != "*") or "" in labels:
        raise CloudflareInputError("{0} {1!r}: expected a DNS name such as app.example.com; nothing was changed".format(option, value))
    if zone is not None and name != zone and not name.endswith("." + zone):
        raise CloudflareInputError("{0} {1!r} is not inside zone {2}; nothing was changed".format(option, value, zone))
    return name


def tunnel_cname_target(tunnel_id):
    return "{0}{1}".format(tunnel_id, TUNNEL_CNAME_SUFFIX)


def team_name_of(auth_domain):
    """'homecloud.cloudflareaccess.com' -> 'homecloud' (cloudflared's originRequest.access.teamName)."""
    domain = str(auth_domain or "").strip().lower()
    if domain.endswith(ACCESS_DOMAIN_SUFFIX):
        return domain[:-len(ACCESS_DOMAIN_SUFFIX)]
    return domain or None


def canonical(value):
    """A JSON value with None entries of objects dropped (the wire shape), for comparisons."""
    if isinstance(value, dict):
        return dict((key, canonical(item)) for key, item in value.items() if item is not None)
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def rule_set(rules):
    """Access rules compared as a set: order-insensitive, normalised to the wire shape."""
    return sorted(json.dumps(canonical(rule), sort_keys=True) for rule in rules or [])


def find_named(items, name, what, key="name"):
    """The one item whose ``key`` is ``name``; several are an error (the modules key objects by name)."""
    found = [item for item in items if item.get(key) == name]
    if len(found) > 1:
        raise CloudflareInputError("{0} {1!r}: {2} objects carry this name (ids {3}); rename or remove the extra ones first".format(
            what, name, len(found), ", ".join(str(item.get("id")) for item in found)))
    return found[0] if found else None
