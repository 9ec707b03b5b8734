"""Firewall: cluster, host, guest and VNet rules and options, security groups, IP sets, aliases, refs, macros.

Sources (proxmox/pve-firewall at 6f1311f3): src/PVE/API2/Firewall/{Cluster,Host,VM,Vnet,Rules,Groups,
IPSet,Aliases,Helpers}.pm, src/PVE/Firewall.pm, src/PVE/Firewall/Helpers.pm (collect_refs). Facts and
messages live in pvesim/firewall_config.py. The state holds each .fw file the way
generic_fw_config_parser reads it back after PVE wrote it, so every answer is what the next request
to a real cluster would see; GET /_sim/firewall/files renders the files themselves.

Guest firewall calls, like PVE's, never consult the guest list: they read and write
/etc/pve/firewall/<vmid>.fw whether the guest exists or not (the node in the path only has to
resolve, which the dispatcher's proxyto step checks). The guest list only decides which guest
files a security group rename rewrites (Groups.pm, PVE::Cluster::get_vmlist).
"""

import copy
import re
import time

from pvesim.areas import Area, route
from pvesim.errors import ParamError, die
from pvesim.firewall_config import (
    CLUSTER_OPTIONS, HOST_OPTIONS, IFACE_ALLOWED, NAME_PATTERN, VM_OPTIONS, VNET_OPTIONS, Scope, assert_if_modified, clean_cidr,
    cluster_options_view, copy_rule_data, delete_rule_properties, list_digest, macro_list, object_digest, parse_ip_or_cidr,
    render_file, sort_ipset, stored_rule, update_options, verify_rule, with_list_digest)

CLUSTER = "/cluster/firewall"
HOST = "/nodes/{node}/firewall"
QEMU = "/nodes/{node}/qemu/{vmid}/firewall"
LXC = "/nodes/{node}/lxc/{vmid}/firewall"
VNET = "/cluster/sdn/vnets/{vnet}/firewall"
GROUP = CLUSTER + "/groups/{group}"
RULE_LISTS = (CLUSTER + "/rules", HOST + "/rules", QEMU + "/rules", LXC + "/rules", VNET + "/rules")
GUEST_BASES = (QEMU, LXC)
SDN_IPSET_SUFFIXES = ("all", "gateway", "no-gateway", "dhcp")  # pvesdn.adoc "IPAM and firewall"


def _empty(kind):
    """The empty_conf of load_clusterfw_conf / load_hostfw_conf / load_vmfw_conf / load_vnetfw_conf."""
    conf = {"options": {}, "rules": []}
    if kind in ("cluster", "guest"):
        conf.update(aliases={}, ipset={}, ipset_comments={})
    if kind == "cluster":
        conf.update(groups={}, group_comments={})
    return conf


def _vnet_privileges(request):
    """The privileges a VNet firewall call checks, in PVE's order (a 403 names them joined by `|`):
    Vnet.pm get_options SDN.Allocate|SDN.Audit, Rules.pm VnetRules check_privileges_for_method
    SDN.Audit|SDN.Allocate for get_rule(s), and every write (set_options, create/update/delete_rule)
    SDN.Allocate (pve-firewall 6f1311f3, the same since the VNet firewall came in 5.1.0)."""
    if request.method != "GET":
        return ("SDN.Allocate",)
    if request.schema_path.endswith("/options"):
        return ("SDN.Allocate", "SDN.Audit")
    return ("SDN.Audit", "SDN.Allocate")


def _routes(method, *paths):
    """@route for the same handler on several schema paths."""
    def decorator(function):
        for path in paths:
            function = route(method, path)(function)
        return function
    return decorator


