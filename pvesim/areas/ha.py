"""High availability: /cluster/ha/resources, groups (8.4), rules (9.1), status; recovery after a node failure.

Sources: proxmox/pve-ha-manager at b71218f src/PVE/API2/HA/{Resources,Groups,Rules,Status}.pm,
src/PVE/HA/Config.pm (parse_sid, lock_ha_domain, delete_service_from_config, have_groups_been_migrated),
src/PVE/HA/Tools.pm (formats, parse_node_priority), src/PVE/HA/Rules.pm and Rules/NodeAffinity.pm,
Rules/ResourceAffinity.pm (feasibility checks and their messages), src/PVE/HA/Resources/PVEVM.pm
(verify_name, exists), src/PVE/HA/Manager.pm (recovery node selection); PVE 8.4's API has HA groups,
9.x migrates them to rules: with no group left (a fresh 9.x cluster) every group call dies and
`group` on a resource is refused.

The simulated CRM/LRM act at once on a request: `started` boots the guest, `stopped`/`disabled` stop it.
A failed node's services go to `fence`; after the fence delay (a clock advance that puts the failure
120 s or more in the past, or POST /_sim/ha/recover) the manager recovers each of them, in sid order,
to the online node allowed by its group (8.4) or node-affinity rule (9.1): highest priority first,
then fewest HA services, then name; a guest with replicated volumes only goes to a node that holds its
replica. With no such node the service stays in `recovery`. The guest record moves like the pmxcfs
move of the replication area, and starts there.

Side channel:
  POST /_sim/ha/recover          recover the services of every failed node now -> {"sid": node}
"""

import hashlib
import re
import time

from pvesim.areas import Area, route
from pvesim.errors import ApiError, HTTP_BAD_REQUEST, ParamError, die
from pvesim.formats import FormatError, register, split_list

FENCE_DELAY = 120  # seconds until a failed node counts as fenced (watchdog expiry + margin)
LRM_DEAD_AFTER = 30  # Status.pm timestamp_to_status: older than this is "old timestamp - dead?"
RESOURCE_OPTIONS = ("state", "group", "max_restart", "max_relocate", "failback", "comment")
GUEST_TYPE_OF = {"qemu": "vm", "lxc": "ct"}
NODE_RE = r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?"
RULE_OPTIONS = {"node-affinity": ("resources", "nodes", "strict", "disable", "comment"),
                "resource-affinity": ("resources", "affinity", "disable", "comment")}


# -- formats (pve-ha-manager src/PVE/HA/Tools.pm, Groups.pm) ----------------------------------------
@register("pve-ha-resource-id")
def verify_ha_resource_id(value):
    """pve_verify_ha_resource_id."""
    if not re.match(r"^[a-z]+:\S+$", value):
        raise FormatError("value does not look like a valid ha resource id")


@register("pve-ha-resource-or-vm-id")
def verify_ha_resource_or_vm_id(value):
    """pve_verify_ha_resource_or_vm_id."""
    if not re.match(r"^([a-z]+:\S+|\d+)$", value):
        raise FormatError("value does not look like a valid ha resource id")


@register("pve-ha-node")
def verify_ha_node(value):
    """pve_verify_ha_node."""
    if not re.match(r"^(%s)(:\d+)?$" % NODE_RE, value):
        raise FormatError("value does not look like a valid ha node")


@register("pve-ha-group-node")
def verify_ha_group_node(value):
    """Groups.pm pve_verify_ha_group_node (8.x)."""
    if not re.match(r"^(%s)(:\d+)?$" % NODE_RE, value):
        raise FormatError("value does not look like a valid ha group node")


def parse_node_priorities(text):
    """Tools.pm parse_node_priority over a node list: {node: priority (0 when not given)}."""
    nodes = {}
    for item in split_list(text):
        match = re.match(r"^(%s)(:(\d+))?$" % NODE_RE, item)
        if not match:
            raise die("unable to parse HA node entry '%s'\n" % item)
        nodes[match.group(1)] = int(match.group(4) or 0)
    return nodes


