"""The DNS service of the simulator: answers queries over UDP and TCP from the zones it holds.

What it answers (an authoritative-only server: Technitium with recursion denied):
- a name inside a zone it holds: authoritative (AA), the enabled records of the asked type; a CNAME at
  the name is answered with its chain, followed through the zones held (at most MAX_CNAME_CHAIN);
  no record of that type: NOERROR without answers (NODATA) and the zone's SOA in the authority
  section; a name that does not exist: NXDOMAIN with the SOA (RFC 2308); the SOA's TTL there is
  min(SOA TTL, SOA minimum);
- a name outside every zone held: REFUSED, no recursion offered (RA clear);
- a client outside `query_acl` (networks; None allows every client): REFUSED;
- an opcode other than QUERY: NOTIMP; not one question: FORMERR; undecodable: no answer;
- over UDP, an answer over 512 bytes (or the query's EDNS payload size) is truncated (TC).
TCP messages carry the two-byte length prefix of RFC 1035 4.2.2.
"""

import collections
import ipaddress
import socket
import socketserver
import struct
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

from technitiumsim.zonedata import closest_zone, name_exists, records_at, soa_of

MAX_CNAME_CHAIN = 8
TXT_CHUNK = 255
QUERY_LOG_SIZE = 1000
TCP_TIMEOUT = 10
BIND_ATTEMPTS = 20
STOP_TIMEOUT = 10
# how often the listeners look for a stop request: stop() waits up to this long per listener
POLL_SECONDS = 0.05


def dns_name(name):
    """A stored name (no trailing dot, '' for the root) as a dnspython absolute name."""
    return dns.name.from_text(name) if name else dns.name.root


def rdata_of(entry):
    """The dnspython rdata of a stored record."""
    data = entry["rData"]
    record_type = entry["type"]
    if record_type == "TXT":
        text = data["text"].encode("utf-8")
        chunks = [text[start:start + TXT_CHUNK] for start in range(0, len(text), TXT_CHUNK)] or [b""]
        return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)
    if record_type in ("A", "AAAA"):
        text = data["ipAddress"]
    elif record_type == "MX":
        text = "%d %s." % (data["preference"], data["exchange"])
    elif record_type == "SRV":
        text = "%d %d %d %s." % (data["priority"], data["weight"], data["port"], data["target"])
    elif record_type == "SOA":
        text = "%s. %s. %d %d %d %d %d" % (data["primaryNameServer"], data["responsiblePerson"], data["serial"],
                                           data["refresh"], data["retry"], data["expire"], data["minimum"])
    else:
        text = "%s." % data[{"NS": "nameServer", "CNAME": "cname", "PTR": "ptrName"}[record_type]]
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(record_type), text)


def rrsets_of(name, entries):
    """RRsets (one per type, TTL the lowest of the set) of stored records at one name."""
    sets = {}
    for entry in entries:
        rrset = sets.get(entry["type"])
        if rrset is None:
            rrset = sets[entry["type"]] = dns.rrset.RRset(dns_name(name), dns.rdataclass.IN, dns.rdatatype.from_text(entry["type"]))
        rrset.add(rdata_of(entry), entry["ttl"])
    return list(sets.values())


def negative_soa(zone):
    """The SOA of a negative answer, with TTL min(SOA TTL, minimum) (RFC 2308 3)."""
    soa = soa_of(zone)
    rrset = rrsets_of(zone["name"], [soa])[0]
    rrset.ttl = min(soa["ttl"], soa["rData"]["minimum"])
    return rrset


