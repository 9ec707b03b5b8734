"""Facts of a qemu-server VM configuration: property strings, drives, NICs, sizes, pending changes,
cloud-init and the config digest.

Sources (proxmox/qemu-server e6352be6, proxmox/pve-common f665029, proxmox/pve-guest-common 4a8f6cb):
- pve-common src/PVE/JSONSchema.pm parse_size / format_size / parse_property_string /
  print_property_string (default key first, then required keys, then the rest sorted; a keyAlias
  pair prints as `model=macaddr`, a `disk-size` value through format_size);
- qemu-server src/PVE/QemuServer/Drive.pm (valid_drive_names order, bootdisk_size, get_bootdisks,
  resolve_first_disk, NEW_DISK_RE), src/PVE/QemuServer/Network.pm (parse_net, print_net,
  parse_ipconfig), src/PVE/QemuServer.pm ($fast_plug_option, vmconfig_hotplug_pending,
  get_default_bootdevices, print_bootorder, write_vm_config), src/PVE/QemuServer/Cloudinit.pm
  (cloudinit_userdata, nocloud_network, configdrive2_network, nocloud_gen_metadata);
- pve-common src/PVE/Tools.pm random_ether_addr (datacenter.cfg mac_prefix, default BC:24:11) and
  encrypt_pw (SHA-256 crypt, `$5$<8 chars>$...`).
"""

import hashlib
import ipaddress
import re
import warnings
from urllib.parse import quote, unquote

MAC_PREFIX = "BC:24:11"  # datacenter.cfg mac_prefix default (PVE 8.1+)
CLOUDINIT_DISK_SIZE = 4 * 1024 * 1024  # Cloudinit.pm CLOUDINIT_DISK_SIZE
PASSWORD_MASK = "**********"
# Drive.pm valid_drive_names: the order picks the boot disk
DRIVE_NAMES = tuple(["ide%d" % n for n in range(4)] + ["scsi%d" % n for n in range(31)] + ["virtio%d" % n for n in range(16)]
                    + ["sata%d" % n for n in range(6)] + ["efidisk0", "tpmstate0"])
DRIVE_KEY_RE = re.compile(r"^(ide|scsi|virtio|sata|efidisk|tpmstate|unused)(\d+)$")
NEW_DISK_RE = re.compile(r"^(([^/:\s]+):)?(\d+(\.\d+)?)$")  # Drive.pm NEW_DISK_RE: `<storage>:<GiB>`
NET_KEY_RE = re.compile(r"^net(\d+)$")
# Qemu.pm $cloudinitoptions: what GET /cloudinit lists besides ipconfigN
CLOUDINIT_OPTIONS = ("cicustom", "cipassword", "citype", "ciuser", "ciupgrade", "nameserver", "searchdomain", "sshkeys")
# QemuServer.pm $fast_plug_option: applied at once on a running VM (plus every cloud-init option)
FAST_PLUG_OPTIONS = frozenset(("description", "hookscript", "lock", "migrate_downtime", "migrate_speed", "name", "onboot",
                               "protection", "shares", "startup", "tags", "vmstatestorage") + CLOUDINIT_OPTIONS)
DEFAULT_HOTPLUG = "network,disk,usb"  # $confdesc hotplug default
IPCONFIG_KEYS = ("gw", "gw6", "ip", "ip6")  # Network.pm $ipconfig_fmt (no default key)
URLENCODED_SAFE = "-_.!~*'()"  # pve-common 'urlencoded' format: [-%a-zA-Z0-9_.!~*'()]


def is_cloudinit_key(key):
    """Options of QemuServer.pm $confdesc_cloudinit (the cloud-init options and ipconfigN)."""
    return key in CLOUDINIT_OPTIONS or re.match(r"^ipconfig\d+$", key) is not None


def cloudinit_pending_property(key):
    """QemuServer.pm cloudinit_pending_properties: cloud-init options, name and every netN."""
    return is_cloudinit_key(key) or key == "name" or NET_KEY_RE.match(key) is not None


