"""SDN: zones, VNets, subnets, controllers, IPAMs, DNS, IPAM IPs, apply, lock, rollback, dry-run.

Sources (proxmox/pve-network, HEAD ecf98c5d; PVE 8.4 = 8f4f5d20): API2/Network/SDN.pm (index,
reload, lock, release_lock, rollback, dry-run), API2/Network/SDN/{Zones,Vnets,Subnets,Controllers,
Ipams,Dns,Ips}.pm, Network/SDN.pm (pending_config, lock_sdn_config, commit_config), the zone,
controller, VNet and subnet plugins (options and hooks), Ipams/PVEPlugin.pm (IPAM state).
Writes only change the pending config; PUT /cluster/sdn copies it to the running config
(version + 1) and renders, per node, what pve-network would write (pvesim/sdn_render.py).
Facts and messages: see pvesim/sdn_config.py, which cites the pve-network file of each rule.

Privileges beyond each method's schema `permissions` are checked in the handlers, as PVE does
(pve-network ecf98c5 and 8f4f5d20 alike): the indexes of zones, VNets, controllers, IPAMs and DNS
servers list only the objects the caller has SDN.Audit or SDN.Allocate on (`/sdn/zones/<zone>`,
`/sdn/zones/<zone>/<vnet>`, `/sdn/controllers/<id>`, `/sdn/ipams/<id>`, `/sdn/dns/<id>`);
Vnets.pm and Subnets.pm `$check_vnet_access` require SDN.Audit or SDN.Allocate (reads) or
SDN.Allocate (writes) on `/sdn/zones/<zone>/<vnet>`; Ipams.pm ipamindex lists the IPs of the
VNets the caller may read.
"""

import copy
import ipaddress
import random

from pvesim.areas import Area, route
from pvesim.errors import ApiError, ParamError, die
from pvesim.formats import split_list
from pvesim.sdn_config import (
    DNS_OPTIONS, IPAM_OPTIONS, SUBNET_OPTIONS, VNET_OPTIONS, apply_update, assert_if_modified, check_config,
    controller_options, digest, has_pending, ip_in, ip_network, parse_dhcp_range, pending_view, perl_die, subnet_api_view,
    subnet_cidr, subnet_id, wrap, zone_options)
from pvesim.sdn_render import render_node, unified_diff
from pvesim.validate import reject_line_feeds

VERSIONED = ("zones", "vnets", "subnets", "controllers")  # the kinds in the pending/running model
PVE_IPAM = {"type": "pve"}  # Network/SDN/Ipams.pm config: always injected
MAC_PREFIX = "BC:24:11"  # datacenter.cfg mac_prefix default (PVE 8.1+), used by random_ether_addr


# RPCEnvironment check_any lists: reading needs one of them, writing SDN.Allocate.
READ_PRIVILEGES = ("SDN.Audit", "SDN.Allocate")
WRITE_PRIVILEGES = ("SDN.Allocate",)


class Kind:  # pylint: disable=too-few-public-methods
    """One SDN object kind: its config key, id parameter, option table and the ACL path its index checks."""

    def __init__(self, key, name, options, not_found="sdn '%s' does not exist\n", acl_path=None):
        self.key = key
        self.name = name
        self.options = options
        self.not_found = not_found
        self.acl_path = acl_path


def _options_of(table):
    return lambda object_type, _pve9: table[object_type]


def vnet_acl_path(zone_id, vnet_id):
    """The ACL path of a VNet: below its zone."""
    return "/sdn/zones/%s/%s" % (zone_id, vnet_id)


def _listed_vnet_path(vnet_id, entry):
    """Vnets.pm index: the zone of a VNet entry, or of its pending part (a VNet new in the pending view)."""
    return vnet_acl_path(entry.get("zone") or entry.get("pending", {}).get("zone") or "", vnet_id)


ZONE = Kind("zones", "zone", zone_options, acl_path=lambda zone_id, _entry: "/sdn/zones/%s" % zone_id)
VNET = Kind("vnets", "vnet", _options_of(VNET_OPTIONS), "sdn vnet '%s' does not exist\n", acl_path=_listed_vnet_path)
SUBNET = Kind("subnets", "subnet", _options_of(SUBNET_OPTIONS), "sdn subnet '%s' does not exist\n")
CONTROLLER = Kind("controllers", "controller", controller_options,
                  acl_path=lambda controller_id, _entry: "/sdn/controllers/%s" % controller_id)
IPAM = Kind("ipams", "ipam", _options_of(IPAM_OPTIONS), acl_path=lambda ipam_id, _entry: "/sdn/ipams/%s" % ipam_id)
DNS = Kind("dns", "dns", _options_of(DNS_OPTIONS), acl_path=lambda dns_id, _entry: "/sdn/dns/%s" % dns_id)


