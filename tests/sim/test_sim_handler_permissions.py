"""Privileges that PVE checks inside the handlers of SDN, VNet firewall and task calls (the schema says `user: all`).

Facts: pve-network src/PVE/API2/Network/SDN/{Zones,Vnets,Subnets,Controllers,Ipams,Dns}.pm (ecf98c5; the same
checks at 8f4f5d2, PVE 8.4): the `$check_vnet_access` of Vnets.pm and Subnets.pm and the index filters;
pve-firewall src/PVE/API2/Firewall/{Vnet,Rules,Helpers}.pm (6f1311f3): check_vnet_access and the VnetRules
check_privileges_for_method; pve-manager PVE/API2/Tasks.pm ($check_task_user, $convert_token_task) and
PVE/API2/Cluster.pm tasks (14a22df3). The 403 text is RPCEnvironment.pm check_any's (pve-access-control 9.0.4).

Every restricted caller here is a privilege-separated token whose user is Administrator on `/`, so the token's
own custom role decides; the role is changed through the API to add or take away exactly one privilege.
"""

import pytest

from pvesim.testing import ApiSession, assert_pve_error, ok, plain_error

pytestmark = pytest.mark.timeout(60)
USER = "tester@pve"
TOKEN = USER + "!ci"
ROLE = "SdnProbe"
PASSWORD = "password1"
VNET_A = "/sdn/zones/zonea/vneta"


def set_acl(root, **params):
    """PUT /access/acl as root (a form body: the parameter is called path)."""
    answer = root.api("PUT", "/access/acl", data=params)
    assert answer.status_code == 200, answer.text


def denied(response, path, privileges):
    """RPCEnvironment.pm check / check_any: 403 `Permission check failed (<path>, <privs joined by |>)`."""
    text = "Permission check failed (%s, %s)" % (path, privileges)
    assert_pve_error(response, 403, text, message=text + "\n")


class RestrictedToken:  # pylint: disable=too-few-public-methods
    """Root's session, and a privilege-separated token of an Administrator user holding the custom role ROLE."""

    def __init__(self, sim, api_session):
        self.root = api_session(sim)
        ok(self.root, "POST", "/access/users", userid=USER, password=PASSWORD)
        set_acl(self.root, path="/", users=USER, roles="Administrator")
        ok(self.root, "POST", "/access/roles", roleid=ROLE, privs="SDN.Use")
        token = ok(self.root, "POST", "/access/users/%s/token/ci" % USER, privsep=1)
        self.token = api_session(sim, auth=None)
        self.token.headers["Authorization"] = "PVEAPIToken=%s=%s" % (token["full-tokenid"], token["value"])

    def grant(self, path, privileges):
        """The token's role gets exactly `privileges` on `path`."""
        ok(self.root, "PUT", "/access/roles/" + ROLE, privs=privileges)
        set_acl(self.root, path=path, tokens=TOKEN, roles=ROLE)


def demote_user(root):
    """The token's user keeps only PVEVMUser on / (PUT /access/acl adds roles, so Administrator is deleted)."""
    set_acl(root, path="/", users=USER, roles="Administrator", delete=1)
    set_acl(root, path="/", users=USER, roles="PVEVMUser")


@pytest.fixture(name="tester")
def tester_fixture(sim, api_session):
    return RestrictedToken(sim, api_session)


def two_zones(root, apply=True):
    """zonea/vneta with a subnet and zoneb/vnetb, simple zones with the PVE IPAM and DHCP; applied unless told not to."""
    for suffix in ("a", "b"):
        ok(root, "POST", "/cluster/sdn/zones", zone="zone" + suffix, type="simple", ipam="pve", dhcp="dnsmasq")
        ok(root, "POST", "/cluster/sdn/vnets", vnet="vnet" + suffix, zone="zone" + suffix)
    ok(root, "POST", "/cluster/sdn/vnets/vneta/subnets", subnet="192.0.2.0/24", type="subnet", gateway="192.0.2.1")
    ok(root, "POST", "/cluster/sdn/vnets/vnetb/subnets", subnet="198.51.100.0/24", type="subnet", gateway="198.51.100.1")
    if apply:
        ok(root, "PUT", "/cluster/sdn")