# -- sizes --------------------------------------------------------------------------------------
def parse_size(value):
    """JSONSchema.pm parse_size: `32G`, `512M`, `1.5T`, `1024` (bytes) -> bytes, or None."""
    match = re.match(r"^(\d+(\.\d+)?)([KMGT](?:iB)?)?$", str(value))
    if not match:
        return None
    factor = {"K": 1, "M": 2, "G": 3, "T": 4}.get((match.group(3) or " ")[0], 0)
    return int(float(match.group(1)) * 1024 ** factor)


def format_size(size):
    """JSONSchema.pm format_size: the largest unit that divides the size (bytes printed bare)."""
    size = int(size)
    for unit in ("K", "M", "G", "T"):
        if size % 1024:
            return str(size) if unit == "K" else "%d%s" % (size, "KMGT"["KMGT".index(unit) - 1])
        size //= 1024
    return "%dT" % size


# -- property strings ---------------------------------------------------------------------------
def parse_property_string(fmt, data):
    """JSONSchema.pm parse_property_string (schema-checked already): {key: value}, keyAlias kept
    (`virtio=<mac>` gives model=virtio, macaddr=<mac>)."""
    parsed = {}
    default_key = next((key for key, schema in fmt.items() if schema.get("default_key")), None)
    for part in str(data).split(","):
        if not part.strip():
            continue
        if "=" in part:
            key, value = part.split("=", 1)
            schema = fmt.get(key, {})
            if schema.get("alias"):
                if schema.get("keyAlias"):
                    parsed[schema["keyAlias"]] = key
                key = schema["alias"]
            parsed[key] = value
        elif default_key:
            parsed[default_key] = part
    return parsed


def print_property_string(data, fmt, skip=()):
    """JSONSchema.pm print_property_string: default key, required keys, then the rest sorted."""
    default_key = next((key for key, schema in fmt.items() if schema.get("default_key")), None)
    key_alias = {schema["keyAlias"]: schema["alias"] for schema in fmt.values() if schema.get("keyAlias")}
    done = set(skip)
    parts = []

    def value_text(key, value):
        if (fmt.get(key) or {}).get("format") == "disk-size":
            return format_size(parse_size(value) if isinstance(value, str) else value)
        return str(value)

    def add(key, is_default=False):
        if key in done or data.get(key) is None:
            return
        done.add(key)
        combine = key_alias.get(key)
        if combine and data.get(combine) is not None:
            parts.append("%s=%s" % (value_text(key, data[key]), value_text(combine, data[combine])))
            done.add(combine)
            return
        parts.append(value_text(key, data[key]) if is_default else "%s=%s" % (key, value_text(key, data[key])))

    if default_key:
        add(default_key, True)
    for key in sorted(data):
        if key in fmt and not fmt[key].get("optional"):
            add(key)
    for key in sorted(data):
        add(key)
    return ",".join(parts)


# -- drives ---------------------------------------------------------------------------------------
def is_drive_key(key):
    """Drive.pm is_valid_drivename (without unusedN)."""
    return key in DRIVE_NAMES


def drive_is_cdrom(drive):
    """Drive.pm drive_is_cdrom: media=cdrom (cloud-init drives are CD-ROMs too)."""
    return drive.get("media") == "cdrom"


def drive_is_cloudinit(drive):
    """Drive.pm drive_is_cloudinit: the volume is `vm-<vmid>-cloudinit[.<fmt>]`."""
    return re.search(r"[:/]vm-\d+-cloudinit(\.\w+)?$", drive.get("file") or "") is not None


def boot_order(config):
    """Drive.pm get_bootdisks: the drives of `boot: order=...`, or the legacy `bootdisk`."""
    boot = config.get("boot")
    if boot and "order=" in boot:
        order = parse_property_string({"order": {}, "legacy": {"default_key": 1}}, boot).get("order", "")
        return [device for device in re.split(r"[;,\s]+", order) if is_drive_key(device)]
    return [config["bootdisk"]] if config.get("bootdisk") else []


