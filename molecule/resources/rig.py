# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers the Molecule scenarios' testinfra tests share (imported by path, not installed)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess


def change_log_runs():
    """The runs in $HOMECLOUD_CHANGES_LOG (written by the homecloud_changes callback), in order.

    Returns a list of (check, [lines]) per ansible-playbook run that ran the role's hosts.
    """
    path = os.environ['HOMECLOUD_CHANGES_LOG']
    runs = {}
    order = []
    with open(path, encoding='utf-8') as log:
        for raw in log:
            line = json.loads(raw)
            if line['host'] == 'localhost':
                continue
            if line['run'] not in runs:
                runs[line['run']] = []
                order.append(line['run'])
            runs[line['run']].append(line)
    return [(runs[run][0]['check'], runs[run]) for run in order]


def changed_tasks(lines, check):
    """(host, task) pairs a run changed - in check mode also what it would have run - split
    into tasks and handlers. A handler counts in check mode when it was notified at all:
    a command handler cannot run there."""
    tasks = set()
    handlers = set()
    for line in lines:
        key = (line['host'], line['task'])
        if line['handler']:
            if check or line['status'] == 'changed':
                handlers.add(key)
        elif line['status'] == 'changed' or (check and line['would_run']):
            tasks.add(key)
    return tasks, handlers


def run_playbook(playbook, extra_vars, limit=None, extra_args=()):
    """ansible-playbook against the scenario's inventory; returns (rc, output).

    extra_args: more ansible-playbook arguments, e.g. ['--tags', 'x'] for a run of one part.
    """
    command = ['ansible-playbook', '-i', os.environ['MOLECULE_INVENTORY_FILE'], playbook,
               '-e', json.dumps(extra_vars)]
    if limit:
        command += ['--limit', limit]
    command += list(extra_args)
    env = dict(os.environ)
    env.pop('HOMECLOUD_CHANGES_LOG', None)
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                          timeout=600, check=False, universal_newlines=True)
    return done.returncode, done.stdout


def services_namespaces(state_dir=None):
    """The namespaces of a shared services rig run (molecule/resources/services/topology.sh):
    {role: namespace} for service, router, acme, globex, outside and admin.

    state_dir: the run's topology directory; by default the scenario's own,
    $MOLECULE_EPHEMERAL_DIRECTORY/topology.
    """
    if state_dir is None:
        state_dir = os.path.join(os.environ['MOLECULE_EPHEMERAL_DIRECTORY'], 'topology')
    namespaces = {}
    with open(os.path.join(state_dir, 'namespaces'), encoding='utf-8') as listing:
        for line in listing:
            role, namespace = line.split()
            namespaces[role] = namespace
    return namespaces


def run_in_namespace(namespace, argv, timeout=30, stdin=None):
    """argv inside network namespace NAMESPACE (ip netns exec), bounded by timeout seconds;
    returns the completed process (text stdout and stderr, never raises on a non-zero exit)."""
    return subprocess.run(['ip', 'netns', 'exec', namespace] + list(argv), input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          check=False, universal_newlines=True)