class FirewallArea(Area):  # pylint: disable=too-many-public-methods
    """The firewall configuration files of the cluster."""

    name = "firewall"

    def initial_state(self):
        return {"cluster": _empty("cluster"), "hosts": {}, "guests": {}, "vnets": {}}

    def side_routes(self):
        return {("GET", "/_sim/firewall/files"): lambda sim, body: self.files()}

    # -- configs ------------------------------------------------------------------------------------
    def files(self):
        """Every non-empty .fw file by its name: cluster.fw, host.fw/<node>, <vmid>.fw, sdn/<vnet>.fw."""
        result = {}
        cluster = render_file(self.state["cluster"], groups=True)
        if cluster:
            result["cluster.fw"] = cluster
        for node in sorted(self.state["hosts"]):
            result["host.fw/%s" % node] = render_file(self.state["hosts"][node])
        for vmid in sorted(self.state["guests"], key=int):
            result["%s.fw" % vmid] = render_file(self.state["guests"][vmid])
        for vnet in sorted(self.state["vnets"]):
            result["sdn/%s.fw" % vnet] = render_file(self.state["vnets"][vnet])
        return result

    def _target(self, request):
        """(kind, collection, key, rule_env) of the config a request addresses."""
        params, path = request.params, request.schema_path
        if path.startswith(VNET.rsplit("/firewall", 1)[0] + "/firewall"):
            return "vnet", "vnets", params["vnet"], "vnet"
        if "/qemu/" in path or "/lxc/" in path:
            return "guest", "guests", str(params["vmid"]), "ct" if "/lxc/" in path else "vm"
        if path.startswith("/nodes/"):
            return "host", "hosts", params["node"], "host"
        return "cluster", None, None, "cluster"

    def _conf(self, request, create=False):
        kind, collection, key, _env = self._target(request)
        if collection is None:
            return self.state["cluster"]
        if key not in self.state[collection]:
            if not create:
                return _empty(kind)
            self.state[collection][key] = _empty(kind)
        return self.state[collection][key]

    def _write(self, code):
        """A locked write: the state is restored when `code` fails; emptied files are removed (unlink)."""
        saved = copy.deepcopy(dict(self.state))
        try:
            code()
        except Exception:
            self.state.clear()
            self.state.update(saved)
            raise
        for collection in ("hosts", "guests", "vnets"):
            for key in [key for key, conf in self.state[collection].items() if not render_file(conf)]:
                del self.state[collection][key]

    def _sdn_ipsets(self):
        """load_sdn_conf: the IP sets pve-firewall derives from the running SDN config."""
        sdn = self.sim.areas.get("SdnArea")
        running = (sdn.state["running"] if sdn else None) or {}
        vnets = {section.get("vnet") for section in running.get("subnets", {}).values()}
        return {"%s-%s" % (vnet, suffix): vnet for vnet in sorted(v for v in vnets if v) for suffix in SDN_IPSET_SUFFIXES}

    def _check_vnet(self, request):
        """Helpers.pm check_vnet_access: the VNet must exist in the running SDN config, and the caller needs
        any of the method's privileges on /sdn/zones/<the running VNet's zone>/<vnet> (see _vnet_privileges)."""
        if not request.schema_path.startswith("/cluster/sdn/"):
            return
        sdn = self.sim.areas.get("SdnArea")
        running = (sdn.state["running"] if sdn else None) or {}
        vnet_id = request.params["vnet"]
        if vnet_id not in running.get("vnets", {}):
            raise die("invalid vnet specified at /usr/share/perl5/PVE/API2/Firewall/Helpers.pm line 55.\n")
        path = "/sdn/zones/%s/%s" % (running["vnets"][vnet_id].get("zone"), vnet_id)
        self.sim.permissions.control.check(request.userid, path, _vnet_privileges(request), any_of=True)

    def _scope(self, request, local):
        kind = self._target(request)[0]
        cluster = None if kind == "cluster" else self.state["cluster"]
        return Scope(cluster, local, self._sdn_ipsets())

    # -- indexes -------------------------------------------------------------------------------------
    @route("GET", CLUSTER)
    def cluster_index(self, _request):
        return [{"name": name} for name in ("aliases", "rules", "options", "groups", "ipset", "macros", "refs")]

    @route("GET", HOST)
    def host_index(self, _request):
        return [{"name": name} for name in ("rules", "options", "log")]

    @_routes("GET", QEMU, LXC)
    def guest_index(self, _request):
        return [{"name": name} for name in ("rules", "aliases", "ipset", "refs", "options")]

    @route("GET", VNET)
    def vnet_index(self, request):
        self._check_vnet(request)
        return [{"name": name} for name in ("rules", "options")]

    @route("GET", CLUSTER + "/macros")
    def macros(self, _request):
        return macro_list()

    # -- options -------------------------------------------------------------------------------------
    @_routes("GET", CLUSTER + "/options", HOST + "/options", QEMU + "/options", LXC + "/options", VNET + "/options")
    def get_options(self, request):
        self._check_vnet(request)
        options = self._conf(request)["options"]
        if self._target(request)[0] == "cluster":
            options = cluster_options_view(options)
        return dict(options, digest=object_digest(options))

    @_routes("PUT", CLUSTER + "/options", HOST + "/options", QEMU + "/options", LXC + "/options", VNET + "/options")
    def set_options(self, request):
        self._check_vnet(request)
        kind = self._target(request)[0]
        allowed = {"cluster": CLUSTER_OPTIONS, "host": HOST_OPTIONS, "guest": VM_OPTIONS, "vnet": VNET_OPTIONS}[kind]
        params = dict(request.params)
        if kind == "cluster" and params.get("enable", 0) > 1:
            params["enable"] = int(time.time())  # Cluster.pm set_options: the anti-lockout "double call"
        elif kind != "cluster" and params.get("enable") is not None:
            params["enable"] = 1 if params["enable"] else 0

        def code():
            conf = self._conf(request, create=True)
            current = cluster_options_view(conf["options"]) if kind == "cluster" else conf["options"]
            assert_if_modified(object_digest(current), params.get("digest"))
            conf["options"] = dict(current)
            update_options(conf["options"], allowed, params, params.get("delete"))
        self._write(code)

    # -- rules ---------------------------------------------------------------------------------------
    def _rules_of(self, request, create=False):
        """(rule list, rule_env, its config) of a rules call; group rules live in cluster.fw."""
        if request.schema_path.startswith(GROUP):
            group = request.params["group"]
            if group not in self.state["cluster"]["groups"]:
                raise die("no such security group '%s'\n" % group)
            return self.state["cluster"]["groups"][group], "group", self.state["cluster"]
        self._check_vnet(request)
        conf = self._conf(request, create)
        return conf["rules"], self._target(request)[3], conf

    def _api_rules(self, request):
        rules, rule_env, conf = self._rules_of(request)
        scope = self._scope(request, conf)
        derived = []
        for rule in rules:
            entry = dict(rule)
            ipversion, _errors = verify_rule(dict(rule), scope, rule_env, noerr=True)
            if ipversion:
                entry["ipversion"] = ipversion
            derived.append(entry)
        result, _digest = with_list_digest(derived)
        for pos, entry in enumerate(result):
            entry["pos"] = pos
        return result

    @_routes("GET", *(RULE_LISTS + (GROUP,)))
    def get_rules(self, request):
        return self._api_rules(request)

    @_routes("GET", *[path + "/{pos}" for path in RULE_LISTS + (GROUP,)])
    def get_rule(self, request):
        rules = self._api_rules(request)
        pos = request.params["pos"]
        if pos >= len(rules):
            raise die("no rule at position %d\n" % pos)
        return rules[pos]

    @_routes("POST", *(RULE_LISTS + (GROUP,)))
    def create_rule(self, request):
        def code():
            rules, rule_env, conf = self._rules_of(request, create=True)
            rule = copy_rule_data({}, request.params)
            verify_rule(rule, self._scope(request, conf), rule_env)
            if request.params.get("enable") is None:
                rule["enable"] = 0
            # RulesBase create_rule: unshift, whatever `pos` says
            rules.insert(0, stored_rule(rule, IFACE_ALLOWED[rule_env]))
        self._write(code)

    @_routes("PUT", *[path + "/{pos}" for path in RULE_LISTS + (GROUP,)])
    def update_rule(self, request):
        params = request.params

        def code():
            rules, rule_env, conf = self._rules_of(request, create=True)
            assert_if_modified(self._list_digest(request), params.get("digest"))
            pos = params["pos"]
            if pos >= len(rules):
                raise die("no rule at position %d\n" % pos)
            moveto = params.get("moveto")
            if moveto is not None and moveto != pos:
                rules[:] = _moved(rules, pos, moveto)
                return
            rule = dict(rules[pos])
            copy_rule_data(rule, params)
            if params.get("delete"):
                delete_rule_properties(rule, params["delete"])
            verify_rule(rule, self._scope(request, conf), rule_env)
            rules[pos] = stored_rule(rule, IFACE_ALLOWED[rule_env])
        self._write(code)

    def _list_digest(self, request):
        rules = self._api_rules(request)
        return rules[0]["digest"] if rules else list_digest([])

    @_routes("DELETE", *[path + "/{pos}" for path in RULE_LISTS + (GROUP,)])
    def delete_rule(self, request):
        def code():
            rules = self._rules_of(request, create=True)[0]
            assert_if_modified(self._list_digest(request), request.params.get("digest"))
            pos = request.params["pos"]
            if pos >= len(rules):
                raise die("no rule at position %d\n" % pos)
            del rules[pos]
        self._write(code)

    # -- security groups ---------------------------------------------------------------------------
    def _group_list(self):
        cluster = self.state["cluster"]
        entries = []
        for group in sorted(cluster["groups"]):
            entry = {"group": group}
            if cluster["group_comments"].get(group):
                entry["comment"] = cluster["group_comments"][group]
            entries.append(entry)
        return with_list_digest(entries)

    @route("GET", CLUSTER + "/groups")
    def list_groups(self, _request):
        return self._group_list()[0]

    @route("POST", CLUSTER + "/groups")
    def create_group(self, request):
        # generic_fw_config_parser lower-cases `[group <name>]`: the name a client finds afterwards
        group = request.params["group"].lower()
        rename = request.params.get("rename")
        comment = request.params.get("comment")
        cluster = self.state["cluster"]

        def code():
            if rename:
                assert_if_modified(self._group_list()[1], request.params.get("digest"))
                if rename not in cluster["groups"]:
                    raise ParamError({"group": "Security group '%s' does not exist" % rename})
                if group in cluster["groups"] and group != rename:
                    raise ParamError({"group": "Security group '%s' does already exist" % group})
                if rename == group:
                    if comment is not None:
                        cluster["group_comments"][group] = comment
                    return
                cluster["groups"][group] = cluster["groups"].pop(rename)
                old_comment = cluster["group_comments"].pop(rename, None)
                if comment is not None or old_comment:
                    cluster["group_comments"][group] = comment if comment is not None else old_comment
                self._rename_group_references(rename, group)
                return
            if group in cluster["groups"]:
                raise ParamError({"group": "Security group '%s' already exists" % group})
            cluster["groups"][group] = []
            if comment is not None:
                cluster["group_comments"][group] = comment
        self._write(code)

    def _rename_group_references(self, old, new):
        """Groups.pm rename: group rules of cluster.fw, every node's host.fw and the listed guests' files."""
        guests_area = self.sim.areas.get("GuestsArea")
        known_guests = {str(guest["vmid"]) for guest in guests_area.guests()} if guests_area else set()
        confs = [self.state["cluster"]] + list(self.state["hosts"].values())
        confs += [conf for vmid, conf in self.state["guests"].items() if vmid in known_guests]
        for conf in confs:
            for rule in conf["rules"]:
                if rule["type"] == "group" and rule["action"] == old:
                    rule["action"] = new
        self.state["cluster"]["group_comments"] = {
            name: text for name, text in self.state["cluster"]["group_comments"].items() if text}

    @route("DELETE", GROUP)
    def delete_group(self, request):
        group = request.params["group"]
        cluster = self.state["cluster"]

        def code():
            if group not in cluster["groups"]:
                raise die("no such security group '%s'\n" % group)
            if cluster["groups"][group]:
                raise die("Security group '%s' is not empty\n" % group)
            del cluster["groups"][group]
            cluster["group_comments"].pop(group, None)
        self._write(code)

    # -- IP sets -------------------------------------------------------------------------------------
    def _ipset_list(self, conf):
        entries = []
        for name in sorted(conf.get("ipset", {})):
            entry = {"name": name}
            if conf["ipset_comments"].get(name):
                entry["comment"] = conf["ipset_comments"][name]
            entries.append(entry)
        return with_list_digest(entries)

    @_routes("GET", CLUSTER + "/ipset", QEMU + "/ipset", LXC + "/ipset")
    def list_ipsets(self, request):
        return self._ipset_list(self._conf(request))[0]

    @_routes("POST", CLUSTER + "/ipset", QEMU + "/ipset", LXC + "/ipset")
    def create_ipset(self, request):
        # generic_fw_config_parser lower-cases `[IPSET <name>]`
        name = request.params["name"].lower()
        rename = request.params.get("rename")
        comment = request.params.get("comment")

        def code():
            conf = self._conf(request, create=True)
            if rename:
                assert_if_modified(self._ipset_list(conf)[1], request.params.get("digest"))
                if rename not in conf["ipset"]:
                    raise ParamError({"name": "IPSet '%s' does not exist" % rename})
                if name in conf["ipset"] and name != rename:
                    raise ParamError({"name": "IPSet '%s' does already exist" % name})
                conf["ipset"][name] = conf["ipset"].pop(rename)
                old_comment = conf["ipset_comments"].pop(rename, None)
                if old_comment:
                    conf["ipset_comments"][name] = old_comment
            else:
                if name in conf["ipset"]:
                    raise ParamError({"name": "IPSet '%s' already exists" % name})
                conf["ipset"][name] = []
            if comment:
                conf["ipset_comments"][name] = comment
        self._write(code)

    def _ipset(self, request, create=False):
        conf = self._conf(request, create)
        name = request.params["name"]
        if name not in conf.get("ipset", {}):
            raise die("no such IPSet '%s'\n" % name)
        return conf, conf["ipset"][name]

    @_routes("GET", CLUSTER + "/ipset/{name}", QEMU + "/ipset/{name}", LXC + "/ipset/{name}")
    def get_ipset(self, request):
        return with_list_digest(self._ipset(request)[1])[0]

    @_routes("DELETE", CLUSTER + "/ipset/{name}", QEMU + "/ipset/{name}", LXC + "/ipset/{name}")
    def delete_ipset(self, request):
        def code():
            conf, entries = self._ipset(request, create=True)
            if entries and not request.params.get("force"):
                raise die("IPSet '%s' is not empty\n" % request.params["name"])
            del conf["ipset"][request.params["name"]]
            conf["ipset_comments"].pop(request.params["name"], None)
        self._write(code)

    @_routes("POST", CLUSTER + "/ipset/{name}", QEMU + "/ipset/{name}", LXC + "/ipset/{name}")
    def create_ip(self, request):
        params = request.params

        def code():
            conf, entries = self._ipset(request, create=True)
            cidr = params["cidr"]
            alias = re.match(r"^(dc/|guest/)?(%s)$" % NAME_PATTERN, cidr)
            if alias:
                # resolve_alias: the alias must exist in reach of the scope prefix
                if not self._scope(request, conf).alias(alias.group(2), alias.group(1) or ""):
                    raise die("no such alias '%s'\n" % alias.group(2))
            else:
                cidr = parse_ip_or_cidr(clean_cidr(cidr))[0]
            if any(entry["cidr"] == cidr for entry in entries):
                raise ParamError({"cidr": "address '%s' already exists" % cidr})
            if re.search(r"/0+$", cidr):
                raise ParamError({"cidr": "a zero prefix is not allowed in ipset entries"})
            entry = {"cidr": cidr}
            if params.get("nomatch"):
                entry["nomatch"] = 1
            if params.get("comment"):
                entry["comment"] = params["comment"]
            conf["ipset"][params["name"]] = sort_ipset([entry] + entries)
        self._write(code)

    def _find_entry(self, entries, cidr):
        for entry in entries:
            if entry["cidr"] == cidr:
                return entry
        raise ParamError({"cidr": "no such IP/Network"})

    @_routes("GET", CLUSTER + "/ipset/{name}/{cidr}", QEMU + "/ipset/{name}/{cidr}", LXC + "/ipset/{name}/{cidr}")
    def get_ip(self, request):
        entries = with_list_digest(self._ipset(request)[1])[0]
        return self._find_entry(entries, request.params["cidr"])

    @_routes("PUT", CLUSTER + "/ipset/{name}/{cidr}", QEMU + "/ipset/{name}/{cidr}", LXC + "/ipset/{name}/{cidr}")
    def update_ip(self, request):
        params = request.params

        def code():
            _conf, entries = self._ipset(request, create=True)
            assert_if_modified(list_digest(entries), params.get("digest"))
            entry = self._find_entry(entries, params["cidr"])
            entry.pop("nomatch", None)
            entry.pop("comment", None)
            # IPSet.pm update_ip sets both from the call; the writer keeps only true ones
            if params.get("nomatch"):
                entry["nomatch"] = 1
            if params.get("comment") and str(params["comment"]).strip():
                entry["comment"] = params["comment"]
        self._write(code)

    @_routes("DELETE", CLUSTER + "/ipset/{name}/{cidr}", QEMU + "/ipset/{name}/{cidr}", LXC + "/ipset/{name}/{cidr}")
    def delete_ip(self, request):
        def code():
            conf, entries = self._ipset(request, create=True)
            assert_if_modified(list_digest(entries), request.params.get("digest"))
            # IPSet.pm remove_ip: no error when the address is not there
            conf["ipset"][request.params["name"]] = [entry for entry in entries if entry["cidr"] != request.params["cidr"]]
        self._write(code)

    # -- aliases -------------------------------------------------------------------------------------
    @staticmethod
    def _alias_list(conf):
        aliases = conf.get("aliases", {})
        return with_list_digest([aliases[key] for key in sorted(aliases)])

    @_routes("GET", CLUSTER + "/aliases", QEMU + "/aliases", LXC + "/aliases")
    def list_aliases(self, request):
        return self._alias_list(self._conf(request))[0]

    @_routes("POST", CLUSTER + "/aliases", QEMU + "/aliases", LXC + "/aliases")
    def create_alias(self, request):
        params = request.params

        def code():
            conf = self._conf(request, create=True)
            if params["name"].lower() in conf["aliases"]:
                raise ParamError({"name": "alias '%s' already exists" % params["name"]})
            conf["aliases"][params["name"].lower()] = _alias_entry(params["name"], params["cidr"], params.get("comment"))
        self._write(code)

    @_routes("GET", CLUSTER + "/aliases/{name}", QEMU + "/aliases/{name}", LXC + "/aliases/{name}")
    def get_alias(self, request):
        aliases = self._conf(request).get("aliases", {})
        entry = aliases.get(request.params["name"].lower())
        if entry is None:
            raise ParamError({"name": "no such alias"})
        return dict(entry)

    @_routes("PUT", CLUSTER + "/aliases/{name}", QEMU + "/aliases/{name}", LXC + "/aliases/{name}")
    def update_alias(self, request):
        params = request.params

        def code():
            conf = self._conf(request, create=True)
            aliases = conf["aliases"]
            assert_if_modified(self._alias_list(conf)[1], params.get("digest"))
            name = params["name"].lower()
            if name not in aliases:
                raise ParamError({"name": "no such alias"})
            aliases[name] = _alias_entry(params["name"], params["cidr"], params.get("comment"))
            rename = params.get("rename")
            if rename and rename.lower() != name:
                if rename.lower() in aliases:
                    raise ParamError({"name": "alias '%s' already exists" % rename})
                aliases[rename.lower()] = dict(aliases.pop(name), name=rename)
        self._write(code)

    @_routes("DELETE", CLUSTER + "/aliases/{name}", QEMU + "/aliases/{name}", LXC + "/aliases/{name}")
    def delete_alias(self, request):
        def code():
            conf = self._conf(request, create=True)
            assert_if_modified(self._alias_list(conf)[1], request.params.get("digest"))
            conf["aliases"].pop(request.params["name"].lower(), None)
        self._write(code)

    # -- refs ----------------------------------------------------------------------------------------
    @_routes("GET", CLUSTER + "/refs", QEMU + "/refs", LXC + "/refs")
    def refs(self, request):
        """Cluster.pm / VM.pm refs via Helpers.pm collect_refs: cluster [sdn, dc]; guest [dc, sdn, guest]."""
        wanted = request.params.get("type")
        sdn = {"ipset": {name: [] for name in self._sdn_ipsets()}, "ipset_comments": {}, "aliases": {}}
        dc_refs = _collect_refs(self.state["cluster"], wanted, "dc")
        sdn_refs = _collect_refs(sdn, wanted, "sdn")
        if self._target(request)[0] == "cluster":
            return sdn_refs + dc_refs
        return dc_refs + sdn_refs + _collect_refs(self._conf(request), wanted, "guest")