def boot_disk_size(config, drive_format=None):
    """Drive.pm bootdisk_size: the `size` of the first boot drive that is no CD-ROM (0 without one)."""
    for key in boot_order(config):
        if not config.get(key):
            continue
        drive = parse_property_string(drive_format or {"file": {"default_key": 1}}, config[key])
        if drive_is_cdrom(drive) or not drive.get("file"):
            continue
        return parse_size(drive.get("size", "0")) or 0
    return 0


def default_boot_order(config):
    """QemuServer.pm get_default_bootdevices + print_bootorder: first disk, first CD-ROM, first NIC."""
    devices = []
    for want_cdrom in (False, True):
        for key in DRIVE_NAMES:
            if config.get(key) and key not in ("efidisk0", "tpmstate0"):
                drive = parse_property_string({"file": {"default_key": 1}}, config[key])
                if drive_is_cdrom(drive) == want_cdrom:
                    devices.append(key)
                    break
    nets = sorted((int(NET_KEY_RE.match(key).group(1)) for key in config if NET_KEY_RE.match(key)))
    if nets:
        devices.append("net%d" % nets[0])
    return "order=%s" % ";".join(devices) if devices else ""


# -- NICs, addresses, memory ------------------------------------------------------------------
def random_mac(rng):
    """Tools.pm random_ether_addr with the mac_prefix: BC:24:11 and three random octets."""
    return MAC_PREFIX + "".join(":%02X" % octet for octet in rng.randbytes(3))


def parse_ipconfig(value):
    """Network.pm parse_ipconfig: {ip, gw, ip6, gw6} (no default key)."""
    return parse_property_string({key: {} for key in IPCONFIG_KEYS}, value or "")


def memory_mib(value):
    """Memory.pm get_current_memory: `[current=]<MiB>` (default 512)."""
    if value in (None, ""):
        return 512
    return int(parse_property_string({"current": {"default_key": 1}}, str(value)).get("current", 512))


def hotplug_features(config):
    """QemuServer.pm parse_hotplug_features: `0` none, `1` or unset the default network,disk,usb."""
    value = str(config.get("hotplug", "1"))
    if value == "0":
        return set()
    if value == "1":
        value = DEFAULT_HOTPLUG
    return {feature for feature in re.split(r"[;,\s]+", value) if feature}


def hotpluggable(key, config):
    """Whether vmconfig_hotplug_pending applies a change of `key` to a running VM at once.

    Fast-plug options always; NICs with the `network` feature; disks (not IDE, SATA, EFI or TPM
    state) with `disk`; memory with `memory`, vcpus with `cpu`; cpuunits, cpulimit and agent always.
    Everything else (cores, sockets, cpu, machine, bios, ...) stays pending until a cold start.
    """
    features = hotplug_features(config)
    if key in FAST_PLUG_OPTIONS or is_cloudinit_key(key) or key in ("cpuunits", "cpulimit", "agent"):
        return True
    if NET_KEY_RE.match(key):
        return "network" in features
    if is_drive_key(key):
        return "disk" in features and not re.match(r"^(efidisk|ide|sata|tpmstate)\d+$", key)
    if key == "memory":
        return "memory" in features
    if key == "vcpus":
        return "cpu" in features
    return False


# -- secrets ----------------------------------------------------------------------------------
def encrypt_password(password, salt):
    """Tools.pm encrypt_pw: SHA-256 crypt with an 8 character salt, unless the value already is a
    crypt hash (Qemu.pm update: `^\\$(?:[156]|2[ay])(\\$.+){2}`)."""
    if re.match(r"^\$(?:[156]|2[ay])(\$.+){2}", password):
        return password
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # pylint: disable=import-outside-toplevel,deprecated-module
    return crypt.crypt(password, "$5$%s$" % salt)


def encode_sshkeys(keys):
    """The `urlencoded` form PVE's clients send sshkeys in (every byte outside [-_.!~*'()a-zA-Z0-9]
    percent-encoded); qemu-server stores and answers it as given."""
    return quote(keys, safe=URLENCODED_SAFE)


