# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plans of pbs_datastore, pbs_namespace, pbs_token and pbs_acl from PBS's answers: PBS's shapes
(absent keys meaning defaults, the default prune job) compare equal to the declared values, changes
are the fewest writes, and the refusals come before any write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.pbs import PbsInputError
from ansible_collections.homecloud.proxmox.plugins.modules.pbs_acl import PbsAcl
from ansible_collections.homecloud.proxmox.plugins.modules.pbs_datastore import PbsDatastore
from ansible_collections.homecloud.proxmox.plugins.modules.pbs_namespace import PbsNamespace
from ansible_collections.homecloud.proxmox.plugins.modules.pbs_token import PbsToken

STORE = {"name": "tenants", "path": "/mnt/datastore/tenants", "gc-schedule": "daily", "comment": "per tenant"}
PRUNE_JOB = {"id": "default-tenants-4f1c2a9e-0b7d-4c", "store": "tenants", "schedule": "daily", "keep-daily": 7, "keep-weekly": 4}


class FakeClient:
    """Answers GETs from {path: answer} (callables get the query); writes are test failures."""

    def __init__(self, answers):
        self.answers = answers
        self.queries = []

    def get(self, path, **params):
        return self.call("GET", path, params)["data"]

    def call(self, method, path, params, confirm=None):
        assert method == "GET", "a plan does not write"
        self.queries.append((path, params))
        answer = self.answers[path]
        return {"data": answer(params) if callable(answer) else answer}


class FakeModule:
    def __init__(self, params, check_mode=True):
        self.params = params
        self.check_mode = check_mode
        self._diff = True
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def planned(module_class, answers, check_mode=True, **params):
    """(writes as text, before, after, the module object) of one plan."""
    instance = module_class.__new__(module_class)  # no AnsibleModule: only the plan is under test
    instance.module = FakeModule(params, check_mode)
    instance.client = FakeClient(answers)
    instance.result = {"changed": False}
    for name, value in module_init(module_class, params).items():
        setattr(instance, name, value)
    writes, before, after = instance.plan()
    return [str(write) for write in writes], before, after, instance


def module_init(module_class, params):
    """The attributes each module's __init__ derives from its parameters (without building a client)."""
    if module_class is PbsDatastore:
        return dict(name=params["name"], path="/config/datastore/" + params["name"], prune_job_id=None, working_on=None)
    if module_class is PbsToken:
        tokenid = "{0}!{1}".format(params["user"], params["name"])
        return dict(user=params["user"], name=params["name"], tokenid=tokenid, user_missing=False, secret=None, working_on=None,
                    path="/access/users/{0}/token/{1}".format(params["user"], params["name"]))
    if module_class is PbsAcl:
        return dict(auth_id=params["auth_id"], role=params["role"], acl_path=params["path"], working_on=None)
    return dict(working_on=None)


def datastore(store=None, jobs=(), **params):
    options = dict(name="tenants", path=None, comment=None, gc_schedule=None, notification_mode=None, prune=None,
                   destroy_data=False, state="present")
    options.update(params)
    answers = {"/config/datastore": [dict(store)] if store else [], "/config/prune": [dict(job) for job in jobs]}
    return planned(PbsDatastore, answers, **options)


def test_a_new_datastore_is_one_post_with_its_prune_job():
    writes, before, after, _module = datastore(path="/mnt/datastore/tenants", gc_schedule="daily",
                                               prune=dict(schedule="daily", keep_daily=7, keep_last=None))
    assert writes == ["POST /config/datastore gc-schedule=daily keep-daily=7 name=tenants path=/mnt/datastore/tenants prune-schedule=daily"]
    assert before is None and after == {"path": "/mnt/datastore/tenants", "gc-schedule": "daily",
                                        "prune": {"schedule": "daily", "keep-daily": 7}}


