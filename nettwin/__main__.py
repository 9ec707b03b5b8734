"""python -m nettwin up|down|status|l2-check|frr-check (see README.md)."""

import argparse
import os
import sys

from nettwin import build, frr, l2check


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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nettwin", description="The network twin of the simulated cluster.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build the twin from the running simulator (PROXMOX_* environment) and the inventory")
    up.add_argument("--state-dir", required=True)
    up.add_argument("--inventory", default="inventories/demo")
    up.add_argument("--no-containers", action="store_true", help="no podman containers for the gateway/hub/service VMs")
    for name in ("down", "status", "l2-check"):
        sub.add_parser(name).add_argument("--state-dir", required=True)
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
    if args.command == "l2-check":
        ok, _lines = l2check.check(build.load(args.state_dir))
        return 0 if ok else 1
    if not args.state_dir and not args.file:
        parser.error("frr-check needs --state-dir or --file")
    return frr_check(args.state_dir, args.file)


if __name__ == "__main__":
    sys.exit(main())
