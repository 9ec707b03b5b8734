"""Command line: python -m pvesim --pve-version 9.1 --nodes pve1,pve2,pve3 --port 8006"""

import argparse
import os
import sys

from simcore.cli import add_listener_options, serve, write_atomically

from pvesim import schema
from pvesim.auth import DEMO_TOKEN_SECRET
from pvesim.simulator import DEFAULT_TASK_DURATION, DEFAULT_TOKEN, Simulator

__all__ = ["main", "parse_args", "write_atomically"]

EPILOG = """\
Default API token: %s=%s (privilege separation off).
The root password can also come from the environment variable PVESIM_ROOT_PASSWORD.
Control API (no auth, loopback only): GET /_sim/requests, GET /_sim/counters, POST|GET|DELETE
/_sim/faults, PUT /_sim/latency, POST /_sim/reset, POST /_sim/tasks, GET /_sim/state.
""" % (DEFAULT_TOKEN, DEMO_TOKEN_SECRET)


def parse_args(argv):
    """The command line options."""
    parser = argparse.ArgumentParser(prog="python -m pvesim", description="Proxmox VE API simulator.", epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pve-version", default="9.1", choices=sorted(schema.RELEASES), help="PVE release whose API schema is served")
    parser.add_argument("--nodes", default="pve1,pve2,pve3", help="comma-separated node names")
    add_listener_options(parser, default_port=8006)
    parser.add_argument("--root-password", default=os.environ.get("PVESIM_ROOT_PASSWORD", "pvesim"), help="password of root@pam")
    parser.add_argument("--token", action="append", metavar="USER@REALM!NAME=SECRET",
                        help="API token (repeatable); default: the demo token below")
    parser.add_argument("--cluster-name", default="homecloud")
    parser.add_argument("--task-duration", type=float, default=DEFAULT_TASK_DURATION, help="seconds a simulated task runs")
    parser.add_argument("--exec-netns-prefix", default=None, metavar="PREFIX",
                        help="let agent/exec run for real in network namespaces of this prefix (POST /_sim/qemu/exec-netns)")
    return parser.parse_args(argv)


def main(argv=None):
    """Run until SIGTERM or SIGINT."""
    args = parse_args(argv)
    try:
        sim = Simulator(pve_version=args.pve_version, nodes=[node for node in args.nodes.split(",") if node], tls=not args.http,
                        bind=args.bind, port=args.port, root_password=args.root_password, tokens=args.token,
                        cluster_name=args.cluster_name, state_file=args.state_file, task_duration=args.task_duration,
                        exec_netns_prefix=args.exec_netns_prefix)
    except ValueError as error:
        print("pvesim: %s" % error, file=sys.stderr)
        return 2
    return serve(sim, args, lambda url: "pvesim %s (PVE %s, nodes %s) listening on %s/api2/json" % (
        sim.version, sim.pve_version, ",".join(sim.nodes), url))


if __name__ == "__main__":
    sys.exit(main())
