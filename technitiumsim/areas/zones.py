"""Authoritative zones and their records: the calls of APIDOCS.md "Authoritative Zone API Calls"
that the simulator serves, with the checks of DnsServerCore/WebServiceZonesApi.cs (same commit),
in the server's order: parameters that locate the zone, the zone, the permission, then the rest.

Handlers get a TechnitiumRequest (params: validate.Params, token) and return the `response` object.
Record data is compared as stored: names are kept lower case (validate.normalize_domain), addresses
in their canonical text, numbers as numbers, TXT text exactly.
"""

import ipaddress

from technitiumsim import errors
from technitiumsim.areas import TechnitiumArea
from technitiumsim.errors import TechnitiumError
from technitiumsim.rules import DEFAULT_NS_TTL, DEFAULT_RECORD_TTL, RECORD_DATA, SIMULATED_ZONE_TYPES, UPDATE_NEW_VALUE
from technitiumsim.validate import normalize_domain, ttl_string
from technitiumsim.zonedata import (closest_zone, is_within, new_primary_zone, record, records_at, reverse_zone_name,
                                    sorted_records, soa_of, touch)
from simcore import route

# Path.GetInvalidFileNameChars() on Linux, which CreateZoneAsync refuses in a zone name
INVALID_ZONE_NAME_CHARS = ("\0", "/")


def zone_info(zone):
    """A zone as the API answers it (WriteZoneInfoAsJson, Primary zone)."""
    return {"name": zone["name"], "type": zone["type"], "lastModified": zone["lastModified"], "disabled": zone["disabled"],
            "soaSerial": soa_of(zone)["rData"]["serial"], "internal": zone["internal"], "catalog": None,
            "dnssecStatus": "Unsigned", "hasDnssecPrivateKeys": False, "notifyFailed": False, "notifyFailedFor": []}


def record_info(entry):
    """A record as Get Records / Add Record answer it (WriteRecordAsJson with authoritative zone records)."""
    answer = {"name": entry["name"], "type": entry["type"], "ttl": entry["ttl"], "ttlString": ttl_string(entry["ttl"]),
              "disabled": entry["disabled"], "rData": dict(entry["rData"]), "dnssecStatus": "Unknown",
              "lastUsedOn": "0001-01-01T00:00:00"}
    if entry.get("comments"):
        answer["comments"] = entry["comments"]
    return answer