def test_the_same_datastore_and_default_job_plan_nothing():
    writes, before, after, _module = datastore(STORE, [PRUNE_JOB, dict(PRUNE_JOB, id="tenant-acme", ns="acme")],
                                               path="/mnt/datastore/tenants", comment="per tenant", gc_schedule="daily",
                                               prune=dict(schedule="daily", keep_daily=7, keep_weekly=4))
    assert writes == [] and before == after
    assert before["prune"] == {"schedule": "daily", "keep-daily": 7, "keep-weekly": 4}


def test_changes_clear_keys_and_rewrite_the_default_job():
    writes, _before, after, _module = datastore(STORE, [PRUNE_JOB], comment="", gc_schedule="", notification_mode="notification-system",
                                                prune=dict(schedule="weekly", keep_last=3))
    assert writes == ["PUT /config/datastore/tenants delete=comment,gc-schedule notification-mode=notification-system",
                      "PUT /config/prune/default-tenants-4f1c2a9e-0b7d-4c delete=keep-daily,keep-weekly keep-last=3 schedule=weekly"]
    assert "comment" not in after and "gc-schedule" not in after


def test_a_store_without_a_default_job_gets_one():
    writes, _before, _after, _module = datastore(STORE, [dict(PRUNE_JOB, id="manual-job")], prune=dict(schedule="daily", keep_last=2))
    assert writes == ["POST /config/prune id=default-tenants keep-last=2 schedule=daily store=tenants"]


def test_a_moved_path_and_a_create_without_path_are_refused():
    with pytest.raises(PbsInputError, match="cannot be changed to /srv/other"):
        datastore(STORE, path="/srv/other")
    with pytest.raises(PbsInputError, match="`path` is not set"):
        datastore(None, comment="x")
    with pytest.raises(PbsInputError, match="datastore name 'a/b'"):
        datastore(None, name="a/b", path="/x")


def test_removing_a_datastore_keeps_its_data_unless_asked():
    assert datastore(STORE, state="absent")[0] == ["DELETE /config/datastore/tenants destroy-data=0"]
    assert datastore(STORE, state="absent", destroy_data=True)[0] == ["DELETE /config/datastore/tenants destroy-data=1"]
    assert datastore(None, state="absent")[0] == []


def namespace(held, groups=None, **params):
    options = dict(store="tenants", namespace="acme", delete_groups=False, state="present")
    options.update(params)
    answers = {"/admin/datastore/tenants/namespace": [{"ns": ""}] + [{"ns": name} for name in held],
               "/admin/datastore/tenants/groups": lambda query: (groups or {}).get(query["ns"], [])}
    return planned(PbsNamespace, answers, **options)


def test_a_nested_namespace_is_created_with_its_missing_parents():
    writes, before, after, _module = namespace(["tenants"], namespace="tenants/acme/prod")
    assert writes == ["POST /admin/datastore/tenants/namespace name=acme parent=tenants",
                      "POST /admin/datastore/tenants/namespace name=prod parent=tenants/acme"]
    assert before == [] and after == ["tenants/acme/prod"]
    assert namespace(["tenants", "tenants/acme"], namespace="tenants/acme")[0] == []


def test_a_namespace_with_backups_is_only_removed_with_its_groups():
    groups = {"acme/prod": [{"backup-type": "vm", "backup-id": "100"}]}
    with pytest.raises(PbsInputError, match=r"holds backup groups \(acme/prod: vm/100\)"):
        namespace(["acme", "acme/prod"], groups, state="absent")
    writes, before, after, _module = namespace(["acme", "acme/prod", "acmeish"], groups, state="absent", delete_groups=True)
    assert writes == ["DELETE /admin/datastore/tenants/namespace delete-groups=1 ns=acme"]
    assert before == ["acme", "acme/prod"] and after == []


def test_an_empty_subtree_goes_with_one_delete():
    writes, before, _after, _module = namespace(["acme", "acme/prod"], state="absent")
    assert writes == ["DELETE /admin/datastore/tenants/namespace ns=acme"] and before == ["acme", "acme/prod"]


def test_the_root_namespace_is_refused():
    with pytest.raises(PbsInputError, match="root namespace"):
        namespace([], namespace="/")


