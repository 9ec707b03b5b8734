# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""guest's plan from PVE answers: one config write per change, pending values counted as written,
refusals before any write, the create sequence."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.qemu import GuestInputError, encode_sshkeys
from ansible_collections.homecloud.proxmox.plugins.modules.guest import Guest

DEFAULTS = dict(vmid=101, name=None, node=None, clone=None, full_clone=True, storage=None, pool=None, cores=None,
                sockets=None, memory=None, balloon=None, disks=None, nics=None, tags=None, description=None, onboot=None,
                agent=True, ciuser=None, cipassword=None, update_password="on_create", sshkeys=None, ipconfig=None,
                nameserver=None, searchdomain=None, state="present", allow_reboot=False, wait_for_address=True, timeout=300)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMv9nWUN6Xx0BPqBL5eM1oQ7qK2ZkpN3b6Zk1V0hZ0bq ops@acme"
CLONED = {"name": "web1", "cores": 1, "memory": "2048", "agent": "1", "digest": "d1",
          "scsi0": "local-zfs:vm-101-disk-0,size=2G", "ide2": "local-zfs:vm-101-cloudinit,media=cdrom",
          "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1", "ipconfig0": "ip=10.0.1.20/24,gw=10.0.1.1",
          "ciuser": "debian", "sshkeys": encode_sshkeys([KEY])}
TEMPLATE = dict((key, value.replace("vm-101", "base-9000")) if isinstance(value, str) else (key, value)
                for key, value in CLONED.items() if key not in ("ipconfig0", "ciuser", "sshkeys"))


class FakeClient:
    """Answers GETs from a dict; any other call is a failure of the test (plans only read)."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def get(self, path, **params):
        self.calls.append(("GET", path))
        return self.answers[path]


class FakeModule:
    def __init__(self, params, check_mode=True):
        self.params = dict(DEFAULTS, **params)
        self.check_mode = check_mode
        self._diff = True
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def guest(answers, **params):
    module = Guest.__new__(Guest)  # no AnsibleModule, no HTTP: the plan is under test
    module.module = FakeModule(params)
    module.client = FakeClient(answers)
    module.result = dict(changed=False)
    module.vmid = module.module.params["vmid"]
    module.working_on = "guest 101"
    module.node = module.status = module.after_config = None
    module.restart_keys, module.reboot_planned, module.running_after = [], False, False
    return module


def pending_answer(config, pending):
    """GET .../pending as PVE answers it (pve-guest-common GuestHelpers.pm config_with_pending_array): every
    current key with its value, the pending ones with their pending value too. ``config`` is GET .../config's
    answer (pending values applied), ``pending`` the entries of the test's pending values."""
    pending = pending or []
    current = dict(config)
    for entry in pending:
        if "value" in entry:
            current[entry["key"]] = entry["value"]
        else:
            current.pop(entry["key"], None)
    answer = [{"key": key, "value": value} for key, value in sorted(current.items())]
    for entry in pending:
        listed = next((item for item in answer if item["key"] == entry["key"]), None)
        if listed is None:
            answer.append(dict(entry))
        else:
            listed.update(entry)
    return answer


def existing(status="stopped", config=None, pending=None, cloudinit=None):
    return {"/cluster/resources": [{"vmid": 101, "type": "qemu", "node": "pve2", "status": status, "name": "web1"},
                                   {"vmid": 9000, "type": "qemu", "node": "pve1", "template": 1, "name": "debian-12"}],
            "/nodes/pve2/qemu/101/config": dict(config or CLONED),
            "/nodes/pve2/qemu/101/pending": pending_answer(config or CLONED, pending),
            "/nodes/pve2/qemu/101/cloudinit": cloudinit or [],
            "/nodes/pve2/qemu/101/agent/network-get-interfaces": {"result": [
                {"name": "lo", "ip-addresses": [{"ip-address": "127.0.0.1", "prefix": 8}]},
                {"name": "ens18", "hardware-address": "bc:24:11:00:00:01",
                 "ip-addresses": [{"ip-address": "10.0.1.20", "prefix": 24}, {"ip-address": "fe80::1", "prefix": 64}]}]},
            "/nodes/pve1/qemu/9000/config": dict(TEMPLATE, template=1)}


