# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Least privilege, proven: the demo runs as the HomecloudAutomation token of playbooks/access.yml,
and without any one privilege of that role it stops at a named step with a 403 naming it.

The simulator enforces each method's `permissions` from PVE's schema and the checks PVE's handlers
make themselves (pvesim/permissions.py), with PVE's 403 texts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import stat

import pytest
import yaml

from pbssim.simulator import PbsSimulator
from pvesim import Simulator
from pvesim.testing import ApiSession

from .playbook import REPO, run_repo_playbook, serve_demo_image

# The demo after the bootstrap, in make demo's order; the guest playbooks come last.
NETWORK_DEMO = ("playbooks/cluster_info.yml", "playbooks/tenant_network.yml", "playbooks/tenant_access.yml",
                "playbooks/firewall.yml")
GUEST_DEMO = ("playbooks/guest_templates.yml", "playbooks/tenant_guests.yml")
PROTECTION_DEMO = ("playbooks/data_protection.yml",)
DEMO = NETWORK_DEMO + GUEST_DEMO + PROTECTION_DEMO
# make demo's last playbooks (tenant_gateway.yml, shared_services.yml, transit.yml) need no privilege the guest
# playbooks do not (their VMs are guests, their other writes go to Cloudflare and the DNS server); they need the
# Cloudflare and Technitium simulators, so `make twin` runs them, the whole demo as the automation token.
with open(os.path.join(REPO, "playbooks", "vars", "automation_role.yml")) as _handle:
    ROLE = yaml.safe_load(_handle)
PRIVILEGES = ROLE["homecloud_automation_privileges"]
BY_MAJOR = ROLE["homecloud_automation_privileges_by_major"]
# Where the demo stops without each privilege of the role: the first playbook that needs it (the earlier ones pass
# without it). Each case starts from the state the demo leaves just before that playbook.
STOPS_AT = {
    "playbooks/cluster_info.yml": ["Sys.Audit"],
    "playbooks/tenant_network.yml": ["SDN.Allocate"],
    "playbooks/tenant_access.yml": ["Pool.Allocate", "Group.Allocate", "User.Modify", "Realm.AllocateUser", "Permissions.Modify"],
    "playbooks/firewall.yml": ["Sys.Modify"],
    "playbooks/guest_templates.yml": ["Datastore.AllocateTemplate", "Datastore.AllocateSpace", "VM.Allocate", "VM.Config.Disk",
                                      "VM.Config.CPU", "VM.Config.Memory", "VM.Config.HWType", "VM.Config.Options"],
    "playbooks/tenant_guests.yml": ["VM.Clone", "VM.Audit", "VM.Config.Network", "VM.PowerMgmt", "SDN.Use", "VM.GuestAgent.Audit"],
    "playbooks/data_protection.yml": ["Datastore.Allocate", "VM.Backup", "Sys.Console", "VM.Replicate"],
}
with open(os.path.join(REPO, "inventories", "demo", "group_vars", "all", "proxmox_api.yml")) as _handle:
    ROLE_OWNER = yaml.safe_load(_handle)["homecloud_automation"]


def bootstrap(sim, tmp_path, privileges=None):
    """Run playbooks/access.yml as root (optionally with another privilege list); return the new identity."""
    token_file = tmp_path / "automation-token"
    options = ["-e", "homecloud_automation_token_file=" + str(token_file)]
    if privileges is not None:  # the whole list, the release's own privilege included
        options += ["-e", json.dumps({"homecloud_automation_privileges": privileges,
                                      "homecloud_automation_privileges_by_major": {}})]
    process = run_repo_playbook(sim, "playbooks/access.yml", options=options)
    assert process.returncode == 0, process.stdout[-4000:]
    assert stat.S_IMODE(os.stat(str(token_file)).st_mode) == 0o600
    user, rest = token_file.read_text().strip().split("!", 1)
    token_id, secret = rest.split("=", 1)
    return process, (user, token_id, secret)


