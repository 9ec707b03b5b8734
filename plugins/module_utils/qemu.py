# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The QEMU guest configuration as PVE writes it, and the field-by-field comparison.

A guest's configuration (``GET /nodes/{node}/qemu/{vmid}/config``) is a flat map of
keys whose values are PVE property strings: drives (``local-zfs:vm-101-disk-0,
iothread=1,size=32G``), NICs (``virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1``),
cloud-init IP settings (``ip=10.0.1.20/24,gw=10.0.1.1``). PVE prints a property string
with its default key first, then the other keys sorted (pve-common
src/PVE/JSONSchema.pm print_property_string), but it stores some values as the client
sent them (ipconfig, sshkeys), so two texts are compared by what they mean, never as
text: that is what makes a second run write nothing (community.proxmox issues #24 and
#200: cloud-init settings compared as text are never equal).

Pending values: on a running guest PVE keeps what it cannot apply live in the
``[PENDING]`` section (qemu-server src/PVE/QemuServer.pm vmconfig_hotplug_pending); a
``GET .../config`` answers with them applied, ``GET .../pending`` lists them. A value
pending counts as written; it only says the guest needs a restart to run with it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

try:
    from urllib.parse import quote, unquote
except ImportError:  # pragma: no cover - Python 2 is not supported by the collection
    from urllib import quote, unquote  # pylint: disable=no-name-in-module

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxApiError, ProxmoxError

UNCHANGED = "nothing was changed"

# pve-common src/PVE/JSONSchema.pm parse_size: a number with an optional K/M/G/T (or KiB...) unit, powers of 1024.
SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT](?:iB)?)?$")
SIZE_UNITS = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
GIB = 1024 ** 3

# qemu-server src/PVE/QemuServer/Drive.pm: the drive buses and their key names.
DRIVE_KEY_RE = re.compile(r"^(ide|sata|scsi|virtio|efidisk|tpmstate)(\d+)$")
# A new volume in a drive option: "<storage>:<size in GiB>" (qemu-server API2/Qemu.pm create_disks).
ALLOC_RE = re.compile(r"^([A-Za-z][A-Za-z0-9\-_.]*):(\d+(?:\.\d+)?)$")

