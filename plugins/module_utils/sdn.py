# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The SDN engine every SDN module shares.

Reads the pending view of SDN objects (``?pending=1``), compares it with the
desired state, plans the writes (the plan is the check-mode prediction and the
diff), and carries them out inside one transaction: on PVE 9.x under one lock
token taken only when a write is due, with a rollback if a write fails; then at
most one apply (``PUT /cluster/sdn``) whose task is awaited.

Facts from pve-network (libpve-network-perl): the pending view's ``state`` and
``pending`` map (PVE::Network::SDN::pending_config), id rules, lock-token
semantics (SDN.pm lock_sdn_config), list values stored as comma strings.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxApiError, ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.planning import (
    CONTROLLER_ID_MAX_LENGTH,
    CONTROLLER_ID_PATTERN,
    SDN_ID_MAX_LENGTH,
    SDN_ID_PATTERN,
)

# --- what the objects look like ----------------------------------------------------------


class Field:
    """One option of an SDN object: its module name, its PVE key and how values compare."""

    def __init__(self, name, kind="str", choices=None):
        self.name = name
        self.kind = kind  # str | int | bool | list (comma string in PVE) | ranges (dhcp-range)
        self.key = name.replace("_", "-")
        self.choices = choices

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


class Kind:
    """A kind of SDN object: where it lives in the API and which options it has."""

    def __init__(self, name, collection, id_key, fields, create_requires=("type",)):
        self.name = name
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
))

# Module option specs for each kind, for argument_spec and the declarative module's suboptions.
OPTION_TYPES = {"str": "str", "int": "int", "bool": "bool", "list": "list", "ranges": "list"}


def option_spec(kind_name, skip=()):
    """argument_spec entries for the options of a kind (type and list element types)."""
    spec = {}
    for field in KINDS[kind_name].fields.values():
        if field.name in skip:
            continue
        entry = dict(type=OPTION_TYPES[field.kind])
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
    lock_token=dict(type="str", no_log=False),
    allow_foreign_pending=dict(type="bool", default=False),
)


# --- ids ------------------------------------------------------------------------------------

ID_RULES = {
    "zone": (SDN_ID_PATTERN, SDN_ID_MAX_LENGTH),
    "vnet": (SDN_ID_PATTERN, SDN_ID_MAX_LENGTH),
    "controller": (CONTROLLER_ID_PATTERN, CONTROLLER_ID_MAX_LENGTH),
}


def check_id(kind_name, object_id, where):
    """An error message if `object_id` breaks PVE's id rule for the kind, else None."""
    pattern, longest = ID_RULES[kind_name]
    if not pattern.match(object_id or "") or len(object_id) > longest:
        return "{0}: {1} id '{2}' must be 2 to {3} characters, start with a letter and match {4}".format(
            where, kind_name, object_id, longest, pattern.pattern)
    return None


def subnet_cidr(text, where):
    """(network CIDR, error): the canonical network of a subnet, refusing host bits."""
    if "/" not in str(text):
        return None, "{0}: subnet '{1}' needs its prefix length, like 10.0.1.0/24".format(where, text)
    try:
        network = ipaddress.ip_network(u"{0}".format(text), strict=True)
    except ValueError as error:
        return None, "{0}: subnet '{1}' is not a network in CIDR form like 10.0.1.0/24 ({2})".format(where, text, error)
    return str(network), None


def object_key(kind_name, label):
    """How objects are named in results and scopes: kind/label (subnets: subnet/<vnet>/<cidr>)."""
    return "{0}/{1}".format(kind_name, label)


