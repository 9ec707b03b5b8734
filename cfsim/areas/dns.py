"""Zones (configured on the command line) and their DNS records.

Records are A, AAAA, CNAME and TXT (other types of the schema answer 400 1004 "record type ...
is not simulated"). Names are answered as FQDNs: "@" is the zone apex, a name outside the zone
gets the zone appended. What Cloudflare refuses (errors.py for the sources):
- a CNAME where any record of that name exists: 81053; an A/AAAA/TXT where a CNAME exists: 81054
  (Cloudflare docs "Records with the same name": a CNAME answers alone for its name);
- the same type, name and content twice: 81057;
- A content not IPv4: 1004 with 9005 "Content for A record must be a valid IPv4 address.", AAAA
  likewise for IPv6, a CNAME pointing at its own name, `proxied` on a TXT record: 1004 with 9041
  "Invalid proxied mode. Record cannot be proxied" (jordantrizz/cloudflare-cli issue 8).
A proxied record's TTL is automatic (1). PATCH merges into the record and then checks the result
as PUT does; PUT replaces it.
"""

import re

from simcore import route
from cfsim.errors import (DNS_CNAME_TAKEN, DNS_HOST_TAKEN, DNS_RECORD_EXISTS, DNS_RECORD_MISSING, DNS_VALIDATION,
                          HTTP_BAD_REQUEST, HTTP_NOT_FOUND, CfError)
from cfsim.simulator import CfArea, Page, timestamp

SIMULATED_TYPES = ("A", "AAAA", "CNAME", "TXT")
PROXIABLE_TYPES = ("A", "AAAA", "CNAME")
ZONES_PER_PAGE = 20     # GET /zones per_page default
RECORDS_PER_PAGE = 100  # dns-records_per_page default
HOSTNAME_RE = re.compile(r"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$", re.I)
RECORD_FIELDS = ("type", "name", "content", "proxied", "ttl", "comment", "tags")
INVALID_CONTENT = {"A": (9005, "Content for A record must be a valid IPv4 address."),
                   "AAAA": (9006, "Content for AAAA record must be a valid IPv6 address.")}
NOT_PROXIABLE = (9041, "Invalid proxied mode. Record cannot be proxied")


def dns_invalid(code_message):
    """400 1004 DNS Validation Error with the cause in the chain."""
    return CfError(HTTP_BAD_REQUEST, DNS_VALIDATION, chain=[code_message])


class ZoneList(CfArea):
    """GET /zones (filter name: equal, or the operators starts_with:, ends_with:, contains:)."""

    permission = "zone"

    @route("GET", "/zones")
    def list_zones(self, request):
        """The configured zones, active, in this account."""
        zones = [{"id": zid, "name": name, "status": "active", "paused": False, "type": "full",
                  "account": {"id": self.sim.account_id, "name": "cfsim"},
                  "name_servers": ["ns1.cfsim.invalid", "ns2.cfsim.invalid"]}
                 for zid, name in sorted(self.sim.zones.items(), key=lambda item: item[1])]
        wanted = request.query.get("name")
        if wanted is not None:
            operator, sep, value = wanted.partition(":")
            tests = {"starts_with": str.startswith, "ends_with": str.endswith, "contains": lambda a, b: b in a,
                     "not_equal": lambda a, b: a != b, "equal": lambda a, b: a == b}
            test = tests.get(operator) if sep else None
            if test is None:
                test, value = tests["equal"], wanted
            zones = [zone for zone in zones if test(zone["name"], value.lower())]
        if "status" in request.query:
            zones = [zone for zone in zones if zone["status"] == request.query["status"]]
        return Page(zones, ZONES_PER_PAGE)


