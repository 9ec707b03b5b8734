# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tenant_gateway role's plan and templates: refusals, the nft ruleset (checked by nft -c in a
throwaway network namespace when nft exists), the WireGuard and cloudflared configurations."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import json
import os
import shutil
import subprocess
import uuid

import jinja2
import pytest
import yaml

from ansible_collections.homecloud.proxmox.plugins.module_utils.gateway_role import tenant_gateway_role_plan

ROLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles", "tenant_gateway")

ALICE = base64.b64encode(b"a" * 32).decode()
BOB = base64.b64encode(b"b" * 32).decode()
AUD = "ab" * 32
LINKS = [
    {"ifname": "lo", "address": "00:00:00:00:00:00", "addr_info": [{"local": "127.0.0.1", "prefixlen": 8}]},
    {"ifname": "ens18", "address": "02:00:00:27:11:00", "addr_info": [{"local": "198.51.100.21", "prefixlen": 24}]},
    {"ifname": "ens19", "address": "02:00:00:27:11:01", "addr_info": [{"local": "10.129.0.2", "prefixlen": 24}]},
    {"ifname": "ens20", "address": "02:00:00:27:11:02", "addr_info": [{"local": "10.129.1.2", "prefixlen": 24}]},
]


def variables(**changes):
    with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
        result = yaml.safe_load(handle)
    result.update({
        "tenant_gateway_tenant": "acme",
        "tenant_gateway_vnets": [
            {"name": "web", "mac": "02:00:00:27:11:01", "address": "10.129.0.2/24",
             "allow": [{"to": "db", "proto": "tcp", "dport": "5432", "comment": "app to db"}]},
            {"name": "db", "mac": "02:00:00:27:11:02", "address": "10.129.1.2/24"},
        ],
        "tenant_gateway_external": {"mac": "02:00:00:27:11:00", "address": "198.51.100.21/24", "gateway": "198.51.100.1"},
        "tenant_gateway_management_networks": ["192.0.2.0/24"],
        "tenant_gateway_private_networks": ["10.128.0.0/12"],
        "tenant_gateway_admin_networks": ["198.51.100.0/24"],
        "tenant_gateway_wireguard": {"interface": "wg-acme", "port": 51820, "address": "10.250.1.1/24",
                                     "peers": [{"name": "alice-laptop", "public_key": ALICE, "address": "10.250.1.10/32"}]},
        "tenant_gateway_cloudflared": {"tunnel_id": str(uuid.UUID(int=1)), "credentials_file": "/etc/cloudflared/t.json",
                                       "team_name": "homecloud",
                                       "ingress": [{"hostname": "app.acme.example", "service": "http://10.129.0.10:8080", "aud_tag": AUD}]},
    })
    result.update(copy.deepcopy(changes))
    return result


def render(name, values):
    result = tenant_gateway_role_plan(values, LINKS)
    assert result["errors"] == []
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, "templates")), trim_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["to_json"] = json.dumps
    context = dict(values, tenant_gateway_plan=result["plan"], ansible_managed="managed by Ansible",
                   tenant_gateway_wg_key_file="/etc/wireguard/wg-acme.key")
    return env.get_template(name).render(context)


def errors(**changes):
    return " | ".join(tenant_gateway_role_plan(variables(**changes), LINKS)["errors"])


def test_interfaces_are_found_by_mac():
    result = tenant_gateway_role_plan(variables(), LINKS)
    assert result["errors"] == []
    assert result["interfaces"] == {"external": "ens18", "web": "ens19", "db": "ens20"}


def test_a_missing_mac_or_address_is_refused_naming_vnet_mac_and_address():
    vnets = variables()["tenant_gateway_vnets"]
    vnets[1]["address"] = "10.129.1.3/24"
    assert "tenant_gateway_vnets[db]: interface ens20 (MAC 02:00:00:27:11:02) does not carry 10.129.1.3/24" \
        in errors(tenant_gateway_vnets=vnets)
    vnets[1]["mac"] = "02:00:00:27:11:99"
    assert "tenant_gateway_vnets[db]: no interface of this host has the MAC 02:00:00:27:11:99" in errors(tenant_gateway_vnets=vnets)


def test_peer_refusals():
    def with_peers(*peers):
        wg = dict(variables()["tenant_gateway_wireguard"], peers=list(peers))
        return errors(tenant_gateway_wireguard=wg)

    assert "the role never accepts a peer's private key" in with_peers(
        {"name": "x", "public_key": ALICE, "private_key": ALICE, "address": "10.250.1.10/32"})
    assert "public_key is not a WireGuard public key" in with_peers({"name": "x", "public_key": "abc=", "address": "10.250.1.10/32"})
    assert "must be exactly one address: /32" in with_peers({"name": "x", "public_key": ALICE, "address": "10.250.1.8/29"})
    assert "is not inside the VPN pool 10.250.1.0/24" in with_peers({"name": "x", "public_key": ALICE, "address": "10.250.2.10/32"})
    assert "is the gateway's own VPN address" in with_peers({"name": "x", "public_key": ALICE, "address": "10.250.1.1/32"})
    assert "peers addresses must be unique: 10.250.1.10/32" in with_peers(
        {"name": "x", "public_key": ALICE, "address": "10.250.1.10/32"}, {"name": "y", "public_key": BOB, "address": "10.250.1.10/32"})


