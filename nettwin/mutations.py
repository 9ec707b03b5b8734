"""The twin's mutation checks: each mutation must make playbooks/verify.yml fail naming exactly the cells it changes,
and re-running the playbooks must undo it.

    python -m nettwin.mutations --state-dir DIR --inventory inventories/demo [--only a,c]

Run by scripts/twin.sh after a verify.yml run that passed, with the simulator's PROXMOX_* environment (the
automation token). Each mutation is a change an operator or an attacker could make, done the way it would happen:

a  a tenant's VNet firewall rule removed in Proxmox VE (acme's web VNet loses "acme to shared service
   postgresql"): acme's web guests no longer reach postgresql:5432. Undone by playbooks/firewall.yml.
b  the hub's policy for one service widened (globex may reach postgresql on the hub). The VNet firewalls of
   globex's VNets, the transit VNet and the services VNet still refuse it, so NO cell may change: the layers are
   independent. Then the same grant is added to those three VNet firewalls in Proxmox VE as well (what a wrong
   `services` entry in the inventory would do to every layer): exactly globex's cells to postgresql:5432 flip.
   Undone by playbooks/firewall.yml and the hub's role (nettwin/converge.yml).
c  a gateway's masquerade removed (acme's gateway, postrouting flushed): acme's guests still reach the internet,
   but from their own addresses instead of the gateway's. Undone by the gateway's role.
d  a probe guest's NIC moved to another tenant's VNet in Proxmox VE (globex's app2 onto acme's web VNet): every
   cell of app2 that should reach now does not. Undone by playbooks/tenant_guests.yml.

A mutation passes when the cells verify.yml names are exactly the cells predicted from the expected matrix (never
from the observed one). The last step runs verify.yml once more: everything must be back.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from nettwin import build, shell, source

PLAY_TIMEOUT = 900


class Twin:
    """The running twin, the simulator and the playbooks, as the mutations use them."""

    def __init__(self, state_dir, inventory):
        self.state_dir = state_dir
        self.inventory = inventory
        self.twin = build.load(state_dir)
        self.pve = source.PveSource()
        self.runs = 0

    # -- playbooks -------------------------------------------------------------------------------------------------
    def playbook(self, path, *args, inventories=()):
        command = ["ansible-playbook", "-i", self.inventory]
        for extra in inventories:
            command += ["-i", extra]
        command += [path] + list(args)
        started = time.monotonic()
        process = subprocess.run(command, capture_output=True, text=True, timeout=PLAY_TIMEOUT, check=False)
        print("mutations: %s: exit %d in %.0f s" % (" ".join(command[1:]), process.returncode, time.monotonic() - started))
        return process

    def verify(self, label):
        """verify.yml's report of this run: {"failed": bool, "wrong": set of cell ids, "report": matrix.json}."""
        self.runs += 1
        directory = os.path.join(self.state_dir, "verify-%d-%s" % (self.runs, label))
        process = self.playbook("playbooks/verify.yml", "-e", "homecloud_verify_dir=" + directory,
                                inventories=[os.path.join(self.state_dir, "verify.yml")])
        path = os.path.join(directory, "matrix.json")
        if not os.path.exists(path):
            raise RuntimeError("verify.yml wrote no matrix.json (exit %d):\n%s" % (process.returncode, process.stdout[-4000:]))
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
        wrong = set(cell_id(cell) for cell in report["cells"] if not cell["ok"])
        return {"failed": process.returncode != 0, "wrong": wrong, "report": report, "stdout": process.stdout}

    def undo(self, *playbooks):
        for args in playbooks:
            inventories = [os.path.join(self.state_dir, "roles.yml")] if args[0] == "nettwin/converge.yml" else []
            process = self.playbook(*args, inventories=inventories)
            if process.returncode != 0:
                raise RuntimeError("undo: %s failed:\n%s" % (" ".join(args), process.stdout[-4000:]))

    # -- the simulator and the twin --------------------------------------------------------------------------------
    def api(self, method, path, **data):
        answer = self.pve.session.request(method, self.pve.url + "/api2/json" + path, data=data or None, timeout=30)
        if answer.status_code != 200:
            raise RuntimeError("%s %s: %s %s" % (method, path, answer.status_code, answer.text))
        return answer.json()["data"]

    def firewall(self):
        build.enforce_firewall(self.twin, self.pve)

    def vm(self, tenant, name):
        for vmid, vm in self.twin["vms"].items():
            if vm.get("tenant") == tenant and vm.get("name") == name:
                return vmid, vm
        raise RuntimeError("the twin has no VM %s of tenant %s" % (name, tenant))

    def gateway(self, tenant):
        for vm in self.twin["vms"].values():
            if vm.get("kind") == "gateway" and vm.get("tenant") == tenant:
                return vm
        raise RuntimeError("the twin has no gateway of tenant %s" % tenant)

    def hub(self):
        for vm in self.twin["vms"].values():
            if vm.get("kind") == "hub":
                return vm
        raise RuntimeError("the twin has no transit hub")

    def tenant_networks(self, tenant):
        return sorted(entry["cidr"] for entry in self.twin["vnets"].values() if entry.get("tenant") == tenant)

    def service_address(self, name):
        for vm in self.twin["vms"].values():
            if vm.get("kind") == "service" and vm.get("name") == name:
                return vm["nics"][0]["address"].split("/", maxsplit=1)[0]
        raise RuntimeError("the twin has no service VM named %s" % name)

    def attach(self, vmid, nic_index, vnet):
        """Move a guest NIC's port to the bridge of `vnet` in its node's namespace (what qemu-server does on a
        bridge change of a running VM)."""
        vm = self.twin["vms"][str(vmid)]
        nic = next(item for item in vm["nics"] if item["index"] == nic_index)
        bridge = self.twin["vnets"][vnet]["bridges"][vm["node"]]
        port = nic.get("port") or "tap%si%d" % (vmid, nic_index)
        shell.ip(bridge["netns"], "link", "set", port, "master", bridge["bridge"])
        nic["vnet"] = vnet
        build.save(self.twin)


