# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/s3: the S3 bucket naming rules, the SeaweedFS shell and MinIO mc command lines (a recorded runner
stands in for the host), how their answers are read, and that a secret never reaches a planned command or an error."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.s3 import (
    MinioAdmin,
    S3AdminError,
    SeaweedAdmin,
    bucket_name_problem,
    generated_access_key,
    generated_secret_key,
    minio_policy_buckets,
    minio_policy_document,
    seaweed_actions,
)

# `weed shell` answers as SeaweedFS 4.48 printed them (weed/filer/s3iam_conf.go: protojson, two-space indent)
CONFIGURATION = {"identities": [
    {"name": "admin", "credentials": [{"accessKey": "ADMINKEY", "secretKey": "admin-secret-1", "status": ""}],
     "actions": ["Admin", "Read", "Write", "List", "Tagging"], "account": None, "isStatic": True},
    {"name": "acme", "credentials": [{"accessKey": "ACMEKEY", "secretKey": "acme-secret-123", "status": "Active"}],
     "actions": ["Read:acme-backups", "List:acme-backups"], "account": None, "isStatic": False},
], "accounts": [], "policies": []}
BUCKET_LIST = "  acme-backups\tsize:0\tlogical:0\tchunk:0\n  globex-assets\tsize:3\tlogical:3\tchunk:1\towner:\"x\"\n"