def run(module):
    module.run()
    return module.result


def test_changing_only_the_user_or_only_the_address_is_one_config_write():
    result = run(guest(existing(), ciuser="ops", cores=1, memory=2048, sshkeys=[KEY]))
    assert result["writes"] == ["PUT /nodes/pve2/qemu/101/config ciuser=ops"]
    assert result["diff"]["before"]["ciuser"] == "debian" and result["diff"]["after"]["ciuser"] == "ops"
    result = run(guest(existing(), nics=[dict(bridge="vmbr0")], ipconfig=[dict(ip="10.0.1.21/24", gw="10.0.1.1")]))
    assert result["writes"] == ["PUT /nodes/pve2/qemu/101/config ipconfig0=ip=10.0.1.21/24,gw=10.0.1.1"]


def test_the_same_declaration_again_writes_nothing():
    result = run(guest(existing(), name="web1", cores=1, memory=2048, ciuser="debian", sshkeys=[KEY],
                       nics=[dict(bridge="vmbr0")], ipconfig=[dict(gw="10.0.1.1", ip="10.0.1.20/24")], disks={"scsi0": "2G"}))
    assert result["writes"] == [] and result["changed"] is False and result["reboot_required"] is False


def test_a_nic_change_keeps_the_mac_and_the_config_write_carries_the_digest():
    module = guest(existing(), nics=[dict(bridge="acme01", tag=20)])
    writes, _before, _after = module.plan()
    assert [str(write) for write in writes] == \
        ["PUT /nodes/pve2/qemu/101/config net0=virtio=BC:24:11:00:00:01,bridge=acme01,firewall=1,tag=20"]
    assert writes[0].digest == "d1"


def test_a_smaller_disk_fails_before_any_write_naming_guest_disk_and_sizes():
    with pytest.raises(GuestInputError) as failure:
        guest(existing(), cores=4, disks={"scsi0": {"size": "1G"}}).plan()
    assert "guest 101: disks.scsi0: declared 1G but the disk is 2G" in str(failure.value)


def test_growth_and_a_new_disk():
    result = run(guest(existing(), disks={"scsi0": "32G", "scsi1": {"size": "8G", "storage": "tank"}}))
    assert result["writes"] == ["PUT /nodes/pve2/qemu/101/config scsi1=tank:8",
                                "PUT /nodes/pve2/qemu/101/resize disk=scsi0 size=32G"]
    assert result["diff"]["after"]["disks"] == {"scsi0": "32G", "scsi1": "8G"}


def test_pending_values_count_as_written_and_ask_for_a_reboot():
    config = dict(CLONED, cores=4)  # GET .../config answers with the pending value applied
    pending = [{"key": "cores", "value": 1, "pending": 4}]
    result = run(guest(existing("running", config, pending), cores=4))
    assert result["writes"] == [] and result["changed"] is False
    assert result["reboot_required"] is True and result["pending"] == ["cores"]
    result = run(guest(existing("running", config, pending), cores=4, allow_reboot=True))
    assert result["writes"] == ["POST /nodes/pve2/qemu/101/status/reboot timeout=300"]
    assert result["reboot_required"] is False


def test_cloud_init_changes_on_a_running_guest_wait_for_its_next_start():
    result = run(guest(existing("running"), ipconfig=[dict(ip="10.0.1.30/24", gw="10.0.1.1")]))
    assert result["writes"] == ["PUT /nodes/pve2/qemu/101/config ipconfig0=ip=10.0.1.30/24,gw=10.0.1.1"]
    assert result["pending"] == ["ipconfig0"] and result["reboot_required"] is True
    # what GET .../cloudinit reports as not yet in the drive counts too
    result = run(guest(existing("running", cloudinit=[{"key": "ciuser", "value": "debian", "pending": "ops"}])))
    assert result["pending"] == ["ciuser"] and result["writes"] == []
    # an address written by an earlier run that the agent does not report yet (GET .../cloudinit omits ipconfig)
    result = run(guest(existing("running", dict(CLONED, ipconfig0="ip=10.0.1.30/24,gw=10.0.1.1"))))
    assert result["pending"] == ["ipconfig0"] and result["reboot_required"] is True and result["writes"] == []


