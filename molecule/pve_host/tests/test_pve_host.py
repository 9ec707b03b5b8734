# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""testinfra: the pve_host role on a Debian bookworm container (not a Proxmox VE host)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
_SPEC = importlib.util.spec_from_file_location('rig', os.path.join(HERE, '..', '..', 'resources', 'rig.py'))
rig = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(rig)

# podman's own exec (faster than going through Ansible for every command)
testinfra_hosts = ['podman://hc-pvehost-bookworm']
INTERFACES = '/etc/network/interfaces'


def test_packages_installed(host):
    for name in ('ifupdown2', 'frr', 'frr-pythontools'):
        assert host.package(name).is_installed, name


def test_interfaces_parsed_by_ifupdown2(host):
    text = host.file(INTERFACES).content_string
    assert 'source /etc/network/interfaces.d/*' in text
    query = host.run('ifquery --all')
    assert query.rc == 0, query.stderr
    # management bridge with address and gateway, underlay with VTEP and MTU,
    # VLAN-aware external bridge
    vmbr0 = host.run('ifquery vmbr0').stdout
    assert 'address 192.0.2.11/24' in vmbr0 and 'gateway 192.0.2.1' in vmbr0 and 'bridge-ports nic0' in vmbr0
    nic1 = host.run('ifquery nic1').stdout
    assert 'address 10.255.0.1/24' in nic1 and 'mtu 9000' in nic1
    vmbr1 = host.run('ifquery vmbr1').stdout
    assert 'bridge-vlan-aware yes' in vmbr1 and 'bridge-ports nic2' in vmbr1 and 'gateway' not in vmbr1
    assert host.run('ifup --all --syntax-check').rc == 0
    assert host.file('/etc/network/interfaces.d').is_directory


def test_running_network_left_alone(host):
    # Not a Proxmox VE host: the container's network is podman's, the role must not apply.
    assert not host.interface('vmbr0').exists
    assert host.interface('eth0').exists


def test_frr_running_with_bgpd(host):
    daemons = host.file('/etc/frr/daemons').content_string
    assert 'bgpd=yes' in daemons.splitlines()
    frr = host.service('frr')
    assert frr.is_enabled and frr.is_running
    show = host.run('vtysh -c "show daemons"')
    assert show.rc == 0 and 'bgpd' in show.stdout and 'zebra' in show.stdout


def test_repositories(host):
    repo = host.file('/etc/apt/sources.list.d/pve-no-subscription.list')
    assert 'deb http://download.proxmox.com/debian/pve bookworm pve-no-subscription' in repo.content_string
    assert not host.file('/etc/apt/sources.list.d/proxmox.sources').exists


def test_sysctl_file(host):
    text = host.file('/etc/sysctl.d/80-homecloud-pve-host.conf').content_string
    for line in ('net.ipv4.ip_forward = 1', 'net.ipv6.conf.all.forwarding = 1',
                 'net.ipv4.conf.all.rp_filter = 0', 'net.ipv4.conf.default.rp_filter = 0'):
        assert line in text
    # every key is one the kernel knows
    assert host.run('sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding '
                    'net.ipv4.conf.all.rp_filter net.ipv4.conf.default.rp_filter').rc == 0


def test_sysctl_file_applies_in_a_network_namespace(host, tmp_path):
    """The container's /proc/sys is read-only, so the role's file is applied for real here, with
    sysctl -p in a network namespace of the test's own: every key is a net.* key, and those are
    per namespace, so nothing global of this machine is touched."""
    text = host.file('/etc/sysctl.d/80-homecloud-pve-host.conf').content_string
    settings = dict(line.split(' = ', 1) for line in text.splitlines() if line and not line.startswith('#'))
    assert settings and all(key.startswith('net.') for key in settings), settings
    conf = tmp_path / 'pve-host-sysctl.conf'
    conf.write_text(text)
    namespace = 'hc-sysctl-%d' % os.getpid()
    subprocess.run(['ip', 'netns', 'add', namespace], check=True, timeout=10)
    try:
        applied = subprocess.run(['ip', 'netns', 'exec', namespace, 'sysctl', '-p', str(conf)],
                                 capture_output=True, text=True, timeout=10, check=False)
        assert applied.returncode == 0, applied.stderr
        for key, value in settings.items():
            read = subprocess.run(['ip', 'netns', 'exec', namespace, 'sysctl', '-n', key],
                                  capture_output=True, text=True, timeout=10, check=True)
            assert read.stdout.strip() == value.strip(), key
    finally:
        subprocess.run(['ip', 'netns', 'delete', namespace], timeout=10, check=False)


def test_hosts_for_corosync(host):
    text = host.file('/etc/hosts').content_string
    assert '192.0.2.12 pve2.lab.internal pve2' in text
    assert text.count('homecloud.proxmox pve_host: cluster nodes') == 2


def test_check_mode_reported_what_converge_changed():
    runs = rig.change_log_runs()
    checks = [lines for check, lines in runs if check]
    converges = [lines for check, lines in runs if not check]
    assert len(checks) == 1 and len(converges) >= 2, [run[0] for run in runs]
    check_tasks, check_handlers = rig.changed_tasks(checks[0], check=True)
    first_tasks, first_handlers = rig.changed_tasks(converges[0], check=False)
    assert first_tasks, 'the first converge changed nothing: not a fresh container?'
    assert check_tasks == first_tasks
    assert check_handlers == first_handlers
    second_tasks, second_handlers = rig.changed_tasks(converges[1], check=False)
    assert not second_tasks and not second_handlers


def test_broken_interfaces_refused_before_writing(host):
    before = host.file(INTERFACES).sha256sum
    listing = host.run('ls -a /etc/network').stdout
    playbook = os.path.join(HERE, '..', 'converge.yml')
    # two default gateways: the role's own check
    rc, out = rig.run_playbook(playbook, {'pve_host_external_address': '198.51.100.2/24',
                                          'pve_host_external_gateway': '198.51.100.1'})
    assert rc != 0
    assert 'exactly one default gateway is allowed, found 2' in out
    assert 'pve_host_mgmt_gateway, pve_host_external_gateway' in out
    # something only ifupdown2 refuses: its syntax check on the rendered temporary file
    rc, out = rig.run_playbook(playbook, {'pve_host_external_vids': '2-x'})
    assert rc != 0
    assert 'Check the rendered interfaces file with ifupdown2' in out and 'invalid' in out
    assert host.file(INTERFACES).sha256sum == before
    assert host.run('ls -a /etc/network').stdout == listing
