# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""dns_zone and dns_record through ansible-playbook, against a real BIND on loopback (provider rfc2136: TSIG-signed
AXFR and UPDATE) and against technitiumsim (provider technitium): check mode writes nothing and shows the diff the
real run then makes, the second run writes nothing, purge removes what is no longer declared, the server answers the
names (A and PTR), a wrong TSIG secret is refused with a clear message, and no secret reaches the -vvv output, the
results or the simulator's request log."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import signal
import socket
import subprocess
import time

import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.update
import dns.zone
import pytest
import yaml

from ansible_collections.homecloud.proxmox.plugins.module_utils.dns import DnsError, Rfc2136Provider, RRset, rrset_changes
from technitiumsim import TechnitiumSimulator
from technitiumsim.testing import DEMO_TOKEN, dns_query

from .playbook import ansible_playbook

TECHNITIUM_WRITES = ("/api/zones/create", "/api/zones/delete", "/api/zones/records/add", "/api/zones/records/delete",
                     "/api/zones/records/update")
KEY_NAME = "homecloud-update"
ZONE = "acme.lab.internal"
REVERSE = "17.128.10.in-addr.arpa"
NAMED = shutil.which("named") or "/usr/sbin/named"
TSIG_KEYGEN = shutil.which("tsig-keygen") or "/usr/sbin/tsig-keygen"

ZONE_FILE = """$TTL 3600
@ IN SOA ns.lab.internal. hostmaster.lab.internal. 1 3600 600 86400 300
@ IN NS ns.lab.internal.
"""


def free_port():
    """A TCP port free on 127.0.0.1 that is also free for UDP (named listens on both)."""
    for _attempt in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port on 127.0.0.1")


class Bind:
    """A named on 127.0.0.1:<port>, its files in one directory: two primary zones that take updates and transfers
    signed with one TSIG key."""

    def __init__(self, directory):
        self.directory = directory
        self.port = free_port()
        self.key_file = directory / "update.key"
        self.key_file.write_text(subprocess.run([TSIG_KEYGEN, "-a", "hmac-sha256", KEY_NAME], capture_output=True, text=True,
                                                check=True, timeout=30).stdout)
        os.chmod(str(self.key_file), 0o600)
        self.secret = self.key_file.read_text().split('secret "', 1)[1].split('"', 1)[0]
        zones = ""
        for zone in (ZONE, REVERSE):
            (directory / (zone + ".db")).write_text(ZONE_FILE)
            zones += ('zone "{0}" {{ type primary; file "{0}.db"; allow-update {{ key "{1}"; }}; '
                      'allow-transfer {{ key "{1}"; }}; }};\n').format(zone, KEY_NAME)
        self.conf = directory / "named.conf"
        self.conf.write_text("""include "{key}";
options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
}};
controls {{ }};
{zones}""".format(key=self.key_file, dir=directory, port=self.port, zones=zones))
        self.log = open(str(directory / "named.log"), "w")
        self.process = subprocess.Popen([NAMED, "-g", "-c", str(self.conf)], stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    @property
    def key(self):
        return dns.tsig.Key(KEY_NAME, self.secret, "hmac-sha256")

    def wait_ready(self, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("named ended: " + (self.directory / "named.log").read_text()[-3000:])
            try:
                answer = dns.query.tcp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=self.port, timeout=1)
                if answer.rcode() == dns.rcode.NOERROR and answer.answer:
                    return
            except (OSError, dns.exception.DNSException):
                pass
            time.sleep(0.1)
        raise RuntimeError("named did not answer within {0} s".format(seconds))

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.log.close()

    def records(self, zone):
        """The zone as AXFR shows it: sorted (name, type, value) of every record but SOA and NS."""
        transfer = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", zone, port=self.port, keyring={self.key.name: self.key},
                                                   keyname=self.key.name, timeout=5, lifetime=15))
        return sorted((name.to_text(), rdataset.rdtype.name if hasattr(rdataset.rdtype, "name") else str(rdataset.rdtype),
                       rdata.to_text()) for name, rdataset in transfer.iterate_rdatasets()
                      if rdataset.rdtype.name not in ("SOA", "NS") for rdata in rdataset)

    def resolve(self, name, rtype):
        answer = dns.query.udp(dns.message.make_query(name, rtype), "127.0.0.1", port=self.port, timeout=5)
        return sorted(rdata.to_text() for rrset in answer.answer for rdata in rrset)


