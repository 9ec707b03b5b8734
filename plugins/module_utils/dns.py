# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""DNS zones and records behind one interface, for dns_zone and dns_record.

Two providers:

- ``technitium``: Technitium DNS Server's HTTP API (TechnitiumSoftware/DnsServer APIDOCS.md). Every call is
  answered ``{"status": "ok"|"error"|"invalid-token", "response": ..., "errorMessage": ...}`` and errors arrive
  with HTTP 200, so the status is checked on every answer. The token travels as ``Authorization: Bearer`` (v15.0).
- ``rfc2136``: any server that takes dynamic updates (RFC 2136) signed with TSIG (RFC 8945), such as BIND. The
  zone is read by a TSIG-signed AXFR and written by one UPDATE message per zone, with prerequisites (RFC 2136
  section 2.4) that the record sets are still what the read found: a concurrent change makes the update fail
  instead of being overwritten, and an update sent twice is refused the second time.

Both converge with the collection's engine (objects.ConvergeModule): read, plan the writes, then send them;
check mode is the plan without the sending. Records are compared as RRsets (owner, type) -> (TTL, values), with
values in one canonical text form per type, and shown as zone file lines ``owner ttl type value``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import ipaddress
import re
import socket
import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.six.moves.urllib.parse import urlencode

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import USER_AGENT, ProxmoxError, confirmed_write
from ansible_collections.homecloud.proxmox.plugins.module_utils.cloudflare import (
    CloudflareApiError,
    CloudflareClient,
    CloudflareError,
    parse_document,
    wire_query,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import ConvergeModule, Write

try:
    import dns.exception
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdata
    import dns.rdataclass
    import dns.rdataset
    import dns.rdatatype
    import dns.tsig
    import dns.update
    import dns.zone
except ImportError:
    HAS_DNSPYTHON = False
    DNSPYTHON_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_DNSPYTHON = True
    DNSPYTHON_IMPORT_ERROR = None

# The record types the modules manage; SOA and NS belong to the zone's server and are never touched.
MANAGED_TYPES = ("A", "AAAA", "CNAME", "PTR", "TXT", "MX", "SRV")
DEFAULT_TTL = 3600
APEX = "@"
DEFAULT_TECHNITIUM_URL = "http://127.0.0.1:5380"
# TSIG algorithms BIND's tsig-keygen offers (hmac-md5 only for old peers).
TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5")
LABEL_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
# A BIND key file (tsig-keygen's output): key "name" { algorithm hmac-sha256; secret "base64"; };
KEY_BLOCK_RE = re.compile(r'\bkey\s+"?([^"\s{]+)"?\s*\{(.*?)\}\s*;', re.S)
KEY_ALGORITHM_RE = re.compile(r'\balgorithm\s+"?([A-Za-z0-9.-]+)"?\s*;')
KEY_SECRET_RE = re.compile(r'\bsecret\s+"([^"]*)"\s*;')
# quoted strings are kept, comments (/* */, //, #) blanked: a base64 secret may hold "//"
KEY_FILE_TOKEN_RE = re.compile(r'"[^"]*"|/\*.*?\*/|//[^\n]*|#[^\n]*', re.S)


class DnsError(ProxmoxError):
    """A refusal or failure of the DNS server or API (a ProxmoxError: the engine's failure handling applies)."""

    def __init__(self, message, method=None, path=None, status=None, reason=None):
        self.method = method
        self.path = path
        self.status = status
        self.reason = reason
        super(DnsError, self).__init__(message)


class DnsInputError(DnsError):
    """A module option the modules refuse, found before any request."""


# --- names ---------------------------------------------------------------------------------------


def check_domain(value, option):
    """A domain name, lower case, without the trailing dot; ``*`` allowed as the first label only."""
    name = str(value if value is not None else "").strip().rstrip(".").lower()
    labels = name.split(".")
    valid = bool(name) and len(name) <= 253 and all(
        LABEL_RE.match(label) or (label == "*" and index == 0) for index, label in enumerate(labels))
    if not valid:
        raise DnsInputError("{0} {1!r}: expected a DNS name such as web1.acme.lab.internal (labels of letters, digits, "
                            "hyphens and underscores, up to 63 characters each); nothing was changed".format(option, value))
    return name


def check_zone(value, option="zone"):
    name = check_domain(value, option)
    if name.startswith("*"):
        raise DnsInputError("{0} {1!r}: a zone name cannot hold a wildcard; nothing was changed".format(option, value))
    return name


def relative_owner(value, zone, option="name"):
    """The owner of a record relative to ``zone`` (``@`` for the apex).

    ``@`` or an empty name is the apex; a name with a trailing dot, the zone itself or a name ending in
    ``.<zone>`` is fully qualified; a name ending in the zone's top-level label (``internal``, ``arpa``) is taken
    as fully qualified too, so a name of another zone (``web1.globex.lab.internal`` in ``acme.lab.internal``) is
    refused instead of becoming ``web1.globex.lab.internal.acme.lab.internal``. Other names are relative."""
    text = str(value if value is not None else "").strip().lower()
    if text in ("", APEX):
        return APEX
    absolute = text.endswith(".")
    name = check_domain(text, option)
    if name == zone:
        return APEX
    if name.endswith("." + zone):
        return name[:-len(zone) - 1]
    if absolute or name.rsplit(".", maxsplit=1)[-1] == zone.rsplit(".", maxsplit=1)[-1]:
        raise DnsInputError("{0} {1!r} is not inside zone {2}; nothing was changed".format(option, value, zone))
    return name


def absolute_name(owner, zone):
    return zone if owner == APEX else "{0}.{1}".format(owner, zone)


def target_name(value, option):
    """A host name in a record's data (CNAME, PTR, MX, SRV target): always fully qualified, shown with the dot."""
    return check_domain(value, option) + "."


# --- record values -------------------------------------------------------------------------------


def canonical_value(rtype, value, option):
    """One value in the canonical text form of its type (addresses compressed, names absolute with a dot)."""
    text = str(value if value is not None else "").strip()
    try:
        if rtype == "A":
            return str(ipaddress.IPv4Address(text))
        if rtype == "AAAA":
            return str(ipaddress.IPv6Address(text))
    except ValueError:
        raise DnsInputError("{0} {1!r}: not an IPv{2} address; nothing was changed".format(
            option, value, 4 if rtype == "A" else 6))
    if rtype in ("CNAME", "PTR"):
        return target_name(text, option)
    if rtype == "TXT":
        return str(value)
    fields = text.split()
    numbers = 1 if rtype == "MX" else 3
    if len(fields) != numbers + 1 or not all(field.isdigit() and int(field) <= 65535 for field in fields[:numbers]):
        form = "<preference> <exchange>, e.g. 10 mail.example.com" if rtype == "MX" else \
            "<priority> <weight> <port> <target>, e.g. 0 5 5432 db1.acme.lab.internal"
        raise DnsInputError("{0} {1!r}: an {2} value is {3}; nothing was changed".format(option, value, rtype, form))
    return " ".join([str(int(field)) for field in fields[:numbers]] + [target_name(fields[numbers], option)])


def presented(rtype, value):
    """A canonical value as a zone file shows it (TXT quoted)."""
    if rtype == "TXT":
        return '"{0}"'.format(value.replace("\\", "\\\\").replace('"', '\\"'))
    return value


class RRset:
    """The records of one owner and type: one TTL, a set of values (canonical text)."""

    def __init__(self, owner, rtype, ttl, values):
        self.owner = owner
        self.rtype = rtype
        self.ttl = int(ttl)
        self.values = tuple(sorted(set(values)))

    @property
    def key(self):
        return (self.owner, self.rtype)

    def lines(self):
        return ["{0} {1} {2} {3}".format(self.owner, self.ttl, self.rtype, presented(self.rtype, value)) for value in self.values]

    def __eq__(self, other):
        return isinstance(other, RRset) and (self.key, self.ttl, self.values) == (other.key, other.ttl, other.values)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.key, self.ttl, self.values))

    def __repr__(self):
        return "RRset({0!r})".format(self.lines())


