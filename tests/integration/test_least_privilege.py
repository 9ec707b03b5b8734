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
import subprocess

import pytest
import yaml

from .playbook import REPO, run_repo_playbook

# The demo after the bootstrap, in make demo's order.
DEMO = ("playbooks/cluster_info.yml", "playbooks/tenant_network.yml", "playbooks/tenant_access.yml", "playbooks/firewall.yml")
with open(os.path.join(REPO, "playbooks", "vars", "automation_role.yml")) as _handle:
    ROLE = yaml.safe_load(_handle)
PRIVILEGES = ROLE["homecloud_automation_privileges"]


def bootstrap(sim, tmp_path, privileges=None):
    """Run playbooks/access.yml as root (optionally with another privilege list); return the new identity."""
    token_file = tmp_path / "automation-token"
    options = ["-e", "homecloud_automation_token_file=" + str(token_file)]
    if privileges is not None:
        options += ["-e", json.dumps({"homecloud_automation_privileges": privileges})]
    process = run_repo_playbook(sim, "playbooks/access.yml", options=options)
    assert process.returncode == 0, process.stdout[-4000:]
    assert stat.S_IMODE(os.stat(str(token_file)).st_mode) == 0o600
    user, rest = token_file.read_text().strip().split("!", 1)
    token_id, secret = rest.split("=", 1)
    return process, (user, token_id, secret)


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


@pytest.mark.timeout(900)
def test_make_demo_passes_as_the_automation_token_and_shows_its_secret_once():
    """scripts/demo.sh, as `make demo` runs it: PVE 9.1, every playbook twice, the second run changing nothing."""
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith(("PROXMOX_", "ANSIBLE_", "DEMO_")))
    process = subprocess.run(["bash", os.path.join(REPO, "scripts", "demo.sh")], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=1200, check=False)
    assert process.returncode == 0, process.stdout[-6000:] + process.stderr[-3000:]
    assert "demo: done; the second run changed nothing" in process.stdout
    runs = re.findall(r"^demo: run \d: ansible-playbook -i \S+ (\S+) \(as (\S+)\)$", process.stdout, flags=re.M)
    assert runs == [(playbook, "root@pam!homecloud" if playbook == "playbooks/access.yml" else "homecloud@pve!automation")
                    for playbook in ("playbooks/access.yml",) + DEMO] * 2
    secret = re.search(r"this is the only time its secret is shown:\",\s+\"([0-9a-f-]{36})\"", process.stdout)
    assert secret and process.stdout.count(secret.group(1)) == 1


@pytest.mark.timeout(300)
def test_the_demo_runs_as_the_automation_token_on_pve_8_4(sim_factory, tmp_path):
    sim = sim_factory(version="8.4")
    _process, identity = bootstrap(sim, tmp_path)
    for playbook in DEMO:
        process = run_repo_playbook(sim, playbook, identity=identity)
        assert process.returncode == 0, (playbook, process.stdout[-4000:])
    denied = [entry for entry in sim.requests() if entry["status"] == 403]
    assert denied == [], denied


@pytest.mark.timeout(300)
@pytest.mark.parametrize("privilege", PRIVILEGES)
def test_without_any_one_privilege_the_demo_stops_with_a_403_naming_it(sim, tmp_path, privilege):
    _process, identity = bootstrap(sim, tmp_path, privileges=[item for item in PRIVILEGES if item != privilege])
    for playbook in DEMO:
        process = run_repo_playbook(sim, playbook, identity=identity)
        if process.returncode != 0:
            task, message = failed_step(process)
            # a 403 naming the path and the privilege; or, for an ACL grant, PVE's own refusal
            # (pve-access-control ACL.pm update_acl: without Permissions.Modify a role may only be
            # granted if the granter holds all its privileges), a 400 inside the 500 naming it
            assert re.search(r"HTTP 403 .*Permission check failed \(/[^,)]*, %s\)" % re.escape(privilege), message or "") or (
                privilege == "Permissions.Modify" and re.search(r"PUT /access/acl failed: .*Cannot add role '\w+' - requires "
                                                                r"'Permissions.Modify' or superset of privileges", message or "")), \
                (playbook, task, message, process.stdout[-3000:])
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
    assert listed == PRIVILEGES
