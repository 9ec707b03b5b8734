"""Helpers for tests that talk to a running technitiumsim: its HTTP API with requests, its DNS
service with dnspython."""

import dns.message
import dns.query

from simcore.testing import REQUEST_TIMEOUT, SimSession

from technitiumsim.simulator import DEMO_TOKEN

__all__ = ["DEMO_TOKEN", "TechnitiumSession", "dns_query"]

DNS_TIMEOUT = 5


class TechnitiumSession(SimSession):
    """A session that sends `Authorization: Bearer <token>` (or no token at all)."""

    def __init__(self, sim, token=DEMO_TOKEN):
        super().__init__(sim)
        if token is not None:
            self.headers["Authorization"] = "Bearer %s" % token

    def call(self, path, method="GET", **params):
        """The JSON answer of one call (`path` like /api/zones/list): GET with a query string or POST
        with a urlencoded form."""
        if method == "POST":
            answer = self.api("POST", path, data=params, timeout=REQUEST_TIMEOUT)
        else:
            answer = self.api("GET", path, params=params, timeout=REQUEST_TIMEOUT)
        answer.raise_for_status()
        return answer.json()

    def ok(self, path, method="GET", **params):
        """The `response` of a call that must succeed (AssertionError with the answer otherwise)."""
        document = self.call(path, method, **params)
        if document.get("status") != "ok":
            raise AssertionError("%s answered %r" % (path, document))
        return document["response"]


def dns_query(sim, name, rdtype="A", tcp=False):
    """Ask the DNS service of `sim` (anything with `bind` and `dns_port`) one question over UDP, or
    TCP; returns the dns.message answer."""
    query = dns.message.make_query(name, rdtype)
    ask = dns.query.tcp if tcp else dns.query.udp
    return ask(query, sim.bind, port=sim.dns_port, timeout=DNS_TIMEOUT)
