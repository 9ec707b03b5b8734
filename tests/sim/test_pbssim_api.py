"""pbssim: PBS's answers for datastores, namespaces, users, tokens, ACLs, jobs, tasks and backups.

Each test names the proxmox-backup / proxmox-rs function whose behaviour it checks.
"""

import time

import pytest

from pbssim import PbsSimulator
from pbssim.testing import PbsSession

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module", name="pbs")
def pbs_simulator():
    with PbsSimulator(task_duration=0.05) as sim:
        yield sim


@pytest.fixture(name="admin")
def admin_session(pbs):
    pbs.reset()
    return PbsSession.admin(pbs)


def wait_task(api, upid):
    """Poll the task status until it stopped; returns the status."""
    deadline = time.monotonic() + 5
    while True:
        status = api.data("GET", "/nodes/pbs/tasks/%s/status" % upid)
        if status["status"] == "stopped" or time.monotonic() > deadline:
            return status
        time.sleep(0.02)


def make_store(api, name="store1"):
    upid = api.data("POST", "/config/datastore", data={"name": name, "path": "/mnt/datastore/" + name})
    assert wait_task(api, upid)["exitstatus"] == "OK"


def make_tenant(pbs, api, tenant, store="store1"):
    """A tenant as the collection sets one up: namespace, user, token, DatastoreBackup on the namespace
    for user and token (a token has at most its user's privileges)."""
    api.data("POST", "/admin/datastore/%s/namespace" % store, data={"name": tenant})
    api.data("POST", "/access/users", data={"userid": "%s@pbs" % tenant})
    secret = api.data("POST", "/access/users/%s@pbs/token/backup" % tenant)["value"]
    for auth_id in ("%s@pbs" % tenant, "%s@pbs!backup" % tenant):
        acl = {"path": "/datastore/%s/%s" % (store, tenant), "role": "DatastoreBackup", "auth-id": auth_id}
        api.data("PUT", "/access/acl", data=acl)
    return PbsSession(pbs, "%s@pbs!backup" % tenant, secret)


def assert_pbs_error(answer, status, text):
    """PBS errors: the status code with its standard reason, the message as the body."""
    assert (answer.status_code, answer.text) == (status, text)
    assert answer.reason == {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}[status]


def test_datastore_create_is_a_task_with_a_pbs_upid(admin):
    upid = admin.data("POST", "/config/datastore", data={"name": "store1", "path": "/mnt/datastore/store1", "gc-schedule": "daily"})
    fields = upid.split(":")
    assert fields[0] == "UPID" and fields[1] == "pbs" and fields[6:9] == ["create-datastore", "store1", "root@pam!homecloud"]
    assert all(len(field) == 8 and int(field, 16) >= 0 for field in fields[2:6]) and upid.endswith(":")
    status = wait_task(admin, upid)
    assert (status["user"], status["tokenid"], status["exitstatus"]) == ("root@pam", "homecloud", "OK")
    assert admin.data("GET", "/config/datastore/store1") == {"name": "store1", "path": "/mnt/datastore/store1", "gc-schedule": "daily"}


def test_datastore_errors_are_pbs_texts(admin):
    make_store(admin)
    assert_pbs_error(admin.api("POST", "/config/datastore", data={"name": "store1", "path": "/mnt/x"}), 400,
                     "parameter verification failed - 'name': datastore 'store1' already exists.")
    assert_pbs_error(admin.api("POST", "/config/datastore", data={"name": "ab", "path": "/x"}), 400,
                     "parameter verification failed - 'name': value must be at least 3 characters long")
    assert_pbs_error(admin.api("GET", "/config/datastore/missing"), 400, "no such datastore 'missing'")
    assert_pbs_error(admin.api("DELETE", "/config/datastore/missing"), 404, "datastore 'missing' does not exist.")
    assert_pbs_error(admin.api("PUT", "/config/datastore/store1", data={"keep-last": 3}), 400,
                     "parameter verification failed - 'keep-last': datastore prune settings have been replaced by prune jobs")
    failed = wait_task(admin, admin.data("POST", "/config/datastore", data={"name": "rel", "path": "relative/dir"}))
    assert failed["exitstatus"] == 'Error: expected absolute path - got "relative/dir"'
    assert [store["name"] for store in admin.data("GET", "/config/datastore")] == ["store1"]