class SdnArea(Area):  # pylint: disable=too-many-public-methods
    """The SDN configuration of the cluster."""

    name = "sdn"

    def initial_state(self):
        return {"pending": {key: {} for key in VERSIONED}, "running": None, "ipams": {}, "dns": {},
                "ipam_db": {"zones": {}}, "lock": None, "rendered": {}, "draws": 0}

    @property
    def pve9(self):
        """The 9.x schema has the lock API; 8.4 has none of it."""
        return self.sim.pve_version != "8.4"

    def side_routes(self):
        return {("GET", "/_sim/sdn/rendered"): lambda sim, body: copy.deepcopy(self.state["rendered"])}

    # -- helpers ------------------------------------------------------------------------------
    def _random(self):
        """A reproducible RNG: seeded with the simulator's seed and a draw counter kept in the state."""
        self.state["draws"] += 1
        if self.sim.seed is None:
            return random.Random()
        return random.Random("%s/%d" % (self.sim.seed, self.state["draws"]))

    def _random_mac(self):
        """PVE::Tools::random_ether_addr with the datacenter mac_prefix."""
        rng = self._random()
        return MAC_PREFIX + "".join(":%02X" % octet for octet in rng.randbytes(3))

    def _objects(self, kind):
        """The live (pending) config of a kind; IPAMs with the injected `pve`."""
        if kind.key in VERSIONED:
            return self.state["pending"][kind.key]
        return self.state[kind.key]

    def _ipams(self):
        return dict({"pve": PVE_IPAM}, **self.state["ipams"])

    def _running(self):
        return self.state["running"] or {}

    def _view(self, kind, params):
        """(objects, digest) of the default, `running=1` or `pending=1` view (SDN zones/vnets/... index)."""
        if kind.key not in VERSIONED:
            objects = self._ipams() if kind is IPAM else self.state[kind.key]
            return objects, digest(kind.name, self.state[kind.key])
        if params.get("pending"):
            return pending_view(self._running().get(kind.key, {}), self._objects(kind)), None
        if params.get("running"):
            return self._running().get(kind.key, {}), None
        return self._objects(kind), digest(kind.name, self._objects(kind))

    def _api_object(self, kind, object_id, section, config_digest):
        """The API form: id key, digest, subnets' derived keys."""
        if kind is SUBNET:
            result = subnet_api_view(object_id, section)
        else:
            result = dict(copy.deepcopy(section), **{kind.name: object_id})
        result["digest"] = config_digest
        if config_digest is None and kind.key not in VERSIONED:
            del result["digest"]
        return result

    def _find(self, kind, objects, object_id):
        if object_id not in objects:
            raise die(kind.not_found % object_id)
        return objects[object_id]

    def _locked(self, request, errmsg, code):
        """SDN.pm lock_sdn_config: token check, then the code; any error becomes "<errmsg>: <err>".

        The state is restored when the code fails, like an unwritten .cfg file.
        """
        token = request.params.get("lock-token")
        saved = copy.deepcopy(dict(self.state))
        try:
            held = self.state["lock"]
            if held is not None and token != held:
                raise die(perl_die("invalid-token", "invalid lock token provided!"))
            return code()
        except ApiError as error:
            self.state.clear()
            self.state.update(saved)
            raise wrap(errmsg, error) from error

    @staticmethod
    def _split_params(request, id_key):
        params = {key: value for key, value in request.params.items() if key not in (id_key, "lock-token", "digest", "delete")}
        reject_line_feeds(params)
        return params, split_list(request.params.get("delete"))

    def _may_read(self, request, path):
        """check_any(SDN.Audit, SDN.Allocate) with noerr: the index filters."""
        return self.sim.permissions.control.has(request.userid, path, READ_PRIVILEGES, any_of=True)

    def _list(self, kind, request):
        """The index of a kind: the objects the caller may read (Zones.pm, Vnets.pm, Controllers.pm, Ipams.pm,
        Dns.pm index; Subnets.pm index checks the VNet instead), then the type filter."""
        objects, config_digest = self._view(kind, request.params)
        visible = [object_id for object_id in sorted(objects)
                   if kind.acl_path is None or self._may_read(request, kind.acl_path(object_id, objects[object_id]))]
        result = [self._api_object(kind, object_id, objects[object_id], config_digest) for object_id in visible]
        wanted = request.params.get("type")
        return [entry for entry in result if not wanted or entry.get("type") == wanted]

    def _read(self, kind, request):
        objects, config_digest = self._view(kind, request.params)
        object_id = request.params[kind.name]
        return self._api_object(kind, object_id, self._find(kind, objects, object_id), config_digest)

    def _create(self, request, kind, hook=None):
        """Zones.pm / Controllers.pm / Ipams.pm / Dns.pm create: check_config before the lock."""
        params, _delete = self._split_params(request, kind.name)
        object_type = params.pop("type")
        object_id = request.params[kind.name]
        settings = check_config(kind.options(object_type, self.pve9), params, True)

        def code():
            objects = self._ipams() if kind is IPAM else self._objects(kind)
            if object_id in objects:
                raise die("sdn %s object ID '%s' already defined\n" % (kind.name, object_id))
            self._objects(kind)[object_id] = dict(settings, type=object_type)
            if hook:
                hook(object_id)
        self._locked(request, "create sdn %s object failed" % kind.name, code)

    def _update(self, request, kind, hook=None):
        """Zones.pm / Controllers.pm update: digest, lookup, check_config, delete, hooks (all in the lock)."""
        params, delete = self._split_params(request, kind.name)
        object_id = request.params[kind.name]

        def code():
            objects = self._ipams() if kind is IPAM else self._objects(kind)
            assert_if_modified(digest(kind.name, self._objects(kind)), request.params.get("digest"))
            section = copy.deepcopy(self._find(kind, objects, object_id))
            options = kind.options(section["type"], self.pve9)
            old = dict(section)
            apply_update(section, options, check_config(options, params, False), delete)
            self._objects(kind)[object_id] = section
            if hook:
                hook(object_id, old)
        self._locked(request, "update sdn %s object failed" % kind.name, code)

    def _delete(self, request, kind, hook=None):
        object_id = request.params[kind.name]

        def code():
            section = self._find(kind, self._ipams() if kind is IPAM else self._objects(kind), object_id)
            if hook:
                hook(object_id, section)
            self._objects(kind).pop(object_id, None)
        self._locked(request, "delete sdn %s object failed" % kind.name, code)

    # -- index, apply, lock, rollback, dry-run ------------------------------------------------------
    @route("GET", "/cluster/sdn")
    def index(self, _request):
        """API2/Network/SDN.pm index (9.x adds fabrics)."""
        names = ["vnets", "zones", "controllers", "ipams", "dns"] + (["fabrics"] if self.pve9 else [])
        return [{"id": name} for name in names]

    def _compile(self, bump=True):
        """SDN.pm compile_running_cfg: the pending config with the next (or same) version."""
        version = self._running().get("version")
        version = (version + 1 if bump else version) if version else 1
        return dict(copy.deepcopy(self.state["pending"]), version=version)

    @route("PUT", "/cluster/sdn")
    def reload(self, request):
        """API2/Network/SDN.pm reload: commit under the lock, then a `reloadnetworkall` worker."""
        def commit():
            self.state["running"] = self._compile()
            if request.params.get("lock-token") and request.params.get("release-lock", 1):
                self.state["lock"] = None
        self._locked(request, "could not commit SDN config", commit)
        running = self.state["running"]
        self.state["rendered"] = {node: render_node(self.sim, running, node) for node in self.sim.nodes}
        self.sim.observer.increment("sdn_applies")
        log = ["%s: reloading network config" % node for node in self.sim.nodes]
        return self.sim.tasks.start(self.sim.nodes[0], "reloadnetworkall", "", request.userid, log=log)

    def _pending_changes(self):
        running = self._running()
        return any(has_pending(pending_view(running.get(key, {}), self.state["pending"][key])) for key in VERSIONED)

    @route("POST", "/cluster/sdn/lock")
    def lock(self, request):
        """API2/Network/SDN.pm lock: no token passed, so a held lock fails the token check."""
        def code():
            if not request.params.get("allow-pending") and self._pending_changes():
                raise die(perl_die("pending-changes", "configuration has pending changes"))
            self.state["lock"] = self._lock_token()
            return self.state["lock"]
        return self._locked(_NoToken(request), "could not acquire lock for SDN config", code)

    def _lock_token(self):
        """SDN.pm generate_lock_token: a UUIDv7 string (time-ordered prefix, random rest)."""
        rng = self._random()
        millis = self.state["draws"] if self.sim.seed is not None else int(self.sim.started_at * 1000)
        value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62)
        text = "%032x" % value
        return "-".join((text[:8], text[8:12], text[12:16], text[16:20], text[20:]))

    @route("DELETE", "/cluster/sdn/lock")
    def release_lock(self, request):
        """API2/Network/SDN.pm release_lock: `force` skips the token check."""
        def code():
            self.state["lock"] = None
        if request.params.get("force"):
            code()
        else:
            self._locked(request, "could not release lock", code)

    @route("POST", "/cluster/sdn/rollback")
    def rollback(self, request):
        """API2/Network/SDN.pm rollback: pending := running; releases the lock when a token was given."""
        def code():
            running = self._running()
            self.state["pending"] = {key: copy.deepcopy(running.get(key, {})) for key in VERSIONED}
            if request.params.get("lock-token") and request.params.get("release-lock", 1):
                self.state["lock"] = None
        self._locked(request, "could not rollback SDN configuration", code)

    @route("GET", "/cluster/sdn/dry-run")
    def dry_run(self, request):
        """API2/Network/SDN.pm dry-run: diff of the node's files against the pending config (no version bump)."""
        node = request.params["node"]
        node = self.sim.nodes[0] if node == "localhost" else node
        current = self.state["rendered"].get(node, {"interfaces": "", "frr": ""})
        pending = render_node(self.sim, self._compile(bump=False), node)
        return {"frr-diff": unified_diff("/etc/frr/frr.conf", current["frr"], pending["frr"]),
                "interfaces-diff": unified_diff("/etc/network/interfaces.d/sdn", current["interfaces"], pending["interfaces"])}

    def cluster_resources(self):
        """Cluster.pm resources: every node's built-in `localnetwork` zone, then the running zones each node reports.

        8.x: `sdn` entries (pve-manager PVE/API2/Cluster.pm at 1804cdf1^); recorded: dougiteixeira/proxmoxve
        tests/const.py at 7192d42 (tests/sim/recorded/proxmoxve-ha-cluster-resources.json).
        9.1: pvestatd broadcasts one `network` entry per zone, the node's zone status (pve-network
        src/PVE/Network/SDN/Zones.pm `status`: `status`, and `zone-type` since 18e6bb7) plus `type`,
        `network-type` and `network` (pve-manager PVE/Service/pvestatd.pm update_network_status, 9ac04d95).
        Cluster.pm resources (pve-manager 1804cdf1, e3f9cfa6; shipped in 9.0.12, unchanged at 9.1.3)
        then skips the `sdn` entries of every node that sends `network` ones and lists `localnetwork`
        as `network/<node>/zone/localnetwork` without `zone-type`: a 9.1 cluster has no `sdn` entry at
        all, `?type=sdn` answers [], and `?type=network` is outside the parameter's enum (vm, storage,
        node, sdn), so network entries only come unfiltered. Fabric entries (`network-type: fabric`)
        are not produced: fabrics are not simulated.
        """
        zones = self._running().get("zones", {})

        def zone_entry(node, zone_id, status, zone_type=None):
            if not self.pve9:
                return {"id": "sdn/%s/%s" % (node, zone_id), "sdn": zone_id, "node": node, "type": "sdn", "status": status}
            entry = {"id": "network/%s/zone/%s" % (node, zone_id), "type": "network", "network-type": "zone",
                     "network": zone_id, "node": node, "status": status}
            if zone_type:
                entry["zone-type"] = zone_type
            return entry

        entries = [zone_entry(node, "localnetwork", "ok") for node in self.sim.nodes]
        for node in sorted(self.sim.nodes):  # Cluster.pm: sort keys of the nodes' broadcasts
            for zone_id in sorted(zones):
                nodes = split_list(zones[zone_id].get("nodes"))
                if nodes and node not in nodes:
                    continue
                entries.append(zone_entry(node, zone_id, "available", zones[zone_id]["type"]))
        return entries

    # -- zones ------------------------------------------------------------------------------------
    @route("GET", "/cluster/sdn/zones")
    def zones_index(self, request):
        """API2/Network/SDN/Zones.pm index."""
        return self._list(ZONE, request)

    @route("GET", "/cluster/sdn/zones/{zone}")
    def zone_read(self, request):
        """API2/Network/SDN/Zones.pm read."""
        return self._read(ZONE, request)

    def _zone_references(self, zone_id):
        """Zones.pm create/update: dns, reversedns, dnszone and ipam must refer to existing objects."""
        zone = self.state["pending"]["zones"][zone_id]
        for key in ("dns", "reversedns"):
            if zone.get(key) and zone[key] not in self.state["dns"]:
                raise ParamError({key: "%s don't exist" % zone[key]})
        if zone.get("dnszone") and not zone.get("dns"):
            raise ParamError({"dnszone": "missing dns server"})
        if zone.get("ipam") and zone["ipam"] not in self._ipams():
            raise ParamError({"ipam": "%s not existing" % zone["ipam"]})

    def _zone_hook(self, zone_id):
        """The zone plugins' on_update_hook (Zones/EvpnPlugin.pm, VxlanPlugin.pm)."""
        zones = self.state["pending"]["zones"]
        zone = zones[zone_id]
        if zone["type"] == "vxlan" and self.pve9 and bool(zone.get("peers")) == bool(zone.get("fabric")):
            message = "must have exactly one of peers / fabric defined"
            raise ParamError({"peers": message, "fabric": message})
        if zone["type"] != "evpn":
            return
        controllers = self.state["pending"]["controllers"]
        controller = zone["controller"]
        if controller not in controllers:
            raise die(perl_die("controller-missing", "controller %s don't exist" % controller))
        if controllers[controller]["type"] != "evpn":
            raise die(perl_die("controller-not-evpn", "%s is not a evpn controller type" % controller))
        for other_id in sorted(zones):
            if other_id != zone_id and str(zones[other_id].get("vrf-vxlan")) == str(zone["vrf-vxlan"]):
                raise die(perl_die("vrf-vxlan-used", "vrf-vxlan %s is already declared in %s" % (zone["vrf-vxlan"], other_id)))
        if "mac" not in zone:
            zone["mac"] = self._random_mac()

    def _zone_created(self, zone_id):
        self._zone_references(zone_id)
        self._zone_hook(zone_id)

    def _zone_updated(self, zone_id, old):
        zone = self.state["pending"]["zones"][zone_id]
        if zone.get("ipam") != old.get("ipam"):
            if any(subnet_cidr(subnet)[0] == zone_id for subnet in self.state["pending"]["subnets"]):
                raise ParamError({"ipam": "can't change ipam if a subnet is already defined in this zone"})
        self._zone_references(zone_id)
        self._zone_hook(zone_id)

    def _zone_deleted(self, zone_id, _section):
        """Zones/Plugin.pm on_delete_hook."""
        for vnet_id in sorted(self.state["pending"]["vnets"]):
            if self.state["pending"]["vnets"][vnet_id].get("zone") == zone_id:
                raise die(perl_die("zone-used", "zone %s is used by vnet %s" % (zone_id, vnet_id)))

    @route("POST", "/cluster/sdn/zones")
    def zone_create(self, request):
        """API2/Network/SDN/Zones.pm create."""
        self._create(request, ZONE, self._zone_created)

    @route("PUT", "/cluster/sdn/zones/{zone}")
    def zone_update(self, request):
        """API2/Network/SDN/Zones.pm update."""
        self._update(request, ZONE, self._zone_updated)

    @route("DELETE", "/cluster/sdn/zones/{zone}")
    def zone_delete(self, request):
        """API2/Network/SDN/Zones.pm delete."""
        self._delete(request, ZONE, self._zone_deleted)

    # -- vnets ------------------------------------------------------------------------------------
    @route("GET", "/cluster/sdn/vnets")
    def vnets_index(self, request):
        """API2/Network/SDN/Vnets.pm index."""
        return self._list(VNET, request)

    @route("GET", "/cluster/sdn/vnets/{vnet}")
    def vnet_read(self, request):
        """API2/Network/SDN/Vnets.pm read: the access check reads the pending config whatever the view."""
        self._vnet_access(request, request.params["vnet"], READ_PRIVILEGES)
        return self._read(VNET, request)

    def _vnet_access(self, request, vnet_id, privileges):
        """Vnets.pm / Subnets.pm $check_vnet_access (before the lock, so unwrapped): the VNet must exist in the
        pending config, and the caller needs any of `privileges` on /sdn/zones/<its zone>/<vnet>
        (403 `Permission check failed (<path>, <privileges joined by |>)`)."""
        vnet = self._find(VNET, self.state["pending"]["vnets"], vnet_id)
        self.sim.permissions.control.check(request.userid, vnet_acl_path(vnet.get("zone"), vnet_id), privileges, any_of=True)
        return vnet

    def _vnet_subnets(self, vnet_id):
        return [sid for sid, section in sorted(self.state["pending"]["subnets"].items()) if section.get("vnet") == vnet_id]

    def _vnet_hook(self, vnet_id):
        """The zone plugin's vnet_update_hook, then VnetPlugin.pm on_update_hook."""
        vnets, zones = self.state["pending"]["vnets"], self.state["pending"]["zones"]
        vnet = vnets[vnet_id]
        zone = zones.get(vnet["zone"])
        if zone is None:
            raise die("cannot lookup undefined type! at /usr/share/perl5/PVE/API2/Network/SDN/Vnets.pm line 326.\n")
        tag, others = vnet.get("tag"), {other: vnets[other] for other in sorted(vnets) if other != vnet_id}
        check = getattr(self, "_vnet_tag_" + zone["type"], None)
        if check is not None:
            check(vnet, tag, others, zones)
        if vnet.get("vlanaware") and self._vnet_subnets(vnet_id):
            raise ParamError({"vlanaware": "vlanaware vnet is not compatible with subnets"})

    @staticmethod
    def _vnet_tag_simple(_vnet, tag, _others, _zones):
        """Zones/SimplePlugin.pm vnet_update_hook."""
        if tag is not None:
            raise ParamError({"tag": "vlan tag is not allowed on simple zone"})

    @staticmethod
    def _vnet_tag_vlan(vnet, tag, others, _zones):
        """Zones/VlanPlugin.pm vnet_update_hook."""
        if tag is None:
            raise ParamError({"tag": "missing vlan tag"})
        if tag > 4096:
            raise ParamError({"tag": "vlan tag max value is 4096"})
        for other_id, other in others.items():
            if other.get("zone") == vnet["zone"] and other.get("tag") == tag:
                raise ParamError({"tag": "tag %s already exist in vnet %s" % (tag, other_id)})

    @staticmethod
    def _vnet_tag_qinq(vnet, tag, others, _zones):
        """Zones/QinQPlugin.pm vnet_update_hook."""
        if tag and tag > 4096:
            raise ParamError({"tag": "VLAN tag maximal value is 4096"})
        for other_id, other in others.items():
            if other.get("zone") != vnet["zone"]:
                continue
            if tag and other.get("tag") == tag:
                raise ParamError({"tag": "tag %s already exist in zone %s vnet %s" % (tag, vnet["zone"], other_id)})
            if not tag and not other.get("tag"):
                raise ParamError({"tag": "tag-less vnet already exists in zone %s vnet %s" % (vnet["zone"], other_id)})

    @staticmethod
    def _vnet_tag_vxlan(vnet, tag, others, zones):
        """Zones/VxlanPlugin.pm and EvpnPlugin.pm vnet_update_hook: VXLAN ids are unique across vxlan+evpn zones."""
        if tag is None:
            raise ParamError({"tag": "missing vxlan tag"})
        if tag > 16777216:
            raise ParamError({"tag": "vxlan tag max value is 16777216"})
        if vnet.get("vlanaware") and zones[vnet["zone"]]["type"] == "evpn":
            raise ParamError({"vlan-aware": "vlan-aware option can't be enabled with evpn"})
        for other_id, other in others.items():
            other_zone = zones.get(other.get("zone"), {})
            if other_zone.get("type") in ("vxlan", "evpn") and other.get("tag") == tag:
                raise ParamError({"tag": "vxlan tag %s already exist in vnet %s in zone %s " % (tag, other_id, other["zone"])})

    _vnet_tag_evpn = _vnet_tag_vxlan

    def _vnet_updated(self, vnet_id, old):
        """Vnets.pm update: the zone cannot be deleted, nor changed while subnets exist."""
        vnet = self.state["pending"]["vnets"][vnet_id]
        if not vnet.get("zone"):
            raise ParamError({"zone": "cannot delete zone"})
        if vnet["zone"] != old["zone"] and self._vnet_subnets(vnet_id):
            raise ParamError({"zone": "can't change zone if subnets exist"})
        self._vnet_hook(vnet_id)

    @route("POST", "/cluster/sdn/vnets")
    def vnet_create(self, request):
        """API2/Network/SDN/Vnets.pm create: check_config runs inside the lock here."""
        params, _delete = self._split_params(request, "vnet")
        params.pop("type", None)
        vnet_id = request.params["vnet"]

        def code():
            settings = check_config(VNET_OPTIONS["vnet"], params, True)
            if vnet_id in self.state["pending"]["vnets"]:
                raise die("sdn vnet object ID '%s' already defined\n" % vnet_id)
            self.state["pending"]["vnets"][vnet_id] = dict(settings, type="vnet")
            self._vnet_hook(vnet_id)
        self._locked(request, "create sdn vnet object failed", code)

    @route("PUT", "/cluster/sdn/vnets/{vnet}")
    def vnet_update(self, request):
        """API2/Network/SDN/Vnets.pm update."""
        self._vnet_access(request, request.params["vnet"], WRITE_PRIVILEGES)
        self._update(request, VNET, self._vnet_updated)

    @route("DELETE", "/cluster/sdn/vnets/{vnet}")
    def vnet_delete(self, request):
        """API2/Network/SDN/Vnets.pm delete; VnetPlugin.pm on_delete_hook."""
        self._vnet_access(request, request.params["vnet"], WRITE_PRIVILEGES)

        def hook(vnet_id, _section):
            if self._vnet_subnets(vnet_id):
                raise ParamError({"vnet": "Can't delete vnet if subnets exists"})
        self._delete(request, VNET, hook)

    # -- subnets ----------------------------------------------------------------------------------
    @route("GET", "/cluster/sdn/vnets/{vnet}/subnets")
    def subnets_index(self, request):
        """API2/Network/SDN/Subnets.pm index: the subnets of one vnet."""
        vnet_id = request.params["vnet"]
        self._vnet_access(request, vnet_id, READ_PRIVILEGES)
        return [entry for entry in self._list(SUBNET, request) if entry.get("vnet") == vnet_id]

    @route("GET", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}")
    def subnet_read(self, request):
        """API2/Network/SDN/Subnets.pm read: a subnet of another vnet is a "wrong vnet"."""
        self._vnet_access(request, request.params["vnet"], READ_PRIVILEGES)
        request.params["subnet"] = self._subnet_key(request)
        result = self._read(SUBNET, request)
        if result.get("vnet") != request.params["vnet"]:
            raise ParamError({"vnet": "wrong vnet"})
        return result

    def _subnet_key(self, request):
        """A subnet path element may be the id or (on create) a CIDR."""
        value = request.params["subnet"]
        if "/" in value:
            zone = self.state["pending"]["vnets"].get(request.params["vnet"], {}).get("zone")
            return subnet_id(zone, value)
        return value

    def _subnet_hook(self, zone_id, object_id, old=None):
        """SubnetPlugin.pm on_update_hook: vnet, gateway, dhcp ranges; then the IPAM registration."""
        section = self.state["pending"]["subnets"][object_id]
        cidr = subnet_api_view(object_id, section)["cidr"]
        vnet = self.state["pending"]["vnets"].get(section.get("vnet"))
        if vnet is None:
            raise ParamError({"vnet": "%s don't exist" % section.get("vnet")})
        if vnet.get("vlanaware"):
            raise ParamError({"vnet": "you can't add a subnet on a vlanaware vnet"})
        gateway = section.get("gateway")
        point_to_point = ip_network(cidr).version == 4 and ip_network(cidr).prefixlen == 32
        if gateway and not point_to_point and not ip_in(gateway, cidr):
            raise ParamError({"gateway": "%s is not in subnet %s" % (gateway, cidr)})
        self._check_dhcp_ranges(section.get("dhcp-range") or [], cidr)
        ipam = self.state["pending"]["zones"].get(zone_id, {}).get("ipam")
        if ipam == "pve":
            self._ipam_register(zone_id, cidr, gateway, (old or {}).get("gateway"))

    @staticmethod
    def _check_dhcp_ranges(ranges, cidr):
        """SubnetPlugin.pm validate_dhcp_ranges."""
        seen = []
        for text in ranges:
            parsed = parse_dhcp_range(text)
            start, end = parsed["start-address"], parsed["end-address"]
            if ip_in(start, cidr) and ip_in(end, cidr) and _int_ip(start) > _int_ip(end):
                raise ParamError({"dhcp-range": "start-address %s must be smaller than end-address %s" % (start, end)})
            for key, address in (("start-address", start), ("end-address", end)):
                if not ip_in(address, cidr):
                    raise ParamError({"dhcp-range": "%s %s is not in subnet %s" % (key, address, cidr)})
            for other_start, other_end in seen:
                if _int_ip(start) <= other_end and other_start <= _int_ip(end):
                    raise ParamError({"dhcp-range": "dhcp ranges must not overlap"})
            seen.append((_int_ip(start), _int_ip(end)))

    def _ipam_register(self, zone_id, cidr, gateway, old_gateway):
        """Subnets.pm add_subnet/update_subnet with Ipams/PVEPlugin.pm: the gateway as {"gateway": 1}."""
        subnet = self.state["ipam_db"]["zones"].setdefault(zone_id, {"subnets": {}})["subnets"].setdefault(cidr, {"ips": {}})
        ips = subnet["ips"]
        if old_gateway and old_gateway != gateway and ips.get(old_gateway, {}).get("gateway"):
            del ips[old_gateway]
        if gateway:
            if gateway in ips and not ips[gateway].get("gateway"):
                raise die("IP '%s' already exist\n" % gateway)
            ips[gateway] = {"gateway": 1}

    @route("POST", "/cluster/sdn/vnets/{vnet}/subnets")
    def subnet_create(self, request):
        """API2/Network/SDN/Subnets.pm create: id = <zone of the vnet>-<cidr with - for />."""
        vnet_id = request.params["vnet"]
        self._vnet_access(request, vnet_id, WRITE_PRIVILEGES)
        params, _delete = self._split_params(request, "subnet")
        params.pop("type")

        def code():
            zone_id = self.state["pending"]["vnets"][vnet_id]["zone"]
            object_id = subnet_id(zone_id, request.params["subnet"])
            settings = check_config(SUBNET_OPTIONS["subnet"], params, True)
            if object_id in self.state["pending"]["subnets"]:
                raise die("sdn subnet object ID '%s' already defined\n" % object_id)
            self.state["pending"]["subnets"][object_id] = dict(settings, type="subnet")
            self._subnet_hook(zone_id, object_id)
        self._locked(request, "create sdn subnet object failed", code)

    @route("PUT", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}")
    def subnet_update(self, request):
        """API2/Network/SDN/Subnets.pm update."""
        vnet_id = request.params["vnet"]
        self._vnet_access(request, vnet_id, WRITE_PRIVILEGES)
        request.params["subnet"] = self._subnet_key(request)
        zone_id = self.state["pending"]["vnets"][vnet_id]["zone"]
        self._update(request, SUBNET, lambda object_id, old: self._subnet_hook(zone_id, object_id, old))

    @route("DELETE", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}")
    def subnet_delete(self, request):
        """API2/Network/SDN/Subnets.pm delete; PVEPlugin.pm del_subnet refuses subnets with guest IPs."""
        self._vnet_access(request, request.params["vnet"], WRITE_PRIVILEGES)
        request.params["subnet"] = self._subnet_key(request)

        def hook(object_id, _section):
            zone_id, network, mask = subnet_cidr(object_id)
            cidr = "%s/%d" % (network, mask)
            subnets = self.state["ipam_db"]["zones"].get(zone_id, {}).get("subnets", {})
            if any(not entry.get("gateway") for entry in subnets.get(cidr, {}).get("ips", {}).values()):
                raise die("cannot delete subnet '%s', not empty\n" % cidr)
            subnets.pop(cidr, None)
        self._delete(request, SUBNET, hook)

    # -- IPAM IPs -----------------------------------------------------------------------------------
    # API2/Network/SDN/Ips.pm -> Vnets.pm add_ip/del_ip/get_ips_from_mac -> Subnets.pm add_ip/del_ip ->
    # the zone's IPAM plugin (Ipams/PVEPlugin.pm) and the MAC cache (Ipams.pm, sdn/mac-cache.json).
    # Which config each step reads is the same in PVE 8.4 (pve-network 0.11.2 at 8f4f5d2) and 9.1 (ecf98c5).
    def _ip_place(self, vnet_id, address):
        """Vnets.pm get_subnet_from_vnet_ip (pve-network at ecf98c5 and 8f4f5d2): (IPAM DB zone id, zone, CIDR,
        canonical address) of the VNet's subnet that holds the address.

        The subnets are the RUNNING config's subnets naming the VNet (get_subnets($vnetid, 1)): one that is only
        pending is not found ("can't find any subnet for ip"), one deleted in the pending config still is (but
        Subnets.pm delete already took it out of the IPAM DB). The VNet and its zone are the PENDING ones
        (get_vnet, get_zone without $running): a VNet missing there has no zone id. The IPAM DB entry is
        under the zone of the subnet's id (PVEPlugin.pm uses $subnet->{zone})."""
        running_subnets = self._running().get("subnets", {})
        vnet = self.state["pending"]["vnets"].get(vnet_id)
        if vnet is None or not vnet.get("zone"):
            raise die("no sdn zone ID specified\n")  # Zones.pm sdn_zones_config with an undefined id
        zone = self.state["pending"]["zones"].get(vnet["zone"]) or {}
        for object_id in sorted(running_subnets):
            if running_subnets[object_id].get("vnet") != vnet_id:
                continue
            subnet_zone_id, network, mask = subnet_cidr(object_id)
            cidr = "%s/%d" % (network, mask)
            if address and ip_in(address, cidr):
                canonical = str(ipaddress.ip_address(address))  # NetAddr::IP canon()
                return subnet_zone_id, zone, cidr, canonical
        raise die(perl_die("no-subnet-for-ip", "can't find any subnet for ip %s" % (address or "")))

    def _ipam_db_ips(self, zone, zone_id, cidr, errors):
        """The IPs of a subnet in the PVE IPAM state; None when the zone has no IPAM (nothing is recorded).
        `errors` are the plugin's texts for a zone or subnet missing from the state (add_ip or del_ip)."""
        ipam_id = zone.get("ipam")
        if not ipam_id:
            return None
        ipam = self._ipams().get(ipam_id, {})
        if ipam.get("type") != "pve":
            raise die("pvesim: the %s IPAM '%s' is not simulated (PVE calls its API)\n" % (ipam.get("type"), ipam_id))
        zone_db = self.state["ipam_db"]["zones"].get(zone_id)
        if zone_db is None:
            raise die(errors[0] % zone_id)
        if cidr not in zone_db["subnets"]:
            raise die(errors[1] % cidr)
        return zone_db["subnets"][cidr]["ips"]

    def _mac_cache(self):
        return self.state.setdefault("mac_cache", {})

    def _add_ip(self, vnet_id, address, mac, vmid):
        """Vnets.pm add_ip; PVEPlugin.pm add_ip: "IP '<ip>' already exist"; then the MAC cache."""
        zone_id, zone, cidr, address = self._ip_place(vnet_id, address)
        ips = self._ipam_db_ips(zone, zone_id, cidr, ("zone '%s' doesn't exist in IPAM DB\n",
                                                      "subnet '%s' doesn't exist in IPAM DB\n"))
        if ips is None:
            return
        if address in ips:
            raise die("IP '%s' already exist\n" % address)
        ips[address] = {key: value for key, value in (("vmid", vmid), ("mac", mac)) if value}
        if mac:
            self._mac_cache().setdefault(mac, {})["ip%d" % ipaddress.ip_address(address).version] = address

    def _del_ip(self, vnet_id, address, mac):
        """Vnets.pm del_ip; PVEPlugin.pm del_ip; the MAC cache forgets the MAC's address of that family."""
        zone_id, zone, cidr, address = self._ip_place(vnet_id, address)
        ips = self._ipam_db_ips(zone, zone_id, cidr, (perl_die_text("zone %s don't exist in ipam db", 263),
                                                      perl_die_text("subnet %s don't exist in ipam db", 265)))
        if ips is None:
            return
        if address not in ips:
            raise die("IP '%s' does not exist in IPAM DB\n" % address)
        del ips[address]
        cached = self._mac_cache().get(mac) if mac else None
        if cached is not None:
            cached.pop("ip%d" % ipaddress.ip_address(address).version, None)
            if not cached:
                del self._mac_cache()[mac]

    def _ips_of_mac(self, vnet_id, mac):
        """Vnets.pm get_ips_from_mac: nothing unless the zone has an IPAM and DHCP; the MAC cache first,
        then PVEPlugin.pm get_ips_from_mac over the zone's subnets (an exact, case-sensitive match)."""
        vnet = self.state["pending"]["vnets"].get(vnet_id) or {}
        zone = self.state["pending"]["zones"].get(vnet.get("zone")) or {}
        if not zone.get("ipam") or not zone.get("dhcp"):
            return {}
        if mac in self._mac_cache():
            return self._mac_cache()[mac]
        zone_db = self.state["ipam_db"]["zones"].get(vnet["zone"])
        if zone_db is None:
            raise die(perl_die_text("zone %s don't exist in ipam db" % vnet["zone"], 285))
        found = {}
        for subnet in zone_db["subnets"].values():
            for address, entry in subnet["ips"].items():
                if entry.get("mac") == mac:
                    found["ip%d" % ipaddress.ip_address(address).version] = address
        self._mac_cache()[mac] = found
        return found

    @route("POST", "/cluster/sdn/vnets/{vnet}/ips")
    def ip_create(self, request):
        """API2/Network/SDN/Ips.pm ipcreate: add_ip with the MAC and no guest id."""
        params = request.params
        self._add_ip(params["vnet"], params["ip"], params.get("mac"), None)

    @route("PUT", "/cluster/sdn/vnets/{vnet}/ips")
    def ip_update(self, request):
        """API2/Network/SDN/Ips.pm ipupdate: the MAC's address of the same family is deleted and the new one
        added (with the guest id); when that fails the old one is added back. A MAC with no address in the
        zone has none to delete, and del_ip finds no subnet for an undefined address."""
        params = request.params
        vnet_id, mac, vmid = params["vnet"], params.get("mac"), params.get("vmid")
        old = self._ips_of_mac(vnet_id, mac).get("ip%d" % ipaddress.ip_address(params["ip"]).version)
        self._del_ip(vnet_id, old, mac)
        try:
            self._add_ip(vnet_id, params["ip"], mac, vmid)
        except ApiError as error:
            self._add_ip(vnet_id, old, mac, vmid)
            raise die(error.message + "\n") from error

    @route("DELETE", "/cluster/sdn/vnets/{vnet}/ips")
    def ip_delete(self, request):
        """API2/Network/SDN/Ips.pm ipdelete: del_ip inside an eval, re-thrown with one more newline."""
        params = request.params
        try:
            self._del_ip(params["vnet"], params["ip"], params.get("mac"))
        except ApiError as error:
            raise die(error.message + "\n") from error

    # -- controllers --------------------------------------------------------------------------------
    @route("GET", "/cluster/sdn/controllers")
    def controllers_index(self, request):
        """API2/Network/SDN/Controllers.pm index."""
        return self._list(CONTROLLER, request)

    @route("GET", "/cluster/sdn/controllers/{controller}")
    def controller_read(self, request):
        """API2/Network/SDN/Controllers.pm read."""
        return self._read(CONTROLLER, request)

    def _controller_hook(self, controller_id, _old=None):
        """Controllers/EvpnPlugin.pm and BgpPlugin.pm on_update_hook."""
        controllers = self.state["pending"]["controllers"]
        controller = controllers[controller_id]
        others = [controllers[other] for other in sorted(controllers) if other != controller_id]
        if controller["type"] == "evpn":
            if any(other["type"] == "evpn" for other in others):
                raise die(perl_die("one-evpn-controller", "only 1 global evpn controller can be defined"))
            if self.pve9 and bool(controller.get("peers")) == bool(controller.get("fabric")):
                raise die(perl_die("evpn-peers-fabric", "must have exactly one of peers / fabric defined"))
        elif controller["type"] == "bgp":
            if any(other["type"] == "bgp" and other.get("node") == controller.get("node") for other in others):
                raise die(perl_die("one-bgp-controller", "only 1 bgp controller can be defined"))

    def _controller_deleted(self, controller_id, section):
        """Controllers/EvpnPlugin.pm and BgpPlugin.pm on_delete_hook."""
        if section["type"] not in ("evpn", "bgp"):
            return
        zones = self.state["pending"]["zones"]
        for zone_id in sorted(zones):
            if zones[zone_id].get("controller") == controller_id:
                key = "evpn-controller-used" if section["type"] == "evpn" else "bgp-controller-used"
                raise die(perl_die(key, "controller %s is used by %s" % (controller_id, zone_id)))

    @route("POST", "/cluster/sdn/controllers")
    def controller_create(self, request):
        """API2/Network/SDN/Controllers.pm create."""
        self._create(request, CONTROLLER, self._controller_hook)

    @route("PUT", "/cluster/sdn/controllers/{controller}")
    def controller_update(self, request):
        """API2/Network/SDN/Controllers.pm update."""
        self._update(request, CONTROLLER, self._controller_hook)

    @route("DELETE", "/cluster/sdn/controllers/{controller}")
    def controller_delete(self, request):
        """API2/Network/SDN/Controllers.pm delete."""
        self._delete(request, CONTROLLER, self._controller_deleted)

    # -- IPAMs and DNS (not part of the pending/running model) ---------------------------------------
    def routes(self):
        """The decorated handlers, plus the plain CRUD of IPAMs and DNS servers
        (API2/Network/SDN/Ipams.pm and Dns.pm index, read, create, update, delete)."""
        yield from super().routes()
        for kind, base in ((IPAM, "/cluster/sdn/ipams"), (DNS, "/cluster/sdn/dns")):
            item = "%s/{%s}" % (base, kind.name)
            yield "GET", base, lambda request, kind=kind: self._list(kind, request)
            yield "GET", item, lambda request, kind=kind: self._read(kind, request)
            yield "POST", base, lambda request, kind=kind: self._create(request, kind)
            yield "PUT", item, lambda request, kind=kind: self._update(request, kind)
            yield "DELETE", item, lambda request, kind=kind: self._delete(request, kind)

    @route("GET", "/cluster/sdn/ipams/{ipam}/status")
    def ipam_status(self, request):
        """API2/Network/SDN/Ipams.pm ipamindex (pve-network at ecf98c5; the same reads at 8f4f5d2, PVE 8.4):
        PVE IPAM only; the IPAM DB's zones that the RUNNING config has with ipam `pve` and `dhcp` set; each
        subnet listed under the first of the zone's running VNets for which get_subnet_from_vnet_ip finds a
        subnet holding its network address (see _ip_place), skipped when there is none or when the caller has
        neither SDN.Audit nor SDN.Allocate on /sdn/zones/<zone>/<vnet>; guest ids as integers."""
        if request.params["ipam"] != "pve":
            raise die(perl_die("only-pve-ipam", "Currently only PVE IPAM is supported!"))
        result = []
        running_zones, running_vnets = (self._running().get(key, {}) for key in ("zones", "vnets"))
        for zone_id, zone_db in sorted(self.state["ipam_db"]["zones"].items()):
            zone = running_zones.get(zone_id)
            if not zone or zone.get("ipam") != "pve" or not zone.get("dhcp"):
                continue
            zone_vnets = sorted(vnet_id for vnet_id, vnet in running_vnets.items() if vnet.get("zone") == zone_id)
            for cidr, subnet in sorted(zone_db["subnets"].items()):
                owner = self._vnet_holding(zone_vnets, str(ip_network(cidr).network_address))
                if owner is None or not self._may_read(request, vnet_acl_path(zone_id, owner)):
                    continue
                for address, entry in sorted(subnet["ips"].items()):
                    listed = dict(entry, zone=zone_id, subnet=cidr, ip=address, vnet=owner)
                    if "vmid" in listed:  # an integer since pve-network 37c2156 (9.x); 8.4 returns the string it stored
                        listed["vmid"] = int(listed["vmid"]) if self.pve9 else str(listed["vmid"])
                    result.append(listed)
        return result

    def _vnet_holding(self, vnet_ids, address):
        """Ipams.pm ipamindex: the first VNet whose subnet lookup succeeds (PVE tries them in hash order)."""
        for vnet_id in vnet_ids:
            try:
                self._ip_place(vnet_id, address)
            except ApiError:
                continue
            return vnet_id
        return None


def perl_die_text(text, line):
    """A die without a newline in Ipams/PVEPlugin.pm (pve-network at ecf98c5): Perl appends the place."""
    return "%s at /usr/share/perl5/PVE/Network/SDN/Ipams/PVEPlugin.pm line %d.\n" % (text, line)


def _int_ip(address):
    return int(ip_network(address).network_address)


class _NoToken:  # pylint: disable=too-few-public-methods
    """POST /cluster/sdn/lock calls lock_sdn_config without a token."""

    def __init__(self, request):
        self.params = {key: value for key, value in request.params.items() if key != "lock-token"}