# -- VNets and subnets (Vnets.pm, Subnets.pm $check_vnet_access) ----------------------------------------
def test_vnet_and_subnet_writes_need_sdn_allocate_on_the_vnet(tester):
    two_zones(tester.root, apply=False)
    tester.grant(VNET_A, "SDN.Audit")
    api = tester.token
    denied(api.api("PUT", "/cluster/sdn/vnets/vneta", data={"alias": "web"}), VNET_A, "SDN.Allocate")
    denied(api.api("DELETE", "/cluster/sdn/vnets/vneta"), VNET_A, "SDN.Allocate")
    denied(api.api("POST", "/cluster/sdn/vnets/vneta/subnets", data={"subnet": "203.0.113.0/24", "type": "subnet"}),
           VNET_A, "SDN.Allocate")
    denied(api.api("PUT", "/cluster/sdn/vnets/vneta/subnets/zonea-192.0.2.0-24", data={"gateway": "192.0.2.254"}),
           VNET_A, "SDN.Allocate")
    denied(api.api("DELETE", "/cluster/sdn/vnets/vneta/subnets/zonea-192.0.2.0-24"), VNET_A, "SDN.Allocate")
    assert "alias" not in tester.root.data("GET", "/cluster/sdn/vnets/vneta")

    tester.grant(VNET_A, "SDN.Allocate")
    ok(api, "PUT", "/cluster/sdn/vnets/vneta", alias="web")
    ok(api, "POST", "/cluster/sdn/vnets/vneta/subnets", subnet="203.0.113.0/24", type="subnet")
    assert tester.root.data("GET", "/cluster/sdn/vnets/vneta")["alias"] == "web"
    assert "zonea-203.0.113.0-24" in [entry["subnet"] for entry in tester.root.data("GET", "/cluster/sdn/vnets/vneta/subnets")]
    # the grant is on vneta only: the other zone's VNet stays closed
    denied(api.api("PUT", "/cluster/sdn/vnets/vnetb", data={"alias": "db"}), "/sdn/zones/zoneb/vnetb", "SDN.Allocate")


def test_vnet_and_subnet_reads_need_audit_or_allocate(tester):
    two_zones(tester.root, apply=False)
    tester.grant(VNET_A, "SDN.Use")
    api = tester.token
    for path in ("/cluster/sdn/vnets/vneta", "/cluster/sdn/vnets/vneta/subnets", "/cluster/sdn/vnets/vneta/subnets/zonea-192.0.2.0-24"):
        denied(api.api("GET", path), VNET_A, "SDN.Audit|SDN.Allocate")
    # the VNet is looked up first: an unknown one is a plain error, not a 403
    plain_error(api.api("GET", "/cluster/sdn/vnets/nope"), "sdn vnet 'nope' does not exist\n")

    tester.grant(VNET_A, "SDN.Audit")
    assert api.data("GET", "/cluster/sdn/vnets/vneta")["zone"] == "zonea"
    assert [entry["subnet"] for entry in api.data("GET", "/cluster/sdn/vnets/vneta/subnets")] == ["zonea-192.0.2.0-24"]
    assert api.data("GET", "/cluster/sdn/vnets/vneta/subnets/zonea-192.0.2.0-24")["gateway"] == "192.0.2.1"


def test_zone_acl_propagates_to_its_vnets(tester):
    two_zones(tester.root, apply=False)
    tester.grant("/sdn/zones/zonea", "SDN.Allocate")
    ok(tester.token, "DELETE", "/cluster/sdn/vnets/vneta/subnets/zonea-192.0.2.0-24")
    ok(tester.token, "DELETE", "/cluster/sdn/vnets/vneta")
    assert [entry["vnet"] for entry in tester.root.data("GET", "/cluster/sdn/vnets")] == ["vnetb"]