@pytest.fixture
def bind(tmp_path):
    if not os.path.exists(NAMED):
        pytest.fail("named (BIND 9) is not installed: make host-packages installs bind9")
    directory = tmp_path / "bind"
    directory.mkdir()
    server = Bind(directory)
    yield server
    server.stop()


def run_dns_tasks(tmp_path, connection, tasks, check=False, verbose=False, name="play"):
    """Run [(module, args)] in one play with ``connection`` merged into each task, each registered as r<number>;
    returns (process, [result of each task])."""
    results = tmp_path / (name + "-results.json")
    plays = [{"name": "dns modules under test", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Task {0}".format(number), "homecloud.proxmox." + module: dict(connection, **args),
         "register": "r{0}".format(number), "diff": True, "ignore_errors": True}
        for number, (module, args) in enumerate(tasks)] + [
        {"name": "Save the results", "ansible.builtin.copy": {
            "content": "{{ [" + ", ".join("r{0}".format(number) for number in range(len(tasks))) + "] | to_json }}",
            "dest": str(results)}, "check_mode": False}]}]
    results.unlink(missing_ok=True)
    playbook = tmp_path / (name + ".yml")
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    options = ["-i", "localhost,", "-c", "local"] + (["--check"] if check else []) + (["-vvv"] if verbose else [])
    process = ansible_playbook(str(playbook), options, cwd=str(tmp_path), timeout=240)
    assert results.exists(), process.stdout[-5000:] + process.stderr[-2000:]
    return process, json.loads(results.read_text())


def tenant_tasks(guests, purge=False):
    """What the shared services playbook does for tenant acme: its forward zone and its reverse zone from
    {name: address in 10.128.17.0/24}; plus a TXT record through dns_record (which a purge of the zone removes)."""
    forward = [dict(name=guest, type="A", values=[address], ttl=300) for guest, address in sorted(guests.items())]
    reverse = [dict(name=address.rsplit(".", 1)[1], type="PTR", values=["{0}.{1}".format(guest, ZONE)], ttl=300)
               for guest, address in sorted(guests.items())]
    return [
        ("dns_zone", dict(name=ZONE, records=forward, purge=purge)),
        ("dns_zone", dict(name=REVERSE, records=reverse, purge=purge)),
        ("dns_record", dict(zone=ZONE, name="_owner", type="TXT", values=["tenant=acme"])),
    ]