# Seconds a simulated task runs in the simulators that make the stage states (as tests/conftest.py's fixtures)
TASK_SECONDS = 0.05


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory, made_once):
    """The simulator state right after playbooks/access.yml (run as root, every privilege of the role), and the
    automation identity it made. Each case loads a state and only takes one privilege out of the role.
    The stage states are made once per test run, whichever worker's cases need them first."""
    def make():
        simulator = Simulator(pve_version="9.1", task_duration=TASK_SECONDS)
        simulator.start()
        try:
            _process, identity = bootstrap(simulator, tmp_path_factory.mktemp("bootstrap"))
            return simulator.dump_state(), identity
        finally:
            simulator.stop()
    return made_once("least-privilege-bootstrapped", make)


def run_stages(state, playbooks):
    """The state after running `playbooks` as root from `state` (with the demo's image served)."""
    simulator = Simulator(pve_version="9.1", task_duration=TASK_SECONDS)
    simulator.start()
    try:
        simulator.state.load(state)
        serve_demo_image(simulator)
        for playbook in playbooks:
            process = run_repo_playbook(simulator, playbook)
            assert process.returncode == 0, (playbook, process.stdout[-4000:])
        return simulator.dump_state()
    finally:
        simulator.stop()


@pytest.fixture(scope="module")
def state_before(bootstrapped, made_once):  # pylint: disable=redefined-outer-name
    """state_before(playbook): the state the demo (run as root after the bootstrap) leaves just before `playbook`.
    Each stage is made once per test run from the one before it (made_once), and kept per worker."""
    states = {}

    def before(playbook):
        if playbook not in states:
            index = DEMO.index(playbook)
            if index == 0:
                states[playbook] = bootstrapped[0]
            else:
                previous = DEMO[index - 1]
                states[playbook] = made_once("least-privilege-before-" + os.path.basename(playbook),
                                             lambda: run_stages(before(previous), [previous]))
        return states[playbook]
    return before


@pytest.fixture
def pbs():
    """A backup server for data_protection.yml (scripts/demo.sh starts one too)."""
    server = PbsSimulator(task_duration=TASK_SECONDS)
    server.start()
    yield server
    server.stop()


def failed_step(process):
    """(task name, message) of the task that failed in an ansible-playbook run."""
    task = None
    for line in process.stdout.splitlines():
        found = re.match(r"^TASK \[(.*)\]", line)
        if found:
            task = found.group(1)
        if line.startswith(("fatal:", "failed:")):
            found = re.search(r'"msg": "((?:[^"\\]|\\.)*)"', line)
            return task, found.group(1) if found else line
    return None, None


@pytest.fixture(scope="module")
def pve84_before_guests(tmp_path_factory, made_once):
    """On PVE 8.4: the bootstrap (every privilege of the role), then the demo as the automation token up to
    tenant_guests.yml. The state it leaves, the identity and the 403 answers on the way; made once per test run."""
    def make():
        simulator = Simulator(pve_version="8.4", task_duration=TASK_SECONDS)
        simulator.start()
        try:
            serve_demo_image(simulator)
            _process, identity = bootstrap(simulator, tmp_path_factory.mktemp("bootstrap84"))
            for playbook in NETWORK_DEMO + GUEST_DEMO[:1]:
                process = run_repo_playbook(simulator, playbook, identity=identity)
                assert process.returncode == 0, (playbook, process.stdout[-4000:])
            denied = [entry for entry in simulator.requests() if entry["status"] == 403]
            return simulator.dump_state(), identity, denied
        finally:
            simulator.stop()
    return made_once("least-privilege-pve84-before-tenant-guests", make)


@pytest.mark.timeout(300)
def test_the_demo_runs_as_the_automation_token_on_pve_8_4(sim_factory, pbs, pve84_before_guests):  # pylint: disable=redefined-outer-name
    state, identity, denied = pve84_before_guests
    assert denied == [], denied  # up to tenant_guests.yml
    sim = sim_factory(version="8.4")
    sim.state.load(state)
    serve_demo_image(sim)
    for playbook in DEMO[DEMO.index(GUEST_DEMO[1]):]:
        process = run_repo_playbook(sim, playbook, identity=identity, pbs=pbs)
        assert process.returncode == 0, (playbook, process.stdout[-4000:])
    denied = [entry for entry in sim.requests() if entry["status"] == 403]
    assert denied == [], denied


