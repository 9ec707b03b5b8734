# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fault matrix: a lost answer on every kind of SDN write, on PVE 8.4 and 9.1.

Each of 502, 504 and a connection reset is injected once on one write kind (create, update,
delete, lock, apply, release), either before PVE ran the request or after (the work done,
the answer lost: the case a client cannot tell apart). The run must end converged, or fail
naming what is uncertain and converge on the next run with no manual step; and never leave a
duplicate write, a stale lock or a second apply behind.

The engine runs in-process here (the modules are a thin layer over it, exercised through
ansible-playbook in test_tenant_network.py), so the 66 cases take seconds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxClient
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn import (
    Change,
    ChangeSet,
    SdnError,
    SdnReader,
    converge,
    read_everything,
    subnet_id,
    subnet_name,
)

from .playbook import sim_token

FAULTS = {
    "502": dict(action="status", status=502, message="Bad Gateway\n"),
    "504": dict(action="status", status=504, message="Gateway Timeout\n"),
    "reset": dict(action="reset"),
}
# (method, path regex) of each write kind, in the run that makes it (see scenario()).
WRITE_KINDS = {
    "create": ("POST", r"^/cluster/sdn/vnets$"),
    "update": ("PUT", r"^/cluster/sdn/zones/acme$"),
    "delete": ("DELETE", r"^/cluster/sdn/vnets/acme02$"),
    "lock": ("POST", r"^/cluster/sdn/lock$"),
    "apply": ("PUT", r"^/cluster/sdn$"),
    "release": ("DELETE", r"^/cluster/sdn/lock$"),
}


def client_for(sim):
    user, token_id, secret = sim_token(sim)
    return ProxmoxClient(host="127.0.0.1", port=sim.port, user=user, token_id=token_id, token_secret=secret,
                         ca_path=sim.cert_path, backoff=0.001, sleep=lambda seconds: None)


def acme(vnets=2, mtu=1450):
    return dict(zone="acme", options=dict(type="evpn", controller="evpnctl", vrf_vxlan=10001, mtu=mtu),
                vnets=[("acme{0:02d}".format(number), 100100 + number, "10.129.{0}.0/24".format(number))
                       for number in range(1, vnets + 1)])


def changes_for(client, zone):
    """What tenant_network plans for one zone with purge=true."""
    reader = SdnReader(client)
    changes = ChangeSet(reader)
    changes.present("controller", "evpnctl", dict(type="evpn", asn=65000, peers=["10.255.0.1", "10.255.0.2"]))
    changes.present("zone", zone["zone"], zone["options"])
    declared = set()
    for vnet, tag, cidr in zone["vnets"]:
        declared.add(vnet)
        is_new = reader.find("vnet", vnet) is None
        changes.present("vnet", vnet, dict(zone=zone["zone"], tag=tag))
        changes.present("subnet", subnet_id(zone["zone"], cidr), dict(gateway=cidr.replace(".0/24", ".1")),
                        parent=vnet, name=subnet_name(vnet, cidr), known_absent=is_new)
    for found in list(reader.objects("vnet").values()):
        if found.exists and found.options.get("zone") == zone["zone"] and found.id not in declared:
            for subnet in reader.objects("subnet", parent=found.id).values():
                changes.absent("subnet", subnet.id, parent=found.id)
            changes.absent("vnet", found.id)
    return changes


def run(sim, zone, no_release=False):
    """One run (apply=true); returns the outcome or the SdnError."""
    client = client_for(sim)
    changes = changes_for(client, zone)
    try:
        return converge(client, changes, apply=not no_release, apply_timeout=30)
    except SdnError as error:
        return error


def scenario(kind):
    """(setup zone or None, the zone of the run that makes the write kind, whether it applies)."""
    if kind in ("create", "lock", "apply"):
        return None, acme(), True
    if kind == "update":
        return acme(), acme(mtu=1400), True
    if kind == "delete":
        return acme(), acme(vnets=1), True
    return None, acme(), False  # release: a run that writes without applying hands the lock back itself


def lock_held(sim):
    return bool(sim.dump_state()["namespaces"]["sdn"].get("lock"))


def handled_writes(sim, method, path_pattern):
    """Requests that PVE really carried out (answered 200, or 200 before an `after` fault replaced it)."""
    import re  # pylint: disable=import-outside-toplevel
    return [entry for entry in sim.requests() if entry["method"] == method and re.search(path_pattern, entry["path"])
            and (entry["status"] == 200 or entry.get("handled_status") == 200)]


def converged(sim, zone):
    """The running config (after an apply) holds exactly the zone as declared, and nothing is pending."""
    client = client_for(sim)
    assert read_everything(SdnReader(client)) == [], "pending changes left behind"
    running = dict((vnet["vnet"], vnet) for vnet in client.get("/cluster/sdn/vnets", running=1))
    assert sorted(running) == sorted(vnet for vnet, _tag, _cidr in zone["vnets"])
    zones = dict((found["zone"], found) for found in client.get("/cluster/sdn/zones", running=1))
    assert int(zones["acme"]["mtu"]) == zone["options"]["mtu"]


CASES = [(version, kind, fault, phase) for version in ("8.4", "9.1") for kind in WRITE_KINDS
         for fault in FAULTS for phase in ("before", "after") if not (version == "8.4" and kind in ("lock", "release"))]


