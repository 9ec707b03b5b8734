"""The inventory of the twin's role containers, from STATE_DIR/twin.json and the inventory the twin was built from.

    python -m nettwin.roles_inventory --state-dir DIR [--inventory inventories/demo] [--output FILE]
    (python -m nettwin roles-inventory ... when nettwin's command line dispatches to main())

One host per gateway / hub / service VM that `python -m nettwin up` started a container for
(`hctw-<id>-<vmid>`, joined to the VM's namespace), reached with the containers.podman.podman
connection (podman exec: the roles need no route from the controller into the twin). The YAML goes
to stdout (or FILE). Used together with the inventory, whose group_vars (the plan, the tenants, the
firewall policy) apply to these hosts too:

    ansible-playbook -i inventories/demo -i roles.yml nettwin/converge.yml

Groups: twin_hub (the transit hub), twin_gateways (host var twin_tenant), twin_dns, twin_s3,
twin_postgresql - a service VM belongs to the service of homecloud_firewall.services whose addresses
hold one of its NIC addresses (the services playbook puts each service's guest there) - and
twin_roles, all of them. Host vars: twin_vmid, twin_vm_name, twin_kind, twin_netns (and the connection: podman exec
as root, su to become another user).
"""

import argparse
import json
import os
import sys

import yaml

from nettwin import TWIN_FILE
from nettwin.source import _load_group_vars  # the twin's own reading of the inventory's group_vars/all

SERVICE_GROUPS = {"dns": "twin_dns", "s3": "twin_s3", "postgresql": "twin_postgresql"}


def service_of_addresses(services):
    """{address: service name} of homecloud_firewall.services ({name: {addresses, ports}})."""
    return dict((str(address), name) for name, service in (services or {}).items()
                for address in (service or {}).get("addresses") or [])


def roles_inventory(twin, services=None):
    """(inventory, problems): the inventory (a mapping in Ansible's YAML inventory shape) of the twin's
    containers; services is homecloud_firewall.services (a service VM is found by its address; without
    it, by its name)."""
    by_address = service_of_addresses(services)
    groups = {"twin_hub": {}, "twin_gateways": {}}
    groups.update(dict((group, {}) for group in SERVICE_GROUPS.values()))
    problems = []
    for vmid, vm in sorted(twin.get("vms", {}).items()):
        if vm.get("kind") == "guest":
            continue
        container = vm.get("container")
        if not container:
            problems.append("VM %s (%s, %s) has no container: was the twin started with --no-containers?" % (vmid, vm.get("name"), vm.get("kind")))
            continue
        host = {"ansible_connection": "containers.podman.podman", "ansible_host": container,
                "ansible_python_interpreter": "/usr/bin/python3",
                # the roles' tasks that become another user (postgres): the image has su, no sudo
                "ansible_become_method": "ansible.builtin.su",
                "twin_vmid": int(vmid), "twin_vm_name": vm.get("name"), "twin_kind": vm["kind"], "twin_netns": vm.get("netns")}
        if vm["kind"] == "hub":
            groups["twin_hub"][container] = host
        elif vm["kind"] == "gateway":
            host["twin_tenant"] = vm.get("tenant")
            groups["twin_gateways"][container] = host
        elif vm["kind"] == "service":
            names = [by_address.get(str(nic.get("address") or "").split("/", maxsplit=1)[0]) for nic in vm.get("nics", [])] if by_address else [vm.get("name")]
            names = [name for name in names if name in SERVICE_GROUPS]
            if not names:
                problems.append("VM %s (%s): none of its addresses is a DNS, S3 or PostgreSQL address of homecloud_firewall.services"
                                % (vmid, vm.get("name")))
                continue
            groups[SERVICE_GROUPS[names[0]]][container] = host
        else:
            problems.append("VM %s (%s): kind %r names no role of the twin" % (vmid, vm.get("name"), vm.get("kind")))
    children = dict((group, {"hosts": hosts}) for group, hosts in groups.items())
    return {"all": {"children": {"twin_roles": {"children": children}}}}, problems


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nettwin.roles_inventory", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--inventory", default="inventories/demo", help="the inventory the twin was built from")
    parser.add_argument("--output", default="-", help="the inventory file to write; - (default) is stdout")
    args = parser.parse_args(argv)
    with open(os.path.join(args.state_dir, TWIN_FILE), encoding="utf-8") as handle:
        twin = json.load(handle)
    services = (_load_group_vars(args.inventory).get("homecloud_firewall") or {}).get("services")
    inventory, problems = roles_inventory(twin, services)
    for problem in problems:
        print("roles_inventory: %s" % problem, file=sys.stderr)
    text = "# written by python -m nettwin.roles_inventory from %s\n" % os.path.join(args.state_dir, TWIN_FILE)
    text += yaml.safe_dump(inventory, default_flow_style=False, sort_keys=True)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