def test_validation_names_the_field_before_any_write():
    with pytest.raises(GuestInputError, match=r"ipconfig: 2 item\(s\) for 1 NIC\(s\)"):
        guest(existing(), ipconfig=[dict(ip="dhcp"), dict(ip="dhcp")]).plan()
    with pytest.raises(GuestInputError, match=r"ipconfig\[0\].ip: '10.0.1.300/24'"):
        guest(existing(), ipconfig=[dict(ip="10.0.1.300/24")]).plan()
    with pytest.raises(GuestInputError, match=r"sshkeys\[0\]"):
        guest(existing(), sshkeys=["not a key"]).plan()
    with pytest.raises(GuestInputError, match="vmid 9000 is a template"):
        guest(existing(), vmid=9000, state="absent").plan()


def test_create_is_clone_then_one_config_write_then_resize_then_start():
    answers = existing()
    answers["/cluster/resources"] = answers["/cluster/resources"][1:]
    result = run(guest(answers, name="web1", clone="debian-12", storage="local-zfs", pool="acme", cores=2, memory=4096,
                       nics=[dict(bridge="acme01")], ipconfig=[dict(ip="10.0.1.20/24", gw="10.0.1.1")], ciuser="ops",
                       cipassword="s3cret-pass", sshkeys=[KEY], disks={"scsi0": "32G"}, state="started"))
    assert result["writes"] == [
        "POST /nodes/pve1/qemu/9000/clone full=1 name=web1 newid=101 pool=acme storage=local-zfs",
        "PUT /nodes/pve1/qemu/101/config cipassword=******** ciuser=ops cores=2 ipconfig0=ip=10.0.1.20/24,gw=10.0.1.1 "
        "memory=4096 net0=virtio,bridge=acme01,firewall=1 sshkeys=" + encode_sshkeys([KEY]),
        "PUT /nodes/pve1/qemu/101/resize disk=scsi0 size=32G",
        "POST /nodes/pve1/qemu/101/status/start",
    ]
    assert result["diff"]["before"] is None and result["diff"]["after"]["cipassword"] == "********"
    assert "s3cret-pass" not in str(result)
    assert result["status"] == "running" and result["config"]["cipassword"] == "********"


def test_create_refuses_less_memory_than_the_template_and_needs_a_template():
    answers = existing()
    answers["/cluster/resources"] = answers["/cluster/resources"][1:]
    with pytest.raises(GuestInputError, match="memory: 1024 MiB is less than the template's 2048 MiB"):
        guest(answers, clone="9000", memory=1024).plan()
    with pytest.raises(GuestInputError, match="guest 101 does not exist; set clone"):
        guest(answers, cores=2).plan()


def test_absent_stops_a_running_guest_then_destroys_it_with_its_disks():
    result = run(guest(existing("running"), state="absent"))
    assert result["writes"] == ["POST /nodes/pve2/qemu/101/status/stop",
                                "DELETE /nodes/pve2/qemu/101 destroy-unreferenced-disks=1 purge=1"]
    answers = existing()
    answers["/cluster/resources"] = []
    assert run(guest(answers, state="absent"))["writes"] == []


def test_a_run_that_changes_nothing_reads_the_config_once():
    """GET .../pending lists every current value: no GET .../config (its digest is read only before a write),
    and the agent's answer read for the address check is the one returned (not asked again)."""
    module = guest(existing("running"), ciuser="debian")
    module.module.check_mode = False
    result = run(module)
    assert result["writes"] == [] and result["changed"] is False
    reads = [path for _method, path in module.client.calls]
    assert reads.count("/nodes/pve2/qemu/101/pending") == 1 and "/nodes/pve2/qemu/101/config" not in reads
    assert reads.count("/nodes/pve2/qemu/101/agent/network-get-interfaces") == 1
