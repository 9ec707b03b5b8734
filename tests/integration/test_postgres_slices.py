# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The postgres_server role's refusals and tenant defaults, without a server: the role runs
against localhost with --tags of a task after it, so that only its always-tagged validation runs
(the molecule scenario postgres_server proves the rest on a real PostgreSQL)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import yaml

from tests.integration.playbook import ansible_playbook

CANARY = "canary-pg-Hs7dKq2Wm9Lx"
SHOW_TAG = "postgres_slices_show"


def validate(tmp_path, **variables):
    """The role's validation with these variables; returns (process, slices or None)."""
    plays = [{"name": "postgres_server validation", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Run the role", "ansible.builtin.import_role": {"name": "homecloud.proxmox.postgres_server"}},
        {"name": "Show the slices", "ansible.builtin.debug": {"msg": "SLICES={{ postgres_server_slices | to_json }}"},
         "tags": [SHOW_TAG]},
    ]}]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(variables))
    done = ansible_playbook(str(playbook), ["-i", "localhost,", "-c", "local", "-e", "@" + str(vars_file),
                                            "--tags", SHOW_TAG], cwd=str(tmp_path), timeout=120)
    slices = None
    for line in done.stdout.splitlines():
        if '"msg": "SLICES=' in line:
            slices = json.loads(json.loads("{" + line.strip() + "}")["msg"][len("SLICES="):])
    return done, slices


def test_tenant_defaults(tmp_path):
    """database and owner default to the name (- becomes _); networks in IPv4 and RFC 5952 IPv6
    form pass; no password reaches the slices or the output."""
    done, slices = validate(tmp_path, postgres_server_listen="10.128.1.12", postgres_server_tenants=[
        {"name": "acme", "networks": ["10.128.16.0/20", "fd00:10::/64"], "password": CANARY},
        {"name": "big-corp", "networks": ["10.128.32.0/20"]},
        {"name": "initech", "database": "initech_app", "owner": "initech_owner", "state": "absent"},
    ])
    assert done.returncode == 0, done.stdout + done.stderr
    assert slices == [
        {"name": "acme", "database": "acme", "owner": "acme", "networks": ["10.128.16.0/20", "fd00:10::/64"],
         "state": "present", "password_given": True},
        {"name": "big-corp", "database": "big_corp", "owner": "big_corp", "networks": ["10.128.32.0/20"],
         "state": "present", "password_given": False},
        {"name": "initech", "database": "initech_app", "owner": "initech_owner", "networks": [],
         "state": "absent", "password_given": False},
    ]
    assert CANARY not in done.stdout + done.stderr


def test_refusals_name_tenant_and_field(tmp_path):
    """Every problem is reported in one refusal, each naming the tenant and the field, before any
    task that changes something ran; the password is not in the output."""
    done, slices = validate(tmp_path, postgres_server_listen="10.128.1.300", postgres_server_tenants=[
        {"name": "acme", "password": CANARY,
         "networks": ["10.128.16.5/20", "fd00:1::1/64", "fd00:0::/64", "10.1.2.0/33", "10.1.2.0"]},
        {"name": "globex", "database": "acme", "owner": "pg_globex", "networks": ["10.128.32.0/20"]},
        {"name": "hooli", "database": "all", "owner": "Hooli", "networks": []},
    ])
    assert done.returncode != 0 and slices is None
    out = done.stdout
    for message in (
        "postgres_server_listen 10.128.1.300 is not one IPv4 or IPv6 address",
        "postgres_server_tenants[0] (tenant acme): networks[0] 10.128.16.5/20 has host bits set",
        "postgres_server_tenants[0] (tenant acme): networks[1] fd00:1::1/64 has host bits set",
        "postgres_server_tenants[0] (tenant acme): networks[2] fd00:0::/64 is to be written fd00::/64",
        "postgres_server_tenants[0] (tenant acme): networks[3] 10.1.2.0/33 has an IPv4 prefix over 32",
        "postgres_server_tenants[0] (tenant acme): networks[4] 10.1.2.0 is not in CIDR form",
        "postgres_server_tenants[1] (tenant globex): database acme clashes with tenant acme",
        "postgres_server_tenants[1] (tenant globex): owner pg_globex is reserved",
        "postgres_server_tenants[2] (tenant hooli): database all is reserved",
        "postgres_server_tenants[2] (tenant hooli): owner Hooli is not a PostgreSQL identifier",
        "postgres_server_tenants[2] (tenant hooli): networks is required",
    ):
        assert message in out, message + "\n" + out
    assert "nothing was changed" in out
    assert CANARY not in out + done.stderr


def test_unknown_tenant_field_refused_by_the_argument_spec(tmp_path):
    """A misspelt field is refused by meta/argument_specs.yml before the role's tasks."""
    done, slices = validate(tmp_path, postgres_server_listen="10.128.1.12", postgres_server_tenants=[
        {"name": "acme", "netwroks": ["10.128.16.0/20"], "password": CANARY}])
    assert done.returncode != 0 and slices is None
    assert "netwroks" in done.stdout
    assert CANARY not in done.stdout + done.stderr
