# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The dns_server role (BIND) proven by answers seen from the networks around the DNS VM.

The shared services rig (molecule/resources/services/topology.sh) puts tenant acme's client at
10.128.17.10, tenant globex's at 10.128.33.10, a host outside the cloud at 203.0.113.10 and the
admin LAN at 192.0.2.10 behind one router; the VM answers on 10.128.1.10. Every query is
`dig` in a client namespace with a bounded wait (one try, 3 s), and a refusal is asserted as
the answer's status REFUSED - a timeout fails the test. Each refusal has a control that shows
the same server answers the same question where it should. The tests run in file order: one
run with bad input (refused before any change), then the last two share one converge (at -vvv,
with acme's db1 removed from the declared records).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import importlib.util
import os
import re
import subprocess

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
_SPEC = importlib.util.spec_from_file_location('rig', os.path.join(HERE, '..', '..', 'resources', 'rig.py'))
rig = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(rig)

DNS_VM = 'hc-dns-1'
testinfra_hosts = ['podman://%s' % DNS_VM]
CONVERGE = os.path.join(HERE, '..', 'converge.yml')
SERVER = '10.128.1.10'
NS = rig.services_namespaces()
KEY_FILE = '/etc/bind/homecloud-ddns.key'
STATUS = re.compile(r'status: ([A-Z]+)')


def _converge_vars():
    with open(CONVERGE, encoding='utf-8') as handle:
        return yaml.safe_load(handle)[0]['vars']


def dig(role, name, rtype='A', recurse=False):
    """(status, answers) of one query from the client namespace ROLE to the DNS VM."""
    argv = ['dig', '@' + SERVER, name, rtype, '+time=3', '+tries=1', '+nocookie',
            '+recurse' if recurse else '+norecurse', '+noall', '+comments', '+answer']
    done = rig.run_in_namespace(NS[role], argv, timeout=15)
    status = STATUS.search(done.stdout)
    assert status, 'no answer from %s to %s %s (dig rc %s): %s %s' % (role, name, rtype, done.returncode, done.stdout, done.stderr)
    answers = [line.split()[-1] for line in done.stdout.splitlines()
               if line and not line.startswith(';') and line.split()[3:4] == [rtype]]
    return status.group(1), answers


def on_vm(argv, stdin=None, timeout=30):
    return subprocess.run(['podman', 'exec', '--interactive', DNS_VM] + argv, input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, check=False, universal_newlines=True)


def nsupdate_script(name, address):
    return ('server {0}\nzone acme.lab.internal\nupdate add {1} 300 A {2}\nsend\n').format(SERVER, name, address)


def test_acme_resolves_its_guest_forward_and_reverse():
    assert dig('acme', 'web1.acme.lab.internal') == ('NOERROR', ['10.128.17.10'])
    assert dig('acme', '10.17.128.10.in-addr.arpa', 'PTR') == ('NOERROR', ['web1.acme.lab.internal.'])
    assert dig('acme', '2.18.128.10.in-addr.arpa', 'PTR') == ('NOERROR', ['gw-db.acme.lab.internal.'])


def test_globex_is_refused_acme_zones_but_answered_its_own():
    assert dig('globex', 'web1.acme.lab.internal')[0] == 'REFUSED'
    assert dig('globex', '10.17.128.10.in-addr.arpa', 'PTR')[0] == 'REFUSED'
    assert dig('globex', 'app1.globex.lab.internal') == ('NOERROR', ['10.128.33.10'])
    # and acme is refused globex's zone
    assert dig('acme', 'app1.globex.lab.internal')[0] == 'REFUSED'


def test_outside_and_admin_lan_are_refused_names_and_recursion():
    for role in ('outside', 'admin'):
        assert dig(role, 'web1.acme.lab.internal')[0] == 'REFUSED', role
        assert dig(role, 'example.org', recurse=True)[0] == 'REFUSED', role
    # control: the cloud's networks may recurse (the forwarder, the router's leg, answers
    # nothing: SERVFAIL is the server trying, not refusing)
    assert dig('acme', 'example.org', recurse=True)[0] == 'SERVFAIL'


def test_update_without_the_key_is_refused():
    from_client = rig.run_in_namespace(NS['acme'], ['nsupdate', '-t', '5'],
                                       stdin=nsupdate_script('intruder.acme.lab.internal', '10.128.17.99'), timeout=20)
    assert 'REFUSED' in from_client.stdout + from_client.stderr, from_client
    # on the VM itself, from loopback, still no update without the key
    local = on_vm(['nsupdate', '-t', '5'], stdin=nsupdate_script('intruder2.acme.lab.internal', '10.128.17.98').replace(
        'server ' + SERVER, 'server 127.0.0.1'))
    assert 'REFUSED' in local.stdout + local.stderr, local
    assert dig('acme', 'intruder.acme.lab.internal')[0] == 'NXDOMAIN'
    assert dig('acme', 'intruder2.acme.lab.internal')[0] == 'NXDOMAIN'
    # control: the key on loopback is accepted (and the record removed again)
    signed = on_vm(['nsupdate', '-t', '5', '-k', KEY_FILE],
                   stdin=nsupdate_script('probe.acme.lab.internal', '10.128.17.97').replace('server ' + SERVER, 'server 127.0.0.1')
                   + 'update delete probe.acme.lab.internal A\nsend\n')
    assert signed.returncode == 0, signed


def test_bad_input_is_refused_naming_the_field_before_any_change():
    before = on_vm(['sha256sum', '/etc/bind/named.conf.local', '/etc/bind/named.conf.options']).stdout
    zones = _converge_vars()['dns_server_zones'] + [{'name': 'Initech.lab.internal.', 'allow_query': ['10.128.48.0/20']}]
    rc, output = rig.run_playbook(CONVERGE, {'dns_server_zones': zones, 'acme_networks': ['10.128.16.0/33']})
    assert rc != 0
    assert 'dns_server_zones[5].name: "Initech.lab.internal." is not a lower-case domain name' in output, output[-3000:]
    assert 'dns_server_zones[0].allow_query[0]: "10.128.16.0/33" is not a network' in output, output[-3000:]
    assert on_vm(['sha256sum', '/etc/bind/named.conf.local', '/etc/bind/named.conf.options']).stdout == before
    assert dig('acme', 'web1.acme.lab.internal') == ('NOERROR', ['10.128.17.10'])


@pytest.fixture(scope='module')
def smaller_converge():
    """One converge at -vvv with acme's db1 (and its PTR) gone from the declared records."""
    records = copy.deepcopy(_converge_vars()['dns_server_test_records'])
    records['acme.lab.internal'] = [entry for entry in records['acme.lab.internal'] if entry['name'] != 'db1']
    records['18.128.10.in-addr.arpa'] = [entry for entry in records['18.128.10.in-addr.arpa'] if entry['name'] != '11']
    rc, output = rig.run_playbook(CONVERGE, {'dns_server_test_records': records}, extra_args=['-vvv'])
    assert rc == 0, output[-4000:]
    return output


def test_a_record_removed_from_the_list_is_nxdomain(smaller_converge):
    assert smaller_converge
    assert dig('acme', 'db1.acme.lab.internal')[0] == 'NXDOMAIN'
    assert dig('acme', '11.18.128.10.in-addr.arpa', 'PTR')[0] == 'NXDOMAIN'
    # the others stayed, through the role's run too (it never rewrites a zone file)
    assert dig('acme', 'web1.acme.lab.internal') == ('NOERROR', ['10.128.17.10'])
    assert dig('acme', 'gw-db.acme.lab.internal') == ('NOERROR', ['10.128.18.2'])


def test_the_tsig_secret_is_in_no_output(smaller_converge, host):
    key = host.file(KEY_FILE)
    assert (key.user, key.group, key.mode) == ('root', 'bind', 0o640)
    secret = re.search(r'secret "([^"]+)"', on_vm(['cat', KEY_FILE]).stdout).group(1)
    assert len(secret) >= 40
    assert 'dns_zone' in smaller_converge and 'rfc2136' in smaller_converge
    assert secret not in smaller_converge
    # nor base64's lines cut anywhere in the secret's middle
    assert secret[8:32] not in smaller_converge
