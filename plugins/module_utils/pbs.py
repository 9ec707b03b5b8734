# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Proxmox Backup Server: its API client, the connection options of the pbs_* modules, and
the name rules PBS checks, so a module refuses a bad name before its first write.

The client is the collection's ProxmoxClient (same retry and resend rules, task waits,
structured errors) with PBS's wire differences: the token header
``PBSAPIToken=<user@realm!name>:<secret>`` (a ``:`` between id and secret, where PVE has
``=``), the ticket cookie ``PBSAuthCookie``, port 8007, error answers whose body is the
message as text, and TLS pinned by the certificate's SHA-256 fingerprint (what PVE's ``pbs``
storage and proxmox-backup-client do). Sources: proxmox-backup src/auth.rs and
pbs-client src/http_client.rs (token header, cookie, fingerprint check), proxmox-rs
proxmox-rest-server src/formatter.rs (error bodies), pbs-api-types src/*.rs (name schemas).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    ProxmoxApiError,
    ProxmoxClient,
    ProxmoxConnectionError,
    ProxmoxError,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ConvergeModule, ObjectModule

try:
    from requests.adapters import HTTPAdapter
except ImportError:  # pragma: no cover - reported by the module (HAS_REQUESTS)
    HTTPAdapter = object

PBS_PORT = 8007
# How long a module waits for a worker task (creating a datastore makes its 65536 chunk directories).
TASK_TIMEOUT = 600

# pbs-api-types: PROXMOX_SAFE_ID_REGEX (datastore, namespace component, realm and token names),
# the user name part of a Userid (no whitespace, ':', '/' or control characters), lengths of the schemas.
SAFE_ID = r"[A-Za-z0-9_][A-Za-z0-9._\-]*"
SAFE_ID_RE = re.compile(r"^{0}$".format(SAFE_ID))
USERID_RE = re.compile(r"^[^\s:/\x00-\x1f\x7f]+@{0}$".format(SAFE_ID))
AUTHID_RE = re.compile(r"^([^\s:/\x00-\x1f\x7f]+@{0})(?:!({0}))?$".format(SAFE_ID))
DATASTORE_NAME_MAX = 32          # DATASTORE_SCHEMA
NAMESPACE_COMPONENT_MAX = 32     # the `name` of POST .../namespace (BACKUP_NAMESPACE component)
MAX_NAMESPACE_DEPTH = 7          # pbs-api-types datastore.rs MAX_NAMESPACE_DEPTH
MAX_NAMESPACE_LENGTH = 256       # MAX_BACKUP_NAMESPACE_LENGTH (32 * 8)
USERID_MAX = 64                  # USER_ID_SCHEMA / PROXMOX_AUTH_ID_SCHEMA
# pbs-api-types src/acl.rs: the roles PBS knows (a fixed set; PBS has no custom roles)
ROLES = ("Admin", "Audit", "NoAccess", "DatastoreAdmin", "DatastoreReader", "DatastoreBackup", "DatastorePowerUser",
         "DatastoreAudit", "RemoteAudit", "RemoteAdmin", "RemoteSyncOperator", "RemoteSyncPushOperator",
         "RemoteDatastorePowerUser", "RemoteDatastoreAdmin", "TapeAudit", "TapeAdmin", "TapeOperator", "TapeReader")
# proxmox-schema ParameterError's Display (one or several "'<name>': <message>")
PARAMETER_ERROR_RE = re.compile(r"^\s*-?\s*'([^']+)': (.*)$")


class PbsInputError(ProxmoxError):
    """A module option PBS would refuse, found before any write."""


def pbs_argument_spec():
    """The connection options of the pbs_* modules (doc fragment homecloud.proxmox.pbs). The
    environment variables are those proxmox-backup-client reads (PBS_PASSWORD, PBS_FINGERPRINT)
    plus PBS_HOST, PBS_PORT, PBS_USER, PBS_TOKEN_ID and PBS_TOKEN_SECRET."""
    return dict(
        pbs_host=dict(type="str", required=True, fallback=(env_fallback, ["PBS_HOST"])),
        pbs_port=dict(type="int", default=PBS_PORT, fallback=(env_fallback, ["PBS_PORT"])),
        pbs_user=dict(type="str", default="root@pam", fallback=(env_fallback, ["PBS_USER"])),
        pbs_password=dict(type="str", no_log=True, fallback=(env_fallback, ["PBS_PASSWORD"])),
        pbs_token_id=dict(type="str", no_log=False, fallback=(env_fallback, ["PBS_TOKEN_ID"])),
        pbs_token_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["PBS_TOKEN_SECRET"])),
        pbs_fingerprint=dict(type="str", fallback=(env_fallback, ["PBS_FINGERPRINT"])),
        pbs_validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["PBS_VALIDATE_CERTS"])),
        pbs_ca_path=dict(type="path", fallback=(env_fallback, ["PBS_CA_PATH"])),
        pbs_timeout=dict(type="int", default=10, fallback=(env_fallback, ["PBS_TIMEOUT"])),
    )


PBS_REQUIRED_TOGETHER = [("pbs_token_id", "pbs_token_secret")]
PBS_REQUIRED_ONE_OF = [("pbs_password", "pbs_token_id")]


def create_pbs_module(argument_spec, **kwargs):
    """An AnsibleModule with the PBS connection options merged in."""
    spec = pbs_argument_spec()
    spec.update(argument_spec)
    kwargs["required_together"] = PBS_REQUIRED_TOGETHER + kwargs.get("required_together", [])
    kwargs["required_one_of"] = PBS_REQUIRED_ONE_OF + kwargs.get("required_one_of", [])
    return AnsibleModule(argument_spec=spec, **kwargs)


def pbs_client_from_params(params):
    """A PbsClient for a module's validated parameters."""
    return PbsClient(host=params["pbs_host"], port=params["pbs_port"], user=params["pbs_user"],
                     password=params["pbs_password"], token_id=params["pbs_token_id"],
                     token_secret=params["pbs_token_secret"], fingerprint=params["pbs_fingerprint"],
                     validate_certs=params["pbs_validate_certs"], ca_path=params["pbs_ca_path"],
                     timeout=params["pbs_timeout"])


def normalize_fingerprint(text):
    """'AA:BB:...' (PBS's `cert info` and the dashboard) or plain hex -> 64 lower-case hex digits."""
    digits = re.sub(r"[:\s]", "", str(text or "")).lower()
    if not re.match(r"^[0-9a-f]{64}$", digits):
        raise PbsInputError("pbs_fingerprint: expected the certificate's SHA-256 fingerprint as 32 colon-separated "
                            "hex bytes (proxmox-backup-manager cert info), got {0!r}".format(text))
    return digits


class FingerprintAdapter(HTTPAdapter):
    """Accepts exactly the certificate with this SHA-256 fingerprint, whoever signed it: urllib3
    compares the peer's DER certificate after the handshake (assert_fingerprint)."""

    def __init__(self, fingerprint, **kwargs):
        self.fingerprint = fingerprint
        super(FingerprintAdapter, self).__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):  # pylint: disable=arguments-differ
        kwargs["assert_fingerprint"] = self.fingerprint
        return super(FingerprintAdapter, self).init_poolmanager(*args, **kwargs)


def pbs_api_error(method, path, status, reason, text):
    """The ProxmoxApiError of a PBS error answer: the body is the message as text (the reason
    phrase is only the status code's standard one); a ParameterError's entries become `errors`."""
    lines = [line for line in str(text or "").strip().split("\n") if line.strip()]
    if not lines:
        return ProxmoxApiError(method, path, status, reason)
    first = lines[0].strip()
    errors = {}
    if first.startswith("parameter verification failed"):
        head, _sep, rest = first.partition(" - ")
        for line in ([rest] if rest else []) + lines[1:]:
            found = PARAMETER_ERROR_RE.match(line)
            if found:
                errors[found.group(1)] = found.group(2)
        first = head.rstrip(":")
    return ProxmoxApiError(method, path, status, first, errors, [line.strip() for line in lines[1:]] if not errors else None)


class PbsClient(ProxmoxClient):
    """Talks to one Proxmox Backup Server API (port 8007) with an API token or a ticket.

    ``token_id`` is the token's full id ``user@realm!name``, as PBS shows it.
    """

    ticket_cookie = "PBSAuthCookie"

    def __init__(self, host, user="root@pam", password=None, token_id=None, token_secret=None, port=PBS_PORT,
                 fingerprint=None, validate_certs=True, ca_path=None, timeout=10, **options):
        token_user = token_name = None
        if token_id:
            found = AUTHID_RE.match(token_id)
            if not found or not found.group(2):
                raise PbsInputError("pbs_token_id: expected the token's full id user@realm!name, got {0!r}".format(token_id))
            token_user, token_name = found.group(1), found.group(2)
        self.fingerprint = normalize_fingerprint(fingerprint) if fingerprint else None
        # a pinned certificate is checked by its fingerprint alone (it is usually self-signed)
        super(PbsClient, self).__init__(host, token_user or user, password=password, token_id=token_name,
                                        token_secret=token_secret, port=port,
                                        validate_certs=validate_certs and not self.fingerprint, ca_path=ca_path,
                                        timeout=timeout, **options)

    def _new_session(self):
        session = super(PbsClient, self)._new_session()
        if self._token_id:
            session.headers["Authorization"] = "PBSAPIToken={0}!{1}:{2}".format(self.user, self._token_id, self._token_secret)
        if self.fingerprint:
            session.mount("https://", FingerprintAdapter(self.fingerprint))
        return session

    def _api_error(self, method, path, answer, document):
        return pbs_api_error(method, path, answer.status_code, answer.reason, answer.text)

    def _login_failed(self, error):
        return ProxmoxConnectionError(
            "login to {0} as {1} failed: HTTP {2} (PBS: {3}); check the {4}".format(
                self.endpoint, self.auth_description, error.status, error.reason,
                "token id (user@realm!name) and secret, and that the token and its user are enabled and not expired"
                if self._token_id else "user name with its realm (root@pam) and the password"),
            method=error.method, path=error.path, status=error.status, reason=error.reason)


class PbsModuleMixin:  # pylint: disable=too-few-public-methods
    """Makes a ProxmoxModule (or one of the objects.py engines) talk to PBS: the same result,
    failure and check-mode handling, with a PbsClient built from the pbs_* options."""

    def __init__(self, module):  # pylint: disable=super-init-not-called
        # ProxmoxModule.__init__ builds a PVE client from the api_* options, which PBS modules lack
        self.module = module
        if not HAS_REQUESTS:
            module.fail_json(msg=missing_required_lib("requests"), exception=str(REQUESTS_IMPORT_ERROR))
        try:
            self.client = pbs_client_from_params(module.params)
        except ProxmoxError as error:
            module.fail_json(msg=str(error))
        self.result = dict(changed=False)
        self.working_on = None

    def wait(self, upid, what):
        """Wait for a PBS worker task (its UPID names its node; PBS serves it under /nodes/<node>/tasks)."""
        return self.client.wait_task(upid, timeout=TASK_TIMEOUT, what=what)


class PbsObjectModule(PbsModuleMixin, ObjectModule):
    """ObjectModule (one object, state present/absent) against PBS."""


class PbsConvergeModule(PbsModuleMixin, ConvergeModule):
    """ConvergeModule (plan, then write) against PBS."""


# --- names PBS checks --------------------------------------------------------------------------------


def check_safe_id(value, what, max_length):
    """PROXMOX_SAFE_ID_FORMAT with the schema's length: a letter, digit or '_' first, then also '.', '-'."""
    if not value or not SAFE_ID_RE.match(value) or len(value) > max_length:
        raise PbsInputError("{0} {1!r}: PBS takes 1 to {2} of letters, digits, '_', '.', '-', not starting with "
                            "'.' or '-'; nothing was changed".format(what, value, max_length))
    return value


def check_datastore_name(name):
    return check_safe_id(name, "datastore name", DATASTORE_NAME_MAX)


def namespace_components(namespace):
    """'a/b' -> ['a', 'b'] after PBS's rules (BackupNamespace::new: components are safe ids of at most
    32 characters, at most 7 of them, 256 characters in all); '' is the root namespace."""
    text = str(namespace or "").strip("/")
    if not text:
        return []
    components = text.split("/")
    for component in components:
        check_safe_id(component, "namespace component", NAMESPACE_COMPONENT_MAX)
    if len(components) > MAX_NAMESPACE_DEPTH:
        raise PbsInputError("namespace {0!r} is {1} levels deep; PBS allows at most {2}; nothing was changed".format(
            namespace, len(components), MAX_NAMESPACE_DEPTH))
    if len(text) > MAX_NAMESPACE_LENGTH:
        raise PbsInputError("namespace {0!r} is longer than PBS's {1} characters; nothing was changed".format(
            namespace, MAX_NAMESPACE_LENGTH))
    return components


def check_userid(userid):
    """A PBS Userid name@realm (realms pam, pbs, or a configured one)."""
    if not userid or not USERID_RE.match(userid) or len(userid) > USERID_MAX:
        raise PbsInputError("user {0!r}: expected name@realm (for example homecloud-acme@pbs); nothing was changed"
                            .format(userid))
    return userid


def split_authid(auth_id):
    """'user@realm' -> (user, None); 'user@realm!token' -> (user, token); PBS's Authid rules."""
    found = AUTHID_RE.match(auth_id or "")
    if not found or len(auth_id) > USERID_MAX:
        raise PbsInputError("auth_id {0!r}: expected a user (name@realm) or an API token (name@realm!token); "
                            "nothing was changed".format(auth_id))
    return found.group(1), found.group(2)


def datastore_acl_path(store, namespace=""):
    """The ACL path of a datastore or of one of its namespaces (BackupNamespace::acl_path)."""
    return "/" + "/".join(["datastore", check_datastore_name(store)] + namespace_components(namespace))


def normalize_acl_path(path):
    """An ACL path as PBS keeps it ('/' joined components, no trailing '/'), checked against the
    paths pbs-config src/acl.rs check_acl_path accepts for datastores; other top levels are left to PBS."""
    components = [part for part in str(path or "").split("/") if part]
    for component in components:
        check_safe_id(component, "ACL path component", 128)
    if components and components[0] == "datastore" and len(components) > 2 + MAX_NAMESPACE_DEPTH:
        raise PbsInputError("ACL path {0!r}: a datastore path is /datastore/<store> and at most {1} namespace levels; "
                            "nothing was changed".format(path, MAX_NAMESPACE_DEPTH))
    return "/" + "/".join(components)