def test_json_bodies_are_verified_as_json_and_sorted_by_key(admin):
    answer = admin.api("POST", "/config/datastore", json={"path": 5, "name": "x", "bogus": 1})
    assert_pbs_error(answer, 400, "parameter verification failed:\n- 'bogus': schema does not allow additional properties\n"
                                  "- 'name': value must be at least 3 characters long\n- 'path': Expected string value.")


def test_prune_schedule_at_create_becomes_a_prune_job_and_delete_takes_jobs_and_acls(admin):
    wait_task(admin, admin.data("POST", "/config/datastore", data={"name": "store1", "path": "/mnt/s1", "prune-schedule": "daily",
                                                                   "keep-last": 3}))
    jobs = admin.data("GET", "/config/prune")
    assert len(jobs) == 1 and jobs[0]["id"].startswith("default-store1-") and len(jobs[0]["id"]) == 32
    assert (jobs[0]["store"], jobs[0]["schedule"], jobs[0]["keep-last"]) == ("store1", "daily", 3)
    assert "prune-schedule" not in admin.data("GET", "/config/datastore/store1")
    admin.data("POST", "/config/verify", data={"id": "ver1", "store": "store1", "schedule": "weekly"})
    admin.data("POST", "/access/users", data={"userid": "t1@pbs"})
    admin.data("PUT", "/access/acl", data={"path": "/datastore/store1", "role": "DatastoreAudit", "auth-id": "t1@pbs"})
    wait_task(admin, admin.data("DELETE", "/config/datastore/store1"))
    assert admin.data("GET", "/config/prune") == [] and admin.data("GET", "/config/verify") == []
    assert [entry["path"] for entry in admin.data("GET", "/access/acl")] == ["/"]


def test_namespace_rules(admin):
    make_store(admin)
    assert admin.data("POST", "/admin/datastore/store1/namespace", data={"name": "a"}) == "a"
    assert admin.data("POST", "/admin/datastore/store1/namespace", data={"name": "a"}) == "a"  # create_dir_all: no error
    parent = "a"
    for name in "bcdef":
        parent = admin.data("POST", "/admin/datastore/store1/namespace", data={"name": name, "parent": parent})
    assert parent == "a/b/c/d/e/f"
    assert admin.data("POST", "/admin/datastore/store1/namespace", data={"name": "g", "parent": parent}) == parent + "/g"
    assert_pbs_error(admin.api("POST", "/admin/datastore/store1/namespace", data={"name": "h", "parent": parent + "/g"}), 400,
                     "namespace too deep, 7 >= max 7")
    assert_pbs_error(admin.api("POST", "/admin/datastore/store1/namespace", data={"name": "x", "parent": "nope"}), 400,
                     "cannot create new namespace, parent nope doesn't already exists")
    assert_pbs_error(admin.api("POST", "/admin/datastore/store1/namespace", data={"name": "a/b"}), 400,
                     "parameter verification failed - 'name': value does not match the regex pattern")
    listed = [item["ns"] for item in admin.data("GET", "/admin/datastore/store1/namespace", params={"max-depth": 2})]
    assert listed == ["", "a", "a/b"]
    assert_pbs_error(admin.api("DELETE", "/admin/datastore/store1/namespace", params={"ns": ""}), 400,
                     "Cannot create/delete root namespace!")
    assert_pbs_error(admin.api("DELETE", "/admin/datastore/store1/namespace"), 400,
                     "parameter verification failed - 'ns': parameter is missing and it is not optional.")


