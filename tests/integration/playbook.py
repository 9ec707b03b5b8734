# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run real ansible-playbook processes against a running simulator."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import subprocess
import sys

import requests
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
TARGETS = os.path.join(REPO, "tests", "integration", "targets")
# scripts/demo.sh serves this stand-in under the demo inventory's image URL (the inventory names its sha256)
DEMO_STAND_IN_IMAGE = "pvesim demo stand-in for debian-12-genericcloud-amd64.qcow2\n"


def sim_vars(sim):
    """Extra vars that tell a play where the simulator is and how to log in."""
    token_user, token_id, token_secret = sim_token(sim)
    return dict(
        sim_host="127.0.0.1",
        sim_port=sim.port,
        sim_ca_path=sim.cert_path,
        sim_root_password=sim.root_password,
        sim_token_user=token_user,
        sim_token_id=token_id,
        sim_token_secret=token_secret,
        sim_release=sim.pve_version,
        sim_nodes=list(sim.nodes),
        sim_cluster_name=sim.cluster_name,
    )


def serve_demo_image(sim):
    """What scripts/demo.sh does: the simulator serves the stand-in image under the demo inventory's URL."""
    with open(os.path.join(REPO, "inventories", "demo", "group_vars", "all", "guests.yml")) as handle:
        url = yaml.safe_load(handle)["homecloud_guest_image"]["url"]
    answer = requests.post("https://127.0.0.1:%d/_sim/storage/images" % sim.port, json={"url": url, "content": DEMO_STAND_IN_IMAGE},
                           verify=sim.cert_path, timeout=10)
    answer.raise_for_status()


def sim_token(sim):
    """(user, token name, secret) of the simulator's first API token."""
    full_id, secret = next(iter(sim.tokens.items()))
    user, token_id = full_id.split("!", 1)
    return user, token_id, secret


def run_playbook(plays, tmp_path, extra_vars=None, check=False, timeout=300):
    """Write `plays` to a file and run ansible-playbook on it; returns CompletedProcess."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(extra_vars or {}))
    options = ["-i", "localhost,", "-c", "local", "-e", "@" + str(vars_file)] + (["--check"] if check else [])
    return ansible_playbook(str(playbook), options, cwd=str(tmp_path), timeout=timeout)


def run_repo_playbook(sim, playbook, inventory="inventories/demo", options=(), timeout=300, identity=None, pbs=None,
                      cloudflare=None, technitium=None):
    """Run one of the repository's playbooks with one of its inventories, pointed at the simulator
    through the PROXMOX_* variables, as `make demo` does; as the simulator's root token, or as
    `identity` = (user, token name, secret); with `pbs` (a running pbssim), at that backup server
    through the PBS_* variables, as its admin token; with `cloudflare` (a running cfsim), at that
    Cloudflare API through the CLOUDFLARE_* variables, as its first token; with `technitium` (a running
    technitiumsim), at that DNS server's API through the TECHNITIUM_* variables, as its first token."""
    user, token_id, token_secret = identity or sim_token(sim)
    env = dict(PROXMOX_HOST="127.0.0.1", PROXMOX_PORT=str(sim.port), PROXMOX_USER=user, PROXMOX_TOKEN_ID=token_id,
               PROXMOX_TOKEN_SECRET=token_secret, PROXMOX_CA_PATH=sim.cert_path)
    if pbs is not None:
        pbs_token_id, pbs_secret = next(iter(pbs.tokens.items()))
        env.update(PBS_HOST="127.0.0.1", PBS_PORT=str(pbs.port), PBS_TOKEN_ID=pbs_token_id, PBS_TOKEN_SECRET=pbs_secret,
                   PBS_FINGERPRINT=pbs.cert_fingerprint)
    if cloudflare is not None:
        env.update(CLOUDFLARE_API_TOKEN=next(iter(cloudflare.tokens)), CLOUDFLARE_ACCOUNT_ID=cloudflare.account_id,
                   CLOUDFLARE_API_URL=cloudflare.url + "/client/v4", CLOUDFLARE_CA_PATH=cloudflare.cert_path)
    if technitium is not None:
        env.update(TECHNITIUM_API_URL=technitium.url, TECHNITIUM_API_TOKEN=next(iter(technitium.tokens)))
    return ansible_playbook(os.path.join(REPO, playbook), ["-i", os.path.join(REPO, inventory)] + list(options),
                            cwd=REPO, timeout=timeout, env=env)


def ansible_playbook(playbook, options, cwd, timeout, env=None):
    """ansible-playbook from this Python's environment, with none of the caller's settings the modules fall back to
    (PROXMOX_, PBS_, CLOUDFLARE_, TECHNITIUM_, DNS_) nor ANSIBLE_ ones."""
    clean = dict((key, value) for key, value in os.environ.items()
                 if not key.startswith(("PROXMOX_", "PBS_", "CLOUDFLARE_", "TECHNITIUM_", "DNS_", "ANSIBLE_")))
    clean.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_ROLES_PATH=TARGETS,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    clean.update(env or {})
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), playbook] + list(options)
    return subprocess.run(command, env=clean, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


# Module options that log in to the simulator with its token (vars from sim_vars()).
CONNECTION = dict(api_host="{{ sim_host }}", api_port="{{ sim_port }}", api_token_id="{{ sim_token_id }}",
                  api_token_secret="{{ sim_token_secret }}", ca_path="{{ sim_ca_path }}")


def run_tasks(sim, tmp_path, tasks, check=False, extra_vars=None):
    """Run [(module, args)] in one play, each registered; returns (process, [result of each task])."""
    plays = [{"name": "modules under test", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Task {0}".format(number), "homecloud.proxmox." + module: dict(CONNECTION, **args),
         "register": "r{0}".format(number), "diff": True, "ignore_errors": True}
        for number, (module, args) in enumerate(tasks)] + [
        {"name": "Save the results", "ansible.builtin.copy": {
            "content": "{{ [" + ", ".join("r{0}".format(number) for number in range(len(tasks))) + "] | to_json }}",
            "dest": str(tmp_path / "results.json")}, "check_mode": False},
    ]}]
    (tmp_path / "results.json").unlink(missing_ok=True)
    process = run_playbook(plays, tmp_path, extra_vars=dict(sim_vars(sim), **(extra_vars or {})), check=check)
    assert (tmp_path / "results.json").exists(), process.stdout[-5000:]
    return process, json.loads((tmp_path / "results.json").read_text())


def recap(process):
    """ok/changed/failed of localhost from the PLAY RECAP of a run that must have passed."""
    assert process.returncode == 0, process.stdout[-6000:] + process.stderr[-2000:]
    found = re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", process.stdout)
    return dict(ok=int(found.group(1)), changed=int(found.group(2)), failed=int(found.group(3)))


def diffs(process):
    """The --diff blocks ansible-playbook printed, in order."""
    return re.findall(r"^--- before.*\n\+\+\+ after.*\n(?:[ @+\-].*\n)+", process.stdout, flags=re.M)