def test_8_4_checks_the_vnet_the_same_way(sim84, api_session):
    tester = RestrictedToken(sim84, api_session)
    two_zones(tester.root, apply=False)
    tester.grant(VNET_A, "SDN.Audit")
    denied(tester.token.api("PUT", "/cluster/sdn/vnets/vneta", data={"alias": "web"}), VNET_A, "SDN.Allocate")
    tester.grant(VNET_A, "SDN.Allocate")
    ok(tester.token, "PUT", "/cluster/sdn/vnets/vneta", alias="web")


# -- index filters ---------------------------------------------------------------------------------------
def test_indexes_list_only_what_the_caller_may_read(tester):
    root, api = tester.root, tester.token
    two_zones(root, apply=False)
    ok(root, "POST", "/cluster/sdn/controllers", controller="evpnctl", type="evpn", asn=65000, peers="10.10.10.11")
    ok(root, "POST", "/cluster/sdn/controllers", controller="bgp1", type="bgp", asn=65001, peers="10.10.10.12", node="pve1")
    ok(root, "POST", "/cluster/sdn/ipams", ipam="php", type="phpipam", url="https://php.example/api/pve", token="s3cret", section=3)
    ok(root, "POST", "/cluster/sdn/dns", dns="pdns", type="powerdns", url="https://pdns.example/api", key="k3y")
    ok(root, "POST", "/cluster/sdn/dns", dns="pdns2", type="powerdns", url="https://pdns2.example/api", key="k3y")
    assert api.data("GET", "/cluster/sdn/zones") == []
    assert api.data("GET", "/cluster/sdn/vnets") == []

    tester.grant("/sdn/zones/zonea", "SDN.Audit")
    for path in ("/sdn/controllers/bgp1", "/sdn/ipams/pve", "/sdn/dns/pdns2"):
        set_acl(root, path=path, tokens=TOKEN, roles=ROLE)
    assert [entry["zone"] for entry in api.data("GET", "/cluster/sdn/zones")] == ["zonea"]
    assert [entry["vnet"] for entry in api.data("GET", "/cluster/sdn/vnets")] == ["vneta"]
    # a VNet that only exists in the pending config is checked under the zone of its pending part
    assert [entry["vnet"] for entry in api.data("GET", "/cluster/sdn/vnets", params={"pending": 1})] == ["vneta"]
    assert [entry["controller"] for entry in api.data("GET", "/cluster/sdn/controllers")] == ["bgp1"]
    assert [entry["ipam"] for entry in api.data("GET", "/cluster/sdn/ipams")] == ["pve"]
    assert [entry["dns"] for entry in api.data("GET", "/cluster/sdn/dns")] == ["pdns2"]
    assert len(root.data("GET", "/cluster/sdn/zones")) == 2 and len(root.data("GET", "/cluster/sdn/dns")) == 2


def test_ipam_status_lists_the_vnets_the_caller_may_read(tester):
    root, api = tester.root, tester.token
    two_zones(root)
    ok(root, "POST", "/cluster/sdn/vnets/vneta/ips", zone="zonea", ip="192.0.2.10", mac="BC:24:11:00:00:10")
    ok(root, "POST", "/cluster/sdn/vnets/vnetb/ips", zone="zoneb", ip="198.51.100.10", mac="BC:24:11:00:00:20")
    assert {entry["vnet"] for entry in root.data("GET", "/cluster/sdn/ipams/pve/status")} == {"vneta", "vnetb"}
    assert api.data("GET", "/cluster/sdn/ipams/pve/status") == []
    tester.grant("/sdn/zones/zoneb/vnetb", "SDN.Audit")
    assert [entry["ip"] for entry in api.data("GET", "/cluster/sdn/ipams/pve/status")] == ["198.51.100.1", "198.51.100.10"]