@pytest.mark.timeout(600)
def test_bind_zones_converge_by_dynamic_update_check_mode_first_and_purge(bind, tmp_path):
    connection = dict(provider="rfc2136", server="127.0.0.1", port=bind.port, tsig_key_file=str(bind.key_file))
    tasks = tenant_tasks({"web1": "10.128.17.10", "gw": "10.128.17.2"})

    process, planned = run_dns_tasks(tmp_path, connection, tasks, check=True, name="check")
    assert process.returncode == 0, process.stdout[-5000:]
    assert bind.records(ZONE) == [] and bind.records(REVERSE) == [], "check mode wrote"
    assert all(result["changed"] for result in planned), planned

    process, done = run_dns_tasks(tmp_path, connection, tasks, verbose=True, name="converge")
    assert process.returncode == 0, process.stdout[-5000:]
    for plan, result in zip(planned, done):
        assert not result.get("failed"), result
        assert result["changed"] and result["diff"] == plan["diff"] and result["writes"] == plan["writes"]
    # one UPDATE per zone
    assert [len(result["writes"]) for result in done] == [1, 1, 1]
    assert done[0]["records"] == ["gw 300 A 10.128.17.2", "web1 300 A 10.128.17.10"]
    assert done[0]["diff"] == {"before": {"records": []}, "after": {"records": done[0]["records"]}}
    assert bind.records(ZONE) == [("_owner", "TXT", '"tenant=acme"'), ("gw", "A", "10.128.17.2"), ("web1", "A", "10.128.17.10")]
    assert bind.resolve("web1." + ZONE, "A") == ["10.128.17.10"]
    assert bind.resolve("10." + REVERSE, "PTR") == ["web1.acme.lab.internal."]
    # the key file's secret is in no output, even at -vvv, nor in any result
    for text in (process.stdout, process.stderr, json.dumps(done)):
        assert bind.secret not in text

    process, again = run_dns_tasks(tmp_path, connection, tasks, name="again")
    assert process.returncode == 0, process.stdout[-5000:]
    assert [(result["changed"], result["writes"]) for result in again] == [(False, [])] * 3

    # gw is gone from the plan: purge removes its A and PTR; the TXT record set by dns_record goes too (not declared)
    smaller = tenant_tasks({"web1": "10.128.17.10"}, purge=True)[:2]
    process, purged = run_dns_tasks(tmp_path, connection, smaller, name="purge")
    assert process.returncode == 0, process.stdout[-5000:]
    assert purged[0]["records_removed"] == ['_owner 3600 TXT "tenant=acme"', "gw 300 A 10.128.17.2"]
    assert purged[1]["records_removed"] == ["2 300 PTR gw.acme.lab.internal."]
    assert bind.records(ZONE) == [("web1", "A", "10.128.17.10")]
    assert bind.resolve("gw." + ZONE, "A") == [] and bind.resolve("2." + REVERSE, "PTR") == []


@pytest.mark.timeout(300)
def test_bind_refuses_a_wrong_secret_an_unknown_zone_and_names_outside_the_zone(bind, tmp_path):
    wrong = "c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1rZXktb2YtdGhpcy1zZXJ2ZXI="
    connection = dict(provider="rfc2136", server="127.0.0.1", port=bind.port, tsig_key_name=KEY_NAME, tsig_secret=wrong)
    tasks = [
        ("dns_record", dict(zone=ZONE, name="web1", type="A", values=["10.128.17.10"])),
        ("dns_record", dict(zone=ZONE, name="web1.globex.lab.internal", type="A", values=["10.128.33.10"])),
    ]
    process, results = run_dns_tasks(tmp_path, connection, tasks, verbose=True, name="wrong")
    assert results[0]["failed"]
    assert "refused the signature of TSIG key 'homecloud-update' (BADSIG)" in results[0]["msg"], results[0]["msg"]
    # the name outside the zone is refused before any request (the wrong key is never used)
    assert results[1]["failed"] and results[1]["msg"].startswith("name 'web1.globex.lab.internal' is not inside zone acme.lab.internal")
    for text in (process.stdout, process.stderr, json.dumps(results)):
        assert wrong not in text

    connection = dict(provider="rfc2136", server="127.0.0.1", port=bind.port, tsig_key_file=str(bind.key_file))
    process, results = run_dns_tasks(tmp_path, connection, [
        ("dns_zone", dict(name="globex.lab.internal", records=[dict(name="app1", type="A", values=["10.128.33.10"])])),
        ("dns_zone", dict(name=ZONE, state="absent")),
    ], name="refusals")
    assert results[0]["failed"] and "zone globex.lab.internal does not exist on the DNS server 127.0.0.1" in results[0]["msg"]
    assert results[1]["failed"] and "provider=rfc2136 cannot delete zone acme.lab.internal" in results[1]["msg"]
    assert bind.records(ZONE) == []


@pytest.fixture(scope="module")
def technitium_module_sim():
    with TechnitiumSimulator(port=0, dns_port=0) as simulator:
        yield simulator


