"""Command line: python -m technitiumsim --port 0 --dns-port 0 [--port-file F] [--dns-port-file F2] [--state-file S] [...]"""

import argparse
import sys

from simcore.cli import add_listener_options, serve

from technitiumsim.rules import ALL_PERMISSIONS
from technitiumsim.simulator import DEFAULT_PORT, DEFAULT_SERVER_DOMAIN, DEMO_TOKEN, TechnitiumSimulator

DEFAULT_DNS_PORT = 53
EPILOG = """\
Default API token: %s (permissions %s); send it as "Authorization: Bearer <token>"
or as the token parameter. Side channel (no auth, loopback only): see technitiumsim/README.md.
""" % (DEMO_TOKEN, ",".join(ALL_PERMISSIONS))


def parse_args(argv):
    """The command line options (plain HTTP unless --https: Technitium's API listens on HTTP 5380)."""
    parser = argparse.ArgumentParser(prog="python -m technitiumsim", description="Technitium DNS Server simulator.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_listener_options(parser, default_port=DEFAULT_PORT)
    parser.add_argument("--https", action="store_true", help="HTTPS with a generated certificate instead of plain HTTP")
    parser.add_argument("--dns-port", type=int, default=DEFAULT_DNS_PORT, help="DNS port, UDP and TCP (0 picks a free one)")
    parser.add_argument("--dns-port-file", help="write the bound DNS port here (before the API port file)")
    parser.add_argument("--server-domain", default=DEFAULT_SERVER_DOMAIN, help="the server's domain (SOA and NS of new zones)")
    parser.add_argument("--query-acl", action="append", metavar="NETWORK",
                        help="a network allowed to query the DNS service (repeatable; default: every client)")
    parser.add_argument("--token", action="append", metavar="TOKEN[=PERM,...]",
                        help="an API token (repeatable; PERM is Zones:View|Zones:Modify|Zones:Delete, default all); "
                             "default: the demo token below")
    return parser.parse_args(argv)


def main(argv=None):
    """Run until SIGTERM or SIGINT."""
    args = parse_args(argv)
    try:
        sim = TechnitiumSimulator(port=args.port, dns_port=args.dns_port, tls=args.https and not args.http, tokens=args.token,
                                  state_file=args.state_file, bind=args.bind, server_domain=args.server_domain,
                                  query_acl=args.query_acl, dns_port_file=args.dns_port_file)
    except ValueError as error:
        print("technitiumsim: %s" % error, file=sys.stderr)
        return 2

    return serve(sim, args, lambda url: "technitiumsim (Technitium DNS Server API) listening on %s, DNS on %s port %d"
                 % (url, sim.bind, sim.dns_port))


if __name__ == "__main__":
    sys.exit(main())
