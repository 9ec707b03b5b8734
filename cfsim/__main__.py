"""Command line: python -m cfsim --port 0 [--zone Z ...] [--team T] [--account-id ID] [--token T[=perms]] [listener options]"""

import argparse
import sys

from simcore.cli import add_listener_options, serve

from cfsim.simulator import ALL_PERMISSIONS, API_PREFIX, DEFAULT_ACCOUNT_ID, DEFAULT_TEAM, DEFAULT_ZONE, DEMO_TOKEN, CfSimulator

EPILOG = """\
Default API token: %s (permissions %s); send it as "Authorization: Bearer <token>".
Default account id %s, zone %s, team %s (auth_domain %s.cloudflareaccess.com).
Side channel (no auth, loopback only): see cfsim/README.md.
""" % (DEMO_TOKEN, ",".join(ALL_PERMISSIONS), DEFAULT_ACCOUNT_ID, DEFAULT_ZONE, DEFAULT_TEAM, DEFAULT_TEAM)


def parse_args(argv):
    """The command line options."""
    parser = argparse.ArgumentParser(prog="python -m cfsim", description="Cloudflare API simulator.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_listener_options(parser, default_port=8443)
    parser.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID, help="the account id (32 hex)")
    parser.add_argument("--zone", action="append", help="a zone of the account (repeatable; default %s)" % DEFAULT_ZONE)
    parser.add_argument("--team", default=DEFAULT_TEAM, help="the Zero Trust team name")
    parser.add_argument("--token", action="append", metavar="TOKEN[=PERM,...]",
                        help="an API token (repeatable; PERM is tunnel|dns|zone|access:read|edit, default all edit); "
                             "default: the demo token below")
    return parser.parse_args(argv)


def main(argv=None):
    """Run until SIGTERM or SIGINT."""
    args = parse_args(argv)
    try:
        sim = CfSimulator(tls=not args.http, bind=args.bind, port=args.port, account_id=args.account_id,
                          zones=args.zone or (DEFAULT_ZONE,), team=args.team, tokens=args.token, state_file=args.state_file)
    except ValueError as error:
        print("cfsim: %s" % error, file=sys.stderr)
        return 2
    return serve(sim, args, lambda url: "cfsim (Cloudflare API, account %s) listening on %s%s" % (sim.account_id, url, API_PREFIX))


if __name__ == "__main__":
    sys.exit(main())