def subnet_label(vnet, cidr):
    """A subnet's label: its VNet and CIDR (PVE's id carries the zone instead)."""
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
    def key(self):
        return object_key(self.kind.name, self.label)

    @property
    def label(self):
        if self.kind.name == "subnet":
            return subnet_label(self.parent, cidr_of_subnet_id(self.id))
        return self.id


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
            kind = KINDS[kind_name]
            found = {}
            try:
                entries = self.client.get(kind.collection_path(parent), pending=1)
            except ProxmoxApiError as error:
                if parent is not None and "does not exist" in str(error.reason):
                    entries = []  # the VNet is not there yet, so neither are its subnets
                else:
                    raise
            for entry in entries:
                merged = effective_entry(entry)
                object_id = entry.get(kind.id_key) or entry.get("id")
                running = None if entry.get("state") == "new" else kind.options_from_pve(entry)
                found[object_id] = SdnObject(kind, object_id, kind.options_from_pve(merged), entry.get("state"),
                                             parent=parent, zone=merged.get("zone"), running=running)
            self._cache[cache_key] = found
        return self._cache[cache_key]

    def find(self, kind_name, object_id, parent=None):
        """The object if it exists in the pending config, else None."""
        found = self.objects(kind_name, parent).get(object_id)
        return found if found is not None and found.exists else None

    def pending(self):
        """Objects with a pending change among the collections read so far."""
        return [found for objects in self._cache.values() for found in objects.values() if found.state]


# --- planning ---------------------------------------------------------------------------------


class Change:
    """One write: create, update or delete of one object, with its before/after."""

    def __init__(self, action, kind, object_id, before, after, parent=None, label=None):
        self.action = action
        self.kind = kind
        self.id = object_id
        self.before = before
        self.after = after
        self.parent = parent
        self.label = label or object_id

    @property
    def key(self):
        return object_key(self.kind.name, self.label)

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
            removed = []
            for name in sorted(set(self.before) | set(self.after)):
                if name == "type":
                    continue
                if name not in self.after:
                    removed.append(kind.fields[name].key)
                elif self.before.get(name) != self.after[name]:
                    params[kind.fields[name].key] = kind.fields[name].to_pve(self.after[name])
            if removed:
                params["delete"] = ",".join(removed)
        if lock_token:
            params["lock-token"] = lock_token
        return method, path, params


class SdnPlan:
    """The changes a run makes, in the order they must be made."""

    def __init__(self, reader):
        self.reader = reader
        self.changes = []
        self.scope = set()  # keys of every object the run declares or may delete
        self.errors = []

    def present(self, kind_name, object_id, desired, parent=None, label=None, known_absent=False):
        """Declare an object with the given options (absent options are left as they are).

        `known_absent` skips the read when the parent is itself being created."""
        kind = KINDS[kind_name]
        current = None if known_absent else self.reader.find(kind_name, object_id, parent)
        label = label or object_id
        self.scope.add(object_key(kind_name, label))
        wanted = dict((name, kind.fields[name].normalize(value)) for name, value in desired.items()
                      if value is not None and not Field.is_empty(value))
        emptied = [name for name, value in desired.items() if value is not None and Field.is_empty(value)]
        if current is None:
            missing = [name for name in kind.create_requires if name not in wanted]
            if missing:
                self.errors.append("{0} '{1}' does not exist: {2} required to create it".format(
                    kind_name, label, " and ".join(missing) + (" is" if len(missing) == 1 else " are")))
            self.changes.append(Change("create", kind, object_id, {}, wanted, parent, label))
            return
        for name in kind.fixed:
            if name in wanted and wanted[name] != current.options.get(name):
                self.errors.append("{0} '{1}' has {2} {3}: PVE cannot change it to {4}; remove the {0} first".format(
                    kind_name, label, name, current.options.get(name), wanted[name]))
                return
        after = dict(current.options)
        after.update(wanted)
        for name in emptied:
            after.pop(name, None)
        if after != current.options:
            self.changes.append(Change("update", kind, object_id, dict(current.options), after, parent, label))

    def absent(self, kind_name, object_id, parent=None, label=None):
        """Declare that an object must not exist."""
        label = label or object_id
        self.scope.add(object_key(kind_name, label))
        current = self.reader.find(kind_name, object_id, parent)
        if current is not None:
            self.changes.append(Change("delete", KINDS[kind_name], object_id, dict(current.options), {}, parent, label))

    def ordered(self):
        """Deletes first, children before parents (a VNet with subnets cannot go, and a VNI
        must be free before another VNet takes it); then creates and updates, parents first."""
        deletes = [change for kind_name in ("subnet", "vnet", "zone", "controller")
                   for change in self.changes if change.action == "delete" and change.kind.name == kind_name]
        writes = [change for kind_name in ("controller", "zone", "vnet", "subnet")
                  for change in self.changes if change.action != "delete" and change.kind.name == kind_name]
        return deletes + writes

    def diff(self):
        """before/after of every object the plan changes, keyed by kind and label."""
        before, after = {}, {}
        for change in self.changes:
            section = change.kind.name + "s"
            if change.action != "create":
                before.setdefault(section, {})[change.label] = change.before
            if change.action != "delete":
                after.setdefault(section, {})[change.label] = change.after
        return dict(before=before, after=after)

    def foreign_pending(self):
        """Pending changes the reader saw on objects outside this plan's scope."""
        return [found for found in self.reader.pending() if found.key not in self.scope]

    def own_pending(self):
        return [found for found in self.reader.pending() if found.key in self.scope]


