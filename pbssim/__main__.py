"""Command line: python -m pbssim --port 8007 [--port-file F] [--cert-file F]"""

import argparse
import os
import shutil
import signal
import sys
import threading

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
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8007, help="port (0 picks a free one)")
    parser.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--cert-file", help="write the generated PEM certificate here")
    parser.add_argument("--fingerprint-file", help="write the certificate's SHA-256 fingerprint here")
    parser.add_argument("--state-file", help="load state from here at start (if present), save after every write")
    parser.add_argument("--root-password", default=os.environ.get("PBSSIM_ROOT_PASSWORD", DEFAULT_ROOT_PASSWORD),
                        help="password of root@pam")
    parser.add_argument("--token", action="append", metavar="USER@REALM!NAME=SECRET",
                        help="API token with Admin on / (repeatable); default: the demo token below")
    parser.add_argument("--task-duration", type=float, default=DEFAULT_TASK_DURATION, help="seconds a simulated task runs")
    return parser.parse_args(argv)


def write_atomically(path, data):
    """Write a file so that readers never see it half-written."""
    temp_path = "%s.tmp-%d" % (path, os.getpid())
    with open(temp_path, "wb") as handle:
        handle.write(data)
    os.replace(temp_path, path)


def main(argv=None):
    """Run until SIGTERM or SIGINT."""
    args = parse_args(argv)
    try:
        sim = PbsSimulator(tls=not args.http, bind=args.bind, port=args.port, node=args.node, root_password=args.root_password,
                           tokens=args.token, state_file=args.state_file, task_duration=args.task_duration)
    except ValueError as error:
        print("pbssim: %s" % error, file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stop.set())
    url = sim.start()
    try:
        if args.cert_file and sim.cert_path:
            shutil.copyfile(sim.cert_path, args.cert_file)
        if args.fingerprint_file and sim.cert_fingerprint:
            write_atomically(args.fingerprint_file, sim.cert_fingerprint.encode("ascii"))
        if args.port_file:
            write_atomically(args.port_file, str(sim.port).encode("ascii"))
        print("pbssim (PBS %s API, node %s) listening on %s/api2/json%s" % (
            PBS_VERSION, sim.node, url, " fingerprint %s" % sim.cert_fingerprint if sim.cert_fingerprint else ""),
            flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