def test_other_refusals_name_the_variable():
    cfd = variables()["tenant_gateway_cloudflared"]
    cfd["ingress"] = [{"hostname": "app.acme.example", "service": "http://10.129.0.10:8080"}]
    assert "hostname app.acme.example has no Access application" in errors(tenant_gateway_cloudflared=cfd)
    assert "tenant_gateway_cloudflared.team_name must be set" in errors(tenant_gateway_cloudflared=dict(cfd, team_name=""))
    assert "tenant_gateway_tenant is required" in errors(tenant_gateway_tenant="Acme!")
    assert "tenant_gateway_admin_networks needs at least one network" in errors(tenant_gateway_admin_networks=[])
    assert "tenant_gateway_private_networks[0]: '10.0.0.1/8' is not a network" in errors(tenant_gateway_private_networks=["10.0.0.1/8"])


def test_ruleset_content():
    text = render("homecloud-gateway.nft.j2", variables())
    lines = [line.strip() for line in text.splitlines()]
    assert lines.index("table inet homecloud_gateway") < lines.index("delete table inet homecloud_gateway")
    assert "table ip" not in text and "flush ruleset" not in text
    forward = lines[lines.index("chain forward {"):]
    order = [
        "ct state established,related accept",
        'iifname "ens18" counter name fwd_from_external drop',
        "ip daddr 192.0.2.0/24 counter name fwd_to_mgmt drop",
        'iifname "ens19" oifname "ens20" ip daddr 10.129.1.0/24 tcp dport 5432 counter name fwd_allow accept comment "app to db"',
        'iifname "wg-acme" oifname { "ens19", "ens20" } counter name fwd_wireguard accept',
        'iifname { "ens19", "ens20", "wg-acme" } ip daddr 10.128.0.0/12 counter name fwd_private_drop drop',
        'iifname { "ens19", "ens20", "wg-acme" } oifname "ens18" counter name fwd_egress accept',
        'limit rate 10/minute log prefix "homecloud-gw acme drop: "',
        "counter name fwd_drop drop",
    ]
    assert [forward.index(line) for line in order] == sorted(forward.index(line) for line in order)
    assert "ip saddr 198.51.100.0/24 tcp dport 22 counter name in_ssh accept" in lines
    assert 'iifname "ens18" udp dport 51820 counter name in_wireguard accept' in lines
    assert 'oifname "ens18" ip saddr { 10.129.0.0/24, 10.129.1.0/24, 10.250.1.0/24 } counter name nat_masquerade masquerade' in lines


def nft_check(text, tmp_path):
    """nft -c -f inside a namespace of our own (nft -c needs CAP_NET_ADMIN and a netns to ask)."""
    nft = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")
    ip = shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin")
    if not nft or not ip or os.geteuid() != 0:
        pytest.skip("nft -c needs nft, ip and root")
    path = tmp_path / "gateway.nft"
    path.write_text(text)
    namespace = "hc-gwtest-%s" % uuid.uuid4().hex[:8]
    subprocess.run([ip, "netns", "add", namespace], check=True, timeout=10)
    try:
        return subprocess.run([ip, "netns", "exec", namespace, nft, "-c", "-f", str(path)],
                              capture_output=True, text=True, timeout=20, check=False)
    finally:
        subprocess.run([ip, "netns", "delete", namespace], check=False, timeout=10)


def test_ruleset_passes_nft_check(tmp_path):
    v6 = variables(tenant_gateway_admin_networks=["198.51.100.0/24", "2001:db8::/64"],
                   tenant_gateway_nft_extra_forward_rules=['iifname "ens19" ip daddr 203.0.113.7 counter name fwd_extra accept'])
    result = nft_check(render("homecloud-gateway.nft.j2", v6), tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_broken_extra_rule_fails_nft_check(tmp_path):
    broken = variables(tenant_gateway_nft_extra_forward_rules=["iifname ens19 accept-everything"])
    result = nft_check(render("homecloud-gateway.nft.j2", broken), tmp_path)
    assert result.returncode != 0
    assert "accept-everything" in result.stderr


def test_wireguard_config_has_no_private_key_and_one_peer_section_per_peer():
    wg = dict(variables()["tenant_gateway_wireguard"])
    wg["peers"] = wg["peers"] + [{"name": "bob-phone", "public_key": BOB, "address": "10.250.1.11/32"}]
    text = render("wg.conf.j2", variables(tenant_gateway_wireguard=wg))
    assert "PrivateKey" not in text
    assert "PostUp = wg set %i private-key /etc/wireguard/wg-acme.key" in text
    assert text.count("[Peer]") == 2
    assert "PublicKey = %s\nAllowedIPs = 10.250.1.11/32" % BOB in text
    assert "Address = 10.250.1.1/24\nListenPort = 51820" in text


def test_cloudflared_config_requires_access_on_every_hostname_and_ends_with_404():
    values = variables()
    values["tenant_gateway_cloudflared"]["ingress"].append(
        {"hostname": "wiki.acme.example", "service": "https://10.129.0.11", "aud_tag": "cd" * 32})
    config = yaml.safe_load(render("cloudflared-config.yml.j2", values))
    assert config["tunnel"] == str(uuid.UUID(int=1))
    assert config["credentials-file"] == "/etc/cloudflared/t.json"
    assert config["ingress"][-1] == {"service": "http_status:404"}
    rules = config["ingress"][:-1]
    assert [rule["hostname"] for rule in rules] == ["app.acme.example", "wiki.acme.example"]
    assert [rule["originRequest"]["access"] for rule in rules] == [
        {"required": True, "teamName": "homecloud", "audTag": [AUD]},
        {"required": True, "teamName": "homecloud", "audTag": ["cd" * 32]},
    ]