class Runner:
    """Records (argv, stdin) and answers from a queue of (rc, stdout, stderr)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, argv, stdin):
        self.calls.append((argv, stdin))
        return self.answers.pop(0)


@pytest.mark.parametrize("name", ["acme-backups", "abc", "a" * 63, "tenant.1-logs", "0day"])
def test_valid_bucket_names(name):
    assert bucket_name_problem(name) is None


@pytest.mark.parametrize("name, problem", [
    ("ab", "3 to 63"),
    ("a" * 64, "3 to 63"),
    ("Acme", "lowercase"),
    ("acme_backups", "lowercase"),
    ("-acme", "start and end"),
    ("acme-", "start and end"),
    ("acme..logs", "adjacent dots"),
    ("192.168.1.10", "IP address"),
    ("xn--acme", "prefix 'xn--'"),
    ("sthree-acme", "prefix 'sthree-'"),
    ("acme-s3alias", "suffix '-s3alias'"),
    ("acme--ol-s3", "suffix '--ol-s3'"),
])
def test_invalid_bucket_names(name, problem):
    assert problem in bucket_name_problem(name)


def test_generated_keys_are_new_each_time_and_shaped_like_aws_keys():
    keys = set(generated_access_key() for dummy in range(20))
    assert len(keys) == 20 and all(len(key) == 20 and key.isalnum() and key.upper() == key for key in keys)
    secret = generated_secret_key()
    assert len(secret) == 40 and secret != generated_secret_key()


def test_seaweed_reads_identities_and_buckets_through_the_shell_on_stdin():
    runner = Runner((0, json.dumps(CONFIGURATION, indent=2) + "\n", ""), (0, BUCKET_LIST, ""))
    admin = SeaweedAdmin(runner, "/usr/local/bin/weed", "127.0.0.1:9333", 60)
    view, keys = admin.user("acme")
    assert view == {"name": "acme", "access_keys": ["ACMEKEY"], "actions": ["List:acme-backups", "Read:acme-backups"], "static": False}
    assert keys == {"ACMEKEY": "acme-secret-123"}
    assert admin.owner_of("ADMINKEY") == "admin" and admin.owner_of("OTHER") is None
    assert admin.buckets() == ["acme-backups", "globex-assets"]
    # one shell per read (the configuration is read once), the command on stdin, bounded by timeout
    assert runner.calls == [(["timeout", "60", "/usr/local/bin/weed", "shell", "-master=127.0.0.1:9333"], "s3.configure\n"),
                            (["timeout", "60", "/usr/local/bin/weed", "shell", "-master=127.0.0.1:9333"], "s3.bucket.list\n")]


def test_seaweed_commands_scope_actions_per_bucket_and_mask_the_secret():
    admin = SeaweedAdmin(Runner(), "weed", "127.0.0.1:9333", 60)
    assert [str(command) for command in admin.grant("acme", seaweed_actions(["acme-backups", "acme-logs"], "readwrite"))] == [
        "s3.configure -user=acme -actions=List,Read,Tagging,Write -buckets=acme-backups -apply",
        "s3.configure -user=acme -actions=List,Read,Tagging,Write -buckets=acme-logs -apply"]
    assert [str(command) for command in admin.revoke("acme", ["Admin", "Read:globex-assets"])] == [
        "s3.configure -user=acme -actions=Admin -delete -apply",
        "s3.configure -user=acme -actions=Read -buckets=globex-assets -delete -apply"]
    add = admin.add_credential("acme", "ACMEKEY", "s3cr3t-value-xyz")[0]
    assert str(add) == "s3.configure -user=acme -access_key=ACMEKEY -secret_key=******** -apply"
    assert seaweed_actions(["b1"], "read") == ["List:b1", "Read:b1"]


def test_seaweed_failure_names_the_command_with_the_secret_masked():
    runner = Runner((1, "{\"secretKey\": \"s3cr3t-value-xyz\"}", "error: filer: s3cr3t-value-xyz rejected\n"))
    admin = SeaweedAdmin(runner, "weed", "127.0.0.1:9333", 60)
    with pytest.raises(S3AdminError) as raised:
        admin.send(admin.add_credential("acme", "ACMEKEY", "s3cr3t-value-xyz")[0])
    assert "s3cr3t-value-xyz" not in str(raised.value)
    assert "s3.configure -user=acme -access_key=ACMEKEY -secret_key=******** -apply" in str(raised.value)
    assert "error: filer: ******** rejected" in str(raised.value)
    # the secret went to the shell on stdin, never on its command line
    argv, stdin = runner.calls[0]
    assert "s3cr3t-value-xyz" in stdin and not any("s3cr3t-value-xyz" in word for word in argv)


def test_seaweed_without_an_answer_says_so():
    admin = SeaweedAdmin(Runner((124, "", "")), "weed", "127.0.0.1:9333", 5)
    with pytest.raises(S3AdminError, match=r"no answer within 5 s \(is the master at 127.0.0.1:9333 up\?\)"):
        admin.buckets()


def test_minio_commands_and_reads():
    runner = Runner(
        (0, '{"status":"success","type":"folder","key":"acme-backups/"}\n{"status":"success","type":"file","key":"x"}\n', ""),
        (0, '{"status":"success","accessKey":"acme","policyName":"homecloud-acme,readwrite","userStatus":"enabled"}\n', ""),
        (1, '{"status":"error","error":{"message":"The specified user does not exist"}}\n', ""),
    )
    admin = MinioAdmin(runner, "/usr/local/bin/mc", "homecloud", 30)
    assert admin.buckets() == ["acme-backups"]
    assert admin.user("acme")[0] == {"name": "acme", "access_keys": ["acme"], "policies": ["homecloud-acme", "readwrite"], "static": False}
    assert admin.user("nobody") == (None, {})
    assert [call[0][:5] for call in runner.calls] == [["timeout", "30", "/usr/local/bin/mc", "--json", "ls"]] + [
        ["timeout", "30", "/usr/local/bin/mc", "--json", "admin"]] * 2
    assert [str(command) for command in admin.create_bucket("acme-backups")] == ["mb homecloud/acme-backups"]
    assert [str(command) for command in admin.add_credential("acme", "acme", "s3cr3t-value-xyz")] == [
        "admin user add homecloud acme ********"]
    created = admin.create_policy("homecloud-acme", ["acme-backups"], "read")[0]
    assert str(created) == "admin policy create homecloud homecloud-acme /dev/stdin"
    assert json.loads(created.stdin) == minio_policy_document(["acme-backups"], "read")
    assert [str(command) for command in admin.attach_policy("acme", "homecloud-acme")] == [
        "admin policy attach homecloud homecloud-acme --user acme"]


def test_minio_policy_document_grants_exactly_the_buckets():
    document = minio_policy_document(["globex-assets", "acme-backups"], "readwrite")
    assert document["Statement"][0]["Resource"] == ["arn:aws:s3:::acme-backups", "arn:aws:s3:::globex-assets"]
    assert document["Statement"][1]["Resource"] == ["arn:aws:s3:::acme-backups/*", "arn:aws:s3:::globex-assets/*"]
    assert "s3:CreateBucket" not in json.dumps(document) and "s3:*" not in json.dumps(document)
    assert minio_policy_buckets(document) == (["acme-backups", "globex-assets"], "readwrite")
    assert minio_policy_buckets(minio_policy_document(["b1x"], "read")) == (["b1x"], "read")
    assert minio_policy_buckets({"Statement": [{"Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}]}) == (None, None)
