"""The permission evaluator: privileges per version, ACL propagation, pools, tokens, check forms.

Facts: pve-access-control src/PVE/AccessControl.pm ($privgroups, create_roles, roles) and
src/PVE/RPCEnvironment.pm (permissions, check, check_any, exec_api2_perm_check), 8.2.2 (25dd375)
for PVE 8.4 and 9.0.4 (3e9da0c) for PVE 9.1.
"""

import re

import pytest

from pvesim import schema
from pvesim.permissions import CHECK_FORMS, builtin_roles, valid_privileges
from pvesim.testing import ApiSession, assert_pve_error, ok

# the API paths the collection uses (their `permissions.check` must all be understood)
USED_PATHS = re.compile(r"^(/access|/pools|/cluster/firewall|/nodes/\{node\}/firewall|/nodes/\{node\}/qemu/\{vmid\}/firewall"
                        r"|/cluster/sdn|/cluster/resources$|/cluster/status$|/cluster/nextid$|/version$|/nodes$"
                        r"|/cluster/tasks$|/nodes/\{node\}/tasks)")
PASSWORD = "password1"


def check_forms(check):
    """Every test name in a `check` expression, nested ones included."""
    yield check[0]
    if check[0] in ("and", "or"):
        for subcheck in check[1:]:
            yield from check_forms(subcheck)


@pytest.mark.parametrize("release", ["8.4", "9.1"])
def test_every_check_form_of_the_used_paths_is_known(release):
    api_schema = schema.load(release)
    seen = set()
    for method, path in api_schema.routes():
        permissions = api_schema.method(path, method).get("permissions") or {}
        if USED_PATHS.match(path) and permissions.get("check"):
            forms = set(check_forms(permissions["check"]))
            assert forms <= set(CHECK_FORMS), (method, path, permissions["check"])
            seen |= forms
    assert seen == set(CHECK_FORMS)  # and the evaluator knows no form these paths never use


def test_privileges_differ_between_8_4_and_9_1():
    assert "VM.Monitor" in valid_privileges("8.4") and "VM.Monitor" not in valid_privileges("9.1")
    added = set(valid_privileges("9.1")) - set(valid_privileges("8.4"))
    assert added == {"VM.GuestAgent.Audit", "VM.GuestAgent.FileRead", "VM.GuestAgent.FileSystemMgmt",
                     "VM.GuestAgent.FileWrite", "VM.GuestAgent.Unrestricted", "VM.Replicate"}


def test_builtin_roles_follow_create_roles():
    roles = builtin_roles("9.1")
    assert set(roles) == {"NoAccess", "Administrator", "PVEAdmin", "PVEAuditor", "PVETemplateUser", "PVEVMAdmin", "PVEVMUser",
                          "PVESysAdmin", "PVEDatastoreAdmin", "PVEDatastoreUser", "PVESDNAdmin", "PVESDNUser", "PVEUserAdmin",
                          "PVEPoolAdmin", "PVEPoolUser", "PVEMappingAdmin", "PVEMappingUser"}
    assert roles["PVEVMUser"] == {"VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.Backup", "VM.GuestAgent.FileRead",
                                  "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite", "VM.PowerMgmt", "VM.Audit",
                                  "VM.GuestAgent.Audit"}
    assert "Mapping.Modify" not in roles["PVEAdmin"] and "Sys.Modify" not in roles["PVEAdmin"]
    assert roles["Administrator"] == set(valid_privileges("9.1"))
    assert "VM.Monitor" in builtin_roles("8.4")["PVEVMAdmin"]


@pytest.fixture(name="alice")
def alice_fixture(sim, api_session):
    """Root's session and a logged-in user alice@pve without any ACL yet."""
    root = api_session(sim)
    ok(root, "POST", "/access/users", userid="alice@pve", password=PASSWORD)
    return root, api_session(sim, auth="ticket", user="alice@pve", password=PASSWORD)


def set_acl(root, **params):
    """PUT /access/acl as root (ok() cannot take a parameter called path)."""
    answer = root.api("PUT", "/access/acl", data=params)
    assert answer.status_code == 200, answer.text


