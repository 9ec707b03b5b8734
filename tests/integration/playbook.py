# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run real ansible-playbook processes against a running simulator."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
TARGETS = os.path.join(REPO, "tests", "integration", "targets")


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
    env = dict((key, value) for key, value in os.environ.items() if not key.startswith(("PROXMOX_", "ANSIBLE_")))
    env.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_ROLES_PATH=TARGETS,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
               str(playbook), "-e", "@" + str(vars_file)]
    if check:
        command.append("--check")
    return subprocess.run(command, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=timeout, check=False)
