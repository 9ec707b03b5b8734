"""The command line every simulator shares: listener options, files for the caller, the run loop.

    parser = argparse.ArgumentParser(prog="python -m mysim", ...)
    add_listener_options(parser, default_port=8007)
    ...                                  # the simulator's own options
    args = parser.parse_args(argv)
    sim = MySim(tls=not args.http, bind=args.bind, port=args.port, state_file=args.state_file, ...)
    return serve(sim, args, lambda url: "mysim listening on %s" % url)
"""

import os
import shutil
import signal
import threading

POLL_SECONDS = 1.0


def add_listener_options(parser, default_port):
    """--bind, --port, --http, --port-file, --cert-file, --fingerprint-file, --state-file."""
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=default_port, help="port (0 picks a free one)")
    parser.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--cert-file", help="write the generated PEM certificate here")
    parser.add_argument("--fingerprint-file", help="write the certificate's SHA-256 fingerprint (AA:BB:...) here")
    parser.add_argument("--state-file", help="load state from here at start (if present), save after every write")


def write_atomically(path, data):
    """Write a file so that readers never see it half-written."""
    temp_path = "%s.tmp-%d" % (path, os.getpid())
    with open(temp_path, "wb") as handle:
        handle.write(data)
    os.replace(temp_path, path)


def serve(sim, args, banner):
    """Start `sim`, write the files `args` asks for (certificate and fingerprint before the port
    file, so a caller waiting for the port finds them), print `banner(url)`, and run until
    SIGTERM or SIGINT; returns the exit status 0."""
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
        print(banner(url), flush=True)
        while not stop.wait(POLL_SECONDS):
            pass
    finally:
        sim.stop()
    return 0