def _moved(rules, pos, moveto):
    """RulesBase update_rule with `moveto`: the rule goes before the one that was at `moveto`, or last."""
    rule = rules[pos]
    if moveto >= len(rules):
        return [other for index, other in enumerate(rules) if index != pos] + [rule]
    result = []
    for index, other in enumerate(rules):
        if index == pos:
            continue
        if index == moveto:
            result.append(rule)
        result.append(other)
    return result


def _alias_entry(name, cidr, comment):
    """Aliases.pm create/update as parse_alias reads it back: /32 and /128 dropped, ipversion derived."""
    stored, ipversion = parse_ip_or_cidr(cidr)
    entry = {"name": name, "cidr": stored, "ipversion": ipversion}
    if comment and comment.strip():
        entry["comment"] = comment.strip()
    return entry


def _collect_refs(conf, wanted, scope):
    """Helpers.pm collect_refs (hash order in PVE; sorted by name here)."""
    result = []
    if wanted in (None, "ipset"):
        for name in sorted(conf.get("ipset", {})):
            entry = {"type": "ipset", "name": name, "ref": "+" + name, "scope": scope}
            if conf.get("ipset_comments", {}).get(name):
                entry["comment"] = conf["ipset_comments"][name]
            result.append(entry)
    if wanted in (None, "alias"):
        for name in sorted(conf.get("aliases", {})):
            entry = {"type": "alias", "name": name, "ref": name, "scope": scope}
            if conf["aliases"][name].get("comment"):
                entry["comment"] = conf["aliases"][name]["comment"]
            result.append(entry)
    return result
