"""The access area and pools: users, tokens, groups, roles, realms, pools, /cluster/resources per caller.

Facts: pve-access-control src/PVE/API2/{User,Group,Role,ACL,Domains}.pm (9.0.4, 3e9da0c),
pve-manager PVE/API2/Pool.pm and Cluster.pm resources (9.1.3 at 5829c814, 8.4.0 at ec58e45e).
"""

from pvesim.testing import ApiSession, assert_pve_error, ok, plain_error


def add_guest(api, vmid, name):
    answer = api.sim("POST", "guests", json={"vmid": vmid, "node": "pve1", "name": name})
    assert answer.status_code == 200, answer.text


def token_session(sim, token):
    session = ApiSession(sim, auth=None)
    session.headers["Authorization"] = "PVEAPIToken=%s=%s" % (token["full-tokenid"], token["value"])
    return session


def test_token_lifecycle_secret_only_on_create(sim, api_session):
    root = api_session(sim)
    ok(root, "POST", "/access/users", userid="ci@pve")
    created = ok(root, "POST", "/access/users/ci@pve/token/deploy", comment="pipeline", expire=0, privsep=0)
    assert created["full-tokenid"] == "ci@pve!deploy" and len(created["value"]) == 36
    assert created["info"] == {"privsep": 0, "expire": 0, "comment": "pipeline"}
    assert ok(root, "GET", "/access/users/ci@pve/token") == [{"tokenid": "deploy", "privsep": 0, "expire": 0, "comment": "pipeline"}]
    assert "value" not in ok(root, "GET", "/access/users/ci@pve/token/deploy")
    assert_pve_error(root.api("POST", "/access/users/ci@pve/token/deploy"), 400, "Parameter verification failed.",
                     {"tokenid": "Token already exists."})
    assert ok(root, "PUT", "/access/users/ci@pve/token/deploy", privsep=1, delete="comment") == {"privsep": 1, "expire": 0}
    ok(root, "DELETE", "/access/users/ci@pve/token/deploy")
    plain_error(root.api("GET", "/access/users/ci@pve/token/deploy"), "no such token 'deploy' for user 'ci@pve'\n")


def test_users_groups_and_deletion(sim, api_session):
    root = api_session(sim)
    ok(root, "POST", "/access/groups", groupid="ops", comment="operators")
    plain_error(root.api("POST", "/access/users", data={"userid": "x@pve", "groups": "nope"}), "create user failed: no such group 'nope'\n")
    ok(root, "POST", "/access/users", userid="dave@pve", groups="ops", email="dave@example.com")
    assert ok(root, "GET", "/access/groups/ops") == {"members": ["dave@pve"], "comment": "operators"}
    plain_error(root.api("POST", "/access/users", data={"userid": "dave@pve"}), "create user failed: user 'dave@pve' already exists\n")
    assert ok(root, "GET", "/access/users/dave@pve") == {"enable": 1, "email": "dave@example.com", "groups": ["ops"], "tokens": {}}
    ok(root, "DELETE", "/access/groups/ops")
    assert ok(root, "GET", "/access/users/dave@pve")["groups"] == []
    ok(root, "DELETE", "/access/users/dave@pve")
    assert [user["userid"] for user in ok(root, "GET", "/access/users")] == ["root@pam"]


def test_roles_custom_and_builtin(sim, api_session):
    root = api_session(sim)
    assert_pve_error(root.api("POST", "/access/roles", data={"roleid": "Spy", "privs": "VM.Audit,VM.Peek"}), 400,
                     "Parameter verification failed.", {"privs": "invalid format - invalid privilege 'VM.Peek'\n"})
    assert_pve_error(root.api("POST", "/access/roles", data={"roleid": "pveX"}), 400, "Parameter verification failed.",
                     {"roleid": "cannot use role ID starting with the (case-insensitive) 'PVE' namespace"})
    ok(root, "POST", "/access/roles", roleid="Viewer", privs="VM.Audit")
    ok(root, "PUT", "/access/roles/Viewer", privs="Sys.Audit", append=1)
    assert ok(root, "GET", "/access/roles/Viewer") == {"Sys.Audit": 1, "VM.Audit": 1}
    plain_error(root.api("PUT", "/access/roles/PVEAuditor", data={"privs": "VM.Audit"}), "auto-generated role 'PVEAuditor' cannot be modified\n")
    listed = {role["roleid"]: role for role in ok(root, "GET", "/access/roles")}
    assert listed["Viewer"] == {"roleid": "Viewer", "privs": "Sys.Audit,VM.Audit", "special": 0}
    assert listed["NoAccess"]["special"] == 1


