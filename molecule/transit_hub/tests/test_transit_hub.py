# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The transit_hub role proven by packets between the namespaces of topology.sh.

Every probe is bounded (timeout). A blocked probe is paired with a control that shows the
target answers when the hub's policy lets it (or when the hub is not in the way), so a failure
is the hub's decision. The listeners answer "from <client address>": the hub forwards the
tenants' own addresses. The tests run in file order; the last one changes the policy and
puts it back, each change being exactly one ruleset load.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os
import re
import subprocess

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
_SPEC = importlib.util.spec_from_file_location('rig', os.path.join(HERE, '..', '..', 'resources', 'rig.py'))
rig = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(rig)
HUB = 'hc-hub-1'
testinfra_hosts = ['podman://%s' % HUB]
CONVERGE = os.path.join(HERE, '..', 'converge.yml')
EPHEMERAL = os.environ['MOLECULE_EPHEMERAL_DIRECTORY']
STATE = os.path.join(EPHEMERAL, 'topology')
TABLE = ['table', 'inet', 'homecloud_transit']
NFT_FILE = '/etc/nftables.d/homecloud-transit.nft'
HANDLER = 'RUNNING HANDLER [homecloud.proxmox.transit_hub : Load the transit ruleset]'


def _read(path):
    with open(path, encoding='utf-8') as handle:
        return handle.read()


RUN_ID = _read(os.path.join(STATE, 'id')).strip()
NS = dict((role, '%s-%s' % (prefix, RUN_ID)) for role, prefix in (
    ('acme', 'hcta'), ('globex', 'hctg'), ('services', 'hcts'), ('svnet', 'hctv'), ('mgmt', 'hctm')))
VARS = yaml.safe_load(_read(os.path.join(EPHEMERAL, 'hub_vars.yml')))
DNS, S3, PG = '10.128.1.10', '10.128.1.11', '10.128.1.12'
ACME, GLOBEX = '10.128.17.10', '10.128.33.10'


def run(argv, timeout=30):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          check=False, universal_newlines=True)


def in_ns(role, argv, timeout=30):
    return run(['ip', 'netns', 'exec', NS[role]] + argv, timeout=timeout)


def on_hub(argv, timeout=30):
    return run(['podman', 'exec', HUB] + argv, timeout=timeout)


def tcp_answer(role, address, port):
    """The listener's answer ("from <client>") to a TCP connection from ROLE, '' when none in 3 s."""
    done = in_ns(role, ['timeout', '3', 'bash', '-c', 'exec 3<>/dev/tcp/%s/%s && head -n1 <&3' % (address, port)])
    return done.stdout.strip() if done.returncode == 0 else ''


def udp_answer(role, address, port):
    """The listener's answer to one UDP datagram from ROLE, '' when none in 2 s."""
    done = in_ns(role, ['python3', '-c', 'import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); '
                        's.settimeout(2); s.sendto(b"probe", (sys.argv[1], int(sys.argv[2]))); '
                        'print(s.recv(100).decode().strip())', address, str(port)], timeout=10)
    return done.stdout.strip() if done.returncode == 0 else ''


def counters():
    """nft list counters table inet homecloud_transit on the hub: {name: packets}."""
    listing = on_hub(['nft', '--json', 'list', 'counters'] + TABLE)
    assert listing.returncode == 0, listing.stderr
    items = [item['counter'] for item in json.loads(listing.stdout)['nftables'] if 'counter' in item]
    return dict((item['name'], item['packets']) for item in items)


def grew(before, after):
    return sorted(name for name in after if after[name] > before.get(name, 0))


def table_handle():
    """The kernel's handle of the table: every load of the file (delete + create) gives it a new one."""
    listing = on_hub(['nft', '--json', 'list', 'tables'])
    assert listing.returncode == 0, listing.stderr
    handles = [item['table']['handle'] for item in json.loads(listing.stdout)['nftables']
               if 'table' in item and item['table']['name'] == 'homecloud_transit']
    assert len(handles) == 1, listing.stdout
    return handles[0]