def declared_rrset(zone, entry, prefix=""):
    """An RRset from a declared record {name, type, values, ttl}, every field checked and named with ``prefix``
    (``records[2].`` in dns_zone, nothing in dns_record)."""
    rtype = str(entry.get("type") or "").upper()
    if rtype not in MANAGED_TYPES:
        raise DnsInputError("{0}type {1!r}: expected one of {2}; nothing was changed".format(
            prefix, entry.get("type"), ", ".join(MANAGED_TYPES)))
    owner = relative_owner(entry.get("name"), zone, prefix + "name")
    values = entry.get("values")
    if isinstance(values, str) or not values:
        raise DnsInputError("{0}values: a non-empty list of values is required; nothing was changed".format(prefix))
    canonical = [canonical_value(rtype, value, "{0}values[{1}]".format(prefix, index)) for index, value in enumerate(values)]
    if rtype == "CNAME" and len(set(canonical)) > 1:
        raise DnsInputError("{0}values: a CNAME has one value, got {1}; nothing was changed".format(prefix, len(set(canonical))))
    ttl = entry.get("ttl")
    ttl = DEFAULT_TTL if ttl is None else ttl
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 <= ttl <= 2147483647:
        raise DnsInputError("{0}ttl {1!r}: expected seconds from 0 to 2147483647; nothing was changed".format(prefix, ttl))
    return RRset(owner, rtype, ttl, canonical)


