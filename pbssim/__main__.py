"""Command line: python -m pbssim --port 8007 [--port-file F] [--cert-file F] [--fingerprint-file F]"""

import argparse
import os
import sys

from simcore.cli import add_listener_options, serve

from pbssim.simulator import DEFAULT_NODE, DEFAULT_ROOT_PASSWORD, DEFAULT_TASK_DURATION, DEFAULT_TOKEN, DEMO_TOKEN_SECRET, PBS_VERSION, PbsSimulator

EPILOG = """\
Default API token: %s=%s (Admin on /); send it as
"Authorization: PBSAPIToken=%s:%s".
The root@pam password can also come from the environment variable PBSSIM_ROOT_PASSWORD.
Side channel (no auth, loopback only): see pbssim/README.md.
""" % (DEFAULT_TOKEN, DEMO_TOKEN_SECRET, DEFAULT_TOKEN, DEMO_TOKEN_SECRET)


def parse_args(argv):
    """The command line options."""
    parser = argparse.ArgumentParser(prog="python -m pbssim", description="Proxmox Backup Server API simulator.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--node", default=DEFAULT_NODE, help="the server's node name (in UPIDs and the certificate)")
    add_listener_options(parser, default_port=8007)
    parser.add_argument("--root-password", default=os.environ.get("PBSSIM_ROOT_PASSWORD", DEFAULT_ROOT_PASSWORD),
                        help="password of root@pam")
    parser.add_argument("--token", action="append", metavar="USER@REALM!NAME=SECRET",
                        help="API token with Admin on / (repeatable); default: the demo token below")
    parser.add_argument("--task-duration", type=float, default=DEFAULT_TASK_DURATION, help="seconds a simulated task runs")
    return parser.parse_args(argv)


def main(argv=None):
    """Run until SIGTERM or SIGINT."""
    args = parse_args(argv)
    try:
        sim = PbsSimulator(tls=not args.http, bind=args.bind, port=args.port, node=args.node, root_password=args.root_password,
                           tokens=args.token, state_file=args.state_file, task_duration=args.task_duration)
    except ValueError as error:
        print("pbssim: %s" % error, file=sys.stderr)
        return 2
    return serve(sim, args, lambda url: "pbssim (PBS %s API, node %s) listening on %s/api2/json%s" % (
        PBS_VERSION, sim.node, url, " fingerprint %s" % sim.cert_fingerprint if sim.cert_fingerprint else ""))


if __name__ == "__main__":
    sys.exit(main())