def converge(extra_vars):
    command = ['ansible-playbook', '-i', os.environ['MOLECULE_INVENTORY_FILE'], CONVERGE, '-e', json.dumps(extra_vars)]
    env = dict(os.environ)
    env.pop('HOMECLOUD_CHANGES_LOG', None)
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=600,
                          check=False, universal_newlines=True)
    return done.returncode, done.stdout


def test_check_mode_run_foresaw_the_converge():
    """The check run before the first converge failed nowhere and every change it reported was
    made by the first converge; the second converge (idempotence) changed nothing."""
    runs = rig.change_log_runs()
    checks = [lines for check, lines in runs if check]
    converges = [lines for check, lines in runs if not check]
    assert len(checks) == 1 and len(converges) == 2, [run_[0] for run_ in runs]
    assert not [line for line in checks[0] if line['status'] in ('failed', 'unreachable')]
    check_tasks, dummy = rig.changed_tasks(checks[0], check=True)
    first_tasks, first_handlers = rig.changed_tasks(converges[0], check=False)
    print('converge changed, check did not report: %s' % sorted(first_tasks - check_tasks))
    assert first_tasks and check_tasks <= first_tasks
    assert [task.split(' : ')[-1] for dummy, task in first_handlers] == ['Load the transit ruleset']
    second_tasks, second_handlers = rig.changed_tasks(converges[1], check=False)
    assert not second_tasks and not second_handlers


def test_legs_found_by_mac_routes_and_forwarding(host):
    """The routes to the tenants' networks via their gateways carry the role's protocol number and
    come back at boot from the enabled unit; forwarding is on."""
    routes = json.loads(on_hub(['ip', '-json', 'route', 'show', 'proto', '75']).stdout)
    print(routes)
    assert sorted((route['dst'], route['gateway'], route['dev']) for route in routes) == [
        ('10.128.16.0/20', '10.128.241.10', 'ens18'), ('10.128.32.0/20', '10.128.241.11', 'ens18'),
        ('10.250.1.0/24', '10.128.241.10', 'ens18'), ('10.250.2.0/24', '10.128.241.11', 'ens18')]
    assert host.service('homecloud-transit-routes').is_enabled
    assert host.file('/etc/sysctl.d/90-homecloud-transit.conf').contains('^net.ipv4.ip_forward = 1$')
    assert on_hub(['sysctl', '-n', 'net.ipv4.ip_forward']).stdout.strip() == '1'
    assert 'include "/etc/nftables.d/homecloud-transit.nft"' in host.file('/etc/nftables.conf').content_string


def test_each_tenant_reaches_exactly_its_services():
    """acme: dns (udp+tcp), s3, postgresql; globex: dns, s3, and not postgresql. The services see
    each tenant's own address; each accept is counted by its tenant's and service's counter."""
    before = counters()
    assert tcp_answer('acme', PG, 5432) == 'from %s' % ACME
    assert tcp_answer('acme', S3, 443) == 'from %s' % ACME
    assert udp_answer('acme', DNS, 53) == 'from %s' % ACME
    assert tcp_answer('acme', DNS, 53) == 'from %s' % ACME
    assert tcp_answer('globex', S3, 443) == 'from %s' % GLOBEX
    assert udp_answer('globex', DNS, 53) == 'from %s' % GLOBEX
    assert tcp_answer('globex', DNS, 53) == 'from %s' % GLOBEX
    middle = counters()
    assert grew(before, middle) == ['allow_acme_dns', 'allow_acme_postgresql', 'allow_acme_s3',
                                    'allow_globex_dns', 'allow_globex_s3'], middle
    # globex is not granted postgresql: dropped by the policy's last rule, counted and logged
    assert tcp_answer('globex', PG, 5432) == ''
    after = counters()
    print(after)
    assert grew(middle, after) == ['fwd_drop', 'logged'], after


def test_tenant_to_tenant_through_the_hub_is_dropped_counted_and_logged():
    """acme -> globex's client (and back) through the hub: the explicit drop with its counter and
    its rate-limited log line; the control: each client answers in its own namespace."""
    assert tcp_answer('globex', GLOBEX, 8080) == 'from %s' % GLOBEX
    assert tcp_answer('acme', ACME, 8080) == 'from %s' % ACME
    before = counters()
    assert tcp_answer('acme', GLOBEX, 8080) == ''
    assert tcp_answer('globex', ACME, 8080) == ''
    after = counters()
    print(after)
    assert grew(before, after) == ['logged', 'tenant_to_tenant'], after
    assert after['tenant_to_tenant'] - before['tenant_to_tenant'] >= 2
    listing = on_hub(['nft', 'list'] + TABLE).stdout
    assert re.search(r'limit rate 10/minute .*counter name "?logged"? log prefix "homecloud-transit drop: "', listing), listing