def test_delete_namespace_with_groups_needs_delete_groups(pbs, admin):
    make_store(admin)
    admin.data("POST", "/admin/datastore/store1/namespace", data={"name": "t1"})
    assert pbs.areas["DatastoreArea"].add_backup({"store": "store1", "ns": "t1", "id": 100, "time": 1700000000})["status"] == 200
    assert_pbs_error(admin.api("DELETE", "/admin/datastore/store1/namespace", params={"ns": "t1"}), 400,
                     "only partially deleted due to existing groups but `delete-groups` not true ")
    admin.data("DELETE", "/admin/datastore/store1/namespace", params={"ns": "t1", "delete-groups": 1})
    assert [item["ns"] for item in admin.data("GET", "/admin/datastore/store1/namespace")] == [""]


def test_tenant_token_is_confined_to_its_namespace(pbs, admin):
    make_store(admin)
    tenant1, tenant2 = make_tenant(pbs, admin, "tenant1"), make_tenant(pbs, admin, "tenant2")
    assert [item["ns"] for item in tenant1.data("GET", "/admin/datastore/store1/namespace")] == ["tenant1"]
    assert [store["store"] for store in tenant1.data("GET", "/admin/datastore")] == ["store1"]  # any privilege below
    assert_pbs_error(tenant1.api("GET", "/admin/datastore/store1/groups", params={"ns": "tenant2"}), 403,
                     "permission check failed - missing Datastore.Audit|Datastore.Backup on /datastore/store1/tenant2")
    assert_pbs_error(tenant1.api("GET", "/admin/datastore/store1/namespace", params={"parent": "tenant2"}), 403,
                     "permission check failed")
    assert_pbs_error(tenant2.api("POST", "/admin/datastore/store1/namespace", data={"name": "x", "parent": "tenant1"}), 403,
                     "permission check failed - missing Datastore.Modify on /datastore/store1/tenant1")
    assert_pbs_error(tenant1.api("GET", "/config/datastore/store1"), 403, "permission check failed")
    assert tenant1.data("GET", "/config/datastore") == []


def test_backups_side_channel_checks_the_writers_acl(pbs, admin):
    make_store(admin)
    make_tenant(pbs, admin, "tenant1")
    make_tenant(pbs, admin, "tenant2")
    write = {"store": "store1", "ns": "tenant1", "type": "vm", "id": 10011, "time": 1700000000}
    denied = admin.sim("POST", "/backups", json=dict(write, auth_id="tenant2@pbs!backup")).json()["data"]
    assert denied == {"status": 403, "error": "missing permissions 'Datastore.Backup' on '/datastore/store1/tenant1'"}
    written = admin.sim("POST", "/backups", json=dict(write, auth_id="tenant1@pbs!backup")).json()["data"]
    assert written["status"] == 200
    again = admin.sim("POST", "/backups", json=dict(write, auth_id="tenant1@pbs!backup")).json()["data"]
    assert again == {"status": 400, "error": "backup timestamp is older than last backup."}
    missing_ns = admin.sim("POST", "/backups", json=dict(write, ns="tenant9")).json()["data"]
    assert missing_ns == {"status": 404, "error": "namespace not found"}
    groups = admin.data("GET", "/admin/datastore/store1/groups", params={"ns": "tenant1"})
    assert [(g["backup-type"], g["backup-id"], g["backup-count"], g["last-backup"], g["owner"]) for g in groups] == \
        [("vm", "10011", 1, 1700000000, "tenant1@pbs!backup")]
    snapshots = admin.data("GET", "/admin/datastore/store1/snapshots", params={"ns": "tenant1", "backup-type": "vm"})
    assert [snap["backup-time"] for snap in snapshots] == [1700000000]


def test_owner_sees_own_groups_with_backup_privilege_only(pbs, admin):
    make_store(admin)
    tenant = make_tenant(pbs, admin, "tenant1")
    for auth_id, backup_id in (("tenant1@pbs!backup", 1), (None, 2)):
        body = {"store": "store1", "ns": "tenant1", "id": backup_id, "time": 1700000000}
        assert pbs.areas["DatastoreArea"].add_backup(dict(body, auth_id=auth_id) if auth_id else body)["status"] == 200
    assert [g["backup-id"] for g in tenant.data("GET", "/admin/datastore/store1/groups", params={"ns": "tenant1"})] == ["1"]
    assert [g["backup-id"] for g in admin.data("GET", "/admin/datastore/store1/groups", params={"ns": "tenant1"})] == ["1", "2"]