USERS = [{"userid": "homecloud-acme@pbs", "tokens": [{"tokenid": "homecloud-acme@pbs!backup", "comment": "acme"}]},
         {"userid": "root@pam"}]


def token(users, check_mode=True, **params):
    options = dict(user="homecloud-acme@pbs", name="backup", create_user=False, comment=None, expire=None, enable=None,
                   regenerate=False, state="present")
    options.update(params)
    return planned(PbsToken, {"/access/users": users}, check_mode=check_mode, **options)


def test_absent_keys_are_pbs_defaults():
    writes, before, _after, _module = token(USERS, comment="acme", enable=True, expire=0)
    assert writes == [] and before == {"user": "homecloud-acme@pbs", "name": "backup", "tokenid": "homecloud-acme@pbs!backup",
                                       "comment": "acme", "enable": True, "expire": 0}


def test_a_token_of_a_new_user_creates_the_user_first():
    writes, before, after, _module = token([], create_user=True, comment="acme backups", user="homecloud-globex@pbs")
    assert writes == ["POST /access/users userid=homecloud-globex@pbs",
                      "POST /access/users/homecloud-globex@pbs/token/backup comment=acme backups"]
    assert before is None and after["tokenid"] == "homecloud-globex@pbs!backup"


def test_a_missing_user_without_create_user_is_refused_or_warned_in_check_mode():
    with pytest.raises(PbsInputError, match="user 'homecloud-globex@pbs' does not exist"):
        token([], check_mode=False, user="homecloud-globex@pbs")
    writes, _before, _after, module = token([], user="homecloud-globex@pbs")
    assert writes == ["POST /access/users/homecloud-globex@pbs/token/backup"] and module.module.warnings


def test_changes_and_regenerate():
    writes, _before, after, _module = token(USERS, enable=False, comment="", regenerate=True)
    assert writes == ["PUT /access/users/homecloud-acme@pbs/token/backup comment= enable=0",
                      "PUT /access/users/homecloud-acme@pbs/token/backup regenerate=1"]
    assert after["enable"] is False and "comment" not in after
    assert token(USERS, state="absent")[0] == ["DELETE /access/users/homecloud-acme@pbs/token/backup"]
    assert token([], state="absent")[0] == []


def acl(entries, **params):
    options = dict(path="/datastore/tenants/acme/", role="DatastoreBackup", auth_id="homecloud-acme@pbs!backup", propagate=True,
                   state="present")
    options.update(params)
    return planned(PbsAcl, {"/access/acl": entries}, **options)


ENTRY = {"path": "/datastore/tenants/acme", "ugid": "homecloud-acme@pbs!backup", "ugid_type": "user", "roleid": "DatastoreBackup",
         "propagate": True}


def test_an_acl_entry_is_granted_changed_and_revoked():
    writes, before, after, module = acl([])
    assert writes == ["PUT /access/acl auth-id=homecloud-acme@pbs!backup path=/datastore/tenants/acme propagate=1 role=DatastoreBackup"]
    assert before is None and after["path"] == "/datastore/tenants/acme"
    assert module.client.queries == [("/access/acl", {"path": "/datastore/tenants/acme", "exact": True})]
    assert acl([ENTRY])[0] == []
    assert acl([dict(ENTRY, roleid="DatastoreReader")])[0] == writes, "another role of the same token is another entry"
    assert acl([ENTRY], propagate=False)[0] == ["PUT /access/acl auth-id=homecloud-acme@pbs!backup path=/datastore/tenants/acme "
                                                "propagate=0 role=DatastoreBackup"]
    assert acl([ENTRY], state="absent")[0] == ["PUT /access/acl auth-id=homecloud-acme@pbs!backup delete=1 path=/datastore/tenants/acme "
                                               "role=DatastoreBackup"]


def test_a_bad_auth_id_or_path_is_refused():
    with pytest.raises(PbsInputError, match="auth_id 'acme'"):
        acl([], auth_id="acme")
    with pytest.raises(PbsInputError, match="at most 7 namespace levels"):
        acl([], path="/datastore/s/1/2/3/4/5/6/7/8")
