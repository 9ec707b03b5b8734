"""Firewall area: options, rules, security groups, IP sets, aliases, refs, macros and the .fw files.

Sources (proxmox/pve-firewall at 6f1311f3): src/PVE/API2/Firewall/{Cluster,Host,VM,Vnet,Rules,Groups,
IPSet,Aliases,Helpers}.pm and src/PVE/Firewall.pm; each test is named after the file its behaviour
comes from.
"""

import hashlib
import time

import pytest

from pvesim.testing import assert_pve_error, ok, plain_error

pytestmark = pytest.mark.timeout(60)
PARAM_FAILED = "Parameter verification failed."


@pytest.fixture
def api(sim, api_session):
    return api_session(sim)


@pytest.fixture
def api84(sim84, api_session):
    return api_session(sim84)


def files(api):
    answer = api.sim("GET", "/firewall/files")
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def param_error(answer, errors):
    assert_pve_error(answer, 400, PARAM_FAILED, errors)


# -- options ----------------------------------------------------------------------------------------
def test_cluster_options_digest_delete_and_anti_lockout_cluster_pm(api):
    empty = api.data("GET", "/cluster/firewall/options")
    assert empty == {"digest": hashlib.sha1(b"").hexdigest()}
    ok(api, "PUT", "/cluster/firewall/options", policy_in="DROP", ebtables=0, digest=empty["digest"])
    options = api.data("GET", "/cluster/firewall/options")
    assert options["policy_in"] == "DROP" and options["ebtables"] == 0
    assert options["digest"] == hashlib.sha1(b"ebtables:0\npolicy_in:DROP\n").hexdigest()
    plain_error(api.api("PUT", "/cluster/firewall/options", data={"enable": 1, "digest": empty["digest"]}),
                "detected modified configuration - file changed by other user? Try again.\n")
    param_error(api.api("PUT", "/cluster/firewall/options", data={"delete": "nosuch"}), {"delete": "no such option 'nosuch'"})
    before = int(time.time())
    ok(api, "PUT", "/cluster/firewall/options", enable=2, delete="ebtables")
    options = api.data("GET", "/cluster/firewall/options")
    assert before <= options["enable"] <= int(time.time()) + 1 and "ebtables" not in options
    assert "enable: %d\n" % options["enable"] in files(api)["cluster.fw"]


def test_host_and_vnet_enable_normalised_host_pm_vnet_pm(sim, api):
    ok(api, "PUT", "/nodes/pve2/firewall/options", enable=1, nf_conntrack_max=300000, log_level_in="info")
    assert api.data("GET", "/nodes/pve2/firewall/options")["enable"] == 1
    assert files(api)["host.fw/pve2"] == "[OPTIONS]\n\nenable: 1\nlog_level_in: info\nnf_conntrack_max: 300000\n\n"
    ok(api, "PUT", "/nodes/pve2/firewall/options", delete="enable,log_level_in,nf_conntrack_max")
    assert "host.fw/pve2" not in files(api)  # save_hostfw_conf unlinks an empty file
    assert sim.dump_state()["namespaces"]["firewall"]["hosts"] == {}


def test_guest_options_without_guest_vm_pm(api):
    """VM.pm never looks the guest up: /etc/pve/firewall/<vmid>.fw is read and written regardless."""
    ok(api, "PUT", "/nodes/pve1/qemu/4242/firewall/options", enable=1, policy_in="REJECT", macfilter=0)
    options = api.data("GET", "/nodes/pve3/qemu/4242/firewall/options")
    assert {key: options[key] for key in ("enable", "policy_in", "macfilter")} == {"enable": 1, "policy_in": "REJECT", "macfilter": 0}
    assert api.data("GET", "/nodes/pve1/lxc/4242/firewall") == [{"name": name} for name in ("rules", "aliases", "ipset", "refs", "options")]


# -- rules ------------------------------------------------------------------------------------------
def test_create_inserts_at_top_disabled_by_default_rules_pm(api):
    ok(api, "POST", "/cluster/firewall/rules", type="in", action="ACCEPT", proto="tcp", dport="22", enable=1)
    ok(api, "POST", "/cluster/firewall/rules", type="out", action="DROP", dest="10.0.0.0/8", pos=5, comment="second")
    rules = api.data("GET", "/cluster/firewall/rules")
    assert [(rule["pos"], rule["type"], rule["enable"]) for rule in rules] == [(0, "out", 0), (1, "in", 1)]
    assert rules[0]["ipversion"] == 4 and "ipversion" not in rules[1]
    assert len({rule["digest"] for rule in rules}) == 1
    assert files(api)["cluster.fw"] == "[RULES]\n\n|OUT DROP -dest 10.0.0.0/8 # second\nIN ACCEPT -p tcp -dport 22\n\n"
    plain_error(api.api("GET", "/cluster/firewall/rules/2"), "no rule at position 2\n")