# --- carrying it out ----------------------------------------------------------------------------


class SdnTransactionError(ProxmoxError):
    """A write or the apply failed; the message says what was rolled back or left pending."""


class SdnTransaction:
    """Writes under one lock token (PVE 9.x) taken lazily, then at most one apply.

    `allow_pending` is the lock's allow-pending flag: true when pending changes were seen
    (this run's scope, or foreign ones the caller accepts). `applying` says whether the run
    ends with an apply: a run that does not may lock over pending changes it did not see.
    """

    def __init__(self, client, lock_token=None, allow_pending=False, applying=True):
        self.client = client
        self.token = lock_token
        self.allow_pending = allow_pending
        self.applying = applying
        self.locked_by_us = False
        self.done = []

    @property
    def uses_lock(self):
        return self.client.version.at_least(9)

    def _lock(self):
        """Take the global SDN lock before the first write (9.x only)."""
        if not self.uses_lock or self.token:
            return
        try:
            self.token = self.client.post("/cluster/sdn/lock", **{"allow-pending": self.allow_pending})
        except ProxmoxApiError as error:
            refused_for_pending = "pending changes" in str(error.reason)
            if not (refused_for_pending and not self.applying):
                raise SdnTransactionError(self._lock_refusal(error, refused_for_pending))
            self.allow_pending = True  # not applying: others' pending changes stay as they are
            self.token = self.client.post("/cluster/sdn/lock", **{"allow-pending": True})
        self.locked_by_us = True

    @staticmethod
    def _lock_refusal(error, refused_for_pending):
        if refused_for_pending:
            return ("the SDN configuration has pending SDN changes that this run did not make (PVE refused the lock: {0}); "
                    "apply or roll them back first, or set allow_foreign_pending=true to include them".format(error.reason))
        if "lock" in str(error.reason):
            return ("the SDN configuration is locked by another client (PVE: {0}); wait for it, or release a stale lock "
                    "with homecloud.proxmox.sdn_apply state=unlocked force=true".format(error.reason))
        return str(error)

    def write(self, plan):
        """Carry out the plan's changes; on failure roll back (9.x) and explain."""
        for change in plan.ordered():
            self._lock()
            method, path, params = change.request(self.token if self.uses_lock else None)
            try:
                self.client.request(method, path, **params)
            except ProxmoxError as error:
                raise SdnTransactionError("{0} of {1} failed: {2}; {3}".format(
                    change.action, change.key, error, self._undo()))
            self.done.append(change)

    def _undo(self):
        """Roll back what this run wrote, when that discards nothing of anybody else."""
        written = ", ".join(change.key for change in self.done) or "nothing"
        if self.locked_by_us and not self.allow_pending:
            try:
                self.rollback()
            except ProxmoxError as error:
                return "the rollback failed too ({0}); written before the failure and still pending: {1}".format(error, written)
            return "all pending SDN changes were rolled back (POST /cluster/sdn/rollback) and the lock released; " \
                   "written before the failure: {0}".format(written)
        if not self.uses_lock:
            why = "PVE {0} has no SDN rollback".format(self.client.version)
        elif not self.locked_by_us:
            why = "the lock is the caller's (lock_token); discard with homecloud.proxmox.sdn_apply state=rolled_back"
        else:
            why = "other changes were already pending when the lock was taken, and a rollback would discard them too"
        self.release()
        return "not rolled back ({0}); written before the failure and still pending: {1}".format(why, written)

    def rollback(self):
        """Discard every pending change (PVE 9.x), under the lock, releasing it."""
        self._lock()
        self.client.post("/cluster/sdn/rollback", **{"lock-token": self.token, "release-lock": True})
        self.locked_by_us = False

    def apply(self, timeout):
        """PUT /cluster/sdn (under the lock on 9.x) and wait for the reload task."""
        params = {}
        if self.uses_lock:
            self._lock()
            params = {"lock-token": self.token, "release-lock": True}
        upid = self.client.put("/cluster/sdn", **params)
        # PVE commits and releases the lock before it starts the reload task, so a task that
        # fails afterwards leaves no lock behind.
        self.locked_by_us = False
        return self.client.wait_task(upid, timeout=timeout, what="SDN apply (PUT /cluster/sdn)")

    def release(self):
        """Give the lock back if this run took it (never an external one)."""
        if self.locked_by_us:
            try:
                self.client.delete("/cluster/sdn/lock", **{"lock-token": self.token})
            except ProxmoxApiError:
                pass  # already released by PVE; nothing is left to undo
            self.locked_by_us = False


