# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: reachability_report
short_description: Compare probed reachability with the expected matrix and render it as text, JSON and SVG
version_added: 0.1.0
description:
  - Joins the results of M(homecloud.proxmox.reachability_probe) with the cells of
    P(homecloud.proxmox.reachability_matrix#filter) by id; a cell is wrong when its observed answer differs from the
    expected one, when its probe failed, or when an http_source probe was seen from another address than expected.
  - >-
    Answers the report (every cell with C(expected), C(observed), C(detail), C(ok)), C(failures) - one line per wrong
    cell, e.g. C(acme/web1 -> globex/app1 icmp: expected blocked, observed reached) - and three renderings - C(table)
    (rows sources, columns targets; V(ok) reached and V(--) blocked as expected, V(!!<expected>/<observed>) a
    mismatch), C(json) and C(svg) (a heat map, one square per cell - green, grey, red; self-contained).
positional: results
options:
  _input:
    description: The matrix.
    type: dict
    required: true
  results:
    description: The probes' results (RV(homecloud.proxmox.reachability_probe#module:results)), of every run together.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Compare and write the table
  ansible.builtin.copy:
    content: "{{ (matrix | homecloud.proxmox.reachability_report(guest_probes.results)).table }}"
    dest: /tmp/matrix.txt
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The report.
  type: dict
  contains:
    report:
      description: C(sources), C(targets), C(cells), C(failures), C(summary) (C(cells), C(ok), C(mismatches)).
      type: dict
    failures:
      description: One line per wrong cell.
      type: list
      elements: str
    table:
      description: The text table.
      type: str
    json:
      description: The report as JSON text.
      type: str
    svg:
      description: The heat map.
      type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homecloud.proxmox.plugins.module_utils.reachability import compare, render_json, render_svg, render_table


def reachability_report(matrix, results):
    """The filter: compared and rendered."""
    try:
        report = compare(matrix, results)
    except (KeyError, TypeError) as error:
        raise AnsibleFilterError("homecloud.proxmox.reachability_report: the matrix or the results are not usable: %s %s"
                                 % (type(error).__name__, error))
    return {"report": report, "failures": report["failures"], "table": render_table(report), "json": render_json(report),
            "svg": render_svg(report)}


class FilterModule:
    """homecloud.proxmox filters."""

    def filters(self):
        return {"reachability_report": reachability_report}