def test_update_moveto_delete_digest_rules_pm(api):
    for port in ("1", "2", "3"):
        ok(api, "POST", "/cluster/firewall/rules", type="in", action="ACCEPT", proto="tcp", dport=port)
    assert [rule["dport"] for rule in api.data("GET", "/cluster/firewall/rules")] == ["3", "2", "1"]
    ok(api, "PUT", "/cluster/firewall/rules/0", moveto=2, action="DROP")  # other arguments ignored
    rules = api.data("GET", "/cluster/firewall/rules")
    assert [(rule["dport"], rule["action"]) for rule in rules] == [("2", "ACCEPT"), ("3", "ACCEPT"), ("1", "ACCEPT")]
    ok(api, "PUT", "/cluster/firewall/rules/0", moveto=9)
    assert [rule["dport"] for rule in api.data("GET", "/cluster/firewall/rules")] == ["3", "1", "2"]
    digest = api.data("GET", "/cluster/firewall/rules")[0]["digest"]
    ok(api, "PUT", "/cluster/firewall/rules/1", comment="web", enable=1, digest=digest)
    rule = api.data("GET", "/cluster/firewall/rules/1")
    assert (rule["comment"], rule["enable"], rule["pos"]) == ("web", 1, 1)
    ok(api, "PUT", "/cluster/firewall/rules/1", delete="comment")
    assert "comment" not in api.data("GET", "/cluster/firewall/rules/1")
    param_error(api.api("PUT", "/cluster/firewall/rules/1", data={"delete": "action"}), {"delete": "unable to delete required property 'action'"})
    plain_error(api.api("PUT", "/cluster/firewall/rules/1", data={"comment": "x", "digest": "0" * 40}),
                "detected modified configuration - file changed by other user? Try again.\n")
    plain_error(api.api("DELETE", "/cluster/firewall/rules/3"), "no rule at position 3\n")
    ok(api, "DELETE", "/cluster/firewall/rules/0")
    assert [rule["dport"] for rule in api.data("GET", "/cluster/firewall/rules")] == ["1", "2"]


