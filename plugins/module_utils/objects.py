# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One engine for the modules that converge plain API objects (firewall, access, pools).

Every such module reads what PVE holds, plans the writes that reach what the task
declares, and only then sends them, in order. Check mode is the same plan without the
sending, so ``--check --diff`` shows exactly the writes and the ``before``/``after`` a
real run makes. Options the task leaves unset (None) are left alone (hetzner.hcloud's
``param_is_defined``); secrets never reach a diff, a plan line or an error message.

Result keys every module built on it returns: ``changed``; ``writes`` (each planned call
as ``METHOD path key=value ...``, secrets masked); ``diff`` with ``--diff``; after a
failure, ``written`` (the calls of ``writes`` that were made before it: they are not
undone, and the next run converges from there).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import ProxmoxModule
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError

MASK = "********"


class Write:
    """One planned API write: method, path, parameters, and how to tell it took effect.

    ``confirm`` (optional) answers, after a write whose answer was lost, whether PVE
    holds what the write leaves (True), does not (False: the client sends it again) or
    cannot tell (None): see ProxmoxClient.request.
    """

    def __init__(self, method, path, params=None, secret_keys=(), confirm=None, what=None):
        self.method = method
        self.path = path
        self.params = dict((key, value) for key, value in (params or {}).items() if value is not None)
        self.secret_keys = frozenset(secret_keys)
        self.confirm = confirm
        self.what = what  # a short human description ("move rule 3 to 0"), optional

    def __str__(self):
        shown = " ".join("{0}={1}".format(key, MASK if key in self.secret_keys else wire_text(self.params[key]))
                         for key in sorted(self.params))
        return "{0} {1}{2}".format(self.method, self.path, " " + shown if shown else "")

    def send(self, client):
        # the parameters travel as one dict: some are named like request()'s own (`path`)
        return client.call(self.method, self.path, self.params, confirm=self.confirm).get("data")


def wire_text(value):
    """A parameter as it travels (booleans as 0/1, lists comma-joined)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ",".join(wire_text(item) for item in value)
    return str(value)


def same_value(current, desired):
    """Whether PVE's value equals the declared one: PVE answers booleans as 0/1, numbers
    as numbers or strings depending on the call, lists as comma-separated strings."""
    if current is None or desired is None:
        return current is None and desired is None
    return wire_text(current) == wire_text(desired)


def defined(params, names, rename=None):
    """{API key: value} of the options the task sets; unset (None) means "leave alone"."""
    rename = rename or {}
    return dict((rename.get(name, name), params[name]) for name in names if params.get(name) is not None)


def option_changes(current, desired, same=same_value):
    """{key: declared value} for every declared option whose value differs from PVE's."""
    return dict((key, value) for key, value in desired.items() if not same((current or {}).get(key), value))


def masked(value, secret_keys):
    """A copy of an object (dict) with its secret keys masked, for diffs and results."""
    if not isinstance(value, dict):
        return value
    return dict((key, MASK if key in secret_keys and item is not None else item) for key, item in value.items())


class ConvergeModule(ProxmoxModule):
    """Plan, then write: the shared run of the object modules.

    Subclasses implement ``plan()``, returning ``(writes, before, after)``: the Write list
    that reaches the declared state from what PVE holds, and the state before and after
    (plain JSON, used for the diff and for ``result_key``). ``secret_keys`` name the keys
    masked in diffs and results.
    """

    result_key = None
    secret_keys = ()

    def plan(self):
        raise NotImplementedError

    def run(self):
        writes, before, after = self.plan()
        self.result["writes"] = [str(write) for write in writes]
        self.result["changed"] = bool(writes)
        if self.module._diff:  # pylint: disable=protected-access
            self.result["diff"] = dict(before=self.diff_side(before), after=self.diff_side(after))
        if self.result_key:
            self.result[self.result_key] = self.shown(after)
        if writes and not self.module.check_mode:
            self.send(writes)
        self.finish(writes)

    def diff_side(self, value):
        """One side of the diff. Ansible's callbacks print a dict (as JSON) or a text; a list is shown under the
        module's result key."""
        shown = self.shown(value)
        return {self.result_key or "items": shown} if isinstance(shown, list) else shown

    def send(self, writes):
        """Send the writes in order; a failure names the calls already made (``written``)."""
        for done, write in enumerate(writes):
            self.working_on = write.what or str(write)
            try:
                answer = write.send(self.client)
            except ProxmoxError as error:
                error.result = dict(getattr(error, "result", None) or {}, written=self.result["writes"][:done])
                raise
            self.after_write(write, answer)

    def after_write(self, write, answer):
        """Hook: a write's answer (access_token reads the new secret from it)."""

    def finish(self, writes):
        """Hook: anything to add to the result once the writes are made (or planned)."""

    def shown(self, value):
        """What a diff or result shows of a state: secrets masked, containers deep-copied."""
        if isinstance(value, list):
            return [masked(copy.deepcopy(item), self.secret_keys) for item in value]
        return masked(copy.deepcopy(value), self.secret_keys)


class ObjectModule(ConvergeModule):
    """One object at one path, ``state: present|absent``, options compared one by one.

    Subclasses implement ``read()`` (PVE's object as a dict of API keys, or None when it
    does not exist), ``desired()`` (the declared API keys; unset options left out) and the
    three write makers. ``update_writes`` gets only the options that differ.
    """

    def read(self):
        raise NotImplementedError

    def desired(self):
        raise NotImplementedError

    def create_writes(self, desired):
        raise NotImplementedError

    def update_writes(self, current, changes):
        raise NotImplementedError

    def delete_writes(self, current):
        raise NotImplementedError

    def compare(self, current, desired):
        """The declared options PVE does not hold yet; override for values PVE normalises."""
        return option_changes(current, desired)

    def plan(self):
        current = self.read()
        if self.module.params.get("state") == "absent":
            if current is None:
                return [], None, None
            return self.delete_writes(current), current, None
        desired = self.desired()
        if current is None:
            return self.create_writes(desired), None, desired
        changes = self.compare(current, desired)
        after = dict(current)
        after.update(changes)
        return (self.update_writes(current, changes) if changes else []), current, after

    def holds(self, expected):
        """For ``Write.confirm``: does PVE now hold every key of ``expected``? (None: gone)."""
        current = self.read()
        if expected is None:
            return current is None
        # compare() as the plan does: PVE may normalise a value (an empty comment is no comment)
        return current is not None and not self.compare(current, expected)
