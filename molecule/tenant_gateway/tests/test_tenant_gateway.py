# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tenant_gateway role proven by packets between the namespaces of topology.sh.

Every probe is bounded (timeout, ping -c/-W, tcpdump -c under timeout). A blocked probe is
always paired with a control that shows the target answers when the gateway is not in the
way, so a failure is the gateway's decision. The tests run in file order: the SSH test
switches password login on again and leaves it for the last test, whose converge (at -vvv,
one peer less) hardens sshd again.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import importlib.util
import json
import os
import re
import subprocess
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
_SPEC = importlib.util.spec_from_file_location('rig', os.path.join(HERE, '..', '..', 'resources', 'rig.py'))
rig = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(rig)

GATEWAY = 'hc-gw-1'
testinfra_hosts = ['podman://%s' % GATEWAY]
CONVERGE = os.path.join(HERE, '..', 'converge.yml')
PROJECT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
EPHEMERAL = os.environ['MOLECULE_EPHEMERAL_DIRECTORY']
STATE = os.path.join(EPHEMERAL, 'topology')
ADMIN_KEY = os.path.join(EPHEMERAL, 'admin_ed25519')


def _read(path):
    with open(path, encoding='utf-8') as handle:
        return handle.read()


RUN_ID = _read(os.path.join(STATE, 'id')).strip()
NS = dict((role, '%s-%s' % (prefix, RUN_ID)) for role, prefix in (
    ('web', 'hcta'), ('db', 'hctd'), ('lan', 'hcx'), ('internet', 'hcin'), ('mgmt', 'hcmg'),
    ('tenant_b', 'hctb'), ('peer', 'hcwp'), ('hub', 'hcgh'), ('service', 'hcgs')))
PEER_IF = 'wgp' + RUN_ID
VARS = yaml.safe_load(_read(os.path.join(EPHEMERAL, 'gateway_vars.yml')))
WG = VARS['tenant_gateway_wireguard']
WG_IF = WG['interface']
NFT_FILE = '/etc/nftables.d/homecloud-gateway.nft'
# The verify converges run only the parts of the role they test (the role's tags; validation
# always runs): a full converge costs minutes on a busy machine.
ONLY_NFTABLES = ['--tags', 'tenant_gateway_nftables']
ONLY_SSH = ['--tags', 'tenant_gateway_ssh']
ONLY_WIREGUARD_AND_SSH = ['--tags', 'tenant_gateway_wireguard,tenant_gateway_ssh']
SSHD_DROPIN = '/etc/ssh/sshd_config.d/10-homecloud.conf'


def run(argv, timeout=30):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          check=False, universal_newlines=True)


def in_ns(role, argv, timeout=30):
    return run(['ip', 'netns', 'exec', NS[role]] + argv, timeout=timeout)


def on_gateway(argv, timeout=30):
    return run(['podman', 'exec', GATEWAY] + argv, timeout=timeout)


def tcp_opens(role, address, port):
    """A TCP connection from namespace ROLE to ADDRESS:PORT completes within 2 s."""
    return in_ns(role, ['timeout', '2', 'bash', '-c', 'exec 3<>/dev/tcp/%s/%s' % (address, port)]).returncode == 0


def pings(role, address):
    return in_ns(role, ['ping', '-n', '-c', '1', '-W', '1', address]).returncode == 0


def http_status(role, url):
    fetch = in_ns(role, ['python3', '-c', 'import sys, urllib.request; '
                         'print(urllib.request.urlopen(sys.argv[1], timeout=3).status)', url], timeout=10)
    return fetch.stdout.strip() if fetch.returncode == 0 else fetch.stderr.strip()


def counters():
    """nft list counters table inet homecloud_gateway on the gateway: {name: packets}."""
    listing = on_gateway(['nft', '--json', 'list', 'counters', 'table', 'inet', 'homecloud_gateway'])
    assert listing.returncode == 0, listing.stderr
    items = [item['counter'] for item in json.loads(listing.stdout)['nftables'] if 'counter' in item]
    return dict((item['name'], item['packets']) for item in items)


