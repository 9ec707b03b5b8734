# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""testinfra: three pve_host nodes bring up BGP EVPN sessions with each other."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import time

NODES = {'hc-evpn-1': '10.255.0.1', 'hc-evpn-2': '10.255.0.2', 'hc-evpn-3': '10.255.0.3'}
testinfra_hosts = ['podman://%s' % name for name in sorted(NODES)]
WAIT = 150   # seconds: FRR retries a refused connection after its connect-retry timer


def _summary(host):
    show = host.run("vtysh -c 'show bgp l2vpn evpn summary json'")
    assert show.rc == 0, show.stderr
    return json.loads(show.stdout)


def test_underlay_from_the_roles_interfaces_file(host):
    name = host.backend.get_hostname()
    nic1 = host.interface('nic1')
    assert '%s' % NODES[name] in nic1.addresses
    assert host.run('ip -o link show dev nic1').stdout.split(' mtu ')[1].startswith('9000')
    # the container's own network is podman's and untouched
    assert host.interface('eth0').exists and not host.interface('vmbr0').exists


def test_frr_conf_is_the_rendered_one(host):
    name = host.backend.get_hostname()
    conf = host.file('/etc/frr/frr.conf').content_string
    assert 'hostname %s' % name in conf
    assert 'bgp router-id %s' % NODES[name] in conf
    assert 'advertise-all-vni' in conf
    others = [ip for node, ip in NODES.items() if node != name]
    for ip in others:
        assert 'neighbor %s peer-group VTEP' % ip in conf
    assert 'neighbor %s peer-group VTEP' % NODES[name] not in conf


def test_bgp_evpn_sessions_established(host):
    name = host.backend.get_hostname()
    others = sorted(ip for node, ip in NODES.items() if node != name)
    deadline = time.time() + WAIT
    while True:
        summary = _summary(host)
        peers = summary.get('peers', {})
        states = dict((ip, peers.get(ip, {}).get('state')) for ip in others)
        if all(state == 'Established' for state in states.values()):
            break
        assert time.time() < deadline, 'after %ds: %s' % (WAIT, states)
        time.sleep(3)
    print('%s: %s' % (name, host.run("vtysh -c 'show bgp l2vpn evpn summary'").stdout))
    assert summary['totalPeers'] == 2
