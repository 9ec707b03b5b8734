# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    """Check mode and diff mode attributes shared by the collection's modules."""

    # Modules that change objects: both modes fully supported.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check mode and report what would change without changing anything.
    support: full
  diff_mode:
    description: Reports the C(before) and C(after) state of every object it would change or changes.
    support: full
"""

    # Modules that only read.
    INFO_MODULE = r"""
attributes:
  check_mode:
    description: Runs in check mode; it only reads, so it returns the same facts as in a normal run.
    support: full
  diff_mode:
    description: Has no diff to report; it only reads.
    support: N/A
"""