class Zones(TechnitiumArea):
    """The zone calls and the PTR bookkeeping of A/AAAA records."""

    name = "zones"

    def initial_state(self):
        return {"zones": {}}

    @property
    def zones(self):
        """{zone name: zone} (live)."""
        return self.state["zones"]

    # -- zones -------------------------------------------------------------------------------------
    @route("GET", "/api/zones/list")
    def list_zones(self, request):
        """All zones by name; `pageNumber` pages them (`zonesPerPage`, default 10): a page number of 0
        is the first, one past the end or negative the last; with no zones pageNumber and totalPages are 0."""
        zones = [zone_info(self.zones[name]) for name in sorted(self.zones)]
        params = request.params
        if not params.has("pageNumber"):
            return {"zones": zones}
        page_number = params.get("pageNumber")
        per_page = params.get("zonesPerPage")
        total = len(zones)
        if total == 0:
            return {"pageNumber": 0, "totalPages": 0, "totalZones": 0, "zones": []}
        total_pages = -(-total // per_page)
        page_number = 1 if page_number == 0 else page_number
        page_number = total_pages if page_number > total_pages else page_number
        start = (page_number - 1) * per_page
        return {"pageNumber": page_number, "totalPages": total_pages, "totalZones": total,
                "zones": zones[start:start + per_page]}

    @route("GET", "/api/zones/create")
    def create_zone(self, request):
        """A zone from a name, an IP address (its /32 or /128 reverse name) or a network in CIDR form
        (its reverse zone); answers `domain`, the zone created."""
        params = request.params
        given = params.get("zone")
        name = self.zone_name_of(given)
        zone_type = params.get("type")
        params.get("useSoaSerialDateScheme")
        if zone_type not in SIMULATED_ZONE_TYPES:
            raise TechnitiumError(errors.ZONE_TYPE_NOT_SIMULATED % zone_type)
        if name in self.zones:
            raise TechnitiumError(errors.ZONE_EXISTS % name)
        self.zones[name] = new_primary_zone(name, self.sim.server_domain)
        return {"domain": name}

    @staticmethod
    def zone_name_of(given):
        """The zone name CreateZoneAsync derives from the `zone` parameter."""
        text = given.strip()
        try:
            address = ipaddress.ip_address(text)
            return reverse_zone_name(address, address.max_prefixlen)
        except ValueError:
            pass
        if "/" in text:
            address, _sep, width = text.partition("/")
            try:
                return reverse_zone_name(ipaddress.ip_address(address), int(width))
            except ValueError:
                pass
        text = text.strip(".")
        if "*" in text:
            raise TechnitiumError(errors.ZONE_WILDCARD)
        for char in INVALID_ZONE_NAME_CHARS:
            if char in text:
                raise TechnitiumError(errors.ZONE_INVALID_CHAR % char)
        return normalize_domain(text)

    @route("GET", "/api/zones/delete")
    def delete_zone(self, request):
        """Delete a zone with all its records."""
        name = request.params.get("zone").strip().strip(".").lower()
        if name not in self.zones:
            raise TechnitiumError(errors.NO_SUCH_ZONE % name)
        del self.zones[name]
        return {}

    # -- records -----------------------------------------------------------------------------------
    def locate(self, params):
        """(domain, zone) of a record call: the `zone` parameter's closest zone, else the domain's
        closest; the domain must be within it."""
        domain = params.get("domain")
        zone_name = params.get("zone")
        zone = closest_zone(self.zones, zone_name if zone_name else domain)
        if zone is None:
            raise TechnitiumError(errors.NO_SUCH_ZONE % domain)
        return domain, zone

    @staticmethod
    def check_within(domain, zone):
        """AuthZoneManager.ValidateIfDomainBelongsToZone."""
        if not is_within(domain, zone["name"]):
            raise TechnitiumError(errors.NOT_IN_ZONE % (domain, zone["name"]))

    @staticmethod
    def record_type(params):
        """The `type` parameter, limited to the types the simulator holds."""
        record_type = params.get("type")
        if record_type not in RECORD_DATA:
            raise TechnitiumError(errors.RECORD_TYPE_NOT_SIMULATED % record_type)
        return record_type

    @staticmethod
    def record_data(params, record_type):
        """The rData of a record from its type's parameters, each required."""
        return {key: params.get(key, required=True) for key, _kind in RECORD_DATA[record_type]}

    @staticmethod
    def new_record_data(params, record_type, old_data):
        """The rData Update Record sets: each `new...` parameter given, else the current value."""
        data = dict(old_data)
        for key, parameter in UPDATE_NEW_VALUE[record_type].items():
            if params.has(parameter):
                data[key] = params.get(parameter)
        return data

    def add_to_zone(self, zone, entry, overwrite):
        """Add a record, or with `overwrite` replace the set of its type at its name (SetRecord), with
        the rules of AuthZone.cs: a CNAME stands alone at its name and no other type joins one; an
        added record gives its TTL to the whole set (AddRecord), and the same data with the same TTL
        is refused."""
        self.check_within(entry["name"], zone)
        others = records_at(zone, entry["name"])
        if entry["type"] == "CNAME":
            if any(other["type"] != "CNAME" for other in others):
                raise TechnitiumError(errors.CNAME_CONFLICT)
        elif any(other["type"] == "CNAME" for other in others):
            raise TechnitiumError(errors.CNAME_CONFLICT)
        same_type = [other for other in others if other["type"] == entry["type"]]
        if overwrite:
            for other in same_type:
                zone["records"].remove(other)
        else:
            same = [other for other in same_type if other["rData"] == entry["rData"]]
            if same and same[0]["ttl"] == entry["ttl"]:
                raise TechnitiumError(errors.RECORD_EXISTS)
            for other in same_type:
                other["ttl"] = entry["ttl"]
            if same:
                touch(zone)
                return same[0]
        zone["records"].append(entry)
        touch(zone)
        return entry

    def reverse_zone_for(self, address, record_type, create):
        """The zone that holds the PTR of an address; with `create` a /24 (A) or /64 (AAAA) Primary
        reverse zone is made when none exists (AddRecord `ptr`, `createPtrZone`)."""
        ptr_name = reverse_zone_name(ipaddress.ip_address(address), 32 if record_type == "A" else 128)
        zone = closest_zone(self.zones, ptr_name)
        if zone is None:
            if not create:
                raise TechnitiumError(errors.NO_REVERSE_ZONE)
            zone_name = reverse_zone_name(ipaddress.ip_address(address), 24 if record_type == "A" else 64)
            zone = self.zones[zone_name] = new_primary_zone(zone_name, self.sim.server_domain)
        return ptr_name, zone

    @route("GET", "/api/zones/records/add")
    def add_record(self, request):
        """Add a record; A/AAAA with `ptr` also set the PTR in the reverse zone."""
        params = request.params
        domain, zone = self.locate(params)
        request.require_zone_permission()
        record_type = self.record_type(params)
        ttl = params.get("ttl", default=DEFAULT_NS_TTL if record_type == "NS" else DEFAULT_RECORD_TTL)
        overwrite = params.get("overwrite")
        comments = params.get("comments")
        if record_type == "CNAME" and not overwrite and records_at(zone, domain, "CNAME"):
            raise TechnitiumError(errors.CNAME_EXISTS)
        data = self.record_data(params, record_type)
        if record_type == "CNAME" and data["cname"] == domain:
            raise TechnitiumError(errors.CNAME_SAME_NAME)
        self.check_within(domain, zone)
        if record_type in ("A", "AAAA") and params.get("ptr"):
            ptr_name, reverse = self.reverse_zone_for(data["ipAddress"], record_type, params.get("createPtrZone"))
            self.add_to_zone(reverse, record(ptr_name, "PTR", ttl, {"ptrName": domain}), overwrite=True)
        # a CNAME is always set, never added (AddRecord forces overwrite for CNAME)
        entry = self.add_to_zone(zone, record(domain, record_type, ttl, data, comments), overwrite or record_type == "CNAME")
        return {"zone": zone_info(zone), "addedRecord": record_info(entry)}

    @route("GET", "/api/zones/records/get")
    def get_records(self, request):
        """The records at `domain`, or the whole zone with `listZone=true`."""
        params = request.params
        domain, zone = self.locate(params)
        request.require_zone_permission()
        if params.get("listZone"):
            records = zone["records"]
        else:
            records = records_at(zone, domain)
        return {"zone": zone_info(zone), "records": [record_info(entry) for entry in sorted_records(records)]}

    @route("GET", "/api/zones/records/update")
    def update_record(self, request):
        """Replace one record (found by its current data) with its new name, data, TTL, comments, state."""
        params = request.params
        domain, zone = self.locate(params)
        request.require_zone_permission()
        new_domain = params.get("newDomain") or domain
        record_type = self.record_type(params)
        ttl = params.get("ttl", default=DEFAULT_NS_TTL if record_type == "NS" else DEFAULT_RECORD_TTL)
        disable = params.get("disable")
        comments = params.get("comments")
        old_data = self.record_data(params, record_type)
        new_data = self.new_record_data(params, record_type, old_data)
        if record_type == "CNAME" and new_data["cname"] == new_domain:
            raise TechnitiumError(errors.CNAME_SAME_NAME)
        old = next((entry for entry in records_at(zone, domain, record_type)
                    if record_type == "CNAME" or entry["rData"] == old_data), None)
        if old is None:
            raise TechnitiumError(errors.OLD_RECORD_MISSING)
        self.check_within(new_domain, zone)
        if record_type in ("A", "AAAA") and params.get("ptr"):
            self.remove_ptr(old["name"], old["rData"]["ipAddress"], record_type)
            ptr_name, reverse = self.reverse_zone_for(new_data["ipAddress"], record_type, params.get("createPtrZone"))
            self.add_to_zone(reverse, record(ptr_name, "PTR", ttl, {"ptrName": new_domain}), overwrite=True)
        zone["records"].remove(old)
        entry = record(new_domain, record_type, ttl, new_data, comments)
        entry["disabled"] = disable
        # a refusal here leaves the zone as it was: the pipeline restores the state of a refused write
        entry = self.add_to_zone(zone, entry, overwrite=record_type == "CNAME")
        return {"zone": zone_info(zone), "updatedRecord": record_info(entry)}

    def remove_ptr(self, domain, address, record_type):
        """Drop the PTR of an A/AAAA record that points back at its name (DeleteRecord does so)."""
        ptr_name = reverse_zone_name(ipaddress.ip_address(address), 32 if record_type == "A" else 128)
        reverse = closest_zone(self.zones, ptr_name)
        if reverse is None:
            return
        for entry in records_at(reverse, ptr_name, "PTR"):
            if entry["rData"]["ptrName"] == domain:
                reverse["records"].remove(entry)
                touch(reverse)
                return

    @route("GET", "/api/zones/records/delete")
    def delete_record(self, request):
        """Delete one record by its data (a CNAME by name alone); an A/AAAA also loses its PTR."""
        params = request.params
        domain, zone = self.locate(params)
        request.require_zone_permission()
        record_type = self.record_type(params)
        if record_type == "CNAME":
            matches = records_at(zone, domain, "CNAME")
        else:
            data = self.record_data(params, record_type)
            matches = [entry for entry in records_at(zone, domain, record_type) if entry["rData"] == data]
        if not matches:
            raise TechnitiumError(errors.NO_SUCH_RECORD)
        for entry in matches:
            zone["records"].remove(entry)
        touch(zone)
        if record_type in ("A", "AAAA"):
            self.remove_ptr(domain, matches[0]["rData"]["ipAddress"], record_type)
        return {}