def check_cname_alone(rrsets, option):
    """A CNAME cannot share its owner with other data (RFC 1034 section 3.6.2): refused before any request."""
    owners = {}
    for rrset in rrsets:
        owners.setdefault(rrset.owner, []).append(rrset.rtype)
    for owner, types in sorted(owners.items()):
        if "CNAME" in types and len(types) > 1:
            raise DnsInputError("{0}: {1} has a CNAME and {2}; a CNAME cannot share its name with other records; "
                                "nothing was changed".format(option, owner, ", ".join(sorted(t for t in types if t != "CNAME"))))


# --- the engine: RRset changes -------------------------------------------------------------------


class RRsetChange:
    """One RRset to replace (``after``) or remove (``after`` None), with what the read found (``before``)."""

    def __init__(self, before, after):
        self.before = before
        self.after = after

    @property
    def key(self):
        return (self.before or self.after).key

    def __str__(self):
        if self.after is None:
            return "delete {0} {1}".format(*self.key)
        return "replace " + ", ".join(self.after.lines())


def rrset_changes(current, desired, removed_keys=()):
    """The changes that make ``current`` ({key: RRset}) hold every RRset of ``desired`` and none of ``removed_keys``."""
    changes = [RRsetChange(current.get(rrset.key), rrset) for rrset in desired if current.get(rrset.key) != rrset]
    wanted = set(rrset.key for rrset in desired)
    changes.extend(RRsetChange(current[key], None) for key in sorted(set(removed_keys) - wanted) if key in current)
    return sorted(changes, key=lambda change: change.key)


def applied(current, changes):
    """``current`` with the changes made."""
    after = dict(current)
    for change in changes:
        if change.after is None:
            after.pop(change.key, None)
        else:
            after[change.key] = change.after
    return after


def record_lines(rrsets):
    """Zone file lines of RRsets, sorted: the shape of diffs and results."""
    return sorted(line for rrset in rrsets for line in rrset.lines())


def purgeable(current, zone, ns_targets):
    """The keys purge may remove: all but the addresses of the zone's own name servers (glue its NS records need)."""
    servers = set(name.rstrip(".") for name in ns_targets)
    return [key for key in current if not (key[1] in ("A", "AAAA") and absolute_name(key[0], zone) in servers)]


def holds(current, changes):
    """Whether ``current`` already holds what the changes leave (a write's outcome, read back)."""
    return all(current.get(change.key) == change.after for change in changes)


# --- TSIG keys -----------------------------------------------------------------------------------


def parse_key_file(text, key_name=None, source="tsig_key_file"):
    """(name, algorithm, secret) of a key of a BIND key file (``tsig-keygen`` output, named.conf syntax).

    With ``key_name`` that key; else the file must hold exactly one. Messages never show the secret."""
    cleaned = KEY_FILE_TOKEN_RE.sub(lambda match: match.group(0) if match.group(0).startswith('"') else " ", text)
    keys = {}
    for match in KEY_BLOCK_RE.finditer(cleaned):
        algorithm = KEY_ALGORITHM_RE.search(match.group(2))
        secret = KEY_SECRET_RE.search(match.group(2))
        keys[match.group(1).rstrip(".").lower()] = (algorithm.group(1).lower() if algorithm else None,
                                                    secret.group(1) if secret else None)
    if not keys:
        raise DnsInputError('{0}: no key block (key "<name>" {{ algorithm <algorithm>; secret "<base64>"; }};) found; '
                            'tsig-keygen writes one; nothing was changed'.format(source))
    if key_name:
        wanted = key_name.rstrip(".").lower()
        if wanted not in keys:
            raise DnsInputError("{0}: holds no key {1!r} (tsig_key_name); it holds {2}; nothing was changed".format(
                source, key_name, ", ".join(sorted(keys))))
    elif len(keys) > 1:
        raise DnsInputError("{0}: holds the keys {1}; set tsig_key_name to pick one; nothing was changed".format(
            source, ", ".join(sorted(keys))))
    else:
        wanted = next(iter(keys))
    algorithm, secret = keys[wanted]
    if not algorithm or secret is None:
        raise DnsInputError("{0}: key {1!r} needs both an algorithm and a secret; nothing was changed".format(source, wanted))
    return wanted, check_algorithm(algorithm, source), check_secret(secret, wanted, source)