def grew(before, after):
    return sorted(name for name in after if after[name] > before.get(name, 0))


def ruleset():
    """The running table without its counter values (nft -s: stateless)."""
    listing = on_gateway(['nft', '-s', 'list', 'table', 'inet', 'homecloud_gateway'])
    assert listing.returncode == 0, listing.stderr
    return listing.stdout


def sshd_setting(name):
    effective = on_gateway(['sshd', '-T'])
    assert effective.returncode == 0, effective.stderr
    values = [line.split(None, 1)[1] for line in effective.stdout.splitlines() if line.split(None, 1)[0] == name]
    assert len(values) == 1, effective.stdout
    return values[0]


def ssh_to_gateway(key, extra):
    """ssh debian@198.51.100.21 from this controller through the external LAN namespace (the
    host's own namespace gets no interface); returns the completed process."""
    return run(['timeout', '20', 'ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
                '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=10',
                '-o', 'ProxyCommand=ip netns exec %s nc %%h %%p' % NS['lan'], '-i', key] + extra
               + ['debian@198.51.100.21', 'true'], timeout=30)


def offered_methods():
    """The authentication methods sshd offers (from the client's "Permission denied (...)")."""
    refused = ssh_to_gateway(ADMIN_KEY, ['-o', 'PreferredAuthentications=none', '-o', 'NumberOfPasswordPrompts=0'])
    match = re.search(r'Permission denied \(([^)]*)\)', refused.stderr)
    assert match, refused.stderr
    return sorted(match.group(1).split(','))