def cell_id(cell):
    return "%s -> %s %s%s" % (cell["source"], cell["target"], cell["kind"], "" if cell.get("port") in (None, "") else " %s" % cell["port"])


def predicted(report, predicate):
    """The ids of the cells a mutation must change: those of the EXPECTED matrix the predicate selects."""
    return set(cell_id(cell) for cell in report["cells"] if predicate(cell))


def service_target(report, service):
    """The target name the matrix gives a shared service (a target whose name is the service's, or starts with it)."""
    names = [target["name"] for target in report["targets"]]
    for name in names:
        if name == service or name.split("/")[-1] == service or name.startswith(service + " "):
            return name
    raise RuntimeError("the matrix has no target for service %s (targets: %s)" % (service, ", ".join(names)))


def check(label, outcome, expected):
    wrong = outcome["wrong"]
    if wrong != expected or outcome["failed"] != bool(expected):
        missing, extra = sorted(expected - wrong), sorted(wrong - expected)
        raise RuntimeError("mutation %s: verify.yml %s; cells predicted but not named: %s; named but not predicted: %s" % (
            label, "failed" if outcome["failed"] else "passed", missing or "none", extra or "none"))
    print("mutation %s: verify.yml %s, naming exactly the %d predicted cell(s)%s" % (
        label, "failed" if expected else "passed", len(expected), ": " + "; ".join(sorted(expected)) if expected else ""))


def rule_position(rules, comment):
    for rule in rules:
        if rule.get("comment") == comment:
            return rule["pos"]
    raise RuntimeError("no rule with comment %r (comments: %s)" % (comment, [rule.get("comment") for rule in rules]))


def mutation_a(twin, baseline):
    """acme's web VNet loses its rule to postgresql."""
    vnet = twin.twin["vms"][twin.vm("acme", "web1")[0]]["nics"][0]["vnet"]
    rules = twin.api("GET", "/cluster/sdn/vnets/%s/firewall/rules" % vnet)
    position = rule_position(rules, "homecloud: acme to shared service postgresql")
    twin.api("DELETE", "/cluster/sdn/vnets/%s/firewall/rules/%s" % (vnet, position))
    twin.firewall()
    target = service_target(baseline, "postgresql")
    web = set(vm["name"] for vm in twin.twin["vms"].values() if vm.get("tenant") == "acme" and vm.get("kind") == "guest"
              and any(nic.get("vnet") == vnet for nic in vm["nics"]))
    expected = predicted(baseline, lambda cell: cell["source"] in ["acme/" + name for name in web] and cell["target"] == target
                         and str(cell.get("port")) == "5432" and cell["expected"] == "reached")
    check("a (a VNet firewall rule removed)", twin.verify("a"), expected)
    twin.undo(("playbooks/firewall.yml",))
    twin.firewall()