def permissions_on(session, path):
    return session.data("GET", "/access/permissions", params={"path": path})[path]


def test_403_names_the_path_and_the_missing_privilege(alice):
    _root, user = alice
    assert_pve_error(user.api("GET", "/nodes/pve1/qemu/100/firewall/rules"), 403, "Permission check failed (/vms/100, VM.Audit)",
                     message="Permission check failed (/vms/100, VM.Audit)\n")
    assert_pve_error(user.api("POST", "/access/groups", data={"groupid": "ops"}), 403, "Permission check failed (/access/groups, Group.Allocate)")


def test_propagation_specific_path_and_noaccess(alice):
    root, user = alice
    set_acl(root, path="/vms", users="alice@pve", roles="PVEAuditor")
    assert "VM.Audit" in permissions_on(user, "/vms/100")
    set_acl(root, path="/vms/100", users="alice@pve", roles="NoAccess")
    assert permissions_on(user, "/vms/100") == {}
    assert "VM.Audit" in permissions_on(user, "/vms/101")
    set_acl(root, path="/sdn", users="alice@pve", roles="PVESDNAdmin", propagate=0)
    assert permissions_on(user, "/sdn")["SDN.Allocate"] == 0
    assert permissions_on(user, "/sdn/zones") == {}


def test_user_entry_beats_group_entry_at_the_same_path(alice):
    root, user = alice
    ok(root, "POST", "/access/groups", groupid="ops")
    ok(root, "PUT", "/access/users/alice@pve", groups="ops")
    set_acl(root, path="/", groups="ops", roles="PVEAdmin")
    assert "Sys.Audit" in permissions_on(user, "/nodes/pve1")
    set_acl(root, path="/", users="alice@pve", roles="PVEAuditor")
    granted = permissions_on(user, "/nodes/pve1")
    assert "Sys.Audit" in granted and "Sys.Console" not in granted


def test_privilege_separated_token_gets_the_intersection(sim, alice):
    root, _user = alice
    set_acl(root, path="/vms", users="alice@pve", roles="PVEVMUser")
    token = ok(root, "POST", "/access/users/alice@pve/token/ci")
    assert token["info"] == {"privsep": 1}
    set_acl(root, path="/vms", tokens="alice@pve!ci", roles="PVEVMAdmin")
    session = ApiSession(sim, auth=None)
    session.headers["Authorization"] = "PVEAPIToken=%s=%s" % (token["full-tokenid"], token["value"])
    try:
        granted = permissions_on(session, "/vms/100")
        assert "VM.PowerMgmt" in granted and "VM.Allocate" not in granted
        ok(root, "PUT", "/access/users/alice@pve/token/ci", privsep=0)
        users_own = root.data("GET", "/access/permissions", params={"userid": "alice@pve", "path": "/vms/100"})["/vms/100"]
        assert permissions_on(session, "/vms/100") == users_own  # privsep 0: the user's privileges
        assert "VM.Allocate" not in users_own
    finally:
        session.close()


def test_pool_acl_covers_its_guests(sim, alice):
    root, user = alice
    root.sim("POST", "guests", json={"vmid": 100, "node": "pve1", "name": "web1"})
    ok(root, "POST", "/pools", poolid="web")
    ok(root, "PUT", "/pools", poolid="web", vms="100")
    set_acl(root, path="/pool/web", users="alice@pve", roles="PVEVMUser")
    assert permissions_on(user, "/vms/100")["VM.PowerMgmt"] == 0  # pool roles never propagate
    assert permissions_on(user, "/vms/101") == {}


def test_custom_role_losing_a_privilege_gives_403_on_next_call(alice):
    root, user = alice
    ok(root, "POST", "/access/roles", roleid="FirewallEditor", privs="VM.Audit,VM.Config.Network")
    set_acl(root, path="/vms/100", users="alice@pve", roles="FirewallEditor")
    assert user.api("GET", "/nodes/pve1/qemu/100/firewall/rules").status_code != 403
    ok(root, "PUT", "/access/roles/FirewallEditor", privs="VM.Config.Network")
    assert_pve_error(user.api("GET", "/nodes/pve1/qemu/100/firewall/rules"), 403, "Permission check failed (/vms/100, VM.Audit)")