def check_algorithm(algorithm, option="tsig_algorithm"):
    value = str(algorithm or "").strip().rstrip(".").lower()
    if value not in TSIG_ALGORITHMS:
        raise DnsInputError("{0} {1!r}: expected one of {2}; nothing was changed".format(option, algorithm, ", ".join(TSIG_ALGORITHMS)))
    return value


def check_secret(secret, key_name, option="tsig_secret"):
    """The base64 secret of a TSIG key, checked without ever showing it."""
    try:
        if not base64.b64decode(str(secret).strip(), validate=True):
            raise ValueError("empty")
    except (ValueError, binascii.Error):
        raise DnsInputError("{0}: the secret of key {1!r} is not base64 text (tsig-keygen prints one); "
                            "nothing was changed".format(option, key_name))
    return str(secret).strip()


# --- the connection options ------------------------------------------------------------------------


def dns_argument_spec():
    """The provider options of the dns_* modules (doc fragment homecloud.proxmox.dns)."""
    return dict(
        provider=dict(type="str", required=True, choices=["technitium", "rfc2136"]),
        api_url=dict(type="str", default=DEFAULT_TECHNITIUM_URL, fallback=(env_fallback, ["TECHNITIUM_API_URL"])),
        api_token=dict(type="str", no_log=True, fallback=(env_fallback, ["TECHNITIUM_API_TOKEN"])),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        server=dict(type="str", default="127.0.0.1", fallback=(env_fallback, ["DNS_SERVER"])),
        port=dict(type="int", default=53),
        # the key file's path and the key's name are not secret (no_log False says so to Ansible's secret check)
        tsig_key_file=dict(type="path", no_log=False),
        tsig_key_name=dict(type="str", no_log=False, fallback=(env_fallback, ["DNS_TSIG_KEY_NAME"])),
        tsig_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["DNS_TSIG_SECRET"])),
        tsig_algorithm=dict(type="str", default="hmac-sha256", fallback=(env_fallback, ["DNS_TSIG_ALGORITHM"])),
        timeout=dict(type="int", default=10),
    )


def create_dns_module(argument_spec, **kwargs):
    """An AnsibleModule with the provider options merged in."""
    spec = dns_argument_spec()
    spec.update(argument_spec)
    kwargs["mutually_exclusive"] = [("tsig_key_file", "tsig_secret")] + kwargs.get("mutually_exclusive", [])
    return AnsibleModule(argument_spec=spec, **kwargs)


# --- Technitium ----------------------------------------------------------------------------------


class TechnitiumError(CloudflareError):
    """A Technitium answer with a status other than ok (HTTP 200, ``status: error|invalid-token``)."""


