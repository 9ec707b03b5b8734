# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The guest config model (module_utils/qemu.py): PVE's texts read and printed, compared by meaning."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.qemu import (
    GuestInputError,
    config_changes,
    config_view,
    decode_sshkeys,
    declared_ipconfig,
    declared_nic,
    disks_of,
    encode_sshkeys,
    format_size,
    needs_restart,
    nic_value,
    parse_drive,
    parse_net,
    parse_size,
    pending_keys,
    print_drive,
    registered_addresses,
    resized,
    same_config_value,
    written_config,
)

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMv9nWUN6Xx0BPqBL5eM1oQ7qK2ZkpN3b6Zk1V0hZ0bq ops@acme"
OTHER_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 admin@example.org"


def test_sizes_are_powers_of_1024_and_printed_in_the_largest_exact_unit():
    assert parse_size("32G") == 32 * 1024 ** 3
    assert parse_size("1.5T") == 1536 * 1024 ** 3
    assert parse_size("512M") == 512 * 1024 ** 2 and parse_size("4GiB") == 4 * 1024 ** 3
    assert parse_size("2361393152") == 2361393152
    assert format_size(32 * 1024 ** 3) == "32G" and format_size(3584 * 1024 ** 2) == "3584M"
    assert format_size(2 * 1024 ** 4) == "2T" and format_size(1000) == "1000"
    with pytest.raises(GuestInputError, match="disks.scsi0.size: '32 GB' is not a size"):
        parse_size("32 GB", "disks.scsi0.size")


def test_drives_parse_and_print_as_pve_does():
    drive = parse_drive("local-zfs:vm-101-disk-0,iothread=1,size=32G,discard=on")
    assert drive == dict(file="local-zfs:vm-101-disk-0", iothread="1", size="32G", discard="on")
    assert print_drive(drive) == "local-zfs:vm-101-disk-0,discard=on,iothread=1,size=32G"
    assert resized("local-zfs:vm-101-disk-0,iothread=1,size=3584M", 40 * 1024 ** 3) == \
        "local-zfs:vm-101-disk-0,iothread=1,size=40G"
    config = {"scsi0": "local-zfs:vm-101-disk-0,size=2G", "ide2": "local-zfs:vm-101-cloudinit,media=cdrom",
              "ide0": "none,media=cdrom", "scsi1": "local-zfs:8", "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0"}
    assert disks_of(config) == {"scsi0": 2 * 1024 ** 3, "scsi1": 8 * 1024 ** 3}


def test_a_declared_nic_keeps_the_generated_mac_and_unmodelled_options():
    current = "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1,mtu=1450"
    declared = declared_nic(dict(bridge="acme01", tag=20), 0)
    assert nic_value(declared, current) == "virtio=BC:24:11:AA:BB:CC,bridge=acme01,firewall=1,mtu=1450,tag=20"
    # the same NIC declared again: nothing to change, whatever order PVE printed it in
    assert same_config_value("net0", "virtio=bc:24:11:aa:bb:cc,firewall=1,bridge=acme01,tag=20,mtu=1450",
                             nic_value(declared, current))
    # a tag declared away, a model changed, a MAC declared
    assert nic_value(declared_nic(dict(bridge="acme01", model="e1000", macaddr="02:00:00:00:00:01", firewall=False), 0),
                     current) == "e1000=02:00:00:00:00:01,bridge=acme01,firewall=0,mtu=1450"
    # a new NIC goes without MAC: PVE generates it
    assert nic_value(declared_nic(dict(bridge="vmbr0"), 1)) == "virtio,bridge=vmbr0,firewall=1"
    assert not same_config_value("net0", "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1", "virtio,bridge=vmbr0,firewall=1,tag=5")
    assert parse_net("model=virtio,macaddr=bc:24:11:00:00:01,bridge=vmbr0") == \
        dict(model="virtio", macaddr="BC:24:11:00:00:01", bridge="vmbr0")


def test_declared_nics_are_checked_naming_the_item():
    with pytest.raises(GuestInputError, match=r"nics\[1\].model: 'virtio-net'"):
        declared_nic(dict(bridge="vmbr0", model="virtio-net"), 1)
    with pytest.raises(GuestInputError, match=r"nics\[0\].tag: 4095"):
        declared_nic(dict(bridge="vmbr0", tag=4095), 0)
    with pytest.raises(GuestInputError, match=r"nics\[0\].bridge"):
        declared_nic(dict(firewall=True), 0)


def test_ipconfig_is_checked_and_compared_by_meaning():
    assert declared_ipconfig(dict(ip="10.0.1.20/24", gw="10.0.1.1"), 0) == dict(ip="10.0.1.20/24", gw="10.0.1.1")
    assert same_config_value("ipconfig0", "gw=10.0.1.1,ip=10.0.1.20/24", "ip=10.0.1.20/24,gw=10.0.1.1")
    assert not same_config_value("ipconfig0", "ip=10.0.1.20/24,gw=10.0.1.1", "ip=10.0.1.21/24,gw=10.0.1.1")
    assert declared_ipconfig(dict(ip="dhcp", ip6="auto"), 1) == dict(ip="dhcp", ip6="auto")
    with pytest.raises(GuestInputError, match=r"ipconfig\[0\].ip: '10.0.1.20' is not an IPv4 address in CIDR form"):
        declared_ipconfig(dict(ip="10.0.1.20"), 0)
    with pytest.raises(GuestInputError, match=r"ipconfig\[2\].gw: a gateway needs a static ip"):
        declared_ipconfig(dict(ip="dhcp", gw="10.0.1.1"), 2)
    with pytest.raises(GuestInputError, match=r"ipconfig\[0\].gw: '10.0.1' is not an IPv4 gateway"):
        declared_ipconfig(dict(ip="10.0.1.20/24", gw="10.0.1"), 0)