def print_node_priorities(nodes):
    """NodeAffinity.pm encode_plugin_value: sorted, `node:prio` when the priority is set."""
    return ",".join("%s:%d" % (node, nodes[node]) if nodes[node] else node for node in sorted(nodes))


def ha_locked(errmsg, function):
    """Config.pm lock_ha_domain: an error inside becomes the plain die `<errmsg>: <error>`."""
    try:
        return function()
    except ApiError as error:
        raise die("%s: %s" % (errmsg, error.stringify() if not error.plain else error.message)) from error


class HaArea(Area):  # pylint: disable=too-many-public-methods
    """HA resources, groups/rules and the simulated CRM."""

    name = "ha"

    def initial_state(self):
        return {"resources": {}, "groups": {}, "rules": {}, "next_order": 1, "services": {}, "fence": {}}

    @property
    def groups_api(self):
        """8.x: HA groups; 9.x: rules (groups already migrated, i.e. none left)."""
        return self.sim.pve_version == "8.4"

    def _runtime(self):
        return self.sim.areas["ReplicationArea"]

    def _guests(self):
        return self.sim.areas["GuestsArea"]

    def _digest(self, section):
        text = repr(sorted((key, sorted(value.items())) for key, value in self.state[section].items()))
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    # -- sids -----------------------------------------------------------------------------------
    def parse_sid(self, sid):
        """Config.pm parse_sid: (sid, type, name); a bare VMID becomes vm:/ct: by the guest's type."""
        sid = str(sid)
        if re.match(r"^\d+$", sid):
            guest = self._guests().guest(int(sid))
            if guest is None:
                raise die("unable to detect SID from VMID - VM/CT %s does not exist\n" % sid)
            kind = GUEST_TYPE_OF[guest["type"]]
            return "%s:%s" % (kind, sid), kind, sid
        match = re.match(r"^(\S+):(\S+)$", sid)
        if not match:
            raise die("unable to parse service id '%s'\n" % sid)
        return sid, match.group(1), match.group(2)

    def _guest_of(self, sid):
        """The guest record behind vm:<vmid>/ct:<vmid>, or None."""
        kind, _colon, name = sid.partition(":")
        if kind not in ("vm", "ct") or not name.isdigit():
            return None
        record = self._guests().record(int(name))
        if record is None or GUEST_TYPE_OF[record["type"]] != kind:
            return None
        return record

    # -- the simulated CRM/LRM ------------------------------------------------------------------
    def _service(self, sid):
        """The manager's service status {node, state} (created on first sight)."""
        record = self._guest_of(sid)
        service = self.state["services"].setdefault(sid, {"node": record["node"] if record else None, "state": "started"})
        return service

    def _apply_request(self, sid):
        """Manager.pm/LRM: bring the guest to the requested state (when its node is up)."""
        resource = self.state["resources"][sid]
        request = resource.get("state", "started")
        record = self._guest_of(sid)
        service = self._service(sid)
        if request == "ignored":
            self.state["services"].pop(sid, None)
            return
        if record is None:
            service["state"] = "error"
            return
        service["node"] = record["node"]
        if not self._runtime().node_online(record["node"]):
            return
        if request == "started":
            if record["status"] != "running":
                self._guests().runtime_area().boot(record)
            service["state"] = "started"
        else:
            self._guests().runtime_area().power_off(record)
            service["state"] = "stopped"

    def node_failed(self, node):
        """Hook of the replication area: the node's services wait for fencing."""
        if node in self.state["fence"]:
            return
        self.state["fence"][node] = int(self._runtime().now())
        for sid in sorted(self.state["resources"]):
            if self.state["resources"][sid].get("state", "started") == "ignored":
                continue
            record = self._guest_of(sid)
            if record is not None and record["node"] == node:
                service = self._service(sid)
                service.update(node=node, state="fence")

    def node_recovered(self, node):
        """The node is back before its services were recovered: they stay and run as requested."""
        self.state["fence"].pop(node, None)
        for sid in sorted(self.state["resources"]):
            service = self.state["services"].get(sid)
            if service is not None and service["node"] == node:
                self._apply_request(sid)

    def clock_advanced(self, _seconds):
        """Hook of the replication area: recover the nodes whose fence delay has passed."""
        now = int(self._runtime().now())
        due = [node for node, failed_at in self.state["fence"].items() if now - failed_at >= FENCE_DELAY]
        if due:
            self.recover(due)

    def recover(self, nodes=None):
        """Manager.pm recover_service: move each fenced service to the best allowed node and start it."""
        runtime = self._runtime()
        if not runtime.quorate():
            return {}
        nodes = sorted(self.state["fence"]) if nodes is None else sorted(nodes)
        moved = {}
        for node in nodes:
            if runtime.node_online(node):
                continue
            for sid in sorted(self.state["resources"]):
                service = self.state["services"].get(sid)
                record = self._guest_of(sid)
                if service is None or record is None or record["node"] != node:
                    continue
                target = self.recovery_node(sid, record)
                if target is None:
                    service.update(node=node, state="recovery")
                    continue
                runtime.rehome_guest(record, target)
                service.update(node=target, state="started")
                self._apply_request(sid)
                moved[sid] = target
            if not any(service["state"] == "recovery" and service["node"] == node for service in self.state["services"].values()):
                self.state["fence"].pop(node, None)
        return moved

    def allowed_nodes(self, sid):
        """{node: priority} the group (8.4) or enabled node-affinity rule (9.1) allows, and whether only those."""
        resource = self.state["resources"][sid]
        if self.groups_api:
            group = self.state["groups"].get(resource.get("group") or "")
            if group is None:
                return None, False
            return dict(group["nodes"]), bool(group.get("restricted"))
        for rule in self.state["rules"].values():
            if rule["type"] == "node-affinity" and not rule.get("disable") and sid in rule["resources"]:
                return dict(rule["nodes"]), bool(rule.get("strict"))
        return None, False

    def recovery_node(self, sid, record):
        """Manager.pm select_service_node for a recovery: priority class, then load, then name."""
        runtime = self._runtime()
        online = [node for node in self.sim.nodes if runtime.node_online(node)]
        online = [node for node in online if runtime.holds_volumes(record, node)]
        preferred, only_those = self.allowed_nodes(sid)
        candidates = {node: 0 for node in online}
        if preferred is not None:
            inside = {node: priority for node, priority in preferred.items() if node in candidates}
            if inside or only_those:
                candidates = inside
        if not candidates:
            return None
        top = max(candidates.values())
        best = [node for node, priority in candidates.items() if priority == top]
        load = {node: sum(1 for service in self.state["services"].values()
                          if service["node"] == node and service["state"] == "started") for node in best}
        return sorted(best, key=lambda node: (load[node], node))[0]

    # -- /cluster/ha ----------------------------------------------------------------------------
    @route("GET", "/cluster/ha")
    def index(self, _request):
        """HA.pm index."""
        return [{"id": name} for name in self.sim.schema.children("/cluster/ha")]

    @route("GET", "/cluster/ha/status")
    def status_index(self, _request):
        """Status.pm index."""
        return [{"name": name} for name in self.sim.schema.children("/cluster/ha/status")]

    # -- resources (Resources.pm) ------------------------------------------------------------------
    def _api_resource(self, sid):
        resource = self.state["resources"].get(sid)
        if resource is None:
            raise die("no such resource '%s'\n" % sid)
        entry = {key: value for key, value in resource.items() if value is not None}
        entry.update(sid=sid, type=sid.split(":", 1)[0], digest=self._digest("resources"))
        if self.groups_api and entry.get("group") and entry["group"] not in self.state["groups"]:
            entry["errors"] = {"group": "group '%s' does not exist" % entry["group"]}
        return entry

    @route("GET", "/cluster/ha/resources")
    def list_resources(self, request):
        """Resources.pm index (optionally one type)."""
        self._runtime().catch_up()
        wanted = request.params.get("type")
        return [self._api_resource(sid) for sid in sorted(self.state["resources"])
                if not wanted or sid.split(":", 1)[0] == wanted]

    @route("GET", "/cluster/ha/resources/{sid}")
    def read_resource(self, request):
        """Resources.pm read."""
        sid = self.parse_sid(request.params["sid"])[0]
        return self._api_resource(sid)

    def _check_quorum(self):
        """Cluster.pm check_cfs_quorum."""
        if not self._runtime().quorate():
            raise die("cluster not ready - no quorum?\n")

    def _check_group(self, params):
        group = params.get("group")
        if group is None:
            return
        if not self.groups_api:
            raise die("invalid parameter 'group': ha groups have been migrated to rules\n")
        if group not in self.state["groups"]:
            raise die("HA group '%s' does not exist\n" % group)

    @route("POST", "/cluster/ha/resources")
    def create_resource(self, request):
        """Resources.pm create: sid, type, group, the guest, then the unique sid under the HA lock."""
        params = request.params
        self._check_quorum()
        sid, kind, name = self.parse_sid(params["sid"])
        if params.get("type") and params["type"] != kind:
            raise die("types does not match\n")
        self._check_group(params)
        if kind not in ("vm", "ct"):
            raise die("unknown resource type '%s'\n" % kind)
        if not re.match(r"^[1-9][0-9]+$", name):
            raise die("invalid VMID\n")
        if self._guest_of(sid) is None:
            raise die("resource '%s' does not exist in cluster\n" % sid)
        resource = {key: params[key] for key in RESOURCE_OPTIONS if params.get(key) is not None}
        if resource.get("state") == "enabled":
            resource["state"] = "started"  # Resources.pm decode_value: enabled is an alias

        def change():
            if sid in self.state["resources"]:
                raise die("resource ID '%s' already defined\n" % sid)

        ha_locked("create resource failed", change)
        self.state["resources"][sid] = resource
        self._apply_request(sid)

    @route("PUT", "/cluster/ha/resources/{sid}")
    def update_resource(self, request):
        """Resources.pm update: type, group, the error state, then Config.pm update_resources_config."""
        params = request.params
        sid, kind, _name = self.parse_sid(params["sid"])
        if params.get("type") and params["type"] != kind:
            raise die("types does not match\n")
        self._check_group(params)
        service = self.state["services"].get(sid)
        if service is not None and service["state"] == "error" and params.get("state") != "disabled":
            raise die("service '%s' in error state, must be disabled and fixed first\n" % sid)
        resource = self.state["resources"].get(sid)
        if resource is None:
            raise die("update resources failed: no such resource '%s'\n" % sid)
        if params.get("digest") and params["digest"] != self._digest("resources"):
            raise die("detected modified configuration - file changed by other user? Try again.\n")
        for key in split_list(params.get("delete") or ""):
            if key not in RESOURCE_OPTIONS:
                raise die("update resources failed: no such option '%s'\n" % key)
            resource.pop(key, None)
        for key in RESOURCE_OPTIONS:
            if params.get(key) is not None:
                resource[key] = "started" if key == "state" and params[key] == "enabled" else params[key]
        self._apply_request(sid)

    @route("DELETE", "/cluster/ha/resources/{sid}")
    def delete_resource(self, request):
        """Resources.pm delete + Config.pm delete_service_from_config (9.x `purge`: out of the rules)."""
        sid = self.parse_sid(request.params["sid"])[0]
        if not self.is_configured(sid):
            raise die("cannot delete service '%s', not HA managed!\n" % sid)
        purge = request.params.get("purge")
        self.remove_resource(sid, purge=not self.groups_api and (purge is None or purge))

    def is_configured(self, sid):
        """Config.pm service_is_configured: `sid` is in resources.cfg."""
        return sid in self.state["resources"]

    def remove_resource(self, sid, purge):
        """Config.pm delete_service_from_config: the resource goes (and the manager's service with
        it); with `purge` also out of every rule, and a rule left without resources goes too."""
        self.state["resources"].pop(sid, None)
        self.state["services"].pop(sid, None)
        if purge:
            for ruleid in sorted(self.state["rules"]):
                rule = self.state["rules"][ruleid]
                if sid in rule["resources"]:
                    rule["resources"].remove(sid)
                if not rule["resources"]:
                    del self.state["rules"][ruleid]

    # -- groups (Groups.pm; 8.x only in effect) ---------------------------------------------------
    def _groups_migrated(self, what):
        """Config.pm have_groups_been_migrated: true on 9.x without groups (always here)."""
        if not self.groups_api:
            raise die("cannot %s: ha groups have been migrated to rules\n" % what)

    def _api_group(self, group):
        config = self.state["groups"].get(group)
        if config is None:
            raise die("no such ha group '%s'\n" % group)
        entry = {key: value for key, value in config.items() if key != "nodes" and value is not None}
        entry.update(group=group, type="group", nodes=print_node_priorities(config["nodes"]), digest=self._digest("groups"))
        return entry

    @route("GET", "/cluster/ha/groups")
    def list_groups(self, _request):
        """Groups.pm index."""
        self._groups_migrated("index groups")
        return [self._api_group(group) for group in sorted(self.state["groups"])]

    @route("GET", "/cluster/ha/groups/{group}")
    def read_group(self, request):
        """Groups.pm read."""
        self._groups_migrated("read group")
        return self._api_group(request.params["group"])

    @route("POST", "/cluster/ha/groups")
    def create_group(self, request):
        """Groups.pm create."""
        self._groups_migrated("create group")
        params = request.params
        group = params["group"]
        config = {"nodes": parse_node_priorities(params["nodes"])}
        for key in ("comment", "restricted", "nofailback"):
            if params.get(key) is not None:
                config[key] = params[key]

        def change():
            if group in self.state["groups"]:
                raise die("ha group ID '%s' already defined\n" % group)

        ha_locked("create ha group failed", change)
        self.state["groups"][group] = config

    @route("PUT", "/cluster/ha/groups/{group}")
    def update_group(self, request):
        """Groups.pm update."""
        self._groups_migrated("update group")
        params = request.params
        group = params["group"]
        config = self.state["groups"].get(group)
        if config is None:
            raise die("update ha group failed: no such ha group '%s'\n" % group)
        if params.get("digest") and params["digest"] != self._digest("groups"):
            raise die("update ha group failed: detected modified configuration - file changed by other user? Try again.\n")
        for key in split_list(params.get("delete") or ""):
            if key not in ("comment", "restricted", "nofailback"):
                raise die("update ha group failed: no such option '%s'\n" % key)
            config.pop(key, None)
        if params.get("nodes") is not None:
            config["nodes"] = parse_node_priorities(params["nodes"])
        for key in ("comment", "restricted", "nofailback"):
            if params.get(key) is not None:
                config[key] = params[key]

    @route("DELETE", "/cluster/ha/groups/{group}")
    def delete_group(self, request):
        """Groups.pm delete: not while a resource uses it."""
        self._groups_migrated("delete group")
        group = request.params["group"]

        def change():
            if group not in self.state["groups"]:
                raise die("no such ha group '%s'\n" % group)
            for sid in sorted(self.state["resources"]):
                if self.state["resources"][sid].get("group") == group:
                    raise die("ha group is used by service '%s'\n" % sid)

        ha_locked("delete ha group failed", change)
        del self.state["groups"][group]

    # -- rules (Rules.pm, 9.x) -----------------------------------------------------------------
    def _api_rule(self, ruleid, errors):
        rule = self.state["rules"].get(ruleid)
        if rule is None:
            raise die("no such ha rule '%s'\n" % ruleid)
        entry = {key: value for key, value in rule.items() if key not in ("resources", "nodes") and value is not None}
        entry.update(rule=ruleid, digest=self._digest("rules"), resources=",".join(sorted(rule["resources"])))
        if rule.get("nodes") is not None:
            entry["nodes"] = print_node_priorities(rule["nodes"])
        if errors.get(ruleid):
            entry["errors"] = {key: ", ".join(messages) for key, messages in errors[ruleid].items()}
        return entry

    def feasibility_errors(self, rules):
        """Rules.pm check_feasibility with the checks of NodeAffinity.pm and ResourceAffinity.pm:
        {ruleid: {option: [messages]}}; disabled rules are not checked."""
        errors = {}

        def add(ruleid, message):
            errors.setdefault(ruleid, {}).setdefault("resources", []).append(message)

        active = {ruleid: rule for ruleid, rule in rules.items() if not rule.get("disable")}
        node_rules = {ruleid: rule for ruleid, rule in active.items() if rule["type"] == "node-affinity"}
        users = {}
        for ruleid, rule in node_rules.items():
            for sid in rule["resources"]:
                users.setdefault(sid, []).append(ruleid)
        for sid, ruleids in sorted(users.items()):
            if len(ruleids) > 1:
                for ruleid in sorted(ruleids):
                    add(ruleid, "resource '%s' is already used in another node affinity rule" % sid)
        affinity = {ruleid: rule for ruleid, rule in active.items() if rule["type"] == "resource-affinity"}
        for ruleid, rule in sorted(affinity.items()):
            if len(rule["resources"]) < 2:
                add(ruleid, "rule is ineffective as there are less than two resources")
            if rule.get("affinity") == "negative" and len(rule["resources"]) > len(self.sim.nodes):
                add(ruleid, "rule defines more resources than available nodes")
        for negative_id, negative in sorted(affinity.items()):
            if negative.get("affinity") != "negative":
                continue
            for positive_id, positive in sorted(affinity.items()):
                if positive.get("affinity") == "positive" and len(set(negative["resources"]) & set(positive["resources"])) >= 2:
                    add(positive_id, "rule shares two or more resources with a negative resource affinity rule")
                    add(negative_id, "rule shares two or more resources with a positive resource affinity rule")
        return errors

    def _rules_locked(self, errmsg, ruleid, function):
        """Rules.pm: the change under lock_ha_domain, then assert_feasibility for this rule."""
        saved = {key: dict(value, resources=list(value["resources"])) for key, value in self.state["rules"].items()}

        def change():
            function()
            rule_errors = self.feasibility_errors(self.state["rules"]).get(ruleid)
            if rule_errors:
                raise ApiError(HTTP_BAD_REQUEST, "Rule '%s' is invalid.\n" % ruleid,
                               {key: ", ".join(messages) for key, messages in rule_errors.items()})

        try:
            ha_locked(errmsg, change)
        except ApiError:
            self.state["rules"].clear()
            self.state["rules"].update(saved)
            raise

    @staticmethod
    def _rule_shape(params, rule_type, create):
        """check_config: the options of the rule type (NodeAffinity.pm / ResourceAffinity.pm options)."""
        allowed = RULE_OPTIONS[rule_type]
        errors = {}
        for key in ("nodes", "strict", "affinity"):
            if params.get(key) is not None and key not in allowed:
                errors[key] = "property is not defined in schema and the schema does not allow additional properties"
        if create:
            for key in ("nodes",) if rule_type == "node-affinity" else ("affinity",):
                if params.get(key) is None:
                    errors[key] = "property is missing and it is not optional"
        if errors:
            raise ParamError(errors)

    def _rule_settings(self, params, rule_type):
        """The rule's options; resources must be HA managed, nodes members (Rules.pm
        $assert_valid_resources_param, $assert_valid_nodes_param)."""
        settings = {key: params[key] for key in RULE_OPTIONS[rule_type] if params.get(key) is not None}
        if "resources" in settings:
            resources = sorted(set(split_list(settings["resources"])))
            if not resources:
                raise die("no resources were specified\n")
            unmanaged = [sid for sid in resources if sid not in self.state["resources"]]
            if unmanaged:
                raise die("cannot use unmanaged resource(s) %s.\n" % ", ".join(unmanaged))
            settings["resources"] = resources
        if "nodes" in settings:
            nodes = parse_node_priorities(settings["nodes"])
            if not nodes:
                raise die("no nodes were specified\n")
            unknown = sorted(node for node in nodes if node not in self.sim.nodes)
            if unknown:
                raise die("cannot use non-existent node(s) %s.\n" % ", ".join(unknown))
            settings["nodes"] = nodes
        if not settings.get("disable"):
            settings.pop("disable", None)  # Rules.pm: `delete $param->{disable} if !$param->{disable}`
        return settings

    @route("GET", "/cluster/ha/rules")
    def list_rules(self, request):
        """Rules.pm index (type and resource filters), sorted by order, with each rule's errors."""
        errors = self.feasibility_errors(self.state["rules"])
        wanted_type, resource = request.params.get("type"), request.params.get("resource")
        ruleids = sorted(self.state["rules"], key=lambda ruleid: (self.state["rules"][ruleid]["order"], ruleid))
        return [self._api_rule(ruleid, errors) for ruleid in ruleids
                if (not wanted_type or self.state["rules"][ruleid]["type"] == wanted_type)
                and (not resource or resource in self.state["rules"][ruleid]["resources"])]

    @route("GET", "/cluster/ha/rules/{rule}")
    def read_rule(self, request):
        """Rules.pm read_rule."""
        return self._api_rule(request.params["rule"], self.feasibility_errors(self.state["rules"]))

    @route("POST", "/cluster/ha/rules")
    def create_rule(self, request):
        """Rules.pm create_rule."""
        params = request.params
        self._check_quorum()
        ruleid, rule_type = params["rule"], params["type"]
        self._rule_shape(params, rule_type, True)

        def change():
            if ruleid in self.state["rules"]:
                raise die("HA rule '%s' already defined\n" % ruleid)
            settings = self._rule_settings(params, rule_type)
            settings.update(type=rule_type, order=self.state["next_order"])
            self.state["rules"][ruleid] = settings

        self._rules_locked("create ha rule failed", ruleid, change)
        self.state["next_order"] += 1

    @route("PUT", "/cluster/ha/rules/{rule}")
    def update_rule(self, request):
        """Rules.pm update_rule: the type must match; options, `delete`, feasibility."""
        params = request.params
        ruleid = params["rule"]

        def change():
            rule = self.state["rules"].get(ruleid)
            if rule is None:
                raise die("HA rule '%s' does not exist\n" % ruleid)
            if params["type"] != rule["type"]:
                raise die("update rule failed: type does not match\n")
            if params.get("digest") and params["digest"] != self._digest("rules"):
                raise die("detected modified configuration - file changed by other user? Try again.\n")
            self._rule_shape(params, rule["type"], False)
            rule.update(self._rule_settings(params, rule["type"]))
            if params.get("disable") is not None and not params["disable"]:
                rule.pop("disable", None)
            for key in split_list(params.get("delete") or ""):
                if key in ("resources", "nodes", "affinity", "type"):
                    raise die("unable to delete required option '%s'\n" % key)
                rule.pop(key, None)

        self._rules_locked("update ha rule failed", ruleid, change)

    @route("DELETE", "/cluster/ha/rules/{rule}")
    def delete_rule(self, request):
        """Rules.pm delete_rule: no error for an unknown rule."""
        self.state["rules"].pop(request.params["rule"], None)

    # -- status (Status.pm) ------------------------------------------------------------------------
    def master_node(self):
        """The CRM master: the first online node (the simulated election)."""
        runtime = self._runtime()
        return next((node for node in self.sim.nodes if runtime.node_online(node)), None)

    def _lrm_timestamp(self, node):
        runtime = self._runtime()
        return int(runtime.now()) if runtime.node_online(node) else self.state["fence"].get(node, int(runtime.now()) - 3600)

    @route("GET", "/cluster/ha/status/current")
    def status_current(self, _request):
        """Status.pm status: quorum, master, (9.x) fencing, one lrm entry per node, one per service."""
        runtime = self._runtime()
        runtime.catch_up()
        now = int(runtime.now())
        local = self.sim.nodes[0]
        quorate = runtime.quorate()
        entries = [{"id": "quorum", "type": "quorum", "node": local, "quorate": 1 if quorate else 0,
                    "status": "OK" if quorate else "No quorum on node '%s'!" % local}]
        master = self.master_node()
        active = bool(self.state["resources"])
        if master is not None:
            entries.append({"id": "master", "type": "master", "node": master, "timestamp": now,
                            "status": "%s (%s, %s)" % (master, "active" if active else "idle", time.asctime(time.gmtime(now)))})
        if not self.groups_api:
            armed = "armed" if active and master is not None else "standby"
            entries.append({"id": "fencing", "type": "fencing", "node": master or local, "armed-state": armed,
                            "status": "%s (CRM watchdog %s)" % (armed, "active" if armed == "armed" else "standby")})
        for node in self.sim.nodes:
            stamp = self._lrm_timestamp(node)
            count = sum(1 for service in self.state["services"].values() if service["node"] == node and service["state"] == "started")
            if now - stamp > LRM_DEAD_AFTER:
                state, watchdog = "old timestamp - dead?", "watchdog standby"
            elif count:
                state, watchdog = "active", "watchdog active"
            else:
                state, watchdog = "idle", "watchdog standby"
            entries.append({"id": "lrm:%s" % node, "type": "lrm", "node": node, "timestamp": stamp,
                            "status": "%s (%s, %s, %s)" % (node, state, watchdog, time.asctime(time.gmtime(stamp)))})
        for sid in sorted(self.state["resources"]):
            resource = self.state["resources"][sid]
            service = self.state["services"].get(sid)
            record = self._guest_of(sid)
            node = service["node"] if service else (record["node"] if record else None)
            entry = {"id": "service:%s" % sid, "type": "service", "sid": sid, "node": node,
                     "request_state": resource.get("state", "started")}
            entry["state"] = service["state"] if service else "ignored"
            if service:
                entry["crm_state"] = service["state"]
            for key in ("group", "max_restart", "max_relocate", "failback", "comment"):
                if resource.get(key) is not None:
                    entry[key] = resource[key]
            entry["status"] = "%s (%s, %s)" % (sid, node or "---", entry["state"])
            entries.append(entry)
        return entries

    @route("GET", "/cluster/ha/status/manager_status")
    def manager_status(self, _request):
        """Status.pm manager_status: the CRM's manager_status, quorum (and lrm states)."""
        runtime = self._runtime()
        runtime.catch_up()
        node_status = {}
        for node in self.sim.nodes:
            if runtime.node_online(node):
                node_status[node] = "online"
            else:
                node_status[node] = "fence" if node in self.state["fence"] else "unknown"
        return {
            "manager_status": {"master_node": self.master_node(), "node_status": node_status,
                               "service_status": {sid: dict(service) for sid, service in sorted(self.state["services"].items())},
                               "timestamp": int(runtime.now())},
            "quorum": {"node": self.sim.nodes[0], "quorate": "1" if runtime.quorate() else "0"},
        }

    def side_routes(self):
        def recover(sim, _body):
            with sim.state.lock:
                self._runtime().catch_up()
                result = self.recover()
                sim.persist()
            return result

        return {("POST", "/_sim/ha/recover"): recover}
