"""python -m nettwin up|down|status|l2-check|frr-check|firewall|roles-inventory|verify-inventory (see README.md)."""

import argparse
import os
import sys

import yaml

from nettwin import build, frr, l2check, roles_inventory, source

# What verify.yml probes from the twin's outside (nettwin/outside.py serves both): the internet's echo server and
# the management segment's listeners (PVE's API and SSH ports), which no tenant, service or gateway may reach.
VERIFY_SETTINGS = {"timeout": 2, "parallel": 16}
MANAGEMENT_PORTS = (8006, 22)


def frr_check(state_dir, files):
    """FRR's own check of each node's WHOLE rendered frr.conf (kept by `up` in STATE_DIR/frr/<node>.conf) or of
    the given files; one line per file, exit 1 when any is invalid (FRR's message names the bad line)."""
    targets = [(os.path.basename(path), path) for path in files]
    if not targets:
        twin = build.load(state_dir)
        targets = [(node, facts["rendered_frr"]) for node, facts in sorted(twin["nodes"].items()) if facts.get("rendered_frr")]
    if not targets:
        print("frr-check: nothing to check", file=sys.stderr)
        return 1
    failed = 0
    for label, path in targets:
        valid, output = frr.check_file(path)
        failed += 0 if valid else 1
        print("%s: %s" % (label, "valid (vtysh -C -f %s)" % path if valid else "INVALID: " + output.replace("\n", " | ")))
    return 1 if failed else 0


def verify_inventory(state_dir):
    """An inventory beside the cluster's for playbooks/verify.yml on the twin: the outside probe hosts (the
    internet and the management namespaces, probing from inside them) and homecloud_verify's targets there."""
    twin = build.load(state_dir)
    internet, management = twin["internet"], twin["management"]
    address = management["address"].split("/", maxsplit=1)[0]
    settings = dict(VERIFY_SETTINGS, internet={"address": internet["address"], "port": internet["echo_port"]},
                    management=[{"address": address, "port": port} for port in MANAGEMENT_PORTS])
    python = sys.executable
    hosts = {
        "twin-internet": {"homecloud_verify_role": "internet", "homecloud_verify_netns": internet["netns"]},
        "twin-management": {"homecloud_verify_role": "management", "homecloud_verify_netns": management["netns"]},
    }
    for host in hosts.values():
        host.update(ansible_connection="local", ansible_python_interpreter=python)
    return {"all": {"vars": {"homecloud_verify": settings},
                    "children": {"homecloud_verify_probes": {"hosts": hosts}}}}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nettwin", description="The network twin of the simulated cluster.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build the twin from the running simulator (PROXMOX_* environment) and the inventory")
    up.add_argument("--state-dir", required=True)
    up.add_argument("--inventory", default="inventories/demo")
    up.add_argument("--no-containers", action="store_true", help="no podman containers for the gateway/hub/service VMs")
    for name in ("down", "status", "l2-check", "verify-inventory"):
        sub.add_parser(name).add_argument("--state-dir", required=True)
    sub.add_parser("firewall", help="load the simulator's current PVE firewall into the twin again").add_argument(
        "--state-dir", required=True)
    roles = sub.add_parser("roles-inventory", help="the inventory of the role containers (nettwin/roles_inventory.py)")
    roles.add_argument("--state-dir", required=True)
    roles.add_argument("--inventory", default="inventories/demo")
    check = sub.add_parser("frr-check", help="vtysh -C -f on each node's whole rendered frr.conf")
    check.add_argument("--state-dir")
    check.add_argument("--file", action="append", default=[], help="check this file instead (repeatable)")
    args = parser.parse_args(argv)
    if args.command == "up":
        return build.main_up(args.state_dir, args.inventory, containers=not args.no_containers)
    if args.command == "down":
        return build.down(args.state_dir)
    if args.command == "status":
        return build.status(args.state_dir)
    if args.command == "firewall":
        print("nettwin: firewall loaded: %(namespaces)d namespaces, %(lines)d lines" % build.enforce_firewall(
            build.load(args.state_dir), source.PveSource()))
        return 0
    if args.command == "roles-inventory":
        return roles_inventory.main(["--state-dir", args.state_dir, "--inventory", args.inventory])
    if args.command == "verify-inventory":
        yaml.safe_dump(verify_inventory(args.state_dir), sys.stdout, default_flow_style=False, sort_keys=True)
        return 0
    if args.command == "l2-check":
        ok, _lines = l2check.check(build.load(args.state_dir))
        return 0 if ok else 1
    if not args.state_dir and not args.file:
        parser.error("frr-check needs --state-dir or --file")
    return frr_check(args.state_dir, args.file)


if __name__ == "__main__":
    sys.exit(main())
