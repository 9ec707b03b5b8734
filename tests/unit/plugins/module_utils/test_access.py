# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The access modules' shared rules: PVE ids, privilege checks and the ACL plan (module_utils/access.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.access import (
    POOLID_RE,
    AclEntry,
    acl_after,
    acl_view,
    check_full_tokenid,
    check_id,
    check_userid,
    declared_acl_entry,
    normalize_acl_path,
    plan_acl,
    privilege_errors,
    same_set,
    same_text,
    split_list,
    valid_privileges,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError


def test_user_and_token_ids_follow_pve_rules():
    assert check_userid("ann@pve") == "ann@pve"
    for bad in ("ann", "a@p", "ann@1pve", "an n@pve", "a:b@pve", "x" * 61 + "@pve"):
        with pytest.raises(ProxmoxError, match="userid"):
            check_userid(bad)
    assert check_full_tokenid("ann@pve!ci") == ("ann@pve", "ci")
    with pytest.raises(ProxmoxError, match="full token id"):
        check_full_tokenid("ann@pve")
    with pytest.raises(ProxmoxError, match="token name"):
        check_full_tokenid("ann@pve!1ci")
    assert check_id("acme/web", POOLID_RE, "poolid", "pool") == "acme/web"
    with pytest.raises(ProxmoxError, match="poolid"):
        check_id("a/b/c/d", POOLID_RE, "poolid", "pool")


def test_privileges_are_checked_against_the_administrator_role_by_position():
    roles = [dict(roleid="NoAccess", privs=""), dict(roleid="Administrator", privs="VM.Audit,Sys.Audit,VM.PowerMgmt")]
    valid = valid_privileges(roles)
    assert valid == {"VM.Audit", "Sys.Audit", "VM.PowerMgmt"}
    assert privilege_errors(["VM.Audit", "VM.PowerMgmt", "VM.Fly"], valid) == ["privs[2]: invalid privilege 'VM.Fly'"]
    with pytest.raises(ProxmoxError, match="Administrator"):
        valid_privileges([dict(roleid="NoAccess")])


def test_lists_and_text_compare_as_pve_keeps_them():
    assert split_list("a,b; c") == ["a", "b", "c"] and split_list(None) == []
    assert same_set("b,a", ["a", "b"]) and not same_set("a", ["a", "b"])
    assert same_text(None, "") and not same_text(None, "x") and same_text("x", "x")


def test_acl_paths_are_normalized_like_pve():
    assert normalize_acl_path("vms//100/") == "/vms/100"
    assert normalize_acl_path("/") == "/"


def test_a_declared_entry_names_exactly_one_grantee():
    entry = declared_acl_entry(dict(path="/pool/acme/", role="PVEAuditor", token="bot@pve!ci", propagate=False), 0)
    assert entry.key == ("/pool/acme", "token", "bot@pve!ci", "PVEAuditor") and entry.propagate is False
    with pytest.raises(ProxmoxError, match=r"acl\[1\]: give exactly one of user, group or token \(got user, group\)"):
        declared_acl_entry(dict(path="/", role="PVEAuditor", user="ann@pve", group="ops"), 1)


def current_acl():
    return [AclEntry.from_api(entry) for entry in (
        dict(path="/", type="user", ugid="ann@pve", roleid="PVEAuditor", propagate=1),
        dict(path="/pool/acme", type="group", ugid="ops", roleid="PVEVMAdmin", propagate=1),
        dict(path="/pool/acme", type="user", ugid="old@pve", roleid="PVEVMUser", propagate=0),
        dict(path="/vms/100", type="token", ugid="bot@pve!ci", roleid="PVEVMUser", propagate=1),
    )]


def test_acl_plan_writes_one_put_per_change_and_keeps_what_it_does_not_name():
    declared = [(declared_acl_entry(dict(path="/", role="PVEAuditor", user="ann@pve"), 0), "present"),
                (declared_acl_entry(dict(path="/pool/acme", role="PVEVMAdmin", group="ops", propagate=False), 1), "present"),
                (declared_acl_entry(dict(path="/vms/100", role="PVEVMUser", token="bot@pve!ci"), 2), "absent"),
                (declared_acl_entry(dict(path="/vms/101", role="PVEVMUser", token="bot@pve!ci"), 3), "present")]
    writes, touched = plan_acl(current_acl(), declared)
    assert [str(write) for write in writes] == [
        "PUT /access/acl groups=ops path=/pool/acme propagate=0 roles=PVEVMAdmin",
        "PUT /access/acl delete=1 path=/vms/100 roles=PVEVMUser tokens=bot@pve!ci",
        "PUT /access/acl path=/vms/101 propagate=1 roles=PVEVMUser tokens=bot@pve!ci",
    ]
    assert touched == {"/", "/pool/acme", "/vms/100", "/vms/101"}
    after = acl_view(acl_after(current_acl(), declared), touched)
    assert dict(path="/pool/acme", type="user", ugid="old@pve", roleid="PVEVMUser", propagate=False) in after
    assert not [entry for entry in after if entry["path"] == "/vms/100"]


def test_exclusive_paths_revoke_undeclared_entries_there_only():
    declared = [(declared_acl_entry(dict(path="/pool/acme", role="PVEVMAdmin", group="ops"), 0), "present")]
    writes, _touched = plan_acl(current_acl(), declared, exclusive_paths=["/pool/acme/"])
    assert [str(write) for write in writes] == ["PUT /access/acl delete=1 path=/pool/acme roles=PVEVMUser users=old@pve"]
    after = acl_view(acl_after(current_acl(), declared, ["/pool/acme"]), {"/pool/acme", "/"})
    assert [entry["ugid"] for entry in after] == ["ann@pve", "ops"]


def test_a_doubled_entry_is_refused():
    entry = declared_acl_entry(dict(path="/", role="PVEAuditor", user="ann@pve"), 0)
    with pytest.raises(ProxmoxError, match="declared twice"):
        plan_acl(current_acl(), [(entry, "present"), (entry, "absent")])