def converge(module_base, plan, apply, apply_timeout, lock_token=None, allow_foreign_pending=False):
    """Run a plan for a module: check mode, diff, transaction, apply. Fills module_base.result."""
    module = module_base.module
    result = module_base.result
    if plan.errors:
        module.fail_json(msg="invalid SDN request, nothing was changed:\n" + "\n".join(plan.errors), **result)
    if apply and not allow_foreign_pending and (plan.changes or plan.own_pending()):
        # An apply activates everything pending: look at every collection first, so that a
        # pending change outside this task's objects is found before any write, on 8.x too.
        read_everything(plan.reader)
    foreign = plan.foreign_pending()
    own_pending = plan.own_pending()
    result["sdn_changes"] = [change.key for change in plan.changes]
    result["pending"] = sorted(found.key for found in foreign + own_pending)
    if foreign and apply and not allow_foreign_pending:
        module.fail_json(msg="pending SDN changes that this run did not make: {0}; an apply would include them. "
                             "Apply or roll them back first, or set allow_foreign_pending=true".format(
                                 ", ".join(sorted(found.key for found in foreign))), **result)
    needs_apply = apply and bool(plan.changes or own_pending or (allow_foreign_pending and foreign))
    result["changed"] = bool(plan.changes) or needs_apply
    result["applied"] = False
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = plan.diff()
    if module.check_mode or not result["changed"]:
        result["applied"] = needs_apply and module.check_mode
        return
    transaction = SdnTransaction(module_base.client, lock_token=lock_token, applying=needs_apply,
                                 allow_pending=bool(foreign or own_pending) or allow_foreign_pending)
    try:
        transaction.write(plan)
        if needs_apply:
            task = transaction.apply(apply_timeout)
            result["applied"] = True
            result["apply_task"] = task.get("upid")
        else:
            transaction.release()
    except ProxmoxError:
        transaction.release()
        raise


def read_everything(reader):
    """Read controllers, zones, VNets and every VNet's subnets; return the pending objects."""
    for kind_name in ("controller", "zone"):
        reader.objects(kind_name)
    for vnet in list(reader.objects("vnet").values()):
        if vnet.exists:  # PVE refuses to delete a VNet with subnets, so a deleted one has none
            reader.objects("subnet", parent=vnet.id)
    return reader.pending()