class DnsRecords(CfArea):
    """/zones/{zone_id}/dns_records."""

    name = "dns"
    permission = "dns"

    def initial_state(self):
        return {"records": {}}

    def validation_error(self, errors):
        for field, message in errors:
            if field == "content" and message in ("must be a valid ipv4", "must be a valid ipv6"):
                return dns_invalid(INVALID_CONTENT["A" if message.endswith("ipv4") else "AAAA"])
        text = "; ".join("%s: %s" % (field or "body", message) for field, message in errors)
        return CfError(HTTP_BAD_REQUEST, DNS_VALIDATION, chain=[(DNS_VALIDATION[0], text)])

    def _zone(self, request):
        zid = request.path_params["zone_id"]
        if zid not in self.sim.zones:
            raise CfError(HTTP_NOT_FOUND, (7003, "Could not route to %s, perhaps your object identifier is invalid?"
                                           % request.schema_path.replace("{zone_id}", zid)))
        return zid, self.sim.zones[zid]

    def _record(self, request):
        zid, _zone = self._zone(request)
        record = self.state["records"].get(request.path_params["dns_record_id"])
        if record is None or record["zone_id"] != zid:
            raise CfError(HTTP_NOT_FOUND, DNS_RECORD_MISSING)
        return record

    @staticmethod
    def fqdn(name, zone):
        """A record name as an FQDN in the zone (lower case, no final dot)."""
        name = name.strip().lower().rstrip(".")
        if name in ("@", "", zone):
            return zone
        return name if name.endswith("." + zone) else "%s.%s" % (name, zone)

    def _checked(self, fields, zid, zone, except_id=None):
        """The record fields after Cloudflare's checks (raises CfError)."""
        kind = fields["type"]
        if kind not in SIMULATED_TYPES:
            raise dns_invalid((DNS_VALIDATION[0], "record type %s is not simulated (A, AAAA, CNAME, TXT)" % kind))
        fields["name"] = self.fqdn(fields["name"], zone)
        content = fields["content"]
        if not isinstance(content, str):
            raise self.validation_error([("content", "must be of type string")])
        if kind in INVALID_CONTENT and self.sim.validator.errors({"format": "ipv4" if kind == "A" else "ipv6"}, content):
            raise dns_invalid(INVALID_CONTENT[kind])
        if kind == "CNAME":
            content = fields["content"] = content.lower().rstrip(".")
            if not HOSTNAME_RE.match(content) or content == fields["name"]:
                raise dns_invalid((9007, "Content for CNAME record is invalid."))
        if fields.get("proxied") and kind not in PROXIABLE_TYPES:
            raise dns_invalid(NOT_PROXIABLE)
        fields["proxied"] = bool(fields.get("proxied")) if kind in PROXIABLE_TYPES else False
        fields["ttl"] = 1 if fields["proxied"] or fields.get("ttl") is None else fields["ttl"]
        same_name = [record for record in self.state["records"].values()
                     if record["zone_id"] == zid and record["name"] == fields["name"] and record["id"] != except_id]
        if any(record["type"] == kind and record["content"] == content for record in same_name):
            raise CfError(HTTP_BAD_REQUEST, DNS_RECORD_EXISTS)
        if kind == "CNAME" and same_name:
            raise CfError(HTTP_BAD_REQUEST, DNS_HOST_TAKEN)
        if any(record["type"] == "CNAME" for record in same_name):
            raise CfError(HTTP_BAD_REQUEST, DNS_CNAME_TAKEN)
        return fields

    def _store(self, fields, zid, zone, record=None):
        now = timestamp()
        if record is None:
            record = {"id": "%032x" % self.sim.observer.rng.getrandbits(128), "zone_id": zid, "zone_name": zone,
                      "created_on": now, "meta": {"auto_added": False, "source": "primary"}, "locked": False}
            self.state["records"][record["id"]] = record
        record.update({key: fields.get(key) for key in RECORD_FIELDS})
        record["tags"] = list(fields.get("tags") or [])
        record["proxiable"] = fields["type"] in PROXIABLE_TYPES
        record["modified_on"] = now
        return dict(record)

    @route("GET", "/zones/{zone_id}/dns_records")
    def list_records(self, request):
        """Filters: name (FQDN), type, content, proxied, comment; by type, then name."""
        zid, zone = self._zone(request)
        records = [record for record in self.state["records"].values() if record["zone_id"] == zid]
        query = request.query
        if "name" in query:
            records = [record for record in records if record["name"] == self.fqdn(query["name"], zone)]
        for key in ("type", "content", "proxied", "comment"):
            if key in query:
                records = [record for record in records if record.get(key) == query[key]]
        records.sort(key=lambda record: (record["type"], record["name"], record["created_on"], record["id"]))
        return Page([dict(record) for record in records], RECORDS_PER_PAGE)

    @route("POST", "/zones/{zone_id}/dns_records")
    def create(self, request):
        """POST type, name, content, proxied, ttl, comment, tags."""
        zid, zone = self._zone(request)
        fields = self._checked({key: request.body.get(key) for key in RECORD_FIELDS}, zid, zone)
        return self._store(fields, zid, zone)

    @route("GET", "/zones/{zone_id}/dns_records/{dns_record_id}")
    def get(self, request):
        """One record."""
        return dict(self._record(request))

    @route("PUT", "/zones/{zone_id}/dns_records/{dns_record_id}")
    def replace(self, request):
        """PUT: the record becomes the body."""
        record = self._record(request)
        fields = self._checked({key: request.body.get(key) for key in RECORD_FIELDS}, record["zone_id"], record["zone_name"],
                               except_id=record["id"])
        return self._store(fields, record["zone_id"], record["zone_name"], record)

    @route("PATCH", "/zones/{zone_id}/dns_records/{dns_record_id}")
    def patch(self, request):
        """PATCH: the body's fields over the record's."""
        record = self._record(request)
        fields = {key: record.get(key) for key in RECORD_FIELDS}
        fields.update({key: request.body[key] for key in RECORD_FIELDS if key in request.body})
        if "proxied" in request.body and "ttl" not in request.body and not request.body["proxied"]:
            fields["ttl"] = 1
        fields = self._checked(fields, record["zone_id"], record["zone_name"], except_id=record["id"])
        return self._store(fields, record["zone_id"], record["zone_name"], record)

    @route("DELETE", "/zones/{zone_id}/dns_records/{dns_record_id}")
    def delete(self, request):
        """DELETE: answers {id}."""
        record = self._record(request)
        del self.state["records"][record["id"]]
        return {"id": record["id"]}
