# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""s3_bucket, s3_user and s3_policy plans from what the server holds (SeaweedFS identities as `weed shell`
prints them, MinIO answers of `mc --json`): only the commands that reach the declared state, in a safe order,
secrets never in a command or the diff, and the refusals before anything is read."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.s3 import (
    MinioAdmin,
    S3AdminError,
    SeaweedAdmin,
    minio_policy_document,
)
from ansible_collections.homecloud.proxmox.plugins.modules.s3_bucket import S3Bucket
from ansible_collections.homecloud.proxmox.plugins.modules.s3_policy import S3Policy
from ansible_collections.homecloud.proxmox.plugins.modules.s3_user import S3User

COMMON = dict(engine="seaweedfs", weed_path="weed", master="127.0.0.1:9333", mc_path="mc", mc_alias="homecloud", admin_timeout=60)


class FakeModule:
    def __init__(self, params, check_mode=False):
        self.params = dict(COMMON, **params)
        self.check_mode = check_mode
        self._diff = True
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


class Shell:
    """Answers `weed shell` reads from a configuration; a write is recorded, not applied."""

    def __init__(self, identities=(), buckets=()):
        self.configuration = {"identities": list(identities)}
        self.bucket_names = list(buckets)
        self.lines = []

    def __call__(self, argv, stdin):
        self.lines.append(stdin.strip())
        if stdin == "s3.configure\n":
            return 0, json.dumps(self.configuration, indent=2), ""
        if stdin == "s3.bucket.list\n":
            return 0, "".join("  {0}\tsize:0\n".format(name) for name in self.bucket_names), ""
        return 0, "", ""


def identity(name, keys, actions, static=False):
    return {"name": name, "credentials": [{"accessKey": key, "secretKey": secret} for key, secret in keys], "actions": actions,
            "isStatic": static}


def planned(module_class, runner, params, check_mode=False, admin_class=SeaweedAdmin):
    module = FakeModule(params, check_mode=check_mode)
    instance = module_class(module)
    instance.validate()
    instance.admin = admin_class(runner, "weed" if admin_class is SeaweedAdmin else "mc",
                                 "127.0.0.1:9333" if admin_class is SeaweedAdmin else "homecloud", 60)
    commands, before, after = instance.plan()
    return [str(command) for command in commands], before, after, instance


def user_params(**params):
    return dict(dict(name="acme", access_key=None, secret_key=None, rotate=False, state="present"), **params)


def test_bucket_created_once_deleted_once():
    assert planned(S3Bucket, Shell(), dict(name="acme-backups", state="present"))[:3] == (
        ["s3.bucket.create -name acme-backups"], {}, {"name": "acme-backups"})
    assert planned(S3Bucket, Shell(buckets=["acme-backups"]), dict(name="acme-backups", state="present"))[0] == []
    assert planned(S3Bucket, Shell(buckets=["acme-backups"]), dict(name="acme-backups", state="absent"))[0] == [
        "s3.bucket.delete -name acme-backups"]
    assert planned(S3Bucket, Shell(), dict(name="acme-backups", state="absent"))[0] == []


def test_bucket_name_refused_before_the_host_is_asked():
    shell = Shell()
    with pytest.raises(S3AdminError, match=r"^name: bucket name 'Acme' may hold only lowercase"):
        planned(S3Bucket, shell, dict(name="Acme", state="present"))
    assert shell.lines == []


def test_new_user_gets_a_generated_key_and_secret_that_only_the_result_holds():
    commands, before, after, instance = planned(S3User, Shell(), user_params())
    secret = instance.new_secret
    key = instance.result["access_key"]
    assert len(secret) == 40 and len(key) == 20
    assert commands == ["s3.configure -user=acme -access_key={0} -secret_key=******** -apply".format(key)]
    assert before == {} and after == {"name": "acme", "access_key": key, "secret_key": "******** (new)"}
    assert secret not in json.dumps([commands, before, after])