def mutation_b(twin, baseline):
    """The hub lets globex reach postgresql; then every VNet firewall on the way does too."""
    hub = twin.hub()
    postgres = service_target(baseline, "postgresql")
    address = twin.service_address("postgresql")
    for network in twin.tenant_networks("globex"):
        shell.run(["ip", "netns", "exec", hub["netns"], "nft", "insert", "rule", "inet", "homecloud_transit", "forward",
                   "ip", "saddr", network, "ip", "daddr", address, "tcp", "dport", "5432", "accept"])
    check("b (the hub widened alone: the VNet firewalls still hold)", twin.verify("b-hub"), set())
    comment = "homecloud: mutation b, globex to shared service postgresql"
    vnets = [nic["vnet"] for vm in twin.twin["vms"].values() if vm.get("tenant") == "globex" and vm.get("kind") == "guest"
             for nic in vm["nics"]] + [nic["vnet"] for nic in hub["nics"]]
    for vnet in sorted(set(vnets)):
        twin.api("POST", "/cluster/sdn/vnets/%s/firewall/rules" % vnet, type="forward", action="ACCEPT", enable=1,
                 source="+dc/globex-nets", dest="+dc/svc-postgresql", proto="tcp", dport="5432", comment=comment)
    twin.firewall()
    expected = predicted(baseline, lambda cell: cell["source"].startswith("globex/") and cell["target"] == postgres
                         and str(cell.get("port")) == "5432" and cell["expected"] == "blocked")
    check("b (the hub and every VNet firewall widened)", twin.verify("b-all"), expected)
    twin.undo(("playbooks/firewall.yml",), ("nettwin/converge.yml", "--limit", "localhost,twin_hub"))
    twin.firewall()


def mutation_c(twin, baseline):
    """acme's gateway forgets its masquerade."""
    gateway = twin.gateway("acme")
    shell.run(["ip", "netns", "exec", gateway["netns"], "nft", "flush", "chain", "inet", "homecloud_gateway", "postrouting"])
    expected = predicted(baseline, lambda cell: cell["source"].startswith("acme/") and cell["kind"] == "http_source"
                         and cell["expected"] == "reached" and cell["source"] != "acme/" + gateway["name"])
    check("c (a gateway's masquerade removed)", twin.verify("c"), expected)
    twin.undo(("nettwin/converge.yml", "--limit", "localhost," + gateway["container"]))


def mutation_d(twin, baseline):
    """globex's app2 is plugged into acme's web VNet."""
    vmid, vm = twin.vm("globex", "app2")
    web = twin.twin["vms"][twin.vm("acme", "web1")[0]]["nics"][0]["vnet"]
    home = vm["nics"][0]["vnet"]
    config = twin.api("GET", "/nodes/%s/qemu/%s/config" % (vm["node"], vmid))
    twin.api("PUT", "/nodes/%s/qemu/%s/config" % (vm["node"], vmid), net0=config["net0"].replace("bridge=" + home, "bridge=" + web))
    twin.attach(vmid, 0, web)
    twin.firewall()
    expected = predicted(baseline, lambda cell: "globex/app2" in (cell["source"], cell["target"]) and cell["expected"] == "reached")
    check("d (a guest's NIC moved to another tenant's VNet)", twin.verify("d"), expected)
    twin.undo(("playbooks/tenant_guests.yml", "-e", "homecloud_tenant=globex"))
    config = twin.api("GET", "/nodes/%s/qemu/%s/config" % (vm["node"], vmid))
    if "bridge=" + home not in config["net0"]:
        raise RuntimeError("tenant_guests.yml did not put app2's NIC back on %s: %s" % (home, config["net0"]))
    twin.attach(vmid, 0, home)
    twin.firewall()


MUTATIONS = {"a": mutation_a, "b": mutation_b, "c": mutation_c, "d": mutation_d}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nettwin.mutations", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--inventory", default="inventories/demo")
    parser.add_argument("--baseline", required=True, help="matrix.json of the verify.yml run that passed on the unmutated twin")
    parser.add_argument("--only", default=",".join(sorted(MUTATIONS)), help="the mutations to run, e.g. a,c")
    args = parser.parse_args(argv)
    started = time.monotonic()
    twin = Twin(args.state_dir, args.inventory)
    with open(args.baseline, encoding="utf-8") as handle:
        baseline = json.load(handle)
    if baseline["summary"]["mismatches"]:
        print("mutations: the baseline %s has %d wrong cells" % (args.baseline, baseline["summary"]["mismatches"]), file=sys.stderr)
        return 1
    try:
        for name in args.only.split(","):
            MUTATIONS[name](twin, baseline)
        check("none (every mutation undone)", twin.verify("after"), set())
    except RuntimeError as error:
        print("mutations: FAILED: %s" % error, file=sys.stderr)
        return 1
    print("mutations: %s passed; %d more verify.yml runs in %.0f s" % (args.only, twin.runs, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