# -- VNet firewall (Helpers.pm check_vnet_access on the running VNet) ------------------------------------
def test_vnet_firewall_reads_and_writes(tester):
    root, api = tester.root, tester.token
    two_zones(root)
    rules, options = "/cluster/sdn/vnets/vneta/firewall/rules", "/cluster/sdn/vnets/vneta/firewall/options"
    tester.grant(VNET_A, "SDN.Use")
    denied(api.api("GET", rules), VNET_A, "SDN.Audit|SDN.Allocate")
    denied(api.api("GET", options), VNET_A, "SDN.Allocate|SDN.Audit")  # Vnet.pm get_options names them the other way round

    tester.grant(VNET_A, "SDN.Audit")
    assert api.data("GET", rules) == []
    assert "digest" in api.data("GET", options)
    denied(api.api("POST", rules, data={"type": "forward", "action": "DROP"}), VNET_A, "SDN.Allocate")
    denied(api.api("PUT", options, data={"enable": 1}), VNET_A, "SDN.Allocate")
    ok(root, "POST", rules, type="forward", action="ACCEPT", proto="tcp")
    denied(api.api("PUT", rules + "/0", data={"action": "DROP"}), VNET_A, "SDN.Allocate")
    denied(api.api("DELETE", rules + "/0"), VNET_A, "SDN.Allocate")
    assert [rule["action"] for rule in root.data("GET", rules)] == ["ACCEPT"]

    tester.grant(VNET_A, "SDN.Allocate")
    ok(api, "POST", rules, type="forward", action="DROP", proto="udp")
    ok(api, "PUT", rules + "/1", proto="icmp")
    ok(api, "PUT", options, enable=1)
    assert [(rule["action"], rule["proto"]) for rule in root.data("GET", rules)] == [("DROP", "udp"), ("ACCEPT", "icmp")]
    assert root.data("GET", options)["enable"] == 1
    ok(api, "DELETE", rules + "/0")
    assert [rule["action"] for rule in root.data("GET", rules)] == ["ACCEPT"]


def test_vnet_firewall_checks_the_zone_of_the_running_vnet(tester):
    root, api = tester.root, tester.token
    two_zones(root, apply=False)
    ok(root, "POST", "/cluster/sdn/vnets", vnet="vnetc", zone="zonea")
    ok(root, "PUT", "/cluster/sdn")
    ok(root, "PUT", "/cluster/sdn/vnets/vnetc", zone="zoneb")  # pending only
    tester.grant("/sdn/zones/zonea/vnetc", "SDN.Audit")
    assert api.data("GET", "/cluster/sdn/vnets/vnetc/firewall/rules") == []
    # the SDN calls check the pending config's zone instead (Vnets.pm $check_vnet_access)
    denied(api.api("GET", "/cluster/sdn/vnets/vnetc"), "/sdn/zones/zoneb/vnetc", "SDN.Audit|SDN.Allocate")
    plain_error(api.api("GET", "/cluster/sdn/vnets/nope/firewall/rules"),
                "invalid vnet specified at /usr/share/perl5/PVE/API2/Firewall/Helpers.pm line 55.\n")


# -- tasks (Tasks.pm $check_task_user, Cluster.pm tasks) ------------------------------------------------
@pytest.fixture(name="tasks")
def tasks_fixture(sim):
    """Tasks on pve1: one of the token, one of its user, one of root (newest first in lists); long-running."""
    return {owner: sim.add_task(node="pve1", type="vzdump", id="100", user=owner, duration=30)
            for owner in ("root@pam", USER, TOKEN)}