def test_acl_paths_and_subjects(sim, api_session):
    root = api_session(sim)
    assert_pve_error(root.api("PUT", "/access/acl", data={"path": "/vms/1", "users": "root@pam", "roles": "PVEAuditor"}), 400,
                     "Parameter verification failed.", {"path": "invalid ACL path '/vms/1'"})
    plain_error(root.api("PUT", "/access/acl", data={"path": "/vms/100", "users": "ghost@pve", "roles": "PVEAuditor"}),
                "ACL update failed: user 'ghost@pve' does not exist\n")
    answer = root.api("PUT", "/access/acl", data={"path": "/vms/100", "users": "root@pam", "roles": "PVEAuditor", "propagate": 0})
    assert answer.status_code == 200
    assert ok(root, "GET", "/access/acl") == [{"path": "/vms/100", "type": "user", "ugid": "root@pam", "roleid": "PVEAuditor", "propagate": 0}]
    root.api("PUT", "/access/acl", data={"path": "/vms/100", "users": "root@pam", "roles": "PVEAuditor", "delete": 1})
    assert ok(root, "GET", "/access/acl") == []


def test_openid_realm_and_its_users(sim, api_session):
    root = api_session(sim)
    assert [domain["realm"] for domain in ok(root, "GET", "/access/domains")] == ["pam", "pve"]
    plain_error(root.api("POST", "/access/domains", data={"realm": "sso", "type": "openid", "client-id": "pve"}),
                "add auth server failed: missing value for required option 'issuer-url'\n")
    ok(root, "POST", "/access/domains", realm="sso", type="openid", **{"issuer-url": "https://id.example.com", "client-id": "pve"})
    assert ok(root, "GET", "/access/domains/sso") == {"type": "openid", "issuer-url": "https://id.example.com", "client-id": "pve"}
    plain_error(root.api("POST", "/access/users", data={"userid": "erin@sso", "password": "password1"}),
                "create user failed: can't set password on auth type 'openid'\n")
    ok(root, "POST", "/access/users", userid="erin@sso")
    assert {user["userid"]: user.get("realm-type") for user in ok(root, "GET", "/access/users")}["erin@sso"] == "openid"


def test_pools_members_moves_and_deletion(sim, api_session):
    root = api_session(sim)
    add_guest(root, 100, "web1")
    ok(root, "POST", "/pools", poolid="web", comment="frontends")
    ok(root, "POST", "/pools", poolid="db")
    plain_error(root.api("POST", "/pools", data={"poolid": "web/1st"}), "create pool failed: pool name must start with a letter\n")
    ok(root, "PUT", "/pools", poolid="web", vms="100")
    plain_error(root.api("PUT", "/pools", data={"poolid": "db", "vms": "100"}),
                "update pools failed: VM 100 belongs already to pool 'web' and 'allow-move' is not set\n")
    ok(root, "PUT", "/pools", poolid="db", vms="100", **{"allow-move": 1})
    assert ok(root, "GET", "/pools", poolid="web")[0]["members"] == []
    assert [member["id"] for member in ok(root, "GET", "/pools/db")["members"]] == ["qemu/100"]
    plain_error(root.api("DELETE", "/pools", params={"poolid": "db"}), "delete pool failed: pool 'db' is not empty (contains VM 100)\n")
    assert ok(root, "GET", "/pools") == [{"poolid": "db"}, {"poolid": "web", "comment": "frontends"}]


def test_pools_8_4_accept_a_leading_digit(sim84, api_session):
    root = api_session(sim84)
    assert ok(root, "POST", "/pools", poolid="1st") is None


def test_resources_show_only_the_tokens_pool(sim, api_session):
    root = api_session(sim)
    add_guest(root, 100, "web1")
    add_guest(root, 200, "db1")
    for pool, vmid in (("web", 100), ("db", 200)):
        ok(root, "POST", "/pools", poolid=pool)
        ok(root, "PUT", "/pools", poolid=pool, vms=str(vmid))
    ok(root, "POST", "/access/users", userid="web@pve")
    root.api("PUT", "/access/acl", data={"path": "/pool/web", "users": "web@pve", "roles": "PVEVMAdmin,PVEPoolUser"})
    token = ok(root, "POST", "/access/users/web@pve/token/ci", privsep=1)
    root.api("PUT", "/access/acl", data={"path": "/pool/web", "tokens": "web@pve!ci", "roles": "PVEVMAdmin,PVEPoolUser"})
    session = token_session(sim, token)
    try:
        seen = ok(session, "GET", "/cluster/resources")
        assert [entry["id"] for entry in seen if entry["type"] in ("pool", "qemu")] == ["/pool/web", "qemu/100"]
        assert [entry["pool"] for entry in seen if entry["type"] == "qemu"] == ["web"]
        node = next(entry for entry in seen if entry["type"] == "node")
        assert "maxmem" not in node and node["status"] == "online"
        assert_pve_error(session.api("GET", "/nodes/pve1/qemu/200/firewall/options"), 403, "Permission check failed (/vms/200, VM.Audit)")
        assert_pve_error(session.api("POST", "/cluster/sdn/zones", data={"zone": "z1", "type": "simple"}), 403,
                         "Permission check failed (/sdn/zones, SDN.Allocate)")
        assert_pve_error(session.api("POST", "/cluster/firewall/groups", data={"group": "g1"}), 403,
                         "Permission check failed (/, Sys.Modify)")
    finally:
        session.close()
    assert [entry["pool"] for entry in ok(root, "GET", "/cluster/resources", type="vm")] == ["web", "db"]
