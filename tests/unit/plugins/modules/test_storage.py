# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""storage's plan from a GET /storage answer: one write with only what differs, fixed options and foreign
options refused before any write, secrets never compared nor shown, the key compared by its fingerprint."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.storage import StorageInputError
from ansible_collections.homecloud.proxmox.plugins.modules.storage import Storage

FINGERPRINT = ":".join(["AB"] * 32)
KEY_FP = ":".join(["0c"] * 32)
KEY = json.dumps(dict(kdf=None, created="2025-01-01T00:00:00Z", data="S3CR3T-KEY-BYTES", fingerprint=KEY_FP))
PASSWORD = "S3CR3T-PASSWORD"
PBS = dict(storage="pbs-main", type="pbs", server="pbs.example.org", datastore="tenants", content="backup",
           username="pve@pbs!pve", fingerprint=FINGERPRINT.lower(), digest="0" * 40)


class FakeClient:
    """Answers GET /storage; any other call is a test failure (plans are built unsent)."""

    def __init__(self, entries):
        self.entries = entries

    def get(self, path, **params):
        assert path == "/storage" and not params
        return self.entries


def planned(entries, **params):
    module_params = dict(storage="pbs-main", type="pbs", state="present", update_password="on_create")
    for name in ("content", "nodes", "disable", "path", "pool", "sparse", "blocksize", "server", "datastore", "namespace",
                 "port", "username", "password", "fingerprint", "encryption_key", "prune_backups", "max_protected_backups"):
        module_params.setdefault(name, None)
    module_params.update(params)
    storage = Storage.__new__(Storage)  # no AnsibleModule: only the plan is under test
    storage.module = type("Module", (), {"params": module_params, "check_mode": True, "_diff": True})()
    storage.client = FakeClient(entries)
    storage.result = {"changed": False}
    storage.storage = module_params["storage"]
    storage.path = "/storage/" + storage.storage
    writes, before, after = storage.plan()
    return [str(write) for write in writes], before, after, storage


def test_a_new_pbs_entry_is_one_post_with_secrets_masked():
    writes, before, after, _storage = planned(
        [], server="pbs.example.org", datastore="tenants", username="pve@pbs!pve", password=PASSWORD, fingerprint=FINGERPRINT,
        encryption_key=KEY, prune_backups=dict(keep_daily=7, keep_weekly=4, keep_last=0), content=["backup"], port=8007)
    assert writes == ["POST /storage content=backup datastore=tenants encryption-key=******** fingerprint={0} password=******** "
                      "port=8007 prune-backups=keep-daily=7,keep-weekly=4 server=pbs.example.org storage=pbs-main type=pbs "
                      "username=pve@pbs!pve".format(FINGERPRINT)]
    assert before is None
    assert after["password"] == "********" and after["encryption-key"] == KEY_FP
    assert after["prune-backups"] == {"keep-daily": 7, "keep-weekly": 4}
    assert "S3CR3T" not in str(writes) + str(after)


def test_an_unchanged_entry_plans_nothing_and_secrets_are_not_compared():
    entry = dict(PBS, **{"prune-backups": "keep-weekly=4,keep-daily=7", "encryption-key": KEY_FP})
    writes, before, after, _storage = planned(
        [entry], server="pbs.example.org", datastore="tenants", username="pve@pbs!pve", password=PASSWORD,
        fingerprint=FINGERPRINT, encryption_key=KEY, prune_backups=dict(keep_daily=7, keep_weekly=4), content=["backup"],
        port=8007, disable=False)
    assert writes == []
    assert before == after and "digest" not in after and after["prune-backups"] == {"keep-daily": 7, "keep-weekly": 4}


def test_changes_are_one_put_with_only_what_differs_and_removals_as_delete():
    entry = dict(PBS, namespace="old", nodes="pve1,pve2", **{"encryption-key": KEY_FP})
    writes, _before, after, _storage = planned(
        [entry], namespace="", nodes=[], prune_backups=dict(keep_last=3), disable=True, fingerprint=FINGERPRINT)
    assert writes == ["PUT /storage/pbs-main delete=namespace,nodes disable=1 prune-backups=keep-last=3"]
    assert "namespace" not in after and "nodes" not in after and after["disable"] == 1


def test_password_and_an_uncomparable_key_are_written_again_only_with_update_password_always():
    entry = dict(PBS, **{"encryption-key": "1"})
    key_without_fingerprint = json.dumps(dict(data="S3CR3T"))
    writes, _before, _after, _storage = planned([entry], password=PASSWORD, encryption_key=key_without_fingerprint)
    assert writes == []
    writes, _before, after, _storage = planned([entry], password=PASSWORD, encryption_key=key_without_fingerprint,
                                               update_password="always")
    assert writes == ["PUT /storage/pbs-main encryption-key=******** password=********"]
    assert after["password"] == after["encryption-key"] == "********"