# -- config file ---------------------------------------------------------------------------------
def raw_config(config, pending=None, pending_delete=(), cloudinit=None, lock=None):
    """QemuServer.pm write_vm_config: description as `#` lines, `key: value` sorted, `[PENDING]`
    (with `delete: a,b`), `[special:cloudinit]` when a cloud-init drive exists."""
    def section(values, is_pending=False):
        text = ""
        description = values.get("description")
        if description is not None:
            if description:
                text += "".join("#%s\n" % line for line in str(description).split("\n"))
            elif is_pending:
                text += "#\n"
        for key in sorted(values):
            if key == "description":
                continue
            text += "%s: %s\n" % (key, values[key])
        return text

    main = dict(config)
    if lock:
        main["lock"] = lock
    text = section(main)
    pending_values = dict(pending or {})
    if pending_delete:
        pending_values["delete"] = ",".join(pending_delete)
    if pending_values:
        text += "\n[PENDING]\n" + section(pending_values, True)
    if cloudinit and any(is_drive_key(key) and drive_is_cloudinit(parse_property_string({"file": {"default_key": 1}}, value))
                         for key, value in config.items()):
        text += "\n[special:cloudinit]\n" + section(cloudinit)
    return text


def config_digest(*args, **kwargs):
    """AbstractConfig load_config / parse_vm_config: SHA1 (hex) of the config file's text."""
    return hashlib.sha1(raw_config(*args, **kwargs).encode("utf-8")).hexdigest()


# -- cloud-init ---------------------------------------------------------------------------------
def hostname_fqdn(config, vmid):
    """Cloudinit.pm get_hostname_fqdn."""
    hostname = config.get("name") or "VM%d" % vmid
    if "." in hostname:
        return hostname.split(".", 1)[0], hostname
    if config.get("searchdomain"):
        return hostname, "%s.%s" % (hostname, config["searchdomain"])
    return hostname, hostname


def dns_conf(config):
    """Cloudinit.pm get_dns_conf; the simulated node's resolv.conf has no search or nameserver."""
    return str(config.get("searchdomain") or "").split(), str(config.get("nameserver") or "").split()


def cloudinit_format(config):
    """Cloudinit.pm get_cloudinit_format: citype, configdrive2 for Windows ostypes, else nocloud."""
    if config.get("citype"):
        return config["citype"]
    if re.match(r"^(wxp|w2k|w2k3|w2k8|wvista|win7|win8|win10|win11)$", str(config.get("ostype") or "")):
        return "configdrive2"
    return "nocloud"


def cloudinit_userdata(config, vmid, mask_password=False):
    """Cloudinit.pm cloudinit_userdata (the `#cloud-config` user data)."""
    hostname, fqdn = hostname_fqdn(config, vmid)
    text = "#cloud-config\nhostname: %s\nmanage_etc_hosts: true\nfqdn: %s\n" % (hostname, fqdn)
    user = config.get("ciuser")
    if user is not None:
        text += "user: %s\n" % user
        if user == "root":
            text += "disable_root: False\n"
    if config.get("cipassword") is not None:
        text += "password: %s\n" % (PASSWORD_MASK if mask_password else config["cipassword"])
    if config.get("sshkeys") is not None:
        keys = [key.rstrip("\n") for key in unquote(config["sshkeys"]).split("\n")]
        text += "ssh_authorized_keys:\n" + "".join("  - %s\n" % key for key in keys if key.strip())
    text += "chpasswd:\n  expire: False\n"
    if user != "root":
        text += "users:\n  - default\n"
    if config.get("ciupgrade") is None or int(config["ciupgrade"]):
        text += "package_upgrade: true\n"
    return text


def _interfaces_with_ipconfig(config):
    ids = sorted((match.group(1) for match in map(NET_KEY_RE.match, config) if match), key=lambda id_: "net" + id_)
    return [(id_, parse_ipconfig(config["ipconfig" + id_])) for id_ in ids if config.get("ipconfig" + id_)]