@pytest.fixture
def technitium(technitium_module_sim):  # pylint: disable=redefined-outer-name
    """The module's simulator in its initial state."""
    technitium_module_sim.reset()
    return technitium_module_sim


def technitium_writes(sim):
    return [(entry["path"], entry["params"].get("domain") or entry["params"].get("zone")) for entry in sim.requests()
            if entry["path"] in TECHNITIUM_WRITES]


def answers(sim, name, rtype):
    return sorted(rdata.to_text() for rrset in dns_query(sim, name, rtype).answer for rdata in rrset)


@pytest.mark.timeout(600)
def test_technitium_zones_and_records_converge_check_mode_first_and_resolve(technitium, tmp_path):
    connection = dict(provider="technitium", api_url=technitium.url, api_token=DEMO_TOKEN)
    tasks = tenant_tasks({"web1": "10.128.17.10", "gw": "10.128.17.2"})

    process, planned = run_dns_tasks(tmp_path, connection, tasks, check=True, name="check")
    assert process.returncode == 0, process.stdout[-5000:]
    assert technitium_writes(technitium) == [], "check mode wrote"
    # the zones do not exist yet: check mode plans their creation, and dns_record warns that its zone is missing
    assert planned[0]["changed"] and planned[0]["created"] and planned[1]["created"]
    assert "zone acme.lab.internal does not exist on the Technitium server" in planned[2]["warnings"][0]

    process, done = run_dns_tasks(tmp_path, connection, tasks, verbose=True, name="converge")
    assert process.returncode == 0, process.stdout[-5000:]
    for plan, result in zip(planned, done):
        assert not result.get("failed"), result
        assert result["changed"] and result["diff"] == plan["diff"] and result["writes"] == plan["writes"]
    assert done[0]["writes"] == [
        "POST /api/zones/create type=Primary zone=acme.lab.internal",
        "POST /api/zones/records/add domain=gw.acme.lab.internal ipAddress=10.128.17.2 overwrite=true ttl=300 type=A "
        "zone=acme.lab.internal",
        "POST /api/zones/records/add domain=web1.acme.lab.internal ipAddress=10.128.17.10 overwrite=true ttl=300 type=A "
        "zone=acme.lab.internal"]
    assert done[2]["record"] == dict(zone=ZONE, name="_owner." + ZONE, type="TXT", ttl=3600, values=["tenant=acme"])
    assert len(technitium_writes(technitium)) == 3 + 3 + 1
    assert answers(technitium, "web1." + ZONE, "A") == ["10.128.17.10"]
    assert answers(technitium, "10." + REVERSE, "PTR") == ["web1.acme.lab.internal."]
    assert answers(technitium, "_owner." + ZONE, "TXT") == ['"tenant=acme"']
    # the token is in no output, result or request log entry
    for text in (process.stdout, process.stderr, json.dumps(done), json.dumps(technitium.requests())):
        assert DEMO_TOKEN not in text

    # a second run writes nothing; check mode of a changed plan shows the diff the real run then makes
    count = len(technitium_writes(technitium))
    process, again = run_dns_tasks(tmp_path, connection, tasks, name="again")
    assert process.returncode == 0, process.stdout[-5000:]
    assert [(result["changed"], result["writes"]) for result in again] == [(False, [])] * 3
    assert len(technitium_writes(technitium)) == count

    smaller = tenant_tasks({"web1": "10.128.17.10"}, purge=True)[:2]
    process, planned = run_dns_tasks(tmp_path, connection, smaller, check=True, name="purge-check")
    assert process.returncode == 0 and len(technitium_writes(technitium)) == count
    process, purged = run_dns_tasks(tmp_path, connection, smaller, name="purge")
    assert process.returncode == 0, process.stdout[-5000:]
    assert purged[0]["diff"] == planned[0]["diff"]
    assert purged[0]["records_removed"] == ['_owner 3600 TXT "tenant=acme"', "gw 300 A 10.128.17.2"]
    # Technitium's DeleteRecord also deletes the PTR that points back at a deleted A record
    # (DnsServerCore/WebServiceZonesApi.cs): the reverse zone's purge, planned in check mode, found it gone
    assert planned[1]["records_removed"] == ["2 300 PTR gw.acme.lab.internal."] and purged[1]["writes"] == []
    assert answers(technitium, "gw." + ZONE, "A") == [] and answers(technitium, "2." + REVERSE, "PTR") == []
    assert answers(technitium, "web1." + ZONE, "A") == ["10.128.17.10"]


