# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the one-object SDN modules (sdn_controller, sdn_zone, sdn_vnet, sdn_subnet) share.

Each of them declares one object; the SDN engine reads, plans, writes under the
lock and applies when asked. The modules themselves only say which kind and
which options.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import ProxmoxModule, create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn import (
    TRANSACTION_SPEC,
    SdnPlan,
    SdnReader,
    check_id,
    converge,
    option_spec,
    options_of,
    subnet_cidr,
    subnet_id,
    subnet_label,
)


class SdnObjectModule(ProxmoxModule):
    """Converge one SDN object of `kind_name`, named by the option of the same name."""

    kind_name = None

    def locate(self, reader):
        """(object id, parent, label, known_absent) of the object; subnets override this."""
        object_id = self.module.params[self.kind_name]
        error = check_id(self.kind_name, object_id, self.kind_name)
        if error:
            self.module.fail_json(msg=error)
        return object_id, None, object_id, False

    def run(self):
        params = self.module.params
        reader = SdnReader(self.client)
        object_id, parent, label, known_absent = self.locate(reader)
        plan = SdnPlan(reader)
        if params["state"] == "present":
            plan.present(self.kind_name, object_id, options_of(self.kind_name, params), parent=parent, label=label, known_absent=known_absent)
        elif not known_absent:
            plan.absent(self.kind_name, object_id, parent=parent, label=label)
        converge(self, plan, apply=params["apply"], apply_timeout=params["apply_timeout"],
                 lock_token=params["lock_token"], allow_foreign_pending=params["allow_foreign_pending"])
        after = plan.diff()["after"].get(self.kind_name + "s", {}).get(label)
        current = reader.find(self.kind_name, object_id, parent) if not known_absent else None
        self.result[self.kind_name] = after if after is not None else (
            None if params["state"] == "absent" or current is None else current.options)


class SdnSubnetModule(SdnObjectModule):
    """Subnets are named by VNet and CIDR; PVE's id also carries the VNet's zone."""

    kind_name = "subnet"

    def locate(self, reader):
        params = self.module.params
        cidr, error = subnet_cidr(params["subnet"], "subnet")
        if error:
            self.module.fail_json(msg=error)
        label = subnet_label(params["vnet"], cidr)
        vnet = reader.find("vnet", params["vnet"])
        if vnet is None:
            if params["state"] == "absent":
                return subnet_id("none", cidr), params["vnet"], label, True
            self.module.fail_json(msg="vnet '{0}' does not exist (not even pending): create it before its subnets".format(params["vnet"]))
        return subnet_id(vnet.options["zone"], cidr), params["vnet"], label, False


def run_object_module(module_class, id_options):
    """Build the AnsibleModule for a one-object SDN module and run it."""
    spec = option_spec(module_class.kind_name)
    spec.update(id_options)
    spec["state"] = dict(type="str", default="present", choices=["present", "absent"])
    spec.update(TRANSACTION_SPEC)
    module = create_module(spec, supports_check_mode=True)
    module_class(module).execute()