def test_sshkeys_are_encoded_as_the_gui_sends_them_and_compared_decoded():
    encoded = encode_sshkeys([KEY, OTHER_KEY])
    assert encoded.count("%0A") == 1 and " " not in encoded
    # encodeURIComponent: '+', '/', '=' and '@' escaped, "-_.!~*'()" kept
    assert encode_sshkeys(["ssh-ed25519 AA+b/c= me@x-1"]) == "ssh-ed25519%20AA%2Bb%2Fc%3D%20me%40x-1"
    assert decode_sshkeys(encoded) == [KEY, OTHER_KEY]
    # another client's encoding (spaces as %20, '/' and '+' escaped, a trailing newline) means the same keys
    other_client = KEY.replace(" ", "%20").replace("/", "%2F").replace("+", "%2B") + "%0A" + OTHER_KEY.replace(" ", "%20") + "%0A"
    assert same_config_value("sshkeys", other_client, encoded)
    assert not same_config_value("sshkeys", encode_sshkeys([KEY]), encoded)


def test_other_values_pve_normalises():
    assert same_config_value("tags", "web;acme", "acme;web")
    assert same_config_value("memory", "current=4096", "4096")
    assert same_config_value("agent", "enabled=1,fstrim_cloned_disks=1", "1")
    assert same_config_value("nameserver", "10.0.1.2 10.0.1.3", "10.0.1.2 10.0.1.3")
    assert same_config_value("cores", 2, "2") and not same_config_value("cores", None, "2")
    assert config_changes({"cores": 2, "name": "web1"}, {"cores": "4", "name": "web1"}) == {"cores": "4"}


def test_pending_values_count_as_written():
    config = {"cores": 2, "memory": "2048", "digest": "abc", "tags": "old"}
    pending = [{"key": "cores", "value": 2, "pending": 4}, {"key": "memory", "value": "2048"},
               {"key": "tags", "value": "old", "delete": 1}, {"key": "cipassword", "pending": "********** "}]
    assert written_config(config, pending) == {"cores": 4, "memory": "2048"}
    assert pending_keys(pending) == ["cipassword", "cores", "tags"]
    assert config_changes(written_config(config, pending), {"cores": "4"}) == {}


def test_what_a_running_guest_takes_only_at_its_next_start():
    assert needs_restart("cores") and needs_restart("memory") and needs_restart("ipconfig0") and needs_restart("ciuser")
    assert not needs_restart("net0") and not needs_restart("scsi1") and not needs_restart("name") and not needs_restart("tags")
    assert not needs_restart("memory", "network,disk,memory") and needs_restart("net0", "disk")
    assert not needs_restart("ipconfig0", "network,disk,cloudinit")


def test_the_view_names_fields_as_the_module_does():
    config = {"net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1", "ipconfig0": "ip=10.0.1.20/24,gw=10.0.1.1",
              "scsi0": "local-zfs:vm-101-disk-0,size=32G", "sshkeys": encode_sshkeys([KEY]), "cipassword": "**********",
              "memory": "2048", "agent": "1"}
    view = config_view(config, ["nics", "ipconfig", "disks", "sshkeys", "cipassword", "memory", "agent", "ciuser"])
    assert view == {"nics": {"net0": dict(model="virtio", macaddr="BC:24:11:00:00:01", bridge="vmbr0", firewall="1")},
                    "ipconfig": {"ipconfig0": dict(ip="10.0.1.20/24", gw="10.0.1.1")}, "disks": {"scsi0": "32G"},
                    "sshkeys": [KEY], "cipassword": "**********", "memory": 2048, "agent": True, "ciuser": None}


def test_registered_addresses_are_the_static_ones_of_nics_with_a_mac():
    config = {"net0": "virtio=02:00:00:27:7e:00,bridge=acme01,firewall=1", "ipconfig0": "ip=10.128.17.10/24,gw=10.128.17.1",
              "net1": "virtio,bridge=acme02", "ipconfig1": "ip=10.128.18.5/24",  # no MAC yet: nothing to register with
              "net2": "virtio=02:00:00:27:7E:02,bridge=acme03", "ipconfig2": "ip=dhcp,ip6=2001:db8:0:0::10/64",
              "ipconfig3": "ip=10.9.9.9/24"}  # no NIC
    assert registered_addresses(config) == {("acme01", "10.128.17.10", "02:00:00:27:7E:00"),
                                            ("acme03", "2001:db8::10", "02:00:00:27:7E:02")}