# qemu-server src/PVE/QemuServer/Network.pm $nic_model_list
NIC_MODELS = ("e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e", "i82551", "i82557b",
              "i82559er", "ne2k_isa", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3")
MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$")
# pve-common PVE/JSONSchema.pm pve-bridge-id: up to 15 characters (a Linux interface name).
BRIDGE_RE = re.compile(r"^[-_.\w\d]{1,15}$")
NIC_COMPARED = ("model", "bridge", "firewall", "tag")

# Network.pm $ipconfig_fmt, in the order the GUI writes them.
IPCONFIG_KEYS = ("ip", "gw", "ip6", "gw6")

# qemu-server src/PVE/QemuServer.pm $confdesc_cloudinit; ipconfig<n> join them.
CLOUD_INIT_KEYS = ("cicustom", "cipassword", "citype", "ciupgrade", "ciuser", "nameserver", "searchdomain", "sshkeys")
# pve-common src/PVE/GuestHelpers.pm / JSONSchema.pm pve-tag
TAG_RE = re.compile(r"^[a-z0-9_][a-z0-9_\-+.]*$", re.I)
# What an OpenSSH public key line starts with (PVE runs ssh-keygen -l on each line: PVE/Tools.pm
# validate_ssh_public_keys); checked here so a bad key fails before any write.
SSH_KEY_RE = re.compile(r"^(ssh-(rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
                        r"(-cert-v01@openssh\.com)?\s+[A-Za-z0-9+/]+={0,3}(\s+.*)?$")
# encodeURIComponent's unreserved characters: the GUI sends sshkeys so (pve-manager www/manager6/qemu/SSHKey.js),
# and qemu-server stores the value as it came (API2/Qemu.pm only unescapes it to validate).
URI_COMPONENT_SAFE = "-_.!~*'()"

MASK = "**********"  # what GET .../config answers for cipassword (API2/Qemu.pm vm_config)


class GuestInputError(ProxmoxError):
    """A declared value PVE would refuse, or a change the module refuses; raised before any write."""


# --- sizes ---------------------------------------------------------------------------------


def parse_size(text, what="size"):
    """Bytes of a PVE size (``32G``, ``512M``, ``1.5T``, ``34359738368``); GuestInputError otherwise."""
    found = SIZE_RE.match(str(text).strip())
    if not found:
        raise GuestInputError("{0}: {1!r} is not a size (a number with an optional K, M, G or T unit); {2}".format(
            what, text, UNCHANGED))
    number, unit = found.group(1), found.group(2)
    return int(float(number) * SIZE_UNITS[unit[0]]) if unit else int(float(number))


def format_size(size):
    """A size as PVE prints it: the largest unit that divides it exactly (JSONSchema.pm format_size)."""
    size = int(size)
    for unit in ("T", "G", "M", "K"):
        if size and size % SIZE_UNITS[unit] == 0:
            return "{0}{1}".format(size // SIZE_UNITS[unit], unit)
    return str(size)


# --- property strings ----------------------------------------------------------------------------


def parse_property_string(text, default_key=None):
    """{key: value} of ``a=1,b=2``; a first item without ``=`` is the default key's value."""
    values = {}
    for position, item in enumerate(part for part in str(text or "").split(",") if part != ""):
        key, sep, value = item.partition("=")
        if not sep:
            if position != 0 or default_key is None:
                raise GuestInputError("{0!r}: item {1!r} has no key".format(text, item))
            key, value = default_key, item
        values[key.strip()] = value.strip()
    return values


def print_property_string(values, default_key=None, first=()):
    """The text PVE prints: the default key's bare value first, then ``first``, then the rest sorted."""
    items = []
    if default_key is not None and values.get(default_key) is not None:
        items.append(str(values[default_key]))
    done = set([default_key])
    for key in list(first) + sorted(values):
        if key in done or values.get(key) is None:
            continue
        done.add(key)
        items.append("{0}={1}".format(key, values[key]))
    return ",".join(items)


# --- drives ------------------------------------------------------------------------------------------------


def is_drive_key(key):
    return bool(DRIVE_KEY_RE.match(str(key)))


def parse_drive(text):
    """A drive option as a dict: ``file`` (the volume id, ``none``, or a ``<storage>:<GiB>`` allocation) and its options."""
    return parse_property_string(text, default_key="file")


def print_drive(drive):
    return print_property_string(drive, default_key="file")


def is_cdrom(drive):
    return drive.get("media") == "cdrom" or drive.get("file") in ("cdrom", "none")


def is_cloudinit(drive):
    """A cloud-init drive: its volume is named vm-<vmid>-cloudinit (Drive.pm drive_is_cloudinit)."""
    return bool(re.search(r"vm-\d+-cloudinit", drive.get("file", "")))


def drive_storage(drive):
    """The storage of a drive's volume (``local-zfs`` of ``local-zfs:vm-101-disk-0``), or None."""
    volid = drive.get("file", "")
    return volid.split(":", 1)[0] if ":" in volid else None


def drive_size(drive):
    """Bytes of a disk: its ``size`` option, or the GiB of a ``<storage>:<GiB>`` allocation; None if unknown."""
    if drive.get("size"):
        return parse_size(drive["size"])
    allocation = ALLOC_RE.match(drive.get("file", ""))
    if allocation:
        return int(float(allocation.group(2)) * GIB)
    return None


def disks_of(config):
    """{key: size in bytes} of the disks of a config (no CD-ROM, no cloud-init drive)."""
    disks = {}
    for key, value in config.items():
        if is_drive_key(key):
            drive = parse_drive(value)
            if not is_cdrom(drive) and not is_cloudinit(drive):
                disks[key] = drive_size(drive)
    return disks


def has_cloudinit_drive(config):
    return any(is_drive_key(key) and is_cloudinit(parse_drive(value)) for key, value in config.items())


def resized(text, size):
    """A drive option text with its size set to ``size`` bytes, as PVE writes it after a resize."""
    drive = parse_drive(text)
    drive["size"] = format_size(size)
    return print_drive(drive)


# --- NICs ----------------------------------------------------------------------------------------------------


def parse_net(text):
    """A ``net<n>`` option as {model, macaddr, bridge, firewall, tag, ...}: ``virtio=<MAC>`` names both model and MAC."""
    net = {}
    for position, item in enumerate(part for part in str(text or "").split(",") if part):
        key, sep, value = item.partition("=")
        if key in NIC_MODELS:
            net["model"] = key
            if sep:
                net["macaddr"] = value.upper()
        elif not sep and position == 0:
            net["model"] = key
        else:
            net[key] = value.upper() if key == "macaddr" else value
    return net


def print_net(net):
    """The text PVE prints: ``<model>=<MAC>`` (or the model alone, PVE then generates the MAC), the rest sorted."""
    values = dict((key, value) for key, value in net.items() if key not in ("model", "macaddr") and value is not None)
    head = net["model"] + ("=" + net["macaddr"] if net.get("macaddr") else "")
    rest = print_property_string(values)
    return head + ("," + rest if rest else "")


def declared_nic(item, index):
    """A declared NIC (module option item) as net fields, checked; GuestInputError names ``nics[index]``."""
    what = "nics[{0}]".format(index)
    model = item.get("model") or "virtio"
    if model not in NIC_MODELS:
        raise GuestInputError("{0}.model: {1!r} is not a NIC model PVE knows ({2}); {3}".format(
            what, model, ", ".join(NIC_MODELS), UNCHANGED))
    bridge = item.get("bridge")
    if not bridge or not BRIDGE_RE.match(str(bridge)):
        raise GuestInputError("{0}.bridge: {1!r} is not a bridge or VNet name; {2}".format(what, bridge, UNCHANGED))
    net = dict(model=model, bridge=str(bridge), firewall="1" if item.get("firewall", True) else "0")
    if item.get("tag") is not None:
        tag = int(item["tag"])
        if not 1 <= tag <= 4094:
            raise GuestInputError("{0}.tag: {1} is not a VLAN tag (1-4094); {2}".format(what, tag, UNCHANGED))
        net["tag"] = str(tag)
    if item.get("macaddr"):
        if not MAC_RE.match(str(item["macaddr"])):
            raise GuestInputError("{0}.macaddr: {1!r} is not a MAC address; {2}".format(what, item["macaddr"], UNCHANGED))
        net["macaddr"] = str(item["macaddr"]).upper()
    return net


def nic_value(declared, current_text=None):
    """The ``net<n>`` text that gives the guest the declared NIC.

    Compared fields are model, bridge, firewall and tag (and the MAC when one is declared);
    the MAC PVE generated and options the task does not model (mtu, queues, rate) are kept.
    A NIC that does not exist yet is sent without MAC unless one is declared: PVE generates it.
    """
    net = parse_net(current_text) if current_text else {}
    for key in NIC_COMPARED:
        net.pop(key, None)
    if "macaddr" in declared:
        net["macaddr"] = declared["macaddr"]
    net.update((key, value) for key, value in declared.items() if key != "macaddr")
    return print_net(net)


def same_net(current_text, desired_text):
    current, desired = parse_net(current_text), parse_net(desired_text)
    current.setdefault("firewall", "0")
    desired.setdefault("firewall", "0")
    if "macaddr" not in desired:
        current.pop("macaddr", None)
    return current == desired


# --- cloud-init ---------------------------------------------------------------------------------------------


def _interface(text, version, what):
    try:
        address = ipaddress.ip_interface(str(text))
    except ValueError:
        address = None
    if address is None or address.version != version or "/" not in str(text):
        raise GuestInputError("{0}: {1!r} is not an IPv{2} address in CIDR form (10.0.1.20/24){3}; {4}".format(
            what, text, version, " or dhcp" if version == 4 else ", dhcp or auto", UNCHANGED))


def _gateway(text, version, what):
    try:
        address = ipaddress.ip_address(str(text))
    except ValueError:
        address = None
    if address is None or address.version != version:
        raise GuestInputError("{0}: {1!r} is not an IPv{2} gateway address; {3}".format(what, text, version, UNCHANGED))


def declared_ipconfig(item, index):
    """A declared ipconfig item as {ip, gw, ip6, gw6} strings, checked as Network.pm parse_ipconfig does."""
    what = "ipconfig[{0}]".format(index)
    config = dict((key, str(item[key])) for key in IPCONFIG_KEYS if item.get(key) not in (None, ""))
    unknown = sorted(set(key for key, value in item.items() if value is not None) - set(IPCONFIG_KEYS))
    if unknown:
        raise GuestInputError("{0}: unknown key(s) {1} (ip, gw, ip6, gw6); {2}".format(what, ", ".join(unknown), UNCHANGED))
    if "ip" not in config and "ip6" not in config:
        raise GuestInputError("{0}: give ip (CIDR or dhcp) and/or ip6 (CIDR, dhcp or auto); {1}".format(what, UNCHANGED))
    if "ip" in config and config["ip"] != "dhcp":
        _interface(config["ip"], 4, what + ".ip")
    if "ip6" in config and config["ip6"] not in ("dhcp", "auto"):
        _interface(config["ip6"], 6, what + ".ip6")
    if "gw" in config:
        if config.get("ip", "dhcp") == "dhcp":
            raise GuestInputError("{0}.gw: a gateway needs a static ip, not dhcp; {1}".format(what, UNCHANGED))
        _gateway(config["gw"], 4, what + ".gw")
    if "gw6" in config:
        if config.get("ip6", "dhcp") in ("dhcp", "auto"):
            raise GuestInputError("{0}.gw6: a gateway needs a static ip6; {1}".format(what, UNCHANGED))
        _gateway(config["gw6"], 6, what + ".gw6")
    return config


def print_ipconfig(config):
    return ",".join("{0}={1}".format(key, config[key]) for key in IPCONFIG_KEYS if config.get(key))


def parse_ipconfig(text):
    return parse_property_string(text)


def same_ipconfig(current_text, desired_text):
    return parse_ipconfig(current_text) == parse_ipconfig(desired_text)


def encode_sshkeys(keys):
    """The ``sshkeys`` value for a list of public keys: one a line, URI-encoded as the GUI sends it."""
    return quote("\n".join(key.strip() for key in keys), safe=URI_COMPONENT_SAFE)


def decode_sshkeys(text):
    """The public keys of a stored ``sshkeys`` value, one a line, blank lines dropped."""
    return [line.strip() for line in unquote(str(text or "")).split("\n") if line.strip()]


def check_sshkeys(keys):
    for index, key in enumerate(keys):
        if not SSH_KEY_RE.match(str(key).strip()) or "\n" in str(key).strip():
            raise GuestInputError("sshkeys[{0}]: {1!r} is not one OpenSSH public key line (type, key, comment); {2}".format(
                index, str(key)[:40], UNCHANGED))


def split_words(value):
    """A list from PVE's address-list / search domain text (space, comma or semicolon separated) or from a list."""
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return [word for word in re.split(r"[\s,;]+", str(value or "")) if word]


def split_tags(value):
    """Tags as a sorted list; PVE sorts and de-duplicates them on write (GuestHelpers.pm get_unique_tags)."""
    return sorted(set(split_words(value)))


def check_tags(tags):
    for tag in tags:
        if not TAG_RE.match(str(tag)):
            raise GuestInputError("tags: {0!r} is not a PVE tag (letters, digits, _ - + .); {1}".format(tag, UNCHANGED))


def agent_enabled(value):
    """Whether an ``agent`` option (``1``, ``enabled=1,fstrim_cloned_disks=1``) turns the agent on."""
    return parse_property_string(value, default_key="enabled").get("enabled", "0") in ("1", "true", "on", "yes")


def agent_value(current_text, enabled):
    """The ``agent`` text that turns the agent on or off, keeping the other agent options."""
    agent = parse_property_string(current_text, default_key="enabled") if current_text else {}
    agent["enabled"] = "1" if enabled else "0"
    return print_property_string(agent, default_key="enabled")


def memory_mib(value):
    """MiB of a ``memory`` option: ``2048`` or ``current=2048`` (PVE 8.1 and later)."""
    if value is None:
        return None
    return int(parse_property_string(value, default_key="current").get("current"))


# --- comparison ----------------------------------------------------------------------------------------------


def same_config_value(key, current, desired):
    """Whether PVE's value of a config key means the desired one (texts compared by meaning)."""
    if current is None or desired is None:
        return current is None and desired is None
    if key.startswith("net") and key[3:].isdigit():
        return same_net(current, desired)
    if key.startswith("ipconfig"):
        return same_ipconfig(current, desired)
    if key == "sshkeys":
        return decode_sshkeys(current) == decode_sshkeys(desired)
    if key == "tags":
        return split_tags(current) == split_tags(desired)
    if key in ("nameserver", "searchdomain"):
        return split_words(current) == split_words(desired)
    if key == "memory":
        return memory_mib(current) == memory_mib(desired)
    if key == "agent":
        return agent_enabled(current) == agent_enabled(desired)
    if key == "description":
        return str(current).strip() == str(desired).strip()
    return str(current) == str(desired)


def config_changes(current, desired):
    """{key: desired text} of every desired key whose value PVE does not hold (pending included)."""
    return dict((key, value) for key, value in desired.items()
                if not same_config_value(key, (current or {}).get(key), value))


def pending_state(answer):
    """(pending {key: value}, pending deletions [key]) of a ``GET .../pending`` answer."""
    values, deleted = {}, []
    for entry in answer or []:
        if entry.get("delete"):
            deleted.append(entry["key"])
        elif "pending" in entry:
            values[entry["key"]] = entry["pending"]
    return values, sorted(deleted)


def pending_keys(answer):
    values, deleted = pending_state(answer)
    return sorted(set(values) | set(deleted))


def written_config(config, pending_answer):
    """The config with its pending values applied: what was written, running or not.

    ``GET .../config`` already answers so (qemu-server API2/Qemu.pm vm_config, without
    ``current``); applying the pending list again keeps that true whatever answered."""
    written = dict((key, value) for key, value in (config or {}).items() if key != "digest")
    values, deleted = pending_state(pending_answer)
    for key, value in values.items():
        if key != "cipassword":  # answered masked with a trailing space
            written[key] = value
    for key in deleted:
        written.pop(key, None)
    return written


def cloudinit_pending_keys(answer):
    """Keys whose value changed since the cloud-init drive was generated (``GET .../cloudinit``)."""
    return sorted(entry["key"] for entry in answer or [] if "pending" in entry or entry.get("delete"))


def needs_restart(key, hotplug=None):
    """Whether a changed key stays pending on a running guest with PVE's hotplug setting (default
    network,disk,usb: QemuServer.pm vmconfig_hotplug_pending), or waits for the cloud-init drive
    to be generated again, which PVE does at the next start (vm_start_nolock)."""
    features = set(split_words(hotplug if hotplug is not None else "network,disk,usb"))
    if str(hotplug) == "1":
        features = set(("network", "disk", "usb"))
    if key in CLOUD_INIT_KEYS or key.startswith("ipconfig"):
        return "cloudinit" not in features
    if key in ("cores", "sockets", "agent", "cpu", "numa", "machine", "bios", "ostype"):
        return True
    if key == "memory":
        return "memory" not in features
    if key.startswith("net"):
        return "network" not in features
    if is_drive_key(key):
        return "disk" not in features
    return False


def config_view(config, fields):
    """The declared fields of a config as the module's options name them (for diffs and results)."""
    view = {}
    for field in fields:
        if field in ("nics", "ipconfig"):
            prefix = "net" if field == "nics" else "ipconfig"
            parse = parse_net if field == "nics" else parse_ipconfig
            indexes = sorted(int(key[len(prefix):]) for key in config if re.match(r"^{0}\d+$".format(prefix), key))
            view[field] = dict(("{0}{1}".format(prefix, index), parse(config["{0}{1}".format(prefix, index)])) for index in indexes)
        elif field == "disks":
            view[field] = dict((key, format_size(size) if size is not None else None) for key, size in disks_of(config).items())
        elif field == "sshkeys":
            view[field] = decode_sshkeys(config.get("sshkeys"))
        elif field == "tags":
            view[field] = split_tags(config.get("tags"))
        elif field == "memory":
            view[field] = memory_mib(config.get("memory"))
        elif field == "agent":
            view[field] = agent_enabled(config["agent"]) if config.get("agent") is not None else None
        elif field == "cipassword":
            view[field] = MASK if config.get("cipassword") else None
        else:
            view[field] = config.get(field)
    return view


# --- guest agent ------------------------------------------------------------------------------------------


def agent_addresses(answer):
    """The addresses a guest agent reports (``GET .../agent/network-get-interfaces``, QEMU's
    guest-network-get-interfaces), without the loopback interface and link-local addresses."""
    interfaces = (answer or {}).get("result", answer) if isinstance(answer, dict) else answer
    addresses = []
    for interface in interfaces or []:
        if interface.get("name") == "lo":
            continue
        for entry in interface.get("ip-addresses") or []:
            try:
                address = ipaddress.ip_address(entry.get("ip-address", ""))
            except ValueError:
                continue
            if address.is_loopback or address.is_link_local:
                continue
            addresses.append(dict(interface=interface.get("name"), mac=interface.get("hardware-address"),
                                  address=str(address), prefix=entry.get("prefix"),
                                  family="ipv{0}".format(address.version)))
    return addresses


def expected_addresses(config):
    """The static addresses a config's ipconfig<n> give the guest (``10.0.1.20`` of ``ip=10.0.1.20/24``)."""
    expected = []
    for key in sorted(key for key in config if re.match(r"^ipconfig\d+$", key)):
        ipconfig = parse_ipconfig(config[key])
        for field in ("ip", "ip6"):
            if ipconfig.get(field) and "/" in ipconfig[field]:
                expected.append(str(ipaddress.ip_interface(ipconfig[field]).ip))
    return expected


def registered_addresses(config):
    """{(bridge, address, MAC)} of the static ipconfig<n> addresses whose NIC net<n> has a MAC: what a guest
    registers in PVE's IPAM (the address without its prefix length, IPv6 in compressed form)."""
    registered = set()
    for key in config:
        match = re.match(r"^ipconfig(\d+)$", key)
        net = parse_net(config.get("net" + match.group(1))) if match else {}
        if not net.get("bridge") or not net.get("macaddr"):
            continue
        ipconfig = parse_ipconfig(config[key])
        for field in ("ip", "ip6"):
            if ipconfig.get(field) and "/" in ipconfig[field]:
                registered.add((net["bridge"], str(ipaddress.ip_interface(ipconfig[field]).ip), net["macaddr"]))
    return registered


def addresses_ready(addresses, expected):
    """Whether the agent reports every expected static address, or (none expected) any address at all."""
    reported = set(entry["address"] for entry in addresses)
    return set(expected) <= reported if expected else bool(reported)


def unapplied_ipconfig(config, addresses):
    """The ipconfig<n> keys whose static addresses the running guest does not report.

    PVE's ``GET .../cloudinit`` lists changed cloud-init options but not a changed ipconfig<n>
    (qemu-server API2/Qemu.pm cloudinit_pending walks $cloudinitoptions only), so a new address
    waiting for the next boot shows only in what the guest agent reports."""
    reported = set(entry["address"] for entry in addresses)
    keys = []
    for key in sorted(key for key in config if re.match(r"^ipconfig\d+$", key)):
        if any(address not in reported for address in expected_addresses({key: config[key]})):
            keys.append(key)
    return keys


def restart_pending_keys(client, guest_path, pending_answer, config):
    """(keys, addresses): the keys a running guest takes only at its next start - the pending ones,
    the cloud-init ones changed since its drive was generated (``GET .../cloudinit``), and the
    ipconfig<n> whose address the guest agent does not report (that call leaves ipconfig out) -
    and what the agent reported (None when it was not asked or did not answer yet: then it tells
    nothing). ``guest_path`` is ``/nodes/<node>/qemu/<vmid>``."""
    keys = set(pending_keys(pending_answer))
    keys.update(cloudinit_pending_keys(client.get(guest_path + "/cloudinit")))
    addresses = None
    if config.get("agent") is not None and agent_enabled(config["agent"]) and expected_addresses(config):
        try:
            addresses = agent_addresses(client.get(guest_path + "/agent/network-get-interfaces"))
        except ProxmoxApiError as error:
            if error.status != 500:  # "QEMU guest agent is not running"
                raise
        else:
            keys.update(unapplied_ipconfig(config, addresses))
    return sorted(keys), addresses


def config_from_pending(pending_answer):
    """The current config (without digest) as ``GET .../pending`` lists it: each entry's ``value``."""
    return dict((entry["key"], entry["value"]) for entry in pending_answer or [] if "value" in entry)