def test_or_form_and_userid_param_self(alice):
    root, user = alice
    assert ok(user, "GET", "/access/users/alice@pve/token") == []
    ok(root, "POST", "/access/users", userid="bob@pve")
    assert_pve_error(user.api("GET", "/access/users/bob@pve/token"), 403, "Permission check failed", message="Permission check failed\n")


def test_userid_group_with_groups_param(alice):
    root, user = alice
    ok(root, "POST", "/access/groups", groupid="devs")
    set_acl(root, path="/access/realm/pve", users="alice@pve", roles="PVEUserAdmin")
    set_acl(root, path="/access/groups/devs", users="alice@pve", roles="PVEUserAdmin")
    assert_pve_error(user.api("POST", "/access/users", data={"userid": "carol@pve"}), 403,
                     "Permission check failed (/access/groups, User.Modify)")
    assert_pve_error(user.api("POST", "/access/users", data={"userid": "carol@pve", "groups": "ops"}), 403,
                     "Permission check failed (/access/groups/ops, User.Modify)")
    assert ok(user, "POST", "/access/users", userid="carol@pve", groups="devs") is None
    assert ok(root, "GET", "/access/users/carol@pve")["groups"] == ["devs"]


def test_perm_modify_acl_needs_a_superset_without_permissions_modify(alice):
    root, user = alice
    set_acl(root, path="/vms/100", users="alice@pve", roles="PVEVMUser")
    ok(root, "POST", "/access/users", userid="bob@pve")
    assert_pve_error(user.api("PUT", "/access/acl", data={"path": "/vms/100", "users": "bob@pve", "roles": "PVEVMUser"}), 403,
                     "Permission check failed (/vms/100, Permissions.Modify|VM.Allocate)")
    set_acl(root, path="/vms/100", users="alice@pve", roles="PVEVMAdmin")
    answer = user.api("PUT", "/access/acl", data={"path": "/vms/100", "users": "bob@pve", "roles": "PVEAdmin"})
    assert_pve_error(answer, 500, "ACL update failed: 400 Parameter verification failed.")
    set_acl_answer = user.api("PUT", "/access/acl", data={"path": "/vms/100", "users": "bob@pve", "roles": "PVEVMUser", "propagate": 0})
    assert set_acl_answer.status_code == 200, set_acl_answer.text


def test_login_cap_comes_from_the_acls(alice, sim, api_session):
    root, _user = alice
    set_acl(root, path="/vms/100", users="alice@pve", roles="PVEAuditor")
    login = api_session(sim, auth=None).data("POST", "/access/ticket", data={"username": "alice@pve", "password": PASSWORD})
    assert login["cap"]["vms"] == {"VM.Audit": 1, "VM.GuestAgent.Audit": 1}
    assert login["cap"]["nodes"] == {} and login["cap"]["dc"] == {}
    root_login = api_session(sim, auth=None).data("POST", "/access/ticket", data={"username": "root@pam", "password": sim.root_password})
    assert root_login["cap"]["dc"] == {"Sys.Audit": 1, "Sys.Modify": 1, "SDN.Allocate": 1, "SDN.Audit": 1, "SDN.Use": 1}
    assert "Realm.Allocate" not in root_login["cap"]["access"] and root_login["cap"]["access"]["User.Modify"] == 1


def test_root_token_without_privsep_stays_all_powerful(sim, api_session):
    root = api_session(sim)
    assert root.api("PUT", "/cluster/firewall/options", data={"enable": 0}).status_code != 403
    granted = permissions_on(root, "/vms/100")
    assert set(granted) == set(valid_privileges("9.1"))


def test_8_4_refuses_9_1_privileges_in_roles(sim84, api_session):
    root = api_session(sim84)
    assert_pve_error(root.api("POST", "/access/roles", data={"roleid": "Agent", "privs": "VM.GuestAgent.Audit"}), 400,
                     "Parameter verification failed.", {"privs": "invalid format - invalid privilege 'VM.GuestAgent.Audit'\n"})
    assert ok(root, "POST", "/access/roles", roleid="Monitor", privs="VM.Monitor") is None