@pytest.mark.timeout(300)
def test_on_pve_8_4_the_guest_agent_needs_vm_monitor(sim_factory, pve84_before_guests):  # pylint: disable=redefined-outer-name
    """PVE 8 names the agent's privilege VM.Monitor (9 has VM.GuestAgent.Audit): without it the guests
    are made, and the address check stops with the 403. Only tenant_guests.yml's agent calls ask for VM.Monitor:
    the case starts from the state the playbooks before it leave."""
    state, identity, _denied = pve84_before_guests
    sim = sim_factory(version="8.4")
    sim.state.load(state)
    serve_demo_image(sim)
    # the role as access.yml makes it from the release-independent list alone (no VM.Monitor)
    answer = ApiSession(sim).api("PUT", "/access/roles/" + ROLE["homecloud_automation_role"], data={"privs": ",".join(PRIVILEGES)})
    assert answer.status_code == 200, answer.text
    process = run_repo_playbook(sim, GUEST_DEMO[1], identity=identity)
    task, message = failed_step(process)
    assert re.search(r"HTTP 403 .*Permission check failed \(/vms/\d+, VM.Monitor\)", message or ""), (task, message)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("privilege", PRIVILEGES + BY_MAJOR["9"])
def test_without_any_one_privilege_the_demo_stops_with_a_403_naming_it(sim, privilege, pbs, bootstrapped, state_before):  # pylint: disable=redefined-outer-name
    identity = bootstrapped[1]
    stops_at = [playbook for playbook, needing in STOPS_AT.items() if privilege in needing]
    assert len(stops_at) == 1, "%s: list it once in STOPS_AT, under the first playbook of the demo that needs it" % privilege
    # the playbooks before that one pass without the privilege: start from the state they leave
    sim.state.load(state_before(stops_at[0]))
    serve_demo_image(sim)
    # the role access.yml made, without this one privilege (as access.yml would make it from that list)
    session = ApiSession(sim)
    answer = session.api("PUT", "/access/roles/" + ROLE["homecloud_automation_role"],
                         data={"privs": ",".join(item for item in PRIVILEGES + BY_MAJOR["9"] if item != privilege)})
    assert answer.status_code == 200, answer.text
    for playbook in DEMO[DEMO.index(stops_at[0]):]:
        process = run_repo_playbook(sim, playbook, identity=identity, pbs=pbs)
        if process.returncode != 0:
            task, message = failed_step(process)
            # a 403 naming the path and the privilege; or, for an ACL grant, PVE's own refusal
            # (pve-access-control ACL.pm update_acl: without Permissions.Modify a role may only be
            # granted if the granter holds all its privileges), a 400 inside the 500 naming it
            # (PVE names alternatives joined by '|': either privilege would do, the role holds only this one)
            assert re.search(r"HTTP 403 .*Permission check failed \(/[^,)]*, ([\w.]+\|)*%s(\|[\w.]+)*\)" % re.escape(privilege),
                             message or "") or (
                privilege == "Permissions.Modify" and re.search(r"PUT /access/acl failed: .*Cannot add role '\w+' - requires "
                                                                r"'Permissions.Modify' or superset of privileges", message or "")) or (
                # qemu-server API2/Qemu.pm create_vm: VM.Allocate on /vms/<vmid> or on the pool, else a bare raise_perm_exc()
                privilege == "VM.Allocate" and re.search(r"POST /nodes/\w+/qemu failed: HTTP 403 Permission check failed$",
                                                         message or "")), \
                (playbook, task, message, process.stdout[-3000:])
            assert playbook == stops_at[0], "without %s the demo stops at %s, not at %s (STOPS_AT)" % (privilege, playbook, stops_at[0])
            denied = [entry for entry in sim.requests() if entry["status"] == 403]
            assert all(entry["token"] == "homecloud@pve!automation" for entry in denied), denied
            print("without %s: %s stops at task %r: %s" % (privilege, playbook, task, message))
            return
    pytest.fail("the demo passed without %s: the role holds a privilege it does not need" % privilege)


def test_the_readme_explains_every_privilege_of_the_role():
    with open(os.path.join(REPO, "README.md")) as handle:
        readme = handle.read()
    section = readme.split("## Least privilege", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([A-Za-z.]+)` \|", section, flags=re.M)
    assert listed == PRIVILEGES + [privilege for major in sorted(BY_MAJOR) for privilege in BY_MAJOR[major]]
