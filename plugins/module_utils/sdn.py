# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The SDN engine every SDN module shares; it knows nothing of Ansible.

Reads the pending view of SDN objects (``?pending=1``), compares it with the
desired state and collects the writes in a ChangeSet (the check-mode prediction
and the diff), and carries them out inside one transaction: on PVE 9.x under one
lock token taken only when a write is due, with a rollback if a write fails; then
at most one apply (``PUT /cluster/sdn``) whose task is awaited. ``converge`` returns
an SdnOutcome or raises an SdnError whose ``outcome`` says what was written, rolled
back or left uncertain; the module base turns either into the task's result.

A write whose answer is lost (a proxy's 502/504, a dropped connection) is never
resent blindly: the transaction re-reads the object, the lock or the pending state
and continues from what PVE really holds.

Naming: an object's ``id`` is PVE's id; its ``name`` is what users see (the same,
but ``<vnet>/<cidr>`` for a subnet, whose PVE id carries the zone); its ``ref`` is
``<kind>/<name>``, the form results and messages use.

Facts from pve-network (libpve-network-perl, at ecf98c5): the pending view's
``state`` and ``pending`` map (SDN.pm pending_config), lock-token semantics
(SDN.pm lock_sdn_config, API2/Network/SDN.pm lock/release_lock/rollback/reload),
list values stored as comma strings.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import (
    ProxmoxApiError,
    ProxmoxError,
    ProxmoxUncertainError,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn_rules import parse_subnet

# --- what the objects look like ----------------------------------------------------------


class Field:
    """One option of an SDN object: its module name, its PVE key and how values compare."""

    def __init__(self, name, kind="str", choices=None, secret=False):
        self.name = name
        self.kind = kind  # str | int | bool | list (comma string in PVE) | ranges (dhcp-range)
        self.key = name.replace("_", "-")
        self.choices = choices
        # A secret (an IPAM token, a DNS API key) is compared like any option - PVE returns it -
        # but never shown: results and diffs carry HIDDEN instead.
        self.secret = secret

    def from_pve(self, value):
        """A value as PVE returns it, in the form the modules use."""
        if self.kind == "int":
            return int(value)
        if self.kind == "bool":
            return bool(int(value))
        if self.kind == "list":
            return sorted(item for item in re.split(r"[,;\s]+", str(value)) if item)
        if self.kind == "ranges":
            return _sorted_ranges(_range_from_pve(item) for item in (value if isinstance(value, list) else [value]))
        return str(value)

    def normalize(self, value):
        """A value given by the user, in the same form; empty means "remove the option"."""
        if self.kind == "list":
            return sorted(str(item) for item in value)
        if self.kind == "ranges":
            return _sorted_ranges(dict(start_address=str(item["start_address"]), end_address=str(item["end_address"])) for item in value)
        if self.kind == "int":
            return int(value)
        if self.kind == "bool":
            return bool(value)
        return str(value)

    def to_pve(self, value):
        """A normalized value as a write parameter."""
        if self.kind == "list":
            return ",".join(value)
        if self.kind == "ranges":
            return ["start-address={0},end-address={1}".format(item["start_address"], item["end_address"]) for item in value]
        return value

    @staticmethod
    def is_empty(value):
        return value == "" or value == []


def _sorted_ranges(ranges):
    return sorted(ranges, key=lambda item: (item["start_address"], item["end_address"]))


def _range_from_pve(item):
    if isinstance(item, dict):
        return dict(start_address=item.get("start-address"), end_address=item.get("end-address"))
    parts = dict(part.split("=", 1) for part in str(item).split(",") if "=" in part)
    return dict(start_address=parts.get("start-address"), end_address=parts.get("end-address"))


HIDDEN = "********"


class Kind:
    """A kind of SDN object: where it lives in the API and which options it has."""

    def __init__(self, name, collection, id_key, fields, create_requires=("type",), pending_view=True, section=None):
        self.name = name
        self.section = section or name + "s"  # its key in diffs: zones, vnets, ..., dns
        # Whether the collection is in the pending/running model and its GET takes `pending`
        # (IPAMs and DNS plugins are not: their index takes only `type`, and a write is live at once).
        self.pending_view = pending_view
        self.collection = collection  # may contain {vnet} for subnets
        self.id_key = id_key
        self.fields = dict((field.name, field) for field in fields)
        self.create_requires = create_requires
        # PVE cannot change a zone's or controller's type (it is a `fixed` option).
        self.fixed = ("type",) if "type" in self.fields else ()

    def collection_path(self, parent=None):
        return self.collection.format(vnet=parent)

    def object_path(self, object_id, parent=None):
        return "{0}/{1}".format(self.collection_path(parent), object_id)

    def shown(self, options, before=None):
        """`options` with secrets hidden; with `before`, a changed secret says so."""
        if not options:
            return options
        shown = dict(options)
        for field in self.fields.values():
            if field.secret and field.name in shown:
                changed = before is not None and before.get(field.name) != shown[field.name]
                shown[field.name] = HIDDEN + (" (changed)" if changed else "")
        return shown

    def options_from_pve(self, entry):
        """The options of one entry of a GET, keyed by module option name."""
        by_key = dict((field.key, field) for field in self.fields.values())
        options = {}
        for key, value in entry.items():
            field = by_key.get(key)
            if field is not None and value not in (None, "", []):
                options[field.name] = field.from_pve(value)
        return options


KINDS = dict((kind.name, kind) for kind in (
    Kind("controller", "/cluster/sdn/controllers", "controller", [
        Field("type", choices=["evpn", "bgp", "isis", "faucet"]), Field("asn", "int"), Field("peers", "list"), Field("fabric"), Field("node"),
        Field("ebgp", "bool"), Field("ebgp_multihop", "int"), Field("loopback"),
        Field("bgp_multipath_as_path_relax", "bool"), Field("isis_domain"), Field("isis_net"),
        Field("isis_ifaces", "list"),
    ]),
    Kind("zone", "/cluster/sdn/zones", "zone", [
        Field("type", choices=["simple", "vlan", "qinq", "vxlan", "evpn", "faucet"]), Field("nodes", "list"),
        Field("ipam"), Field("dns"), Field("reversedns"), Field("dnszone"),
        Field("mtu", "int"), Field("bridge"), Field("bridge_disable_mac_learning", "bool"), Field("tag", "int"),
        Field("vlan_protocol", choices=["802.1q", "802.1ad"]), Field("peers", "list"), Field("fabric"), Field("vxlan_port", "int"),
        Field("controller"), Field("vrf_vxlan", "int"), Field("exitnodes", "list"),
        Field("exitnodes_local_routing", "bool"), Field("exitnodes_primary"), Field("advertise_subnets", "bool"),
        Field("disable_arp_nd_suppression", "bool"), Field("rt_import", "list"), Field("mac"), Field("dhcp", choices=["dnsmasq"]),
        Field("dp_id", "int"),
    ]),
    Kind("vnet", "/cluster/sdn/vnets", "vnet", [
        Field("zone"), Field("tag", "int"), Field("alias"), Field("vlanaware", "bool"), Field("isolate_ports", "bool"),
    ], create_requires=("zone",)),
    Kind("subnet", "/cluster/sdn/vnets/{vnet}/subnets", "subnet", [
        Field("gateway"), Field("snat", "bool"), Field("dnszoneprefix"), Field("dhcp_range", "ranges"),
        Field("dhcp_dns_server"),
    ], create_requires=()),
    # Options per type: pve-network Ipams/{NetboxPlugin,PhpIpamPlugin}.pm and Dns/PowerdnsPlugin.pm
    # options(). PowerDNS refuses the base plugin's reversev6mask ("unexpected property"), so it is left out.
    Kind("ipam", "/cluster/sdn/ipams", "ipam", [
        Field("type", choices=["pve", "netbox", "phpipam"]), Field("url"), Field("token", secret=True), Field("section", "int"),
        Field("fingerprint"),
    ], pending_view=False),
    Kind("dns", "/cluster/sdn/dns", "dns", [
        Field("type", choices=["powerdns"]), Field("url"), Field("key", secret=True), Field("reversemaskv6", "int"),
        Field("ttl", "int"), Field("fingerprint"),
    ], pending_view=False, section="dns"),
))

# Parents before children: the order of creates and updates (deletes go the other way).
WRITE_ORDER = ("ipam", "dns", "controller", "zone", "vnet", "subnet")

# Module option specs for each kind, for argument_spec and the declarative module's suboptions.
OPTION_TYPES = {"str": "str", "int": "int", "bool": "bool", "list": "list", "ranges": "list"}


def option_spec(kind_name, skip=()):
    """argument_spec entries for the options of a kind (type and list element types)."""
    spec = {}
    for field in KINDS[kind_name].fields.values():
        if field.name in skip:
            continue
        entry = dict(type=OPTION_TYPES[field.kind])
        if field.secret:
            entry["no_log"] = True
        if field.choices:
            entry["choices"] = field.choices
        if field.kind == "list":
            entry["elements"] = "str"
        elif field.kind == "ranges":
            entry.update(elements="dict", options=dict(start_address=dict(type="str", required=True),
                                                       end_address=dict(type="str", required=True)))
        spec[field.name] = entry
    return spec


TRANSACTION_SPEC = dict(
    apply=dict(type="bool", default=False),
    apply_timeout=dict(type="int", default=300),
    lock_token=dict(type="str", no_log=True),
    allow_foreign_pending=dict(type="bool", default=False),
)


# --- ids ------------------------------------------------------------------------------------


def subnet_cidr(text, where):
    """(network CIDR, error): the canonical network of a subnet, refusing host bits."""
    network, error = parse_subnet(text, where)
    return (str(network) if network is not None else None), error


def object_ref(kind_name, name):
    """How objects are named in results and messages: <kind>/<name> (subnets: subnet/<vnet>/<cidr>)."""
    return "{0}/{1}".format(kind_name, name)


def subnet_name(vnet, cidr):
    """A subnet's name: its VNet and CIDR (PVE's id carries the zone instead)."""
    return "{0}/{1}".format(vnet, cidr)


def options_of(kind_name, values):
    """The values of a kind's options that are set (unset means "leave alone")."""
    return dict((name, values[name]) for name in KINDS[kind_name].fields if values.get(name) is not None)


def subnet_id(zone, cidr):
    """PVE's subnet id: <zone>-<network>-<prefix length> (Subnets.pm)."""
    return "{0}-{1}".format(zone, cidr.replace("/", "-"))


def cidr_of_subnet_id(object_id):
    """The CIDR inside a subnet id (the zone part has no '-', the address may)."""
    _zone, rest = object_id.split("-", 1)
    network, prefix = rest.rsplit("-", 1)
    return "{0}/{1}".format(network, prefix)


# --- reading ----------------------------------------------------------------------------------


class SdnObject:
    """One object in the pending view: its effective (pending) options and its state."""

    def __init__(self, kind, object_id, options, state=None, parent=None, zone=None, running=None):
        self.kind = kind
        self.id = object_id
        self.options = options
        self.running = running  # options in the running config; None for a new object
        self.state = state  # None (applied), "new", "changed" or "deleted"
        self.parent = parent
        self.zone = zone

    @property
    def exists(self):
        """Whether the object is in the pending config (a pending deletion is not)."""
        return self.state != "deleted"

    @property
    def ref(self):
        return object_ref(self.kind.name, self.name)

    @property
    def name(self):
        if self.kind.name == "subnet":
            return subnet_name(self.parent, cidr_of_subnet_id(self.id))
        return self.id

    def as_result(self):
        """The object as PVE holds it (pending view), keyed by module option names."""
        result = {self.kind.id_key if self.kind.name != "subnet" else "subnet":
                  cidr_of_subnet_id(self.id) if self.kind.name == "subnet" else self.id}
        result.update(self.kind.shown(self.options))
        if self.kind.name == "subnet":
            result.update(vnet=self.parent, zone=self.zone)
        result["state"] = self.state or "applied"
        return result


def effective_entry(entry):
    """An entry of a ?pending=1 list with its pending values applied (pending_config)."""
    merged = dict(entry)
    pending = merged.pop("pending", None) or {}
    for key, value in pending.items():
        if value == "deleted":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


class SdnReader:
    """Reads each collection at most once per run, in its pending view."""

    def __init__(self, client):
        self.client = client
        self._cache = {}

    def objects(self, kind_name, parent=None):
        """{id: SdnObject} of one collection (subnets: of one VNet)."""
        cache_key = (kind_name, parent)
        if cache_key not in self._cache:
            self._cache[cache_key] = self._read(KINDS[kind_name], parent)
        return self._cache[cache_key]

    def reread(self, kind_name, parent=None):
        """The collection as PVE holds it now (bypassing and refreshing the cache)."""
        self._cache.pop((kind_name, parent), None)
        return self.objects(kind_name, parent)

    def _read(self, kind, parent):
        found = {}
        try:
            entries = self.client.get(kind.collection_path(parent), **({"pending": 1} if kind.pending_view else {}))
        except ProxmoxApiError as error:
            if parent is not None and "does not exist" in str(error.reason):
                entries = []  # the VNet is not there yet, so neither are its subnets
            else:
                raise
        for entry in entries:
            object_id = entry.get(kind.id_key) or entry.get("id")
            if not object_id:
                raise ProxmoxError("GET {0}?pending=1 returned an entry without '{1}' or 'id': {2!r}".format(
                    kind.collection_path(parent), kind.id_key, entry))
            merged = effective_entry(entry)
            where = "{0} '{1}' as returned by GET {2}".format(kind.name, object_id, kind.collection_path(parent))
            running = None if entry.get("state") == "new" else _options_or_error(kind, entry, where)
            found[object_id] = SdnObject(kind, object_id, _options_or_error(kind, merged, where), entry.get("state"),
                                         parent=parent, zone=merged.get("zone"), running=running)
        return found

    def find(self, kind_name, object_id, parent=None):
        """The object if it exists in the pending config, else None."""
        found = self.objects(kind_name, parent).get(object_id)
        return found if found is not None and found.exists else None

    def pending(self):
        """Objects with a pending change among the collections read so far."""
        return [found for objects in self._cache.values() for found in objects.values() if found.state]


def _options_or_error(kind, entry, where):
    try:
        return kind.options_from_pve(entry)
    except (TypeError, ValueError) as error:
        raise ProxmoxError("{0} has a value this module cannot read: {1}".format(where, error))


def read_everything(reader):
    """Read controllers, zones, VNets and every VNet's subnets; return the pending objects."""
    for kind_name in ("controller", "zone"):
        reader.objects(kind_name)
    for vnet in list(reader.objects("vnet").values()):
        if vnet.exists:  # PVE refuses to delete a VNet with subnets, so a deleted one has none
            reader.objects("subnet", parent=vnet.id)
    return reader.pending()


# --- the changes to make ------------------------------------------------------------------------


class Change:
    """One write: create, update or delete of one object, with its before/after."""

    def __init__(self, action, kind, object_id, before, after, parent=None, name=None):
        self.action = action
        self.kind = kind
        self.id = object_id
        self.before = before
        self.after = after
        self.parent = parent
        self.name = name or object_id

    @property
    def ref(self):
        return object_ref(self.kind.name, self.name)

    def request(self, lock_token=None):
        """(method, path, params) of the API call."""
        kind = self.kind
        params = {}
        if self.action == "delete":
            method, path = "DELETE", kind.object_path(self.id, self.parent)
        elif self.action == "create":
            method, path = "POST", kind.collection_path(self.parent)
            params[kind.id_key] = cidr_of_subnet_id(self.id) if kind.name == "subnet" else self.id
            if kind.name == "subnet":
                params["type"] = "subnet"
            for name, value in self.after.items():
                params[kind.fields[name].key] = kind.fields[name].to_pve(value)
        else:
            method, path = "PUT", kind.object_path(self.id, self.parent)
            removed = self.removed()
            for name in sorted(self.after):
                if name != "type" and self.before.get(name) != self.after[name]:
                    params[kind.fields[name].key] = kind.fields[name].to_pve(self.after[name])
            if removed:
                params["delete"] = ",".join(kind.fields[name].key for name in removed)
        if lock_token:
            params["lock-token"] = lock_token
        return method, path, params

    def removed(self):
        return sorted(name for name in self.before if name not in self.after and name != "type")

    def in_place(self, found):
        """After a write with a lost answer: True if PVE holds what this change writes, False if it
        holds what was there before (send it again), None if it holds something else."""
        exists = found is not None and found.exists
        if self.action == "delete":
            return not exists
        if not exists:
            return False
        written = all(found.options.get(name) == value for name, value in self.after.items()) and \
            not any(name in found.options for name in self.removed())
        if written:
            return True
        return False if self.action == "update" else None


class ChangeSet:
    """The writes a run makes, in the order they must be made, and the objects it declares."""

    def __init__(self, reader):
        self.reader = reader
        self.changes = []
        self.declared = []  # (kind name, id, parent, name) of every object the run declares
        self.scope = set()  # refs of every object the run declares or may delete
        self.errors = []

    def present(self, kind_name, object_id, desired, parent=None, name=None, known_absent=False):
        """Declare an object with the given options (absent options are left as they are).

        `known_absent` skips the read when the parent is itself being created."""
        kind = KINDS[kind_name]
        current = None if known_absent else self.reader.find(kind_name, object_id, parent)
        name = name or object_id
        self._declare(kind_name, object_id, parent, name)
        wanted = dict((option, kind.fields[option].normalize(value)) for option, value in desired.items()
                      if value is not None and not Field.is_empty(value))
        emptied = [option for option, value in desired.items() if value is not None and Field.is_empty(value)]
        if current is None:
            missing = [option for option in kind.create_requires if option not in wanted]
            if missing:
                self.errors.append("{0} '{1}' does not exist: {2} required to create it".format(
                    kind_name, name, " and ".join(missing) + (" is" if len(missing) == 1 else " are")))
            self.changes.append(Change("create", kind, object_id, {}, wanted, parent, name))
            return
        for option in kind.fixed:
            if option in wanted and wanted[option] != current.options.get(option):
                self.errors.append("{0} '{1}' has {2} {3}: PVE cannot change it to {4}; remove the {0} first".format(
                    kind_name, name, option, current.options.get(option), wanted[option]))
                return
        after = dict(current.options)
        after.update(wanted)
        for option in emptied:
            after.pop(option, None)
        if after != current.options:
            self.changes.append(Change("update", kind, object_id, dict(current.options), after, parent, name))

    def absent(self, kind_name, object_id, parent=None, name=None):
        """Declare that an object must not exist."""
        name = name or object_id
        self._declare(kind_name, object_id, parent, name)
        current = self.reader.find(kind_name, object_id, parent)
        if current is not None:
            self.changes.append(Change("delete", KINDS[kind_name], object_id, dict(current.options), {}, parent, name))

    def _declare(self, kind_name, object_id, parent, name):
        self.scope.add(object_ref(kind_name, name))
        self.declared.append((kind_name, object_id, parent, name))

    def ordered(self):
        """Deletes first, children before parents (a VNet with subnets cannot go, and a VNI
        must be free before another VNet takes it); then creates and updates, parents first.
        IPAMs and DNS plugins are parents of the zones that name them."""
        deletes = [change for kind_name in reversed(WRITE_ORDER)
                   for change in self.changes if change.action == "delete" and change.kind.name == kind_name]
        writes = [change for kind_name in WRITE_ORDER
                  for change in self.changes if change.action != "delete" and change.kind.name == kind_name]
        return deletes + writes

    def diff(self):
        """before/after of every object the changes touch, by kind and name."""
        before, after = {}, {}
        for change in self.changes:
            section = change.kind.section
            if change.action != "create":
                before.setdefault(section, {})[change.name] = change.kind.shown(change.before)
            if change.action != "delete":
                after.setdefault(section, {})[change.name] = change.kind.shown(change.after, change.before)
        return dict(before=before, after=after)

    def foreign_pending(self):
        """Pending changes the reader saw on objects outside this run's scope."""
        return [found for found in self.reader.pending() if found.ref not in self.scope]

    def own_pending(self):
        return [found for found in self.reader.pending() if found.ref in self.scope]


# --- outcomes and errors -----------------------------------------------------------------------------


class SdnOutcome:
    """What a run did (or, in check mode, would do); becomes the module's result."""

    def __init__(self):
        self.sdn_changes = []
        self.pending = []
        self.changed = False
        self.applied = False
        self.apply_task = None
        self.diff = None
        self.written = []  # refs written and still in place after a failure
        self.rolled_back = []  # refs written, then discarded by a rollback after a failure
        self.uncertain = []  # refs whose write has an unknown outcome
        self.objects = {}  # ref -> the object as PVE holds it after the run

    def as_result(self):
        result = dict(sdn_changes=self.sdn_changes, pending=self.pending, changed=self.changed, applied=self.applied)
        if self.apply_task:
            result["apply_task"] = self.apply_task
        if self.diff is not None:
            result["diff"] = self.diff
        for name in ("written", "rolled_back", "uncertain"):
            if getattr(self, name):
                result[name] = getattr(self, name)
        return result


class SdnError(ProxmoxError):
    """A run that stopped; `outcome` says what it did before, `cause` is the error behind it."""

    def __init__(self, message, outcome, cause=None):
        self.outcome = outcome
        self.cause = cause
        for name in ("method", "path", "status", "reason", "errors"):
            setattr(self, name, getattr(cause, name, None) if cause is not None else None)
        super(SdnError, self).__init__(message)

    @property
    def failure(self):
        failure = self.cause.failure if self.cause is not None else ProxmoxError.failure.fget(self)
        failure = dict(failure)
        if self.outcome is not None and self.outcome.uncertain:
            failure["uncertain"] = True
        return failure

    @property
    def result(self):
        return self.outcome.as_result() if self.outcome is not None else {}


class SdnRequestError(SdnError):
    """The request itself is invalid: nothing was written."""


# --- carrying it out ----------------------------------------------------------------------------

# PVE's lock tokens are UUIDv7 strings (SDN.pm generate_lock_token), so no lock ever has this one.
PROBE_TOKEN = "homecloud-lock-probe"


class SdnTransaction:
    """Writes under one lock token (PVE 9.x) taken lazily, then at most one apply.

    `allow_pending` is the lock's allow-pending flag: true when pending changes were seen
    (this run's scope, or foreign ones the caller accepts). `applying` says whether the run
    ends with an apply: a run that does not may lock over pending changes it did not see.
    """

    def __init__(self, client, lock_token=None, allow_pending=False, applying=True, outcome=None):
        self.client = client
        self.token = lock_token
        self.allow_pending = allow_pending
        self.applying = applying
        self.holds_own_lock = False  # True while a lock this transaction took is held
        self.done = []
        self.outcome = outcome or SdnOutcome()

    @classmethod
    def with_callers_lock(cls, client, lock_token, outcome=None):
        """A transaction that may release `lock_token`, a lock the caller took."""
        transaction = cls(client, lock_token=lock_token, allow_pending=True, outcome=outcome)
        transaction.holds_own_lock = True
        return transaction

    @property
    def uses_lock(self):
        return self.client.version.at_least(9)

    # --- the lock (PVE 9.x) ---

    def lock_is_held(self):
        """Whether anybody holds the global SDN lock. PVE has no read for it: a release with a
        token no lock can have fails only when a lock is held, and changes nothing otherwise."""
        try:
            self.client.delete("/cluster/sdn/lock", **{"lock-token": PROBE_TOKEN})
        except ProxmoxApiError as error:
            if "invalid lock token" in str(error.reason):
                return True
            raise
        return False

    def _lock(self):
        """Take the global SDN lock before the first write (9.x only)."""
        if not self.uses_lock or self.token:
            return
        if self.lock_is_held():
            raise SdnError(self._lock_refusal("the lock is held", False), self.outcome)
        try:
            self.token = self._post_lock()
        except ProxmoxApiError as error:
            refused_for_pending = "pending changes" in str(error.reason)
            if not (refused_for_pending and not self.applying):
                raise SdnError(self._lock_refusal(error.reason, refused_for_pending), self.outcome, error)
            self.allow_pending = True  # not applying: others' pending changes stay as they are
            self.token = self._post_lock()
        self.holds_own_lock = True

    def _post_lock(self):
        try:
            return self.client.post("/cluster/sdn/lock", **{"allow-pending": self.allow_pending})
        except ProxmoxUncertainError as lost:
            # The answer was lost. The lock was free one request earlier, so a lock held now is
            # this request's own (its token never reached us): release it and take it again.
            if self.lock_is_held():
                self.client.delete("/cluster/sdn/lock", force=True)
            try:
                return self.client.post("/cluster/sdn/lock", **{"allow-pending": self.allow_pending})
            except ProxmoxUncertainError:
                raise SdnError("could not take the SDN lock: its answer was lost twice ({0}); nothing was written".format(
                    lost.cause), self.outcome, lost)

    @staticmethod
    def _lock_refusal(reason, refused_for_pending):
        if refused_for_pending:
            return ("the SDN configuration has pending SDN changes that this run did not make (PVE refused the lock: {0}); "
                    "apply or roll them back first, or set allow_foreign_pending=true to include them".format(reason))
        return ("the SDN configuration is locked by another client (PVE: {0}); nothing was written. Wait for it, or "
                "release a stale lock with homecloud.proxmox.sdn_apply state=unlocked force=true".format(reason))

    def release(self):
        """Give the lock back if this transaction holds it (never an external one)."""
        if not self.holds_own_lock:
            return
        try:
            self.client.delete("/cluster/sdn/lock", confirm=lambda: not self.lock_is_held(), **{"lock-token": self.token})
        except ProxmoxApiError:
            pass  # already released by PVE; nothing is left to undo
        self.holds_own_lock = False

    # --- writes ---

    def write(self, changes):
        """Carry out the changes; on failure roll back (9.x) when that is safe, and explain."""
        reader = changes.reader
        for change in changes.ordered():
            self._lock()
            method, path, params = change.request(self.token if self.uses_lock else None)

            def confirm(change=change):
                return change.in_place(reader.reread(change.kind.name, change.parent).get(change.id))

            try:
                self.client.request(method, path, confirm=confirm, **params)
            except ProxmoxError as error:
                if isinstance(error, ProxmoxUncertainError):
                    self.outcome.uncertain.append(change.ref)
                raise SdnError("{0} of {1} failed: {2}; {3}".format(change.action, change.ref, error, self._undo()),
                               self.outcome, error)
            self.done.append(change)

    def _undo(self):
        """Roll back what this run wrote, when that discards nothing of anybody else."""
        written = [change.ref for change in self.done]
        if self.holds_own_lock and not self.allow_pending and self.token:
            try:
                self.rollback()
            except ProxmoxError as error:
                self.outcome.written = written + self.outcome.uncertain
                return "the rollback failed too ({0}); written before the failure and still pending: {1}".format(
                    error, ", ".join(written) or "nothing")
            self.outcome.rolled_back = written + self.outcome.uncertain
            return "all pending SDN changes were rolled back (POST /cluster/sdn/rollback) and the lock released; " \
                   "nothing this run wrote is left (rolled back: {0})".format(", ".join(self.outcome.rolled_back) or "nothing")
        if not self.uses_lock:
            why = "PVE {0} has no SDN rollback".format(self.client.version)
        elif not self.holds_own_lock:
            why = "the lock is the caller's (lock_token); discard with homecloud.proxmox.sdn_apply state=rolled_back"
        else:
            why = "other changes were already pending when the lock was taken, and a rollback would discard them too"
        self.release()
        self.outcome.written = written
        return "not rolled back ({0}); written before the failure and still pending: {1}".format(
            why, ", ".join(written) or "nothing")

    def _nothing_pending(self):
        """After a lost answer of an apply or a rollback: True if nothing is pending any more."""
        return not read_everything(SdnReader(self.client))

    def rollback(self):
        """Discard every pending change (PVE 9.x), under the lock, releasing it."""
        self._lock()
        self.client.post("/cluster/sdn/rollback", confirm=self._nothing_pending,
                         **{"lock-token": self.token, "release-lock": True})
        self.holds_own_lock = False

    def apply(self, timeout):
        """PUT /cluster/sdn (under the lock on 9.x) and wait for the reload task.

        An apply whose answer is lost is never sent again blindly (a second one would start
        another cluster-wide reload): if nothing is pending any more it happened, and its
        task is looked up in the cluster's task list; otherwise it is sent again."""
        params = {}
        if self.uses_lock:
            self._lock()
            params = {"lock-token": self.token, "release-lock": True}
        upid = self.client.put("/cluster/sdn", confirm=self._nothing_pending, **params)
        # PVE commits and releases the lock before it starts the reload task, so a task that
        # fails afterwards leaves no lock behind.
        self.holds_own_lock = False
        if upid is None:
            upid = self._apply_task()
        self.outcome.applied = True
        self.outcome.apply_task = upid
        return self.client.wait_task(upid, timeout=timeout, what="SDN apply (PUT /cluster/sdn)")

    def _apply_task(self):
        """The newest network reload task of this client's user (GET /cluster/tasks)."""
        userid = self.client.userid
        for task in self.client.get("/cluster/tasks"):
            # PVE answers a token's task as user + tokenid (pve-manager Tasks.pm $convert_token_task)
            owner = task.get("user", "") + ("!" + task["tokenid"] if task.get("tokenid") else "")
            if task.get("type") == "reloadnetworkall" and owner == userid:
                return task["upid"]
        raise SdnError("the SDN configuration was applied (nothing is pending any more), but its answer was lost and "
                       "no reload task of {0} is in GET /cluster/tasks; check the nodes' network state".format(userid),
                       self.outcome)


def converge(client, changes, apply, apply_timeout, lock_token=None, allow_foreign_pending=False, check_mode=False,
             diff=False):
    """Carry out a ChangeSet: checks, writes, apply. Returns an SdnOutcome or raises an SdnError."""
    outcome = SdnOutcome()
    if changes.errors:
        raise SdnRequestError("invalid SDN request, nothing was changed:\n" + "\n".join(changes.errors), outcome)
    if apply and not allow_foreign_pending and (changes.changes or changes.own_pending()):
        # An apply activates everything pending: look at every collection first, so that a
        # pending change outside this task's objects is found before any write, on 8.x too.
        read_everything(changes.reader)
    foreign = changes.foreign_pending()
    own_pending = changes.own_pending()
    outcome.sdn_changes = [change.ref for change in changes.changes]
    outcome.pending = sorted(found.ref for found in foreign + own_pending)
    if diff:
        outcome.diff = changes.diff()
    if foreign and apply and not allow_foreign_pending:
        raise SdnError("pending SDN changes that this run did not make: {0}; an apply would include them. "
                       "Apply or roll them back first, or set allow_foreign_pending=true; nothing was written".format(
                           ", ".join(sorted(found.ref for found in foreign))), outcome)
    needs_apply = apply and bool(changes.changes or own_pending or (allow_foreign_pending and foreign))
    outcome.changed = bool(changes.changes) or needs_apply
    if check_mode or not outcome.changed:
        outcome.applied = needs_apply and check_mode
        return outcome
    transaction = SdnTransaction(client, lock_token=lock_token, applying=needs_apply, outcome=outcome,
                                 allow_pending=bool(foreign or own_pending) or allow_foreign_pending)
    try:
        transaction.write(changes)
        if needs_apply:
            transaction.apply(apply_timeout)
        else:
            transaction.release()
    except SdnError:
        transaction.release()
        outcome.changed = bool(outcome.written or outcome.applied or (outcome.uncertain and not outcome.rolled_back))
        raise
    except ProxmoxError as error:
        transaction.release()
        written = [change.ref for change in transaction.done]
        outcome.written = written
        outcome.changed = bool(written or outcome.applied)
        raise SdnError("{0}; written before the failure: {1}".format(error, ", ".join(written) or "nothing"), outcome, error)
    return outcome


def objects_after(client, changes, outcome, check_mode):
    """{ref: object as PVE holds it} for every declared object: re-read once per collection when
    the run wrote (or, in check mode, as planned), from the run's own reads otherwise."""
    reader = SdnReader(client) if outcome.changed and not check_mode else changes.reader
    planned = dict((change.ref, change) for change in changes.changes) if check_mode else {}
    result = {}
    for kind_name, object_id, parent, name in changes.declared:
        ref = object_ref(kind_name, name)
        if ref in planned:
            change = planned[ref]
            result[ref] = None if change.action == "delete" else dict(change.kind.shown(change.after), state="planned")
            continue
        found = reader.find(kind_name, object_id, parent)
        result[ref] = found.as_result() if found is not None else None
    return result