@pytest.mark.timeout(300)
def test_technitium_errors_at_http_200_and_a_wrong_token_fail_with_the_server_message(technitium, tmp_path):
    canary = "canary-token-4f1d9a7c"
    tasks = [("dns_zone", dict(name=ZONE)), ("dns_zone", dict(name="globex.lab.internal", state="absent"))]
    process, results = run_dns_tasks(tmp_path, dict(provider="technitium", api_url=technitium.url, api_token=canary), tasks,
                                     verbose=True, name="wrong-token")
    assert results[0]["failed"] and "the API token was refused (invalid-token)" in results[0]["msg"]
    for text in (process.stdout, process.stderr, json.dumps(results), json.dumps(technitium.requests())):
        assert canary not in text

    connection = dict(provider="technitium", api_url=technitium.url, api_token=DEMO_TOKEN)
    process, results = run_dns_tasks(tmp_path, connection, [
        ("dns_zone", dict(name=ZONE)),
        ("dns_record", dict(zone=ZONE, name="www", type="CNAME", values=["web1.acme.lab.internal"])),
        ("dns_record", dict(zone=ZONE, name="www", type="A", values=["10.128.17.10"])),
        ("dns_record", dict(zone=ZONE, name="bad", type="A", values=["10.128.17.300"])),
        ("dns_zone", dict(name=ZONE, state="absent")),
    ], name="errors")
    assert results[0]["changed"] and results[1]["changed"]
    assert results[2]["failed"] and "a CNAME cannot share its name with other records" in results[2]["msg"]
    assert results[3]["failed"] and results[3]["msg"].startswith("values[0] '10.128.17.300': not an IPv4 address")
    assert results[4]["changed"] and results[4]["records_removed"] == ["www 3600 CNAME web1.acme.lab.internal."]
    assert [path for path, _name in technitium_writes(technitium)] == [
        "/api/zones/create", "/api/zones/records/add", "/api/zones/delete"]


@pytest.mark.timeout(120)
def test_an_update_planned_on_a_zone_that_changed_since_the_read_is_refused_whole(bind):
    provider = Rfc2136Provider(dict(server="127.0.0.1", port=bind.port, timeout=5, tsig_key_file=str(bind.key_file)))
    current = provider.read(ZONE)
    changes = rrset_changes(current, [RRset("web1", "A", 300, ["10.128.17.10"]), RRset("db1", "A", 300, ["10.128.18.11"])])
    # someone else writes web1 between the read and the update
    other = dns.update.UpdateMessage(ZONE + ".")
    other.add("web1", 60, "A", "10.128.17.99")
    other.use_tsig(bind.key)
    assert dns.query.tcp(other, "127.0.0.1", port=bind.port, timeout=5).rcode() == dns.rcode.NOERROR
    with pytest.raises(DnsError, match="refused by its prerequisites \\(YXRRSET\\): the zone changed since it was read"):
        provider.update(ZONE, changes)
    assert bind.records(ZONE) == [("web1", "A", "10.128.17.99")], "part of the refused update was made"
    # read again, the same plan goes through
    provider.update(ZONE, rrset_changes(provider.read(ZONE), [RRset("web1", "A", 300, ["10.128.17.10"])]))
    assert bind.records(ZONE) == [("web1", "A", "10.128.17.10")]