def nocloud_network(config, net_format):
    """Cloudinit.pm nocloud_network (network config version 1)."""
    text = "version: 1\nconfig:\n"
    indent = "    "
    for id_, ipconfig in _interfaces_with_ipconfig(config):
        mac = parse_property_string(net_format, config["net" + id_]).get("macaddr", "").lower()
        text += "%s- type: physical\n%s  name: eth%s\n%s  mac_address: '%s'\n%s  subnets:\n" % (
            indent, indent, id_, indent, mac, indent)
        inner = indent + "  "
        ip = ipconfig.get("ip")
        if ip == "dhcp":
            text += "%s- type: dhcp4\n" % inner
        elif ip is not None:
            network = ipaddress.ip_interface(ip)
            text += "%s- type: static\n%s  address: '%s'\n%s  netmask: '%s'\n" % (inner, inner, network.ip, inner, network.netmask)
            if ipconfig.get("gw") is not None:
                text += "%s  gateway: '%s'\n" % (inner, ipconfig["gw"])
        ip6 = ipconfig.get("ip6")
        if ip6 == "dhcp":
            text += "%s- type: dhcp6\n" % inner
        elif ip6 == "auto":
            text += "%s- type: ipv6_slaac\n" % inner
        elif ip6 is not None:
            text += "%s- type: static6\n%s  address: '%s'\n" % (inner, inner, ip6)
            if ipconfig.get("gw6") is not None:
                text += "%s  gateway: '%s'\n" % (inner, ipconfig["gw6"])
    searchdomains, nameservers = dns_conf(config)
    text += "%s- type: nameserver\n" % indent
    if nameservers:
        text += "%s  address:\n" % indent + "".join("%s  - '%s'\n" % (indent, server) for server in nameservers)
    if searchdomains:
        text += "%s  search:\n" % indent + "".join("%s  - '%s'\n" % (indent, domain) for domain in searchdomains)
    return text


def configdrive2_network(config):
    """Cloudinit.pm configdrive2_network (an ifupdown interfaces file)."""
    text = "auto lo\niface lo inet loopback\n\n"
    searchdomains, nameservers = dns_conf(config)
    if nameservers:
        text += "        dns_nameservers %s\n" % " ".join(nameservers)
    if searchdomains:
        text += "        dns_search %s\n" % " ".join(searchdomains)
    for id_, ipconfig in _interfaces_with_ipconfig(config):
        name = "eth" + id_
        text += "auto %s\n" % name
        ip = ipconfig.get("ip")
        if ip == "dhcp":
            text += "iface %s inet dhcp\n" % name
        elif ip:
            network = ipaddress.ip_interface(ip)
            text += "iface %s inet static\n        address %s\n        netmask %s\n" % (name, network.ip, network.netmask)
            if ipconfig.get("gw"):
                text += "        gateway %s\n" % ipconfig["gw"]
        ip6 = ipconfig.get("ip6")
        if ip6 in ("auto", "dhcp"):
            text += "iface %s inet6 %s\n" % (name, ip6)
        elif ip6:
            address, mask = ip6.split("/")
            text += "iface %s inet6 static\n        address %s\n        netmask %s\n" % (name, address, mask)
            if ipconfig.get("gw6"):
                text += "        gateway %s\n" % ipconfig["gw6"]
    return text


def cloudinit_dump(config, vmid, dump_type, net_format, mask_password=False):
    """Cloudinit.pm dump_cloudinit_config: user data, network config or meta data (instance-id or
    uuid: SHA1 of user data + network config, the password unmasked)."""
    nocloud = cloudinit_format(config) == "nocloud"
    if dump_type == "user":
        return cloudinit_userdata(config, vmid, mask_password)
    network = nocloud_network(config, net_format) if nocloud else configdrive2_network(config)
    if dump_type == "network":
        return network
    uuid = hashlib.sha1((cloudinit_userdata(config, vmid) + network).encode("utf-8")).hexdigest()
    if nocloud:
        return "instance-id: %s\n" % uuid
    return '{\n     "uuid": "%s",\n     "network_config": { "content_path": "/content/0000" }\n}\n' % uuid
