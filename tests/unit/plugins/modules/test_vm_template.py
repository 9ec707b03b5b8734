# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""vm_template's reading of qemu config values and its plan: build once, update options, refuse what is not its template."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.images import ImageInputError
from ansible_collections.homecloud.proxmox.plugins.modules.vm_template import (
    VmTemplate,
    compose_description,
    config_changes,
    image_record,
    user_description,
    with_bridge,
)

SHA256 = "0123456789abcdef" * 4
IMAGE = "local:import/debian-12-genericcloud-amd64-0123456789ab.qcow2"
RECORD = "homecloud.proxmox.vm_template image=" + IMAGE


def test_the_description_records_the_image_and_keeps_the_users_text():
    assert compose_description("", IMAGE, None) == RECORD
    text = compose_description("Debian 12 base\n", IMAGE, "sha256:" + SHA256)
    assert text == "Debian 12 base\n" + RECORD + " checksum=sha256:" + SHA256
    assert image_record(text + "\n") == (IMAGE, "sha256:" + SHA256)  # PVE answers the description with a final newline
    assert image_record(RECORD) == (IMAGE, "")
    assert image_record("hand made") == (None, None) and image_record(None) == (None, None)
    assert user_description(text) == "Debian 12 base"


def test_config_values_are_compared_as_pve_means_them():
    current = dict(agent="1,fstrim_cloned_disks=1", boot="order=scsi0", tags="b;a", memory="2048", cores=2,
                   net0="virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1", description=RECORD + "\n", vga="serial0")
    desired = dict(agent="enabled=1,fstrim_cloned_disks=1", boot="order=scsi0", tags="a;b", memory=2048, cores=2,
                   net0="virtio,bridge=vmbr0", description=RECORD, vga="serial0")
    assert config_changes(current, desired) == {}
    changes = config_changes(current, dict(desired, net0="virtio,bridge=vnet1", tags="a", memory=4096, agent="enabled=0"))
    # the NIC keeps its MAC address and settings, only the bridge moves
    assert changes == dict(net0="virtio=BC:24:11:2A:3B:4C,firewall=1,bridge=vnet1", tags="a", memory=4096, agent="enabled=0")
    assert with_bridge(None, "vmbr1") == "virtio,bridge=vmbr1"


class FakeClient:
    """/cluster/resources, one VM config and the import listing; a write is a test failure (plans are unsent)."""

    def __init__(self, resources=(), config=None, volumes=()):
        self.answers = {"/cluster/resources": list(resources), "/nodes/pve1/qemu/9000/config": config,
                        "/nodes/pve1/storage/local/content": list(volumes)}
        self.calls = []

    def get(self, path, **_params):
        self.calls.append(path)
        return self.answers[path]


def template_module(client, check_mode=False, **params):
    module_params = dict(node="pve1", vmid=9000, name="debian-12", image=IMAGE, checksum=None, storage="local-zfs",
                         disk_size=None, cores=2, memory=2048, bridge=None, cloudinit_drive="ide2", tags=None,
                         description=None, state="present", timeout=300)
    module_params.update(params)
    warnings = []
    template = VmTemplate.__new__(VmTemplate)  # no AnsibleModule: only the plan is under test
    template.module = type("Module", (), {"params": module_params, "check_mode": check_mode, "warn": staticmethod(warnings.append)})()
    template.client = client
    template.result = {"changed": False}
    template.node, template.vmid = "pve1", 9000
    template.qemu_path, template.vm_path = "/nodes/pve1/qemu", "/nodes/pve1/qemu/9000"
    template.warnings = warnings
    return template


def listed_image(size=2 * 1024 ** 3):
    return [dict(volid=IMAGE, format="qcow2", size=size, content="import")]


def test_a_new_template_is_created_from_the_image_grown_and_converted():
    writes, before, after = template_module(FakeClient(volumes=listed_image()), disk_size="20G", bridge="vmbr0",
                                            tags=["debian", "cloudinit"], checksum="sha256:" + SHA256).plan()
    assert [str(write) for write in writes] == [
        "POST /nodes/pve1/qemu agent=enabled=1,fstrim_cloned_disks=1 boot=order=scsi0 cores=2 description=" + RECORD +
        " checksum=sha256:" + SHA256 + " ide2=local-zfs:cloudinit memory=2048 name=debian-12 net0=virtio,bridge=vmbr0 "
        "scsi0=local-zfs:0,import-from=" + IMAGE + " scsihw=virtio-scsi-single serial0=socket tags=debian;cloudinit "
        "vga=serial0 vmid=9000",
        "PUT /nodes/pve1/qemu/9000/resize disk=scsi0 size=20G",
        "POST /nodes/pve1/qemu/9000/template"]
    assert [write.timeout for write in writes] == [300, 300, 300]
    assert before is None and after["template"] == 1 and after["name"] == "debian-12"


