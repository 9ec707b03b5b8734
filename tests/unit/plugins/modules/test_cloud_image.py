# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cloud_image's rules before any call (checksum, file name, extensions) and its plan from a storage listing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.images import (
    ImageInputError,
    parse_checksum,
    parse_import_volid,
    size_bytes,
    verified_filename,
)
from ansible_collections.homecloud.proxmox.plugins.modules.cloud_image import CloudImage

SHA256 = "0123456789abcdef" * 4
SHA512 = "fedcba9876543210" * 8
DEBIAN = "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2"


def test_checksum_is_required_and_must_be_sha256_or_sha512_of_the_right_length():
    assert parse_checksum("sha256:" + SHA256.upper()) == ("sha256", SHA256)
    assert parse_checksum("sha512:" + SHA512) == ("sha512", SHA512)
    with pytest.raises(ImageInputError, match="^checksum is required"):
        parse_checksum(None)
    for bad in ("md5:" + "a" * 32, "sha256:" + SHA256[:-1], "sha512:" + SHA256, SHA256, "sha256:" + "g" * 64):
        with pytest.raises(ImageInputError, match="^checksum: "):
            parse_checksum(bad)


def test_the_file_name_carries_the_checksum_digits_once():
    assert verified_filename(DEBIAN, SHA256) == "debian-12-genericcloud-amd64-0123456789ab.qcow2"
    # the name an earlier run returned is kept as it is
    assert verified_filename(DEBIAN, SHA256, "debian-12-genericcloud-amd64-0123456789ab.qcow2") == \
        "debian-12-genericcloud-amd64-0123456789ab.qcow2"
    # query and fragment are not part of the name; PVE's normalisation (characters outside a-zA-Z0-9_.-) applies
    assert verified_filename("http://127.0.0.1:8080/x/My Image+v2.raw?token=1#part", SHA256) == "My_Image_v2-0123456789ab.raw"
    assert verified_filename("http://mirror/img", SHA256, "ubuntu-24.04.vmdk") == "ubuntu-24.04-0123456789ab.vmdk"


def test_names_pve_import_content_refuses_fail_before_any_call():
    with pytest.raises(ImageInputError, match=r"^url: 'noble-server-cloudimg-amd64.img' .*Ubuntu's .img cloud images are qcow2"):
        verified_filename("https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img", SHA256)
    with pytest.raises(ImageInputError, match="^filename: 'debian.qcow2.xz' does not end in"):
        verified_filename(DEBIAN, SHA256, "debian.qcow2.xz")
    with pytest.raises(ImageInputError, match="OVA appliance archive"):
        verified_filename("https://example.org/appliance.ova", SHA256)
    with pytest.raises(ImageInputError, match="^url: 'https://example.org/' does not end in"):
        verified_filename("https://example.org/", SHA256)
    with pytest.raises(ImageInputError, match="^filename: '.qcow2' does not end in"):
        verified_filename(DEBIAN, SHA256, ".qcow2")


def test_import_volume_ids_and_sizes():
    assert parse_import_volid("local:import/debian-12-0123456789ab.qcow2") == ("local", "debian-12-0123456789ab.qcow2", "qcow2")
    for bad in ("local-zfs:vm-100-disk-0", "local:iso/debian.iso", "local:import/appliance.ova", "import/x.qcow2", None):
        with pytest.raises(ImageInputError, match="^image: "):
            parse_import_volid(bad)
    assert size_bytes("20G") == 20 * 1024 ** 3 and size_bytes("512M") == 512 * 1024 ** 2 and size_bytes("10240") == 10240
    assert size_bytes("1.5T") == int(1.5 * 1024 ** 4)
    with pytest.raises(ImageInputError, match="^disk_size: '20GB' is not a size"):
        size_bytes("20GB")


class FakeClient:
    """Answers the storage's import listing; any write is a test failure (plans are built unsent)."""

    def __init__(self, volumes):
        self.volumes = volumes
        self.calls = []

    def get(self, path, **params):
        self.calls.append(("GET", path, params))
        assert path == "/nodes/pve1/storage/local/content" and params == dict(content="import")
        return self.volumes


def cloud_image(volumes, **params):
    module_params = dict(node="pve1", storage="local", url=DEBIAN, checksum="sha256:" + SHA256, filename=None,
                         verify_certificates=True, state="present", timeout=60)
    module_params.update(params)
    image = CloudImage.__new__(CloudImage)  # no AnsibleModule: only the plan is under test
    image.module = type("Module", (), {"params": module_params, "check_mode": True})()
    image.client = FakeClient(volumes)
    image.result = {"changed": False}
    image.node, image.storage, image.download = "pve1", "local", None
    return image


def planned(volumes, **params):
    image = cloud_image(volumes, **params)
    return image.plan(), image


def test_a_missing_image_is_one_download_with_pves_checksum_parameters():
    (writes, before, after), image = planned([])
    assert [str(write) for write in writes] == [
        "POST /nodes/pve1/storage/local/download-url checksum={0} checksum-algorithm=sha256 content=import "
        "filename=debian-12-genericcloud-amd64-0123456789ab.qcow2 url={1} verify-certificates=1".format(SHA256, DEBIAN)]
    assert writes[0].timeout == 60
    assert before is None and after["volid"] == "local:import/debian-12-genericcloud-amd64-0123456789ab.qcow2"
    assert image.result["size"] is None


def test_the_listed_checksum_named_file_means_nothing_to_download():
    volid = "local:import/debian-12-genericcloud-amd64-0123456789ab.qcow2"
    (writes, before, after), image = planned([dict(volid=volid, format="qcow2", size=3 * 1024 ** 3, content="import")])
    assert writes == [] and before == after == dict(volid=volid, format="qcow2", size=3 * 1024 ** 3)
    assert image.result["size"] == 3 * 1024 ** 3 and image.result["volid"] == volid
    # the same URL with another checksum is another file: a download
    (writes, _before, _after), _image = planned([dict(volid=volid, format="qcow2", size=1)], checksum="sha512:" + SHA512)
    assert "filename=debian-12-genericcloud-amd64-fedcba987654.qcow2" in str(writes[0])


def test_absent_deletes_the_listed_file_by_its_name_and_a_missing_one_is_nothing_to_do():
    volid = "local:import/debian-12-genericcloud-amd64-0123456789ab.qcow2"
    (writes, before, after), _image = planned([dict(volid=volid, format="qcow2", size=5)], state="absent", url=None,
                                              filename="debian-12-genericcloud-amd64-0123456789ab.qcow2")
    assert [str(write) for write in writes] == ["DELETE /nodes/pve1/storage/local/content/" + volid]
    assert before["volid"] == volid and after is None
    (writes, before, after), _image = planned([], state="absent")
    assert writes == [] and before is None and after is None


def test_a_url_without_a_checksum_or_a_bad_name_is_refused_before_any_call():
    for params, message in ((dict(checksum=None), "^checksum is required"), (dict(url=None), "^url is required with state=present"),
                            (dict(filename="image.img"), "^filename: 'image.img' does not end in"),
                            (dict(state="absent", url=None), "^url or filename is required")):
        image = cloud_image([], **params)
        with pytest.raises(ImageInputError, match=message) as refused:
            image.plan()
        assert "nothing was changed" in str(refused.value) and image.client.calls == []