def test_token_privileges_are_capped_by_its_user(pbs, admin):
    make_store(admin)
    admin.data("POST", "/access/users", data={"userid": "u1@pbs"})
    secret = admin.data("POST", "/access/users/u1@pbs/token/t")["value"]
    admin.data("PUT", "/access/acl", data={"path": "/datastore/store1", "role": "DatastoreAdmin", "auth-id": "u1@pbs!t"})
    token = PbsSession(pbs, "u1@pbs!t", secret)
    assert token.data("GET", "/config/datastore") == []  # the user has nothing, so neither has its token
    admin.data("PUT", "/access/acl", data={"path": "/datastore/store1", "role": "DatastoreAudit", "auth-id": "u1@pbs"})
    assert [store["name"] for store in token.data("GET", "/config/datastore")] == ["store1"]
    assert_pbs_error(token.api("PUT", "/config/datastore/store1", data={"comment": "x"}), 403, "permission check failed")


def test_noaccess_and_propagate(pbs, admin):
    make_store(admin)
    admin.data("POST", "/access/users", data={"userid": "u1@pbs", "password": "password1"})
    ticket = admin.data("POST", "/access/ticket", data={"username": "u1@pbs", "password": "password1"})
    user = PbsSession(pbs)
    user.cookies.set("PBSAuthCookie", ticket["ticket"])
    user.headers["CSRFPreventionToken"] = ticket["CSRFPreventionToken"]
    admin.data("PUT", "/access/acl", data={"path": "/datastore", "role": "DatastoreAudit", "auth-id": "u1@pbs", "propagate": 0})
    assert user.data("GET", "/config/datastore") == []  # not propagated to /datastore/store1
    admin.data("PUT", "/access/acl", data={"path": "/datastore", "role": "DatastoreAudit", "auth-id": "u1@pbs"})
    assert len(user.data("GET", "/config/datastore")) == 1
    admin.data("PUT", "/access/acl", data={"path": "/datastore/store1", "role": "NoAccess", "auth-id": "u1@pbs"})
    assert user.data("GET", "/config/datastore") == []


def test_authentication(pbs, admin):
    assert_pbs_error(PbsSession(pbs).api("GET", "/version"), 401, "authentication failed")
    assert_pbs_error(PbsSession(pbs, "root@pam!homecloud", "wrong").api("GET", "/version"), 401, "authentication failed")
    equals_form = PbsSession(pbs)
    equals_form.headers["Authorization"] = "PBSAPIToken=root@pam!homecloud=%s" % pbs.tokens["root@pam!homecloud"]
    assert equals_form.api("GET", "/version").status_code == 401  # PBS splits id and secret at ':'
    assert_pbs_error(PbsSession(pbs).api("POST", "/access/ticket", data={"username": "root@pam", "password": "x"}), 401,
                     "permission check failed.")
    ticket = PbsSession(pbs).data("POST", "/access/ticket", data={"username": "root@pam", "password": pbs.root_password})
    session = PbsSession(pbs)
    session.cookies.set("PBSAuthCookie", ticket["ticket"])
    assert session.api("GET", "/version").status_code == 200
    assert session.api("POST", "/access/users", data={"userid": "a1@pbs"}).status_code == 401  # no CSRF token
    session.headers["CSRFPreventionToken"] = ticket["CSRFPreventionToken"]
    assert session.api("POST", "/access/users", data={"userid": "a1@pbs"}).status_code == 200
    secret = admin.data("POST", "/access/users/a1@pbs/token/t", data={"enable": 0})["value"]
    assert PbsSession(pbs, "a1@pbs!t", secret).api("GET", "/version").status_code == 401  # disabled token


