# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test-rig callback: append one JSON line per task result to $HOMECLOUD_CHANGES_LOG.

The Molecule scenarios compare what a check-mode run says it would change with what the
first converge changed. A line: run (a per-run id), check (check mode), play, task, handler,
host, status (ok, changed, skipped, failed, unreachable) and would_run (a command that check
mode skipped only because it cannot run it there).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: homecloud_changes
type: aggregate
short_description: Log every task result as one JSON line (test rig only)
description:
  - Appends one JSON line per task result to the file named by E(HOMECLOUD_CHANGES_LOG); does nothing when it is unset.
requirements:
  - enable in ansible.cfg (callbacks_enabled)
"""

import json
import os
import time
import uuid

from ansible import context
from ansible.playbook.handler import Handler
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'homecloud_changes'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._path = os.environ.get('HOMECLOUD_CHANGES_LOG')
        self._run = '%d-%s' % (time.time(), uuid.uuid4().hex[:8])
        self._play = None

    def _write(self, result, status):
        if not self._path:
            return
        task = result._task
        data = result._result
        would_run = bool(data.get('skipped')) and 'check mode' in str(data.get('msg', ''))
        line = {
            'run': self._run,
            'check': bool(context.CLIARGS.get('check', False)),
            'play': self._play,
            'task': task.get_name(),
            'handler': isinstance(task, Handler),
            'host': result._host.get_name(),
            'status': status,
            'would_run': would_run,
        }
        with open(self._path, 'a') as log:
            log.write(json.dumps(line, sort_keys=True) + '\n')

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()

    def v2_runner_on_ok(self, result):
        self._write(result, 'changed' if result._result.get('changed') else 'ok')

    def v2_runner_on_skipped(self, result):
        self._write(result, 'skipped')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, 'ignored' if ignore_errors else 'failed')

    def v2_runner_on_unreachable(self, result):
        self._write(result, 'unreachable')