@pytest.mark.parametrize("path, params, errors", [
    ("/nodes/pve1/qemu/100/firewall/rules", {"type": "forward", "action": "ACCEPT"}, {"type": "invalid rule type 'forward' for rule_env 'vm'"}),
    ("/cluster/sdn/vnets/vnet1/firewall/rules", {"type": "in", "action": "ACCEPT"}, {"type": "invalid rule type 'in' for rule_env 'vnet'"}),
    ("/cluster/firewall/rules", {"type": "forward", "action": "REJECT"}, {"action": "cannot define REJECT rules on forward chain"}),
    ("/nodes/pve1/qemu/100/firewall/rules", {"type": "in", "action": "ACCEPT", "iface": "eth0"},
     {"iface": "value does not match the regex pattern 'net\\d+'"}),
    ("/cluster/firewall/groups/web/", {"type": "in", "action": "ACCEPT", "iface": "net0"}, {"type": "parameter -i not allowed for this rule type"}),
    ("/cluster/firewall/groups/web/", {"type": "group", "action": "other"}, {"type": "invalid rule type 'group' for rule_env 'group'"}),
    ("/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "dport": "22"}, {"proto": "missing property - 'dport' requires this property"}),
    ("/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "proto": "icmp", "icmp-type": "neighbor-solicitation"},
     {"icmp-type": "invalid icmp-type 'neighbor-solicitation' for proto 'icmp'"}),
    ("/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "macro": "nosuch"}, {"macro": "unknown macro 'nosuch'"}),
    ("/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "macro": "ssh", "dport": "2222", "proto": "tcp"},
     {"dport": "parameter 'dport' already define in macro (value = '22')"}),
    ("/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "source": "+nosuch"}, {"source": "no such ipset 'nosuch'"}),
    ("/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "dest": "dc/nosuch"}, {"dest": "no such alias 'dc/nosuch'"}),
    ("/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "source": "+sdn/vnet1-all"}, {"source": "no such ipset 'vnet1-all'"}),
])
def test_verify_rule_errors_firewall_pm(api, path, params, errors):
    ok(api, "POST", "/cluster/firewall/groups", group="web")
    ok(api, "POST", "/cluster/sdn/zones", zone="zone1", type="simple")
    ok(api, "POST", "/cluster/sdn/vnets", vnet="vnet1", zone="zone1")
    ok(api, "PUT", "/cluster/sdn")
    param_error(api.api("POST", path.rstrip("/"), data=params), errors)
    assert files(api) == {"cluster.fw": "[group web]\n\n\n"}  # a failed write changes nothing


def test_schema_formats_firewall_pm(api):
    param_error(api.api("POST", "/cluster/firewall/rules", data={"type": "in", "action": "ACCEPT", "source": "10.0.0.1,fe80::1"}),
                {"source": "invalid format - detected mixed ipv4/ipv6 addresses in address list '10.0.0.1,fe80::1'\n"})
    param_error(api.api("POST", "/cluster/firewall/rules", data={"type": "in", "action": "ACCEPT", "source": "10.0.0.1-10.0.0.5,10.0.0.9"}),
                {"source": "invalid format - you can't use a range in a list\n"})
    param_error(api.api("POST", "/cluster/firewall/rules", data={"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "90:80"}),
                {"dport": "invalid format - backwards range '90:80' not allowed, did you mean '80:90'?\n"})


def test_macro_case_insensitive_and_sdn_ipsets_firewall_pm(api):
    ok(api, "POST", "/cluster/sdn/zones", zone="zone1", type="simple")
    ok(api, "POST", "/cluster/sdn/vnets", vnet="vnet1", zone="zone1")
    ok(api, "POST", "/cluster/sdn/vnets/vnet1/subnets", subnet="10.1.0.0/24", type="subnet", gateway="10.1.0.1")
    ok(api, "PUT", "/cluster/sdn")
    ok(api, "POST", "/cluster/firewall/rules", type="in", action="ACCEPT", macro="hTtPs", source="+sdn/vnet1-gateway", enable=1)
    rule = api.data("GET", "/cluster/firewall/rules/0")
    assert rule["macro"] == "HTTPS" and rule["source"] == "+sdn/vnet1-gateway"
    assert "IN HTTPS(ACCEPT) -source +sdn/vnet1-gateway\n" in files(api)["cluster.fw"]
    refs = api.data("GET", "/cluster/firewall/refs", params={"type": "ipset"})
    assert [(ref["name"], ref["scope"]) for ref in refs] == [("vnet1-%s" % suffix, "sdn") for suffix in ("all", "dhcp", "gateway", "no-gateway")]


def test_group_rule_in_guest_and_vnet_rules_vnet_pm(api):
    ok(api, "POST", "/cluster/firewall/groups", group="web", comment="front")
    ok(api, "POST", "/nodes/pve1/qemu/100/firewall/rules", type="group", action="web", iface="net0", enable=1)
    assert files(api)["100.fw"] == "[RULES]\n\nGROUP web -i net0\n\n"
    plain_error(api.api("GET", "/cluster/sdn/vnets/vnet9/firewall/rules"),
                "invalid vnet specified at /usr/share/perl5/PVE/API2/Firewall/Helpers.pm line 55.\n")
    ok(api, "POST", "/cluster/sdn/zones", zone="zone1", type="simple")
    ok(api, "POST", "/cluster/sdn/vnets", vnet="vnet1", zone="zone1")
    # check_vnet_access reads the running SDN config: a pending VNet is not there yet
    assert api.api("GET", "/cluster/sdn/vnets/vnet1/firewall/options").status_code == 500
    ok(api, "PUT", "/cluster/sdn")
    ok(api, "POST", "/cluster/sdn/vnets/vnet1/firewall/rules", type="forward", action="DROP", proto="udp", enable=1)
    ok(api, "PUT", "/cluster/sdn/vnets/vnet1/firewall/options", enable=1, policy_forward="DROP")
    assert files(api)["sdn/vnet1.fw"] == "[OPTIONS]\n\nenable: 1\npolicy_forward: DROP\n\n[RULES]\n\nFORWARD DROP -p udp\n\n"


# -- security groups --------------------------------------------------------------------------------
def test_group_create_rename_delete_groups_pm(api):
    api.sim("POST", "guests", json={"vmid": 100, "node": "pve1", "name": "web1"})
    ok(api, "POST", "/cluster/firewall/groups", group="Web", comment="front")
    param_error(api.api("POST", "/cluster/firewall/groups", data={"group": "web"}), {"group": "Security group 'web' already exists"})
    param_error(api.api("POST", "/cluster/firewall/groups", data={"group": "a" * 19}),
                {"group": "value may only be 18 characters long"})
    ok(api, "POST", "/cluster/firewall/groups/web", type="in", action="ACCEPT", macro="SSH")
    ok(api, "POST", "/cluster/firewall/rules", type="group", action="web")
    ok(api, "POST", "/nodes/pve2/firewall/rules", type="group", action="web")
    ok(api, "POST", "/nodes/pve1/qemu/100/firewall/rules", type="group", action="web")
    ok(api, "POST", "/nodes/pve1/qemu/200/firewall/rules", type="group", action="web")  # no such guest
    ok(api, "POST", "/cluster/firewall/groups", group="front", rename="web")
    assert api.data("GET", "/cluster/firewall/groups")[0]["group"] == "front"
    assert api.data("GET", "/cluster/firewall/groups")[0]["comment"] == "front"
    fw = files(api)
    assert "[group front] # front\n\n|IN SSH(ACCEPT)\n" in fw["cluster.fw"] and "|GROUP front\n" in fw["cluster.fw"]
    assert "|GROUP front" in fw["host.fw/pve2"] and "|GROUP front" in fw["100.fw"] and "|GROUP web" in fw["200.fw"]
    plain_error(api.api("DELETE", "/cluster/firewall/groups/front"), "Security group 'front' is not empty\n")
    plain_error(api.api("GET", "/cluster/firewall/groups/web"), "no such security group 'web'\n")
    ok(api, "DELETE", "/cluster/firewall/groups/front/0")
    ok(api, "DELETE", "/cluster/firewall/groups/front")
    assert api.data("GET", "/cluster/firewall/groups") == []


# -- IP sets and aliases ----------------------------------------------------------------------------
def test_ipset_entries_sorted_normalised_ipset_pm(api):
    ok(api, "POST", "/cluster/firewall/ipset", name="Mgmt", comment="admins")
    param_error(api.api("POST", "/cluster/firewall/ipset", data={"name": "mgmt"}), {"name": "IPSet 'mgmt' already exists"})
    ok(api, "POST", "/cluster/firewall/ipset/mgmt", cidr="192.168.7.99/24", comment="lan")
    ok(api, "POST", "/cluster/firewall/ipset/mgmt", cidr="10.0.0.5/32", nomatch=1)
    param_error(api.api("POST", "/cluster/firewall/ipset/mgmt", data={"cidr": "10.0.0.5"}), {"cidr": "address '10.0.0.5' already exists"})
    param_error(api.api("POST", "/cluster/firewall/ipset/mgmt", data={"cidr": "10.9.9.9/0"}),
                {"cidr": "a zero prefix is not allowed in ipset entries"})
    plain_error(api.api("POST", "/cluster/firewall/ipset/mgmt", data={"cidr": "nosuch"}), "no such alias 'nosuch'\n")
    entries = api.data("GET", "/cluster/firewall/ipset/mgmt")
    assert [(entry["cidr"], entry.get("nomatch"), entry.get("comment")) for entry in entries] == [
        ("10.0.0.5", 1, None), ("192.168.7.0/24", None, "lan")]
    assert "[IPSET mgmt] # admins\n\n!10.0.0.5\n192.168.7.0/24 # lan\n\n" in files(api)["cluster.fw"]
    ok(api, "PUT", "/cluster/firewall/ipset/mgmt/10.0.0.5", comment="host")
    digest = api.data("GET", "/cluster/firewall/ipset/mgmt")[0]["digest"]
    assert api.data("GET", "/cluster/firewall/ipset/mgmt/10.0.0.5") == {"cidr": "10.0.0.5", "comment": "host", "digest": digest}
    param_error(api.api("GET", "/cluster/firewall/ipset/mgmt/10.0.0.6"), {"cidr": "no such IP/Network"})
    plain_error(api.api("DELETE", "/cluster/firewall/ipset/mgmt"), "IPSet 'mgmt' is not empty\n")
    ok(api, "POST", "/cluster/firewall/ipset", name="admins", rename="mgmt")
    ok(api, "DELETE", "/cluster/firewall/ipset/admins", force=1)
    assert api.data("GET", "/cluster/firewall/ipset") == []
    plain_error(api.api("GET", "/cluster/firewall/ipset/admins"), "no such IPSet 'admins'\n")


def test_aliases_case_insensitive_rename_refs_aliases_pm(api):
    ok(api, "POST", "/cluster/firewall/aliases", name="GW", cidr="10.0.0.1/32", comment="gateway")
    param_error(api.api("POST", "/cluster/firewall/aliases", data={"name": "gw", "cidr": "10.0.0.2"}), {"name": "alias 'gw' already exists"})
    assert api.data("GET", "/cluster/firewall/aliases/gw") == {"name": "GW", "cidr": "10.0.0.1", "ipversion": 4, "comment": "gateway"}
    missing_cidr = api.api("PUT", "/cluster/firewall/aliases/gw", data={"rename": "router"})
    assert missing_cidr.status_code == 400 and "cidr" in missing_cidr.json()["errors"]
    ok(api, "PUT", "/cluster/firewall/aliases/gw", cidr="fd00::1", rename="Router")
    assert api.data("GET", "/cluster/firewall/aliases")[0]["name"] == "Router"
    ok(api, "POST", "/nodes/pve1/qemu/100/firewall/aliases", name="mine", cidr="fd00::2")
    ok(api, "POST", "/nodes/pve1/qemu/100/firewall/ipset", name="set1")
    ok(api, "POST", "/nodes/pve1/qemu/100/firewall/ipset/set1", cidr="guest/mine")
    ok(api, "POST", "/nodes/pve1/qemu/100/firewall/rules", type="in", action="ACCEPT", source="router", dest="+set1")
    assert api.data("GET", "/nodes/pve1/qemu/100/firewall/rules/0")["ipversion"] == 6
    refs = api.data("GET", "/nodes/pve1/qemu/100/firewall/refs")
    assert [(ref["type"], ref["ref"], ref["scope"]) for ref in refs] == [
        ("alias", "router", "dc"), ("ipset", "+set1", "guest"), ("alias", "mine", "guest")]
    # Aliases.pm update_alias rebuilds the entry from the call: the comment not sent is gone
    assert "[ALIASES]\n\nRouter fd00::1\n\n" in files(api)["cluster.fw"]
    param_error(api.api("GET", "/cluster/firewall/aliases/gw"), {"name": "no such alias"})


def test_macros_list_all_firewall_pm(api, api84):
    macros = api.data("GET", "/cluster/firewall/macros")
    assert len(macros) == 86 and {"macro": "SSH", "descr": "Secure shell traffic"} in macros
    assert {"macro": "DHCPv6", "descr": "DHCPv6 traffic"} in macros
    assert api84.data("GET", "/cluster/firewall/macros") == macros


def test_versions_share_the_api_rules_pm(api, api84):
    """8.4 and 9.1 differ only in schema defaults (host ndp 0 vs 1) and in the rule list's documented
    return properties, which does not change what either answers."""
    for session in (api, api84):
        ok(session, "POST", "/nodes/pve1/firewall/rules", type="forward", action="ACCEPT", proto="icmp", **{"icmp-type": "echo-request"})
        rule = session.data("GET", "/nodes/pve1/firewall/rules")[0]
        assert (rule["type"], rule["icmp-type"], rule["ipversion"], rule["enable"]) == ("forward", "echo-request", 4, 0)


def test_ipset_entry_with_a_prefix_is_addressed_by_the_rest_of_the_path_ipset_pm_fragment_delimiter(api):
    # pve-firewall IPSet.pm registers {cidr} with fragmentDelimiter => '' (pve-common RESTHandler.pm
    # map_path_to_methods): .../ipset/<name>/10.1.0.0/24 is the entry 10.1.0.0/24.
    ok(api, "POST", "/cluster/firewall/ipset", name="admins")
    ok(api, "POST", "/cluster/firewall/ipset/admins", cidr="10.1.0.0/24")
    assert ok(api, "GET", "/cluster/firewall/ipset/admins/10.1.0.0/24")["cidr"] == "10.1.0.0/24"
    ok(api, "PUT", "/cluster/firewall/ipset/admins/10.1.0.0/24", comment="office", nomatch=1)
    assert [(entry["cidr"], entry.get("comment"), entry.get("nomatch")) for entry in ok(api, "GET", "/cluster/firewall/ipset/admins")] \
        == [("10.1.0.0/24", "office", 1)]
    ok(api, "DELETE", "/cluster/firewall/ipset/admins/10.1.0.0/24")
    assert ok(api, "GET", "/cluster/firewall/ipset/admins") == []