class TechnitiumClient(CloudflareClient):
    """Technitium DNS Server's HTTP API. The transport, bounded retries of reads and the confirmation of a write
    whose answer was lost are CloudflareClient's (ansible-core's open_url, nothing else to install); the requests
    and the envelope are Technitium's: reads as GET with a query, writes as POST with form data (APIDOCS.md:
    every call takes both), and ``status`` checked on every answer because errors come with HTTP 200."""

    def call(self, method, path, params, confirm=None):
        document = self._with_retries(method, path, params, confirm)
        return dict(data=document.get("response"))

    def _send(self, method, path, params):
        self.last_call = "{0} {1}".format(method, path)
        params = dict((key, value) for key, value in (params or {}).items() if value is not None)
        query = params if method == "GET" else {}
        body = None if method == "GET" else self._form(params)
        headers = {"Authorization": "Bearer " + self._token, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        document = self._exchange(method, path, query, body, headers)
        status = document.get("status")
        if status != "ok":
            message = document.get("errorMessage") or document.get("innerErrorMessage") or "no errorMessage"
            if status == "invalid-token":
                message = "the API token was refused (invalid-token): it is unknown, expired or revoked"
            raise TechnitiumError("{0} {1} failed: Technitium answered status {2!r}: {3}".format(
                method, path, status, message), method, path, 200, message)
        return document

    @staticmethod
    def _form(params):
        return urlencode([(key, wire_query(value)) for key, value in sorted(params.items())]).encode("utf-8")

    def _exchange(self, method, path, query, body, headers):
        """One HTTP exchange: the parsed document of a 2xx answer, CloudflareApiError (retried on 5xx) otherwise."""
        try:
            answer = self._open(self._url(path, query), data=body, headers=headers, method=method, timeout=self.timeout,
                                validate_certs=self.validate_certs, ca_path=self.ca_path, http_agent=USER_AGENT,
                                follow_redirects="none", use_proxy=True)
            status, text = answer.getcode(), answer.read()
        except HTTPError as error:
            raise CloudflareApiError(method, path, error.code, [dict(code=error.code, message=error.reason)])
        document = parse_document(text)
        if document is None:
            raise TechnitiumError("{0} {1} answered HTTP {2} with a body that is not Technitium's JSON".format(
                method, path, status), method, path, status)
        return document


# Technitium's rData fields of each managed type, in the order of the type's zone file form (APIDOCS.md, Add Record).
TECHNITIUM_FIELDS = dict(A=("ipAddress",), AAAA=("ipAddress",), CNAME=("cname",), PTR=("ptrName",), TXT=("text",),
                         MX=("preference", "exchange"), SRV=("priority", "weight", "port", "target"))


def technitium_value(rtype, rdata):
    """The canonical value of a record Technitium answers (``rData``)."""
    fields = [(rdata or {}).get(field) for field in TECHNITIUM_FIELDS[rtype]]
    if rtype == "TXT":
        return str(fields[0] if fields[0] is not None else "")
    try:
        return canonical_value(rtype, " ".join(str(field) for field in fields), "rData")
    except DnsInputError:
        raise DnsError("Technitium holds a {0} record with data {1!r} this module cannot read".format(rtype, rdata))


def technitium_params(rtype, value):
    """A canonical value as the parameters of records/add and records/delete (names without the trailing dot)."""
    fields = [value] if rtype == "TXT" else value.split()
    return dict((name, field.rstrip(".") if isinstance(field, str) and name not in ("text",) else field)
                for name, field in zip(TECHNITIUM_FIELDS[rtype], fields))


class TechnitiumProvider:
    """Zones and records through Technitium's HTTP API: one call per record value written (an RRset of one value,
    the common case, is one call: records/add with ``overwrite`` replaces the whole set)."""

    name = "technitium"
    creates_zones = True
    ns_targets = frozenset()  # the name servers of the zone last read (absolute, with the dot)

    def __init__(self, params, client=None):
        if not params.get("api_token") and client is None:
            raise DnsInputError("api_token: required with provider=technitium (or the environment variable TECHNITIUM_API_TOKEN); "
                                "nothing was changed")
        self.api_url = str(params.get("api_url") or DEFAULT_TECHNITIUM_URL).rstrip("/")
        self.client = client or TechnitiumClient(params["api_token"], api_url=self.api_url, validate_certs=params.get("validate_certs", True),
                                                 ca_path=params.get("ca_path"), timeout=params.get("timeout") or 10)
        self.secrets = [params.get("api_token")]

    def where(self):
        return "the Technitium server at {0}".format(self.api_url)

    def find_zone(self, zone):
        """The zone as zones/list shows it ({name, type, ...}), or None."""
        answer = self.client.get("/api/zones/list") or {}
        for entry in answer.get("zones") or []:
            if str(entry.get("name", "")).rstrip(".").lower() == zone:
                return entry
        return None

    def missing_zone(self, zone):
        return "zone {0} does not exist on {1}; create it first (homecloud.proxmox.dns_zone)".format(zone, self.where())

    def read(self, zone, owner=None):
        """{(owner, type): RRset} of the managed types: the whole zone, or one owner's records."""
        domain = zone if owner is None else absolute_name(owner, zone)
        answer = self.client.get("/api/zones/records/get", domain=domain, zone=zone, listZone="true" if owner is None else "false") or {}
        found = {}
        self.ns_targets = set()
        for record in answer.get("records") or []:
            rtype = str(record.get("type", "")).upper()
            if rtype == "NS":
                self.ns_targets.add(str((record.get("rData") or {}).get("nameServer", "")).rstrip(".").lower() + ".")
            if rtype not in MANAGED_TYPES:
                continue
            record_owner = relative_owner(str(record.get("name", "")) + ".", zone, "records/get name")
            entry = found.setdefault((record_owner, rtype), dict(ttls=[], values=[]))
            entry["ttls"].append(int(record.get("ttl", DEFAULT_TTL)))
            entry["values"].append(technitium_value(rtype, record.get("rData")))
        return dict((key, RRset(key[0], key[1], min(entry["ttls"]), entry["values"])) for key, entry in found.items())

    def create_zone_writes(self, zone):
        return [Write("POST", "/api/zones/create", dict(zone=zone, type="Primary"),
                      confirm=lambda: self.find_zone(zone) is not None, what="create zone {0}".format(zone))]

    def delete_zone_writes(self, zone):
        return [Write("POST", "/api/zones/delete", dict(zone=zone),
                      confirm=lambda: self.find_zone(zone) is None, what="delete zone {0}".format(zone))]

    def change_writes(self, zone, changes):
        writes = []
        for change in changes:
            owner, rtype = change.key
            domain = absolute_name(owner, zone)
            if change.after is None:
                for value in change.before.values:
                    writes.append(Write("POST", "/api/zones/records/delete", dict(
                        domain=domain, zone=zone, type=rtype, **technitium_params(rtype, value)),
                        confirm=self._confirm_value(zone, owner, rtype, value, None)))
                continue
            for index, value in enumerate(change.after.values):
                writes.append(Write("POST", "/api/zones/records/add", dict(
                    domain=domain, zone=zone, type=rtype, ttl=change.after.ttl, overwrite="true" if index == 0 else "false",
                    **technitium_params(rtype, value)), confirm=self._confirm_value(zone, owner, rtype, value, change.after.ttl)))
        return writes

    def _confirm_value(self, zone, owner, rtype, value, ttl):
        """For a write whose answer was lost: does Technitium hold the value (with ``ttl``), or not (``ttl`` None)?"""
        def confirm():
            rrset = self.read(zone, owner).get((owner, rtype))
            present = rrset is not None and value in rrset.values
            return present and rrset.ttl == ttl if ttl is not None else not present
        return confirm


# --- RFC 2136 with TSIG --------------------------------------------------------------------------


def txt_zone_text(value):
    """A TXT value in zone file form: UTF-8, in quoted character-strings of at most 255 octets (RFC 1035 3.3.14)."""
    data = value.encode("utf-8")
    chunks = [data[start:start + 255] for start in range(0, len(data), 255)] or [b""]

    def octet(byte):
        if byte in (0x22, 0x5c):
            return "\\" + chr(byte)
        return chr(byte) if 0x20 <= byte < 0x7f else "\\{0:03d}".format(byte)
    return " ".join('"' + "".join(octet(byte) for byte in chunk) + '"' for chunk in chunks)


def rdata_value(rtype, rdata):
    if rtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")
    return canonical_value(rtype, rdata.to_text(), "AXFR data")


class UpdateWrite(Write):
    """The one UPDATE message of a run for a zone: shown as its operations, sent by the provider."""

    def __init__(self, provider, zone, changes):
        super(UpdateWrite, self).__init__("UPDATE", zone, what="UPDATE of zone {0}".format(zone))
        self.provider = provider
        self.zone = zone
        self.changes = changes

    def __str__(self):
        return "UPDATE {0}: {1}".format(self.zone, "; ".join(str(change) for change in self.changes))

    def send(self, client):
        return self.provider.update(self.zone, self.changes)


PREREQUISITE_RCODES = ("NXDOMAIN", "YXDOMAIN", "YXRRSET", "NXRRSET")


class Rfc2136Provider:
    """Records of existing zones through TSIG-signed AXFR (read) and RFC 2136 UPDATE (write)."""

    name = "rfc2136"
    creates_zones = False
    ns_targets = frozenset()  # the name servers of the zone last read (absolute, with the dot)

    def __init__(self, params, read_text=None):
        if not HAS_DNSPYTHON:
            raise DnsInputError(missing_required_lib("dnspython") + " (provider=rfc2136)")
        self.server = params.get("server") or "127.0.0.1"
        self._address = None
        self.missing = {}  # zone: what the SOA query answered for a zone the server does not hold
        self.port = params.get("port") or 53
        self.timeout = params.get("timeout") or 10
        if params.get("tsig_key_file"):
            path = params["tsig_key_file"]
            try:
                text = read_text(path) if read_text else _read_text(path)
            except (IOError, OSError) as error:
                raise DnsInputError("tsig_key_file {0}: cannot be read ({1}); nothing was changed".format(path, error.strerror or error))
            key_name, algorithm, secret = parse_key_file(text, params.get("tsig_key_name"), "tsig_key_file " + path)
        elif params.get("tsig_key_name") and params.get("tsig_secret"):
            key_name = check_domain(params["tsig_key_name"], "tsig_key_name")
            algorithm = check_algorithm(params.get("tsig_algorithm") or "hmac-sha256")
            secret = check_secret(params["tsig_secret"], key_name)
        else:
            raise DnsInputError("tsig_key_file, or tsig_key_name with tsig_secret: provider=rfc2136 signs every request with a TSIG "
                                "key (or the environment variables DNS_TSIG_KEY_NAME and DNS_TSIG_SECRET); nothing was changed")
        self.key_name = key_name
        self.secrets = [secret]
        self.key = dns.tsig.Key(key_name, secret, algorithm)
        self.client = self  # what the engine's execute() and Write.send are given
        self.last_call = None

    def where(self):
        return "the DNS server {0} port {1}".format(self.server, self.port)

    def _failure(self, what, error):
        """A DnsError for a dnspython exception, saying what it means for the key and the server."""
        if isinstance(error, dns.tsig.PeerBadKey):
            reason = "the server does not know TSIG key {0!r} (BADKEY)".format(self.key_name)
        elif isinstance(error, dns.tsig.PeerBadSignature):
            reason = "the server refused the signature of TSIG key {0!r} (BADSIG): the secret or the algorithm is wrong".format(self.key_name)
        elif isinstance(error, dns.tsig.PeerBadTime):
            reason = "the server refused the time of the TSIG signature (BADTIME): the clocks differ by more than 5 minutes"
        elif isinstance(error, dns.exception.Timeout):
            reason = "no answer within {0} s".format(self.timeout)
        elif isinstance(error, (ConnectionError, socket.error)):
            reason = "cannot connect: {0}".format(error)
        else:
            reason = str(error) or type(error).__name__
        return DnsError("{0} at {1}: {2}".format(what, self.where(), reason), what.split()[0], None, None, reason)

    def address(self):
        """The server's IP address: dnspython's queries take addresses only, so a host name is looked up once."""
        if self._address is None:
            try:
                self._address = str(ipaddress.ip_address(self.server))
            except ValueError:
                try:
                    self._address = socket.getaddrinfo(self.server, self.port, proto=socket.IPPROTO_TCP)[0][4][0]
                except (socket.gaierror, IndexError) as error:
                    raise DnsError("server {0!r}: cannot look up its address ({1}); nothing was changed".format(self.server, error))
        return self._address

    def _exchange(self, what, message):
        self.last_call = what
        try:
            return dns.query.tcp(message, self.address(), timeout=self.timeout, port=self.port)
        except (dns.exception.DNSException, OSError) as error:
            raise self._failure(what, error)

    def find_zone(self, zone):
        """The zone ({name, type, serial}) when the server answers its SOA to a TSIG-signed query, else None."""
        query = dns.message.make_query(zone + ".", "SOA")
        query.use_tsig(self.key)
        answer = self._exchange("SOA query for {0}".format(zone), query)
        soa = [rrset for rrset in answer.answer
               if rrset.rdtype == dns.rdatatype.SOA and rrset.name == dns.name.from_text(zone)]
        if answer.rcode() != dns.rcode.NOERROR or not soa:
            rcode = dns.rcode.to_text(answer.rcode())
            self.missing[zone] = rcode if rcode != "NOERROR" else "NOERROR without the zone's SOA"
            return None
        return dict(name=zone, type="Primary", serial=soa[0][0].serial)

    def missing_zone(self, zone):
        """Why a zone cannot be worked on: RFC 2136 cannot create zones."""
        return ("zone {0} does not exist on {1} (the SOA query answered {2}); dynamic updates cannot create a zone: declare it "
                "in the server's configuration (the dns_server role) first".format(zone, self.where(), self.missing.get(zone)))

    def read(self, zone, owner=None):
        """{(owner, type): RRset} of the managed types, from a TSIG-signed AXFR of the whole zone."""
        what = "AXFR of zone {0}".format(zone)
        self.last_call = what
        try:
            transfer = dns.query.xfr(self.address(), zone + ".", port=self.port, keyring={self.key.name: self.key}, keyname=self.key.name,
                                     keyalgorithm=self.key.algorithm, timeout=self.timeout, lifetime=self.timeout * 3, relativize=False)
            content = dns.zone.from_xfr(transfer, relativize=False)
        except (dns.exception.DNSException, OSError) as error:
            failure = self._failure(what, error)
            if "REFUSED" in str(error) or "NOTAUTH" in str(error):
                failure = DnsError("{0} (the key {1!r} needs allow-transfer on the zone)".format(failure, self.key_name),
                                   "AXFR", zone, None, failure.reason)
            raise failure
        found = {}
        self.ns_targets = set()
        for name, rdataset in content.iterate_rdatasets():
            rtype = dns.rdatatype.to_text(rdataset.rdtype)
            if rtype == "NS":
                self.ns_targets.update(rdata.target.to_text() for rdata in rdataset)
            if rtype not in MANAGED_TYPES:
                continue
            record_owner = relative_owner(name.to_text(), zone, "AXFR name")
            if owner is None or record_owner == owner:
                found[(record_owner, rtype)] = RRset(record_owner, rtype, rdataset.ttl, [rdata_value(rtype, rdata) for rdata in rdataset])
        return found

    def change_writes(self, zone, changes):
        return [UpdateWrite(self, zone, changes)] if changes else []

    @staticmethod
    def _rdataset(rrset, ttl):
        texts = [txt_zone_text(value) if rrset.rtype == "TXT" else value for value in rrset.values]
        return dns.rdataset.from_text_list("IN", rrset.rtype, ttl, texts)

    def update(self, zone, changes):
        """One UPDATE message: per RRset a prerequisite that it is still what the read found (absent, or exactly
        those values), then its replacement or deletion. A refused prerequisite means the zone changed since."""
        message = dns.update.UpdateMessage(zone + ".")
        for change in changes:
            owner = dns.name.from_text(absolute_name(change.key[0], zone))
            if change.before is None:
                message.absent(owner, change.key[1])
            else:
                message.present(owner, self._rdataset(change.before, 0))  # value-dependent: TTL 0 (RFC 2136 2.4.2)
            if change.after is None:
                message.delete(owner, change.key[1])
            else:
                message.replace(owner, self._rdataset(change.after, change.after.ttl))
        message.use_tsig(self.key)
        what = "UPDATE of zone {0}".format(zone)
        try:
            answer = self._exchange(what, message)
        except DnsError as error:
            if error.reason and error.reason.startswith(("no answer", "cannot connect: [Errno 104]", "cannot connect: [Errno 32]")):
                # sent, answer lost: read back; the prerequisites make sending it again harmless, but one try is enough
                confirmed_write("UPDATE", zone, lambda: holds(self.read(zone), changes), error.reason, error, True)
                return None
            raise
        rcode = dns.rcode.to_text(answer.rcode())
        if rcode == "NOERROR":
            return None
        if rcode in PREREQUISITE_RCODES:
            raise DnsError("{0} at {1} was refused by its prerequisites ({2}): the zone changed since it was read; nothing of this "
                           "update was made; run again".format(what, self.where(), rcode), "UPDATE", zone, None, rcode)
        if rcode == "REFUSED":
            raise DnsError("{0} at {1} was refused (REFUSED): the key {2!r} may not update this zone (allow-update or update-policy); "
                           "nothing was changed".format(what, self.where(), self.key_name), "UPDATE", zone, None, rcode)
        raise DnsError("{0} at {1} failed: {2}; nothing was changed".format(what, self.where(), rcode), "UPDATE", zone, None, rcode)


def _read_text(path):
    with open(path, "r") as handle:
        return handle.read()


# --- the module base -----------------------------------------------------------------------------


class NoConnection:  # pylint: disable=too-few-public-methods
    """The client of a module whose provider is not made yet (its options were refused)."""

    last_call = None


class DnsModule(ConvergeModule):
    """The engine's run (plan, then write; check mode plans only) with a DNS provider. ``plan()`` returns the
    writes and the managed records before and after as sorted zone file lines; the result adds ``records``
    (after), ``records_added`` and ``records_removed``."""

    result_key = "records"

    def __init__(self, module, provider=None):  # pylint: disable=super-init-not-called
        # ProxmoxModule.__init__ builds a PVE client from api_* options these modules do not have
        self.module = module
        self.result = dict(changed=False)
        self.working_on = None
        self.provider = provider

    @property
    def client(self):
        return self.provider.client if self.provider is not None else NoConnection()

    def connect(self):
        """The provider of the options (checked before the first request); its secrets kept out of all output."""
        if self.provider is None:
            params = self.module.params
            self.provider = TechnitiumProvider(params) if params["provider"] == "technitium" else Rfc2136Provider(params)
        for secret in getattr(self.provider, "secrets", []):
            if secret:
                self.module.no_log_values.add(secret)
        return self.provider

    def zone_missing(self, provider, zone):
        """A zone the server does not hold: an error; in check mode a warning, planned as empty (an earlier task of
        the same check run, dns_zone or the dns_server role, may be the one that creates it)."""
        message = provider.missing_zone(zone)
        if not self.module.check_mode:
            raise DnsError(message + "; nothing was changed", "GET", zone, None, "zone does not exist")
        self.module.warn(message + "; check mode plans the records as if an earlier task had created it empty")

    def summarise(self, before, after):
        """The lists of the result: sorted lines before and after, added and removed."""
        self.result["records_added"] = sorted(set(after) - set(before))
        self.result["records_removed"] = sorted(set(before) - set(after))
        return before, after
