# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the SDN modules share: running the engine and reporting its outcome.

The one-object modules (sdn_controller, sdn_zone, sdn_vnet, sdn_subnet) each declare one
object; tenant_network declares whole zones. The engine (sdn.py) reads, plans, writes under
the lock and applies when asked; this module turns its outcome into the task's result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.homecloud.proxmox.plugins.module_utils.base import ProxmoxModule, create_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn import (
    TRANSACTION_SPEC,
    ChangeSet,
    SdnReader,
    converge,
    object_ref,
    objects_after,
    option_spec,
    options_of,
    subnet_cidr,
    subnet_id,
    subnet_name,
)
from ansible_collections.homecloud.proxmox.plugins.module_utils.sdn_rules import id_error


class SdnModule(ProxmoxModule):
    """A module that converges a ChangeSet with the transaction options of TRANSACTION_SPEC."""

    def converge(self, changes):
        """Run the engine; fill the result; return {ref: object as PVE holds it after the run}."""
        params = self.module.params
        self.working_on = ", ".join(sorted(changes.scope)) or None
        outcome = converge(self.client, changes, apply=params["apply"], apply_timeout=params["apply_timeout"],
                           lock_token=params["lock_token"], allow_foreign_pending=params["allow_foreign_pending"],
                           check_mode=self.module.check_mode, diff=self.module._diff)  # pylint: disable=protected-access
        self.result.update(outcome.as_result())
        return objects_after(self.client, changes, outcome, self.module.check_mode)


class SdnObjectModule(SdnModule):
    """Converge one SDN object of `kind_name`, named by the option of the same name."""

    kind_name = None

    def locate(self, reader):
        """(object id, parent, name, known_absent) of the object; subnets override this."""
        object_id = self.module.params[self.kind_name]
        error = id_error(self.kind_name, object_id, self.kind_name)
        if error:
            raise ProxmoxError(error + "; nothing was changed")
        return object_id, None, object_id, False

    def run(self):
        params = self.module.params
        reader = SdnReader(self.client)
        object_id, parent, name, known_absent = self.locate(reader)
        changes = ChangeSet(reader)
        if params["state"] == "present":
            changes.present(self.kind_name, object_id, options_of(self.kind_name, params), parent=parent, name=name,
                            known_absent=known_absent)
        elif not known_absent:
            changes.absent(self.kind_name, object_id, parent=parent, name=name)
        after = self.converge(changes)
        self.result[self.kind_name] = after.get(object_ref(self.kind_name, name))


class SdnSubnetModule(SdnObjectModule):
    """Subnets are named by VNet and CIDR; PVE's id also carries the VNet's zone."""

    kind_name = "subnet"

    def locate(self, reader):
        params = self.module.params
        cidr, error = subnet_cidr(params["subnet"], "subnet")
        if error:
            raise ProxmoxError(error + "; nothing was changed")
        name = subnet_name(params["vnet"], cidr)
        vnet = reader.find("vnet", params["vnet"])
        if vnet is None:
            if params["state"] == "absent":
                return subnet_id("none", cidr), params["vnet"], name, True
            raise ProxmoxError("vnet '{0}' does not exist (not even pending): create it before its subnets; "
                               "nothing was changed".format(params["vnet"]))
        return subnet_id(vnet.options["zone"], cidr), params["vnet"], name, False


def run_object_module(module_class, id_options):
    """Build the AnsibleModule for a one-object SDN module and run it."""
    spec = option_spec(module_class.kind_name)
    spec.update(id_options)
    spec["state"] = dict(type="str", default="present", choices=["present", "absent"])
    spec.update(TRANSACTION_SPEC)
    module = create_module(spec, supports_check_mode=True)
    module_class(module).execute()