def test_no_resize_when_the_image_already_has_the_size_and_a_smaller_size_is_refused():
    writes, _before, _after = template_module(FakeClient(volumes=listed_image(20 * 1024 ** 3)), disk_size="20G",
                                              cloudinit_drive="scsi1").plan()
    assert [write.path for write in writes] == ["/nodes/pve1/qemu", "/nodes/pve1/qemu/9000/template"]
    assert writes[0].params["scsi1"] == "local-zfs:cloudinit" and "ide2" not in writes[0].params
    with pytest.raises(ImageInputError, match=r"^disk_size 1G is smaller than image .* \(2.00 GiB\); PVE does not shrink"):
        template_module(FakeClient(volumes=listed_image()), disk_size="1G").plan()


def test_a_missing_image_or_one_of_another_checksum_fails_before_any_write():
    with pytest.raises(ImageInputError, match="^image " + IMAGE + " is not on node pve1"):
        template_module(FakeClient(volumes=[])).plan()
    # check mode: an earlier task only planned the download; the build is planned with a warning
    template = template_module(FakeClient(volumes=[]), check_mode=True, disk_size="20G")
    writes, _before, _after = template.plan()
    assert [write.path for write in writes] == ["/nodes/pve1/qemu", "/nodes/pve1/qemu/9000/resize", "/nodes/pve1/qemu/9000/template"]
    assert template.warnings == ["image {0} is not on node pve1 (yet): planned as if an earlier task downloads it; a real "
                                 "run fails here if it is still missing".format(IMAGE)]
    client = FakeClient(volumes=listed_image())
    with pytest.raises(ImageInputError, match="does not carry the first 12 hex digits of checksum"):
        template_module(client, checksum="sha256:" + "f" * 64).plan()
    with pytest.raises(ImageInputError, match="^disk_size: '20 G' is not a size"):
        template_module(client, disk_size="20 G").plan()
    assert client.calls == []


def existing(template=1, description=RECORD, **config):
    resources = [dict(vmid=9000, node="pve1", type="qemu", name="debian-12", status="stopped", template=template)]
    config = dict(dict(name="debian-12", cores=2, memory="2048", scsihw="virtio-scsi-single", agent="enabled=1,fstrim_cloned_disks=1",
                       serial0="socket", vga="serial0", boot="order=scsi0", template=template, description=description + "\n",
                       scsi0="local-zfs:base-9000-disk-0,size=20G", ide2="local-zfs:vm-9000-cloudinit,media=cdrom"), **config)
    if not template:
        del config["template"]
    return FakeClient(resources, config)


def test_the_template_of_the_same_image_is_left_alone_or_updated_in_one_config_write():
    template = template_module(existing(), disk_size="30G")
    writes, before, after = template.plan()
    assert writes == [] and before == after and before["template"] == 1
    assert template.warnings == ["template 9000: scsi0 is 20G, disk_size says 30G; a template's disk is left as built "
                                 "(build a new template to change it)"]
    writes, before, after = template_module(existing(vga="std"), cores=4, description="base image").plan()
    assert [str(write) for write in writes] == [
        "PUT /nodes/pve1/qemu/9000/config cores=4 description=base image\n" + RECORD + " vga=serial0"]
    assert before["cores"] == 2 and after["cores"] == 4 and after["vga"] == "serial0"


def test_a_vm_or_a_template_of_another_image_at_the_vmid_is_refused():
    with pytest.raises(ImageInputError, match=r"^vmid 9000 holds VM 'debian-12' \(stopped\), which is not a template: "
                                              r"vm_template neither converts nor removes other VMs; use a new vmid"):
        template_module(existing(template=0)).plan()
    with pytest.raises(ImageInputError, match="built from image local:import/old-0123456789ab.qcow2, not from " + IMAGE +
                       ": .*use a new vmid for the new image, or remove this template with state=absent first"):
        template_module(existing(description="homecloud.proxmox.vm_template image=local:import/old-0123456789ab.qcow2")).plan()
    with pytest.raises(ImageInputError, match="built from an unrecorded image"):
        template_module(existing(description="made by hand")).plan()
    other_node = FakeClient([dict(vmid=9000, node="pve2", type="lxc", name="ct", status="running")])
    with pytest.raises(ImageInputError, match=r"^vmid 9000 is container 'ct' \(running\) on node pve2, not on pve1"):
        template_module(other_node).plan()


def test_absent_destroys_a_template_with_its_disks_and_never_a_vm():
    writes, before, after = template_module(existing(description="made by hand"), state="absent", name=None, image=None).plan()
    assert [str(write) for write in writes] == ["DELETE /nodes/pve1/qemu/9000 destroy-unreferenced-disks=1 purge=1"]
    assert before["template"] == 1 and after is None
    assert template_module(FakeClient(), state="absent").plan() == ([], None, None)
    with pytest.raises(ImageInputError, match="which is not a template: vm_template removes templates only"):
        template_module(existing(template=0), state="absent").plan()