def test_egress_is_masqueraded(host):
    """VNet web reaches the internet; the server sees only the gateway's external address:
    its own log and a packet capture on its interface."""
    log = os.path.join(STATE, 'internet.log')
    logged_before = len(_read(log).splitlines())
    before = counters()
    capture = subprocess.Popen(['ip', 'netns', 'exec', NS['internet'], 'timeout', '15', 'tcpdump', '-n', '-l',
                                '-i', 'eth0', '-c', '8', 'tcp port 80'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        time.sleep(1.5)     # tcpdump attaches to the interface
        assert http_status('web', 'http://203.0.113.10/') == '200'
        captured, capture_log = capture.communicate(timeout=20)
    finally:
        if capture.poll() is None:
            capture.kill()
            capture.wait()
    print(captured)
    sources = set(re.findall(r' IP (\d+\.\d+\.\d+\.\d+)\.\d+ > ', captured))
    assert '198.51.100.21' in sources, (captured, capture_log)
    assert sources <= {'198.51.100.21', '203.0.113.10'}, sources
    assert not [source for source in sources if source.startswith('10.129.')]
    logged = _read(log).splitlines()[logged_before:]
    print('\n'.join(logged))
    clients = [line.split()[0] for line in logged if '"GET / ' in line]
    assert clients == ['198.51.100.21'], logged
    assert {'fwd_egress', 'nat_masquerade'} <= set(grew(before, counters()))


def test_management_network_unreachable(host):
    """Nothing is forwarded to the management network, while it answers from the LAN."""
    assert tcp_opens('lan', '192.0.2.11', 8006)
    before = counters()
    assert not tcp_opens('web', '192.0.2.11', 8006)
    assert not tcp_opens('db', '192.0.2.11', 8006)
    assert not pings('web', '192.0.2.11')
    after = counters()
    print(after)
    assert after['fwd_to_mgmt'] > before['fwd_to_mgmt']
    assert after['fwd_egress'] == before['fwd_egress']


def test_vnets_reach_each_other_only_by_the_allow_list(host):
    """web -> db tcp/5432 is allowed; web -> db:8080 and db -> web are not (both listen)."""
    assert on_gateway(['timeout', '2', 'bash', '-c', 'exec 3<>/dev/tcp/10.129.1.10/8080']).returncode == 0
    assert on_gateway(['timeout', '2', 'bash', '-c', 'exec 3<>/dev/tcp/10.129.0.10/8080']).returncode == 0
    before = counters()
    assert tcp_opens('web', '10.129.1.10', 5432)
    middle = counters()
    assert middle['fwd_allow'] > before['fwd_allow']
    assert not tcp_opens('web', '10.129.1.10', 8080)
    assert not tcp_opens('db', '10.129.0.10', 8080)
    assert not pings('db', '10.129.0.10')
    after = counters()
    print(after)
    assert after['fwd_private_drop'] > middle['fwd_private_drop']


def test_nothing_gets_in_from_outside(host):
    """Tenant B (routed to 10.129.0.0/24 via the gateway) and the internet (its router routes
    10.129.0.0/16 to the gateway) cannot reach tenant A's client; the gateway itself can."""
    assert on_gateway(['timeout', '2', 'bash', '-c', 'exec 3<>/dev/tcp/10.129.0.10/8080']).returncode == 0
    before = counters()
    assert not pings('tenant_b', '10.129.0.10')
    assert not tcp_opens('tenant_b', '10.129.0.10', 8080)
    assert not tcp_opens('internet', '10.129.0.10', 8080)
    assert not pings('internet', '10.129.0.10')
    assert not tcp_opens('lan', '10.129.0.10', 8080)
    after = counters()
    print(after)
    # ping + SYN (and its retransmissions) per source: at least one packet each
    assert after['fwd_from_external'] - before['fwd_from_external'] >= 5
    assert after['fwd_egress'] == before['fwd_egress']


def test_transit_leg_reaches_the_shared_service_with_its_own_addresses(host):
    """The role's route (protocol 75) sends the shared services network via the hub's stand-in on
    the transit leg; web and db reach the service there with their own addresses (no masquerade
    on the transit leg: the service's log and nat_masquerade say so), counted by fwd_transit."""
    routes = json.loads(on_gateway(['ip', '-json', 'route', 'show', 'proto', '75']).stdout)
    assert [(route['dst'], route['gateway'], route['dev']) for route in routes] == [('10.128.1.0/24', '10.128.241.2', 'ens21')]
    assert host.service('homecloud-gateway-transit-routes').is_enabled
    log = os.path.join(STATE, 'service.log')
    logged_before = len(_read(log).splitlines())
    before = counters()
    assert http_status('web', 'http://10.128.1.12:5432/') == '200'
    assert http_status('db', 'http://10.128.1.12:5432/') == '200'
    after = counters()
    print(after)
    logged = _read(log).splitlines()[logged_before:]
    assert [line.split()[0] for line in logged if '"GET / ' in line] == ['10.129.0.10', '10.129.1.10'], logged
    assert after['fwd_transit'] > before['fwd_transit']
    assert after['nat_masquerade'] == before['nat_masquerade']
    assert after['fwd_private_drop'] == before['fwd_private_drop']


def test_transit_side_cannot_open_a_connection_into_the_tenant(host):
    """The hub's stand-in and the service behind it (both routed to 10.129.0.0/16 via the
    gateway) cannot reach tenant A's client; the gateway itself can (the control)."""
    assert on_gateway(['timeout', '2', 'bash', '-c', 'exec 3<>/dev/tcp/10.129.0.10/8080']).returncode == 0
    before = counters()
    assert not tcp_opens('hub', '10.129.0.10', 8080)
    assert not tcp_opens('service', '10.129.0.10', 8080)
    assert not pings('service', '10.129.1.10')
    after = counters()
    print(after)
    assert after['fwd_from_transit'] - before['fwd_from_transit'] >= 3
    assert after['fwd_transit'] == before['fwd_transit']


def _gateway_public_key():
    shown = on_gateway(['wg', 'show', WG_IF, 'public-key'])
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.strip()


def _gateway_peers():
    shown = on_gateway(['wg', 'show', WG_IF, 'peers'])
    assert shown.returncode == 0, shown.stderr
    return set(shown.stdout.split())


def test_wireguard_peer_reaches_the_vnet(host):
    """The peer (wireguard-go in its namespace, key born there) handshakes with the gateway's
    external leg and reaches 10.129.0.10 through the tunnel with its pool address."""
    assert _gateway_peers() == {peer['public_key'] for peer in WG['peers']}
    configured = in_ns('peer', ['wg', 'set', PEER_IF, 'peer', _gateway_public_key(),
                                'endpoint', '198.51.100.21:%s' % WG['port'],
                                'allowed-ips', '10.129.0.0/16,10.250.1.1/32', 'persistent-keepalive', '5'])
    assert configured.returncode == 0, configured.stderr
    before = counters()
    web_log = os.path.join(STATE, 'web.log')
    logged_before = len(_read(web_log).splitlines())
    ping = in_ns('peer', ['ping', '-n', '-c', '3', '-W', '2', '-I', '10.250.1.10', '10.129.0.10'])
    print(ping.stdout)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert http_status('peer', 'http://10.129.0.10:8080/') == '200'
    handshakes = in_ns('peer', ['wg', 'show', PEER_IF, 'latest-handshakes']).stdout.split()
    assert len(handshakes) == 2 and int(handshakes[1]) > 0, handshakes
    logged = _read(web_log).splitlines()[logged_before:]
    # the VNet sees the VPN user's own pool address, not a NAT address
    assert [line.split()[0] for line in logged if '"GET / ' in line] == ['10.250.1.10'], logged
    after = counters()
    print(after)
    # in_wireguard sits after `ct state established,related accept`: it counts the peer's new
    # flows (its first handshake), not every packet
    assert after['in_wireguard'] > 0
    assert after['fwd_wireguard'] > before['fwd_wireguard']


def test_broken_extra_rule_refused_by_nft_and_running_ruleset_unchanged(host):
    rules_before = ruleset()
    file_before = host.file(NFT_FILE).sha256sum
    rc, out = rig.run_playbook(CONVERGE, {'tenant_gateway_nft_extra_forward_rules': ['this is not nft']},
                               extra_args=ONLY_NFTABLES)
    assert rc != 0
    assert 'syntax error' in out, out[-3000:]
    assert ruleset() == rules_before
    assert host.file(NFT_FILE).sha256sum == file_before


def test_ssh_key_only_and_a_wrong_key_keeps_password_login(host, tmp_path):
    """After converge: password login off (sshd -T and what sshd offers), the admin's key logs
    in. Then, with password login on again (drop-in removed, as before hardening), a converge
    whose check key is not authorized fails naming the reason and leaves password login on."""
    assert sshd_setting('passwordauthentication') == 'no'
    assert sshd_setting('kbdinteractiveauthentication') == 'no'
    assert offered_methods() == ['publickey']
    login = ssh_to_gateway(ADMIN_KEY, [])
    assert login.returncode == 0, login.stderr

    assert on_gateway(['rm', '-f', SSHD_DROPIN]).returncode == 0
    assert on_gateway(['systemctl', 'restart', 'ssh']).returncode == 0
    assert sshd_setting('passwordauthentication') == 'yes'
    assert 'password' in offered_methods()

    wrong_key = str(tmp_path / 'not_authorized')
    made = run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', wrong_key])
    assert made.returncode == 0, made.stderr
    ssh_vars = copy.deepcopy(VARS['tenant_gateway_ssh'])
    ssh_vars['check_private_key_file'] = wrong_key
    rc, out = rig.run_playbook(CONVERGE, {'tenant_gateway_ssh': ssh_vars}, extra_args=ONLY_SSH)
    assert rc != 0
    assert 'key login as debian@198.51.100.21 failed: password login stays on' in out, out[-3000:]
    assert not host.file(SSHD_DROPIN).exists
    assert sshd_setting('passwordauthentication') == 'yes'
    assert 'password' in offered_methods()


def test_cloudflared_config_requires_access_on_every_hostname(host):
    """cloudflared itself cannot run here (no binary can be had, and no Cloudflare): its
    configuration is checked against Cloudflare's documented ingress rules instead - every
    hostname rule requires an Access token of its own application (originRequest.access:
    required, teamName, audTag), the last rule is the catch-all http_status:404."""
    cloudflared = VARS['tenant_gateway_cloudflared']
    config = yaml.safe_load(host.file('/etc/cloudflared/config.yml').content_string)
    assert config['tunnel'] == cloudflared['tunnel_id']
    assert config['credentials-file'] == cloudflared['credentials_file']
    rules = config['ingress']
    assert rules[-1] == {'service': 'http_status:404'}
    expected = dict((app['hostname'], app) for app in cloudflared['ingress'])
    assert sorted(rule['hostname'] for rule in rules[:-1]) == sorted(expected)
    for rule in rules[:-1]:
        app = expected[rule['hostname']]
        assert rule['service'] == app['service']
        assert rule['originRequest']['access'] == {'required': True, 'teamName': cloudflared['team_name'],
                                                   'audTag': [app['aud_tag']]}
    credentials = host.file(cloudflared['credentials_file'])
    assert credentials.mode == 0o600 and credentials.user == 'root'
    unit = host.file('/etc/systemd/system/cloudflared-homecloud.service').content_string
    assert '--no-autoupdate' in unit
    # install: false and no binary: written, not started
    assert not host.service('cloudflared-homecloud').is_running


def test_removed_peer_gone_and_private_key_never_leaves(host, monkeypatch):
    """A converge at -vvv of the WireGuard and SSH parts with bob's peer taken out of the
    inventory and the right check key: bob is gone from the interface, alice's session goes on,
    sshd is hardened again; the WireGuard tasks ran (key derivation, wg syncconf); the
    gateway's private key (0600 root) is in none of that output, the ephemeral directory
    (inventory, logs, vars) or the repository's .build directory."""
    alice, bob = WG['peers'][0], WG['peers'][1]
    wireguard = copy.deepcopy(WG)
    wireguard['peers'] = [alice]
    monkeypatch.setenv('ANSIBLE_VERBOSITY', '3')
    rc, out = rig.run_playbook(CONVERGE, {'tenant_gateway_wireguard': wireguard}, extra_args=ONLY_WIREGUARD_AND_SSH)
    assert rc == 0, out[-3000:]
    assert _gateway_peers() == {alice['public_key']}
    assert bob['public_key'] not in _gateway_peers()
    ping = in_ns('peer', ['ping', '-n', '-c', '2', '-W', '2', '-I', '10.250.1.10', '10.129.0.10'])
    assert ping.returncode == 0, ping.stdout
    assert sshd_setting('passwordauthentication') == 'no'
    assert offered_methods() == ['publickey']

    key_file = host.file('/etc/wireguard/%s.key' % WG_IF)
    assert key_file.mode == 0o600 and key_file.user == 'root' and key_file.group == 'root'
    private_key = on_gateway(['cat', '/etc/wireguard/%s.key' % WG_IF]).stdout.strip()
    assert len(private_key) == 44, 'not a WireGuard key'
    assert 'PrivateKey' not in host.file('/etc/wireguard/%s.conf' % WG_IF).content_string
    assert '<<' in out or 'ESTABLISH' in out, 'not a -vvv output'
    assert 'Derive the public key on the gateway' in out and 'wg syncconf' in out, 'the WireGuard part did not run'
    assert private_key not in out
    for place in (EPHEMERAL, os.path.join(PROJECT, '.build')):
        # grep -r does not follow symlinks: .build/collections links back to the repository
        found = run(['grep', '-r', '-l', '-F', '--', private_key, place], timeout=120)
        assert found.returncode == 1, found.stdout + found.stderr


def test_check_mode_run_foresaw_the_converge():
    """The check run before the first converge failed nowhere and every change it reported
    was made by the first converge; the second converge changed nothing."""
    runs = rig.change_log_runs()
    checks = [lines for check, lines in runs if check]
    converges = [lines for check, lines in runs if not check]
    assert len(checks) == 1 and len(converges) >= 2, [run_[0] for run_ in runs]
    assert not [line for line in checks[0] if line['status'] in ('failed', 'unreachable')]
    check_tasks, dummy = rig.changed_tasks(checks[0], check=True)
    first_tasks, dummy = rig.changed_tasks(converges[0], check=False)
    print('converge changed, check did not report: %s' % sorted(first_tasks - check_tasks))
    assert first_tasks and check_tasks <= first_tasks
    second_tasks, second_handlers = rig.changed_tasks(converges[1], check=False)
    assert not second_tasks and not second_handlers