def test_a_token_sees_and_stops_its_own_tasks_only(tester, tasks):
    api = tester.token
    assert [entry["upid"] for entry in api.data("GET", "/nodes/pve1/tasks", params={"source": "all"})] == [tasks[TOKEN]]
    own = api.data("GET", "/nodes/pve1/tasks/%s/status" % tasks[TOKEN])
    assert own["user"] == USER and own["tokenid"] == "ci"  # $convert_token_task
    for upid in (tasks["root@pam"], tasks[USER]):
        denied(api.api("GET", "/nodes/pve1/tasks/%s/status" % upid), "/nodes/pve1", "Sys.Audit")
        denied(api.api("GET", "/nodes/pve1/tasks/%s/log" % upid), "/nodes/pve1", "Sys.Audit")
        denied(api.api("DELETE", "/nodes/pve1/tasks/%s" % upid), "/nodes/pve1", "Sys.Modify")
    assert api.api("DELETE", "/nodes/pve1/tasks/%s" % tasks[TOKEN]).status_code == 200
    assert tester.root.data("GET", "/nodes/pve1/tasks/%s/status" % tasks[TOKEN])["status"] == "stopped"
    assert tester.root.data("GET", "/nodes/pve1/tasks/%s/status" % tasks["root@pam"])["status"] == "running"


def test_a_user_sees_the_tasks_of_his_tokens(sim, api_session, tester, tasks):
    demote_user(tester.root)  # neither Sys.Audit nor Sys.Modify
    user = api_session(sim, auth="ticket", user=USER, password=PASSWORD)
    listed = user.data("GET", "/nodes/pve1/tasks", params={"source": "all"})
    assert {entry["upid"]: entry.get("tokenid") for entry in listed} == {tasks[TOKEN]: "ci", tasks[USER]: None}
    assert user.api("DELETE", "/nodes/pve1/tasks/%s" % tasks[TOKEN]).status_code == 200
    denied(user.api("DELETE", "/nodes/pve1/tasks/%s" % tasks["root@pam"]), "/nodes/pve1", "Sys.Modify")


def test_sys_audit_on_the_node_shows_every_task_but_stopping_needs_sys_modify(tester, tasks):
    api = tester.token
    tester.grant("/nodes/pve1", "Sys.Audit")
    assert len(api.data("GET", "/nodes/pve1/tasks", params={"source": "all"})) == 3
    assert api.data("GET", "/nodes/pve1/tasks/%s/status" % tasks["root@pam"])["user"] == "root@pam"
    denied(api.api("DELETE", "/nodes/pve1/tasks/%s" % tasks["root@pam"]), "/nodes/pve1", "Sys.Modify")
    tester.grant("/nodes/pve1", "Sys.Modify")
    assert api.api("DELETE", "/nodes/pve1/tasks/%s" % tasks["root@pam"]).status_code == 200
    # the check is on the node of the path: Sys.Modify on pve1 does not open pve2's tasks
    denied(api.api("GET", "/nodes/pve2/tasks/%s/log" % tasks["root@pam"]), "/nodes/pve2", "Sys.Audit")


def test_cluster_tasks_need_sys_audit_on_root_or_the_same_user(sim, api_session, tester, tasks):
    api = tester.token
    # Cluster.pm compares the task's user, the token name cut off, with the caller: a token never matches
    assert api.data("GET", "/cluster/tasks") == []
    tester.grant("/nodes", "Sys.Audit")
    assert api.data("GET", "/cluster/tasks") == []  # Sys.Audit below / is not enough
    tester.grant("/", "Sys.Audit")
    assert {entry["upid"] for entry in api.data("GET", "/cluster/tasks")} == set(tasks.values())
    demote_user(tester.root)
    assert api.data("GET", "/cluster/tasks") == []  # the token's privileges are cut to its user's
    user = api_session(sim, auth="ticket", user=USER, password=PASSWORD)
    assert {entry["upid"] for entry in user.data("GET", "/cluster/tasks")} == {tasks[USER], tasks[TOKEN]}


def test_root_token_still_sees_and_reads_everything(sim, tasks):
    root = ApiSession(sim)
    try:
        assert len(root.data("GET", "/cluster/tasks")) == 3
        assert root.data("GET", "/nodes/pve1/tasks/%s/status" % tasks[TOKEN])["tokenid"] == "ci"
    finally:
        root.close()