def test_tokens_and_acl_rules_for_unprivileged_users(pbs, admin):
    admin.data("POST", "/access/users", data={"userid": "u1@pbs"})
    first = admin.data("POST", "/access/users/u1@pbs/token/t")
    assert first["tokenid"] == "u1@pbs!t"
    assert_pbs_error(admin.api("POST", "/access/users/u1@pbs/token/t"), 400, "token 't' for user 'u1@pbs' already exists.")
    assert "value" not in admin.data("GET", "/access/users/u1@pbs/token/t")
    regenerated = admin.data("PUT", "/access/users/u1@pbs/token/t", data={"regenerate": 1})["secret"]
    assert regenerated != first["value"]
    assert PbsSession(pbs, "u1@pbs!t", first["value"]).api("GET", "/version").status_code == 401
    token = PbsSession(pbs, "u1@pbs!t", regenerated)
    assert [entry["userid"] for entry in token.data("GET", "/access/users")] == ["u1@pbs"]
    assert_pbs_error(token.api("PUT", "/access/acl", data={"path": "/", "role": "Admin", "auth-id": "u1@pbs!t"}), 400,
                     "Unprivileged API tokens can't set ACL items.")
    assert_pbs_error(admin.api("PUT", "/access/acl", data={"path": "/nope", "role": "Admin", "auth-id": "u1@pbs"}), 400,
                     "invalid acl path '/nope'.")
    assert_pbs_error(admin.api("PUT", "/access/acl", data={"path": "/", "role": "Admin", "auth-id": "zz@pbs"}), 400, "no such user.")
    admin.data("DELETE", "/access/users/u1@pbs/token/t")
    assert_pbs_error(admin.api("DELETE", "/access/users/u1@pbs/token/t"), 400, "token 't' of user 'u1@pbs' does not exist.")


def test_jobs_check_privileges_on_the_jobs_path(pbs, admin):
    make_store(admin)
    tenant = make_tenant(pbs, admin, "tenant1")
    assert_pbs_error(tenant.api("POST", "/config/prune", data={"id": "prune1", "store": "store1", "ns": "tenant1", "schedule": "daily"}),
                     400, "missing permissions 'Datastore.Modify' on '/datastore/store1/tenant1'")
    admin.data("POST", "/config/prune", data={"id": "prune1", "store": "store1", "ns": "tenant1", "schedule": "daily", "keep-last": 2})
    assert_pbs_error(admin.api("POST", "/config/prune", data={"id": "prune1", "store": "store1", "schedule": "daily"}), 400,
                     "parameter verification failed - 'id': job 'prune1' already exists.")
    assert tenant.data("GET", "/config/prune") == []  # DatastoreBackup has neither Audit nor Modify
    admin.data("PUT", "/config/prune/prune1", data={"delete": "keep-last", "keep-daily": 7})
    assert admin.data("GET", "/config/prune/prune1") == {"id": "prune1", "store": "store1", "ns": "tenant1", "schedule": "daily", "keep-daily": 7}
    assert_pbs_error(admin.api("DELETE", "/config/verify/none"), 404, "job 'none' does not exist.")


def test_task_access_is_the_owners(pbs, admin):
    make_store(admin)
    tenant = make_tenant(pbs, admin, "tenant1")
    upid = pbs.add_task("verify", "store1", user="root@pam", log=["verifying"], duration=0)
    assert_pbs_error(tenant.api("GET", "/nodes/pbs/tasks/%s/status" % upid), 400, "task access not allowed")
    log = admin.api("GET", "/nodes/pbs/tasks/%s/log" % upid).json()
    assert log == {"data": [{"n": 1, "t": "verifying"}, {"n": 2, "t": "TASK OK"}], "total": 2, "success": 1}


def test_faults_and_request_log(pbs, admin):
    pbs.inject_fault(method="GET", path="^/version$", status=503, message="maintenance")
    faulted = admin.api("GET", "/version")
    assert (faulted.status_code, faulted.text) == (503, "maintenance")
    assert admin.api("GET", "/version").status_code == 200
    entry = pbs.requests()[-1]
    assert (entry["route"], entry["user"], entry["token"], entry["status"]) == ("/version", "root@pam", "root@pam!homecloud", 200)