def test_new_user_in_check_mode_generates_nothing():
    commands, dummy, after, instance = planned(S3User, Shell(), user_params(), check_mode=True)
    assert commands == ["s3.configure -user=acme -access_key=<generated> -secret_key=******** -apply"]
    assert instance.new_secret is None and after["access_key"] == "<generated>"


def test_existing_user_unchanged_unless_asked():
    shell = Shell([identity("acme", [("ACMEKEY", "held-secret-1")], [])])
    assert planned(S3User, shell, user_params())[0] == []
    assert planned(S3User, shell, user_params(access_key="ACMEKEY", secret_key="held-secret-1"))[0] == []


def test_given_secret_that_differs_replaces_the_credential_without_showing_either():
    shell = Shell([identity("acme", [("ACMEKEY", "held-secret-1")], [])])
    commands, before, after, instance = planned(S3User, shell, user_params(secret_key="given-secret-2"))
    assert commands == ["s3.configure -user=acme -access_key=ACMEKEY -delete -apply",
                        "s3.configure -user=acme -access_key=ACMEKEY -secret_key=******** -apply"]
    assert before["secret_key"] == "********" and after["secret_key"] == "******** (new)"
    assert instance.new_secret is None  # a given secret is not returned


def test_rotation_and_key_change_and_extra_keys():
    shell = Shell([identity("acme", [("ACMEKEY", "held-secret-1"), ("OLDKEY", "old-secret-1")], [])])
    commands, dummy, dummy2, instance = planned(S3User, shell, user_params(rotate=True))
    assert commands == ["s3.configure -user=acme -access_key=ACMEKEY -delete -apply",
                        "s3.configure -user=acme -access_key=ACMEKEY -secret_key=******** -apply",
                        "s3.configure -user=acme -access_key=OLDKEY -delete -apply"]
    assert instance.new_secret
    shell = Shell([identity("acme", [("ACMEKEY", "held-secret-1")], [])])
    # a new key first, the old one after it: the user is never without a working key
    assert planned(S3User, shell, user_params(access_key="NEWKEY"))[0] == [
        "s3.configure -user=acme -access_key=NEWKEY -secret_key=******** -apply",
        "s3.configure -user=acme -access_key=ACMEKEY -delete -apply"]


def test_user_refusals():
    shell = Shell([identity("admin", [("ADMINKEY", "x" * 12)], ["Admin"], static=True), identity("globex", [("GLOBEXKEY", "y" * 12)], [])])
    with pytest.raises(S3AdminError, match="^name: user 'admin' comes from the server's identity file"):
        planned(S3User, shell, user_params(name="admin"))
    with pytest.raises(S3AdminError, match="^access_key: the key is already held by user 'globex'"):
        planned(S3User, shell, user_params(access_key="GLOBEXKEY"))
    with pytest.raises(S3AdminError) as raised:
        planned(S3User, shell, user_params(secret_key="has space in it"))
    assert str(raised.value).startswith("secret_key: ") and "has space" not in str(raised.value)
    with pytest.raises(S3AdminError, match="^access_key: with engine minio the access key is the user's name"):
        planned(S3User, shell, user_params(engine="minio", access_key="OTHER"))


def test_policy_is_exactly_the_buckets_least_privilege_first():
    shell = Shell([identity("acme", [("ACMEKEY", "held-secret-1")], ["Admin", "Read:acme-backups", "Write:globex-assets"])])
    commands, before, after, dummy = planned(S3Policy, shell, dict(user="acme", buckets=["acme-backups"], access="read", state="present"))
    assert commands == ["s3.configure -user=acme -actions=Admin -delete -apply",
                        "s3.configure -user=acme -actions=Write -buckets=globex-assets -delete -apply",
                        "s3.configure -user=acme -actions=List -buckets=acme-backups -apply"]
    assert before == {"user": "acme", "actions": ["Admin", "Read:acme-backups", "Write:globex-assets"]}
    assert after == {"user": "acme", "actions": ["List:acme-backups", "Read:acme-backups"]}
    held = Shell([identity("acme", [("ACMEKEY", "s" * 12)], ["List:acme-backups", "Read:acme-backups"])])
    assert planned(S3Policy, held, dict(user="acme", buckets=["acme-backups"], access="read", state="present"))[0] == []