@pytest.mark.parametrize("version, kind, fault, phase", CASES, ids=["-".join(case) for case in CASES])
def test_a_lost_answer_on_any_write_leaves_no_duplicate_no_stale_lock_no_second_apply(request, version, kind, fault, phase):
    sim = request.getfixturevalue("sim84" if version == "8.4" else "sim")
    setup, zone, applies = scenario(kind)
    if setup is not None:
        assert not isinstance(run(sim, setup), SdnError)
    applies_before = sim.counters()["sdn_applies"]
    method, path = WRITE_KINDS[kind]
    sim.inject_fault(method=method, path=path, phase=phase, count=1, **FAULTS[fault])

    outcome = run(sim, zone, no_release=not applies)

    assert sim.faults()[0]["fired"] == 1, "the fault did not hit the write kind under test"
    if isinstance(outcome, SdnError):
        # not converged in this run: the message names what is uncertain, and the next run converges by itself
        assert "outcome is unknown" in str(outcome) or "lost" in str(outcome), str(outcome)
        assert not isinstance(run(sim, zone), SdnError)
    assert not lock_held(sim), "a stale SDN lock was left behind"
    if applies:
        converged(sim, zone)
        assert sim.counters()["sdn_applies"] - applies_before == 1, "the apply was sent twice (or never)"
    creates = handled_writes(sim, "POST", r"^/cluster/sdn/vnets$")
    assert sorted(entry["params"]["vnet"] for entry in creates) == sorted(set(entry["params"]["vnet"] for entry in creates)), \
        "a VNet was created twice"


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_lost_lock_answer_converges_in_the_same_run(sim, fault):
    """The lock was free one request earlier, so a lock held after a lost answer is the run's own."""
    sim.inject_fault(method="POST", path=WRITE_KINDS["lock"][1], phase="after", **FAULTS[fault])
    outcome = run(sim, acme())
    assert not isinstance(outcome, SdnError), str(outcome)
    assert outcome.applied and not lock_held(sim)
    converged(sim, acme())


def test_a_lost_apply_answer_is_confirmed_not_resent(sim):
    sim.inject_fault(method="PUT", path=WRITE_KINDS["apply"][1], phase="after", **FAULTS["504"])
    outcome = run(sim, acme())
    assert not isinstance(outcome, SdnError), str(outcome)
    assert sim.counters()["sdn_applies"] == 1 and outcome.apply_task.startswith("UPID:")
    assert len(handled_writes(sim, "PUT", r"^/cluster/sdn$")) == 1


def test_a_lock_held_by_someone_else_is_not_taken_over(sim, api_session):
    holder = api_session(sim, auth="ticket")
    token = holder.data("POST", "/cluster/sdn/lock")
    outcome = run(sim, acme())
    assert isinstance(outcome, SdnError) and "locked by another client" in str(outcome)
    assert sim.dump_state()["namespaces"]["sdn"]["lock"] == token
    assert sim.counters()["writes"] == 2  # the holder's lock and this run's probe; nothing else


def test_an_uncertain_write_that_cannot_be_confirmed_is_named_and_rolled_back(sim, monkeypatch):
    """When the re-read finds something else than what the run wrote (somebody else's object),
    the run stops naming the object whose write is uncertain; its lock lets it roll back."""
    sim.inject_fault(method="POST", path=WRITE_KINDS["create"][1], phase="after", **FAULTS["504"])
    monkeypatch.setattr(Change, "in_place", lambda self, found: None)
    outcome = run(sim, acme())
    assert isinstance(outcome, SdnError)
    assert str(outcome).startswith("create of vnet/acme01 failed: POST /cluster/sdn/vnets: the outcome is unknown (HTTP 504 "
                                   "Gateway Timeout); PVE may or may not have made this change; all pending SDN changes "
                                   "were rolled back")
    assert outcome.outcome.uncertain == ["vnet/acme01"] and outcome.failure["uncertain"] is True
    assert outcome.outcome.rolled_back == ["controller/evpnctl", "zone/acme", "vnet/acme01"]
    assert not lock_held(sim) and read_everything(SdnReader(client_for(sim))) == []


def test_a_write_whose_read_back_fails_too_is_reported_uncertain(sim):
    """The answer of a create is lost and so is the read that would confirm it: the run names both."""
    client = client_for(sim)
    changes = changes_for(client, acme())
    sim.inject_fault(method="POST", path=WRITE_KINDS["create"][1], phase="after", **FAULTS["504"])
    sim.inject_fault(method="GET", path=r"^/cluster/sdn/vnets$", status=500, message="cfs read error\n", count=1)
    with pytest.raises(SdnError) as caught:
        converge(client, changes, apply=True, apply_timeout=30)
    outcome = caught.value
    assert "the outcome is unknown (HTTP 504 Gateway Timeout; reading it back failed too: GET /cluster/sdn/vnets failed: " \
        "HTTP 500 cfs read error)" in str(outcome)
    assert outcome.outcome.uncertain == ["vnet/acme01"] and not lock_held(sim)
    assert not isinstance(run(sim, acme()), SdnError), "the next run converges by itself"
    converged(sim, acme())