def test_the_key_is_compared_by_its_fingerprint_and_autogen_only_fills_a_missing_key():
    other = json.dumps(dict(data="S3CR3T-OTHER", fingerprint=":".join(["dd"] * 32)))
    writes, _before, after, _storage = planned([dict(PBS, **{"encryption-key": KEY_FP})], encryption_key=other)
    assert writes == ["PUT /storage/pbs-main encryption-key=********"] and after["encryption-key"] == ":".join(["dd"] * 32)
    # the same key again: compared by its fingerprint, so not written even with update_password=always
    assert planned([dict(PBS, **{"encryption-key": KEY_FP})], encryption_key=KEY, update_password="always")[0] == []
    # no key held: the key is a change even with on_create
    writes, _before, _after, _storage = planned([dict(PBS)], encryption_key=KEY)
    assert writes == ["PUT /storage/pbs-main encryption-key=********"]
    assert planned([dict(PBS, **{"encryption-key": KEY_FP})], encryption_key="autogen", update_password="always")[0] == []
    assert planned([dict(PBS)], encryption_key="autogen")[0] == ["PUT /storage/pbs-main encryption-key=********"]
    writes, _before, after, _storage = planned([dict(PBS, **{"encryption-key": KEY_FP})], encryption_key="")
    assert writes == ["PUT /storage/pbs-main delete=encryption-key"] and "encryption-key" not in after


def test_fixed_options_that_differ_fail_before_any_write_naming_the_option():
    for option, value in (("server", "pbs2.example.org"), ("datastore", "other")):
        with pytest.raises(StorageInputError, match="^{0}: fixed option differs .*fixed: delete and re-create".format(option)):
            planned([dict(PBS)], **{option: value})
    with pytest.raises(StorageInputError, match="^type: fixed option differs"):
        planned([dict(PBS)], type="dir", path="/srv")
    local = dict(storage="local", type="dir", path="/var/lib/vz", content="iso,vztmpl,backup")
    # PVE's own spelling of the path is the same path
    assert planned([local], storage="local", type="dir", path="/var/lib//vz/")[0] == []
    with pytest.raises(StorageInputError, match="^path: fixed option differs"):
        planned([local], storage="local", type="dir", path="/srv/vz")


def test_values_pve_would_refuse_fail_before_any_write_naming_the_option():
    cases = [
        (dict(fingerprint="ab:cd"), "^fingerprint: 'ab:cd' is not a SHA-256 fingerprint"),
        (dict(path="/srv"), "^path: not an option of type pbs"),
        (dict(content=["images"]), "^content: images not a content type of pbs storage"),
        (dict(content=["backup", "none"]), "^content: 'none' cannot be combined"),
        (dict(encryption_key="SECRET-NOT-JSON"), "^encryption_key: not a JSON formatted encryption key"),
        (dict(prune_backups=dict(keep_all=True, keep_last=1)), "keep-all cannot be set together"),
        (dict(port=70000), "^port: 70000 is not a TCP port"),
        (dict(max_protected_backups=-2), "^max_protected_backups: -2 is below -1"),
        (dict(storage="1bad"), "^storage: '1bad' is not a valid storage id"),
    ]
    for params, message in cases:
        with pytest.raises(StorageInputError, match=message) as raised:
            planned([], **dict(dict(server="pbs.example.org", datastore="tenants"), **params))
        assert "SECRET" not in str(raised.value)
    with pytest.raises(StorageInputError, match="^server, datastore: required to create a pbs storage"):
        planned([])
    with pytest.raises(StorageInputError, match="^pool: required to create a zfspool storage"):
        planned([], storage="tank", type="zfspool")


def test_zfspool_and_dir_options_and_removal():
    zfs = dict(storage="local-zfs", type="zfspool", pool="rpool/data", content="images,rootdir", sparse=1)
    writes, _before, _after, _storage = planned([zfs], storage="local-zfs", type="zfspool", pool="rpool/data",
                                                content=["rootdir", "images"], sparse=True, blocksize="16k")
    assert writes == ["PUT /storage/local-zfs blocksize=16k"]
    writes, before, after, _storage = planned([zfs], storage="local-zfs", state="absent", type=None)
    assert writes == ["DELETE /storage/local-zfs"] and before["pool"] == "rpool/data" and after is None
    assert planned([], storage="local-zfs", state="absent", type=None)[0] == []
    writes, _before, after, _storage = planned([], storage="media", type="dir", path="/srv/media/", content=["iso", "snippets"],
                                               nodes=["pve2", "pve1"], prune_backups={})
    assert writes == ["POST /storage content=iso,snippets nodes=pve1,pve2 path=/srv/media prune-backups=keep-all=1 storage=media type=dir"]
    assert after["prune-backups"] == {"keep-all": 1}