def test_services_never_open_a_connection_into_a_tenant():
    """A service's new connection to a tenant through the hub is dropped (from_services); the
    control: the tenant's answers to its own connections pass (the tests above)."""
    before = counters()
    assert tcp_answer('services', ACME, 8080) == ''
    assert tcp_answer('services', GLOBEX, 8080) == ''
    after = counters()
    assert grew(before, after) == ['from_services'], after


def test_nothing_reaches_the_management_network():
    """acme and globex route 192.0.2.0/24 via the hub: dropped (to_mgmt). The control: the
    management listener answers from the services VNet's router, without the hub."""
    assert tcp_answer('svnet', '192.0.2.10', 8006) == 'from 192.0.2.1'
    before = counters()
    assert tcp_answer('acme', '192.0.2.10', 8006) == ''
    assert tcp_answer('globex', '192.0.2.10', 8006) == ''
    after = counters()
    assert grew(before, after) == ['to_mgmt'], after


def test_the_hub_itself_takes_ssh_from_the_admin_networks_only():
    """ssh from the management network (admin) connects; from a tenant it is dropped (in_drop)."""
    assert in_ns('mgmt', ['timeout', '3', 'bash', '-c', 'exec 3<>/dev/tcp/10.128.1.2/22']).returncode == 0
    before = counters()
    assert in_ns('acme', ['timeout', '3', 'bash', '-c', 'exec 3<>/dev/tcp/10.128.241.2/22']).returncode != 0
    assert 'in_drop' in grew(before, counters())


def test_a_policy_change_is_one_ruleset_load():
    """Grant globex postgresql and take s3 from acme: the converge loads the ruleset once (one
    handler run, and the table's handle moves by exactly what one `nft -c` check and one `nft -f`
    of the file move it),
    and the new policy holds at once. The original policy back: once more exactly one load."""
    # What a changed file costs the table's handle (the kernel counts one per table the transaction
    # creates, also in nft -c's transaction, which is aborted): the template's `nft -c` check plus
    # ONE `nft -f` load. A second load would move the handle further.
    handle = table_handle()
    for argv in (['nft', '-c', '-f', NFT_FILE], ['nft', '-f', NFT_FILE]):
        done = on_hub(argv)
        assert done.returncode == 0, done.stderr
    one_load = table_handle() - handle
    assert one_load > 0
    rules = VARS['transit_hub_rules']
    changed = [rule for rule in rules if not (rule['tenant'] == 'acme' and rule['service'] == 's3')] + [
        {'tenant': 'globex', 'sources': ['10.128.32.0/20'], 'service': 'postgresql', 'addresses': [PG],
         'proto': 'tcp', 'dport': '5432', 'comment': 'globex to postgresql'}]
    for policy, expect in ((changed, {'globex_pg': True, 'acme_s3': False}),
                           (rules, {'globex_pg': False, 'acme_s3': True})):
        handle = table_handle()
        rc, out = converge({'transit_hub_rules': policy})
        assert rc == 0, out[-3000:]
        assert out.count(HANDLER) == 1, out[-3000:]
        handler_result = out.split(HANDLER, 1)[1].split('\n\n', 1)[0]
        assert 'changed: [%s]' % HUB in handler_result, handler_result
        assert table_handle() == handle + one_load
        assert (tcp_answer('globex', PG, 5432) == 'from %s' % GLOBEX) is expect['globex_pg']
        assert (tcp_answer('acme', S3, 443) == 'from %s' % ACME) is expect['acme_s3']
        assert tcp_answer('acme', PG, 5432) == 'from %s' % ACME
    # nothing changes on a converge with the same policy: no load at all
    handle = table_handle()
    rc, out = converge({})
    assert rc == 0, out[-3000:]
    assert HANDLER not in out
    assert table_handle() == handle
