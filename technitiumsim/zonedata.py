"""The zones the simulator holds, as JSON state, and the lookups the API and the DNS service share.

State namespace `zones`: {"zones": {name: zone}}, a zone being
  {"name", "type", "internal", "disabled", "lastModified", "records": [record, ...]}
and a record {"name", "type", "ttl", "disabled", "rData": {...}, "lastModified"[, "comments"]}, names
lower case without the trailing dot, rData keyed as the API answers it (rules.RECORD_DATA).
Callers hold the simulator's state lock.
"""

import ipaddress
import math
import time

from technitiumsim.rules import DEFAULT_NS_TTL, DEFAULT_SOA_TTL, SOA_TIMERS


def timestamp():
    """Now as .NET writes a UTC DateTime in JSON (seven decimals, Z)."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%07dZ" % int((now % 1) * 1e7)


def reverse_zone_name(address, prefix_length):
    """The reverse zone of an address cut at a prefix length, as the server names it
    (DnsServerCore/Dns/Zones/Zone.cs GetReverseZone): whole bytes, ceil(length / 8) of them, IPv4
    as decimal labels under in-addr.arpa, IPv6 as two nibble labels a byte under ip6.arpa."""
    packed = ipaddress.ip_address(address).packed
    count = math.ceil(prefix_length / 8)
    if len(packed) == 4:
        labels = [str(byte) for byte in packed[:count]]
        suffix = "in-addr.arpa"
    else:
        labels = []
        for byte in packed[:count]:
            labels.extend(["%x" % (byte >> 4), "%x" % (byte & 0x0F)])
        suffix = "ip6.arpa"
    return ".".join(list(reversed(labels)) + [suffix])


def is_within(name, zone_name):
    """The domain is the zone's apex or below it (AuthZoneManager.DomainBelongsToZone)."""
    return name == zone_name or name.endswith("." + zone_name) or zone_name == ""


def closest_zone(zones, name):
    """The zone that holds `name`: the one with the longest apex `name` is within (FindAuthZoneInfo)."""
    best = None
    for zone_name, zone in zones.items():
        if is_within(name, zone_name) and (best is None or len(zone_name) > len(best["name"])):
            best = zone
    return best


def new_primary_zone(name, server_domain):
    """A new Primary zone with the SOA and NS records the server gives it (PrimaryZone.cs): SOA
    primary name server = the server's domain, responsible person hostadmin@<zone> (written as a
    name, hostadmin.<zone>), serial 1, refresh 900, retry 300, expire 604800, minimum and TTL = the
    default SOA TTL 900; NS = the server's domain with the default NS TTL 14400."""
    now = timestamp()
    soa = dict({"primaryNameServer": server_domain, "responsiblePerson": "hostadmin.%s" % name if name else "hostadmin",
                "serial": 1, "minimum": DEFAULT_SOA_TTL}, **SOA_TIMERS)
    return {
        "name": name, "type": "Primary", "internal": False, "disabled": False, "lastModified": now,
        "records": [record(name, "SOA", DEFAULT_SOA_TTL, soa), record(name, "NS", DEFAULT_NS_TTL, {"nameServer": server_domain})],
    }


def record(name, record_type, ttl, rdata, comments=None):
    """A record as the state keeps it."""
    entry = {"name": name, "type": record_type, "ttl": ttl, "disabled": False, "rData": rdata, "lastModified": timestamp()}
    if comments:
        entry["comments"] = comments
    return entry


def soa_of(zone):
    """The zone's SOA record."""
    return next(entry for entry in zone["records"] if entry["type"] == "SOA")


def touch(zone):
    """A change to the zone: next SOA serial (the server increments it on every change of a
    Primary zone) and a new lastModified."""
    soa = soa_of(zone)["rData"]
    soa["serial"] = soa["serial"] % 4294967295 + 1
    zone["lastModified"] = timestamp()


def records_at(zone, name, record_type=None, enabled_only=False):
    """The zone's records at `name` (of one type when given)."""
    return [entry for entry in zone["records"]
            if entry["name"] == name and (record_type is None or entry["type"] == record_type)
            and not (enabled_only and entry["disabled"])]


def name_exists(zone, name):
    """The name has records, or names below it have (an empty non-terminal exists too, RFC 8020)."""
    return any(entry["name"] == name or entry["name"].endswith("." + name) for entry in zone["records"])


TYPE_ORDER = ("SOA", "NS", "A", "AAAA", "CNAME", "PTR", "MX", "TXT", "SRV")


def sorted_records(records):
    """Records in the order the API lists them: by name, then type, then as added."""
    return sorted(records, key=lambda entry: (entry["name"], TYPE_ORDER.index(entry["type"]) if entry["type"] in TYPE_ORDER else 99))