class DnsService:  # pylint: disable=too-many-instance-attributes
    """UDP and TCP listeners on one port, answering from `sim`'s zones under its state lock."""

    def __init__(self, sim, bind="127.0.0.1", port=0, query_acl=None):
        self.sim = sim
        self.bind = bind
        self.requested_port = port
        self.port = None
        self.set_query_acl(query_acl)
        self.queries = collections.deque(maxlen=QUERY_LOG_SIZE)
        self._lock = threading.Lock()
        self._servers = []
        self._threads = []

    def set_query_acl(self, networks):
        """Networks allowed to query (None: everyone); ValueError for a bad network."""
        self.query_acl = None if networks is None else [ipaddress.ip_network(network, strict=False) for network in networks]

    def allowed(self, client_ip):
        """True when the client may query."""
        if self.query_acl is None:
            return True
        address = ipaddress.ip_address(client_ip)
        return any(address.version == network.version and address in network for network in self.query_acl)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self):
        """Bind UDP and TCP on the same port (port 0: a free one for both); returns the port."""
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        udp_class = type("DnsUdpServer", (socketserver.ThreadingUDPServer,), {"address_family": family, "daemon_threads": True})
        tcp_class = type("DnsTcpServer", (socketserver.ThreadingTCPServer,),
                         {"address_family": family, "daemon_threads": True, "allow_reuse_address": True})
        for _attempt in range(BIND_ATTEMPTS if self.requested_port == 0 else 1):
            udp = udp_class((self.bind, self.requested_port), UdpHandler)
            try:
                tcp = tcp_class((self.bind, udp.server_address[1]), TcpHandler)
            except OSError:
                udp.server_close()
                if self.requested_port:
                    raise
                continue
            break
        else:
            raise OSError("no port free for both UDP and TCP on %s" % self.bind)
        self.port = udp.server_address[1]
        for server in (udp, tcp):
            server.dns_service = self
            thread = threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), name="technitiumsim-dns-%d" % self.port, daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self.port

    def stop(self):
        """Stop both listeners."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(STOP_TIMEOUT)
        self._servers, self._threads = [], []

    # -- answering ---------------------------------------------------------------------------------
    def answer(self, wire, client_ip, udp=False):
        """The wire answer to one query, or None when it cannot be decoded. Over UDP an answer
        larger than 512 bytes (or the EDNS payload size) is sent truncated with TC set."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        response.flags &= ~dns.flags.RA
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
        elif len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
        elif not self.allowed(client_ip):
            response.set_rcode(dns.rcode.REFUSED)
        else:
            question = query.question[0]
            with self.sim.state.lock:
                self.resolve(response, question.name.to_text(omit_final_dot=True).lower(), question.rdtype)
        self.log(client_ip, query, response)
        limit = (max(512, query.payload) if query.edns >= 0 else 512) if udp else 65535
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            response.answer, response.authority, response.additional = [], [], []
            response.flags |= dns.flags.TC
            return response.to_wire(max_size=limit)

    def resolve(self, response, name, rdtype):
        """Fill `response` for (name, type) from the zones held."""
        zones = self.sim.areas["Zones"].zones
        zone = closest_zone(zones, name)
        if zone is None or zone["disabled"]:
            response.set_rcode(dns.rcode.REFUSED)
            return
        response.flags |= dns.flags.AA
        for _hop in range(MAX_CNAME_CHAIN):
            entries = records_at(zone, name, enabled_only=True)
            cnames = [entry for entry in entries if entry["type"] == "CNAME"]
            if cnames and rdtype not in (dns.rdatatype.CNAME, dns.rdatatype.ANY):
                response.answer.extend(rrsets_of(name, cnames))
                name = cnames[0]["rData"]["cname"]
                zone = closest_zone(zones, name)
                if zone is None or zone["disabled"]:
                    return
                continue
            wanted = [entry for entry in entries if rdtype == dns.rdatatype.ANY or dns.rdatatype.from_text(entry["type"]) == rdtype]
            if wanted:
                response.answer.extend(rrsets_of(name, wanted))
            else:
                if not name_exists(zone, name):
                    response.set_rcode(dns.rcode.NXDOMAIN)
                response.authority.append(negative_soa(zone))
            return

    def log(self, client_ip, query, response):
        """Remember the query for GET /_sim/dns/queries."""
        question = query.question[0] if query.question else None
        entry = {"client": client_ip, "name": question.name.to_text() if question else None,
                 "type": dns.rdatatype.to_text(question.rdtype) if question else None,
                 "rcode": dns.rcode.to_text(response.rcode()), "answers": sum(len(rrset) for rrset in response.answer)}
        with self._lock:
            self.queries.append(entry)
        self.sim.observer.increment("dns_queries")

    def query_log(self):
        """The queries answered, oldest first."""
        with self._lock:
            return list(self.queries)

    def reset(self):
        """Forget the query log."""
        with self._lock:
            self.queries.clear()


class UdpHandler(socketserver.BaseRequestHandler):
    """One UDP datagram, one answer."""

    def handle(self):
        data, sock = self.request
        answer = self.server.dns_service.answer(data, self.client_address[0], udp=True)
        if answer is not None:
            sock.sendto(answer, self.client_address)


class TcpHandler(socketserver.BaseRequestHandler):
    """Length-prefixed messages until the client closes or goes quiet."""

    def handle(self):
        self.request.settimeout(TCP_TIMEOUT)
        try:
            while True:
                header = self.read_exactly(2)
                if header is None:
                    return
                wire = self.read_exactly(struct.unpack("!H", header)[0])
                if wire is None:
                    return
                answer = self.server.dns_service.answer(wire, self.client_address[0])
                if answer is None:
                    return
                self.request.sendall(struct.pack("!H", len(answer)) + answer)
        except OSError:
            return

    def read_exactly(self, count):
        """`count` bytes, or None at end of stream."""
        data = b""
        while len(data) < count:
            chunk = self.request.recv(count - len(data))
            if not chunk:
                return None
            data += chunk
        return data
