# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    """How the SDN modules write, lock and apply."""

    DOCUMENTATION = r"""
options:
  apply:
    description:
      - Apply the SDN configuration (C(PUT /cluster/sdn)) after the writes, and wait for the reload task.
      - No apply is made when nothing changed and nothing of this task's objects is pending.
      - When V(false), the changes stay pending; apply them once at the end of the run with
        M(homecloud.proxmox.sdn_apply) or with the last SDN task's O(apply=true).
    type: bool
    default: false
  apply_timeout:
    description:
      - Seconds to wait for the apply task; on timeout the task's last log lines are reported.
    type: int
    default: 300
  lock_token:
    description:
      - A global SDN lock token (PVE 9.x) the caller already holds; writes and the apply use it, and it is
        neither taken nor released by this task.
      - If not set, on PVE 9.x the task takes the lock itself just before its first write, and releases it
        (or lets the apply release it); a task with nothing to write takes no lock. On PVE 8.x there is no lock.
    type: str
  allow_foreign_pending:
    description:
      - Pending SDN changes this task did not make (someone else's, or an earlier run's on other objects) are
        reported and, when an apply is asked for, make the task fail before any write, because an apply would
        activate them too. Set V(true) to apply them along.
    type: bool
    default: false
notes:
  - The task plans every write first from one read per object collection (C(?pending=1)); check mode and
    diff mode show that plan, and the real run makes exactly those writes.
  - On PVE 9.x the writes of a task and its apply run under one lock token. If a write fails, all pending SDN
    changes are rolled back (C(POST /cluster/sdn/rollback)) when the lock was taken with nothing else pending;
    otherwise the message lists what was written and is still pending.
"""