def test_policy_absent_takes_away_the_named_buckets_or_everything():
    shell = Shell([identity("acme", [("ACMEKEY", "s" * 12)], ["List:acme-backups", "Read:acme-backups", "Read:acme-logs"])])
    assert planned(S3Policy, shell, dict(user="acme", buckets=["acme-logs"], access="read", state="absent"))[0] == [
        "s3.configure -user=acme -actions=Read -buckets=acme-logs -delete -apply"]
    assert planned(S3Policy, shell, dict(user="acme", buckets=[], access="read", state="absent"))[0] == [
        "s3.configure -user=acme -actions=List,Read -buckets=acme-backups -delete -apply",
        "s3.configure -user=acme -actions=Read -buckets=acme-logs -delete -apply"]


def test_policy_for_a_missing_user_fails_but_only_warns_in_check_mode():
    with pytest.raises(S3AdminError, match="^user: S3 user 'acme' does not exist"):
        planned(S3Policy, Shell(), dict(user="acme", buckets=["acme-backups"], access="read", state="present"))
    params = dict(user="acme", buckets=["acme-backups"], access="read", state="present")
    commands, dummy, dummy2, instance = planned(S3Policy, Shell(), params, check_mode=True)
    assert commands == ["s3.configure -user=acme -actions=List,Read -buckets=acme-backups -apply"]
    assert "does not exist yet" in instance.module.warnings[0]


def test_policy_refuses_a_bad_bucket_naming_its_index():
    shell = Shell()
    with pytest.raises(S3AdminError, match=r"^buckets\[1\]: bucket name 'a\.\.b' must not hold two adjacent dots"):
        planned(S3Policy, shell, dict(user="acme", buckets=["acme-backups", "a..b"], access="read", state="present"))
    assert shell.lines == []


class Mc:
    """Answers `mc --json` reads for one MinIO user and its policy."""

    def __init__(self, policies, document):
        self.policies = policies
        self.document = document
        self.calls = []

    def __call__(self, argv, stdin):
        words = argv[4:]
        self.calls.append(words)
        if words[:3] == ["admin", "user", "info"]:
            return 0, json.dumps({"status": "success", "accessKey": "acme", "policyName": ",".join(self.policies)}) + "\n", ""
        if words[:3] == ["admin", "policy", "info"]:
            if self.document is None:
                return 1, json.dumps({"status": "error", "error": {"message": "policy does not exist"}}) + "\n", ""
            return 0, json.dumps({"status": "success", "policy": words[4], "policyInfo": {"Policy": self.document}}) + "\n", ""
        raise AssertionError("unexpected mc call {0}".format(words))


def test_minio_policy_created_attached_and_others_detached():
    mc = Mc(["readwrite"], None)
    present = dict(engine="minio", user="acme", buckets=["acme-backups"], access="readwrite", state="present")
    commands = planned(S3Policy, mc, present, admin_class=MinioAdmin)[0]
    assert commands == ["admin policy create homecloud homecloud-acme /dev/stdin",
                        "admin policy detach homecloud readwrite --user acme",
                        "admin policy attach homecloud homecloud-acme --user acme"]
    converged = Mc(["homecloud-acme"], minio_policy_document(["acme-backups"], "readwrite"))
    assert planned(S3Policy, converged, present, admin_class=MinioAdmin)[0] == []
    absent = dict(present, buckets=[], state="absent")
    assert planned(S3Policy, converged, absent, admin_class=MinioAdmin)[0] == [
        "admin policy detach homecloud homecloud-acme --user acme", "admin policy rm homecloud homecloud-acme"]
