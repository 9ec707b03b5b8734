"""The parameter rules technitiumsim validates: one table of data, each entry naming the section of
`data/APIDOCS-subset.md` (TechnitiumSoftware/DnsServer APIDOCS.md, see data/PROVENANCE.md) it comes
from. Where the documentation gives no default or range, the value is the server's and its source
file is named (same commit as the documentation).

A parameter rule is a dict:
  kind       "domain" (a name, trailing dot dropped), "text", "bool", "int", "ttl" (seconds or units,
             TechnitiumLibrary ZoneFile.ParseTtl), "ip", "enum"
  required   the call fails with "Parameter '<name>' missing." when it is absent or empty
             (DnsServerCore/Extensions.cs GetQueryOrForm)
  alternate  a second parameter name read when the first is absent (GetQueryOrFormAlt: `value`)
  values     the accepted values of an enum (compared ignoring case, as Enum.Parse(value, true))
  default    the value when absent
  min, max   the range of an int or ttl
  section    the documentation section that names the parameter
"""

# Permission sections and flags as the documentation writes them ("PERMISSIONS: Zones: Modify");
# a token holds "<section>:<flag>" strings. The server checks the flags one by one (PermissionFlag
# View, Modify, Delete in DnsServerCore/Auth), so Modify does not imply View.
PERMISSION_SECTION = "Zones"
PERMISSION_FLAGS = ("View", "Modify", "Delete")
ALL_PERMISSIONS = tuple("%s:%s" % (PERMISSION_SECTION, flag) for flag in PERMISSION_FLAGS)

# "Create Zone": `type` valid values.
ZONE_TYPES = ("Primary", "Secondary", "Stub", "Forwarder", "SecondaryForwarder", "Catalog", "SecondaryCatalog")
# The zone types the simulator holds (the others answer an error naming the simulator).
SIMULATED_ZONE_TYPES = ("Primary",)

# "Add Record": `type` supported record types, proprietary types included.
RECORD_TYPES = ("A", "AAAA", "NS", "CNAME", "PTR", "MX", "TXT", "SRV", "DNAME", "DS", "SSHFP", "TLSA", "SVCB", "HTTPS",
                "URI", "CAA", "ANAME", "FWD", "APP")
# Types the documentation's Get Records answer shows besides those (a zone's own SOA).
ANSWERED_ONLY_TYPES = ("SOA",)

# The record types the simulator stores and serves, with the parameter(s) that carry their data in
# "Add Record" / "Delete Record" ("ipAddress ... required and used only for A and AAAA records",
# "cname ... required for adding CNAME record", "ptrName ...", "text ...", "nameServer ...",
# "exchange"/"preference" for MX, "priority"/"weight"/"port"/"target" for SRV). The rData keys of the
# answers are the same names (Get Records).
RECORD_DATA = {
    "A": (("ipAddress", "ip"),),
    "AAAA": (("ipAddress", "ip"),),
    "NS": (("nameServer", "domain"),),
    "CNAME": (("cname", "domain"),),
    "PTR": (("ptrName", "domain"),),
    "MX": (("preference", "int"), ("exchange", "domain")),
    "TXT": (("text", "text"),),
    "SRV": (("priority", "int"), ("weight", "int"), ("port", "int"), ("target", "domain")),
}

# The new-value parameters of "Update Record", {type: {rData key: parameter}} (absent: the current
# value); a CNAME's `cname` is itself the new value ("The CNAME domain name to update").
UPDATE_NEW_VALUE = {
    "A": {"ipAddress": "newIpAddress"}, "AAAA": {"ipAddress": "newIpAddress"}, "NS": {"nameServer": "newNameServer"},
    "PTR": {"ptrName": "newPtrName"}, "TXT": {"text": "newText"}, "CNAME": {},
    "MX": {"preference": "newPreference", "exchange": "newExchange"},
    "SRV": {"priority": "newPriority", "weight": "newWeight", "port": "newPort", "target": "newTarget"},
}

# Default TTLs (DnsServerCore/Dns/ZoneManagers/AuthZoneManager.cs: _defaultRecordTtl 3600,
# _defaultNsRecordTtl 14400, _defaultSoaRecordTtl 900) and the SOA of a new Primary zone
# (DnsServerCore/Dns/Zones/PrimaryZone.cs: refresh 900, retry 300, expire 604800, minimum = SOA TTL).
DEFAULT_RECORD_TTL = 3600
DEFAULT_NS_TTL = 14400
DEFAULT_SOA_TTL = 900
SOA_TIMERS = {"refresh": 900, "retry": 300, "expire": 604800}
# TTLs are unsigned 32-bit in the server (`uint ttl` in WebServiceZonesApi.cs AddRecord).
TTL_MAX = 4294967295
# "List Zones": "The default value is `10` when not specified."
DEFAULT_ZONES_PER_PAGE = 10

DOMAIN = {"kind": "domain", "required": True}
UINT16 = {"kind": "int", "required": False, "min": 0, "max": 65535}
OPTIONAL_ZONE = {"kind": "domain", "required": False}
TTL = {"kind": "ttl", "required": False}
FLAG = {"kind": "bool", "required": False, "default": False}
RECORD_TYPE = {"kind": "enum", "required": True, "values": RECORD_TYPES + ANSWERED_ONLY_TYPES}
TEXT = {"kind": "text", "required": False}
VALUE_DOMAIN = {"kind": "domain", "required": False, "alternate": "value"}
NEW_VALUE_DOMAIN = {"kind": "domain", "required": False, "alternate": "newValue"}
# The data parameters of the record types held (RECORD_DATA), as Add, Update and Delete Record take
# them; `value` stands for the name, address or text one (the server's GetQueryOrFormAlt(name, "value")).
RECORD_VALUE_PARAMS = {
    "ipAddress": {"kind": "ip", "required": False, "alternate": "value"},
    "nameServer": VALUE_DOMAIN, "cname": VALUE_DOMAIN, "ptrName": VALUE_DOMAIN, "exchange": VALUE_DOMAIN, "target": VALUE_DOMAIN,
    "text": {"kind": "text", "required": False, "alternate": "value"},
    "preference": UINT16, "priority": UINT16, "weight": UINT16, "port": UINT16,
}

# The calls served: path, obsolete paths (answered the same), whether it writes, its parameters and
# its permission: `permission` is the Zones section's, checked before any parameter is read; the
# record calls have none there ("Zones: None") and check `zone_permission` on the zone once it is
# found ("Zone: Modify"); the simulator gives a token its section flags on every zone.
CALLS = {
    "/api/zones/list": {
        "section": "List Zones", "obsolete": ("/api/zone/list", "/api/listZones"), "permission": "Zones:View", "write": False,
        "params": {
            "pageNumber": {"kind": "int", "required": False, "min": 0, "max": 2147483647},
            "zonesPerPage": {"kind": "int", "required": False, "min": 1, "max": 2147483647, "default": DEFAULT_ZONES_PER_PAGE},
        },
    },
    "/api/zones/create": {
        "section": "Create Zone", "obsolete": ("/api/zone/create", "/api/createZone"), "permission": "Zones:Modify", "write": True,
        "params": {
            "zone": {"kind": "text", "required": True, "alternate": "domain"},
            # DnsServerCore/WebServiceZonesApi.cs CreateZoneAsync: GetQueryOrFormEnum("type", AuthZoneType.Primary)
            "type": {"kind": "enum", "required": False, "values": ZONE_TYPES, "default": "Primary"},
            "useSoaSerialDateScheme": FLAG,
        },
    },
    "/api/zones/delete": {
        "section": "Delete Zone", "obsolete": ("/api/zone/delete", "/api/deleteZone"), "permission": "Zones:Delete", "write": True,
        # the name as given, dots trimmed (DeleteZone converts no address or network)
        "params": {"zone": {"kind": "text", "required": True, "alternate": "domain"}},
    },
    "/api/zones/records/add": {
        "section": "Add Record", "obsolete": ("/api/zone/addRecord", "/api/addRecord"), "zone_permission": "Zones:Modify", "write": True,
        "params": dict(RECORD_VALUE_PARAMS, domain=DOMAIN, zone=OPTIONAL_ZONE, type=RECORD_TYPE, ttl=TTL, overwrite=FLAG,
                       comments=TEXT, ptr=FLAG, createPtrZone=FLAG),
    },
    "/api/zones/records/get": {
        "section": "Get Records", "obsolete": ("/api/zone/getRecords", "/api/getRecords"), "zone_permission": "Zones:View", "write": False,
        "params": {"domain": DOMAIN, "zone": OPTIONAL_ZONE, "listZone": FLAG},
    },
    "/api/zones/records/update": {
        "section": "Update Record", "obsolete": ("/api/zone/updateRecord", "/api/updateRecord"), "zone_permission": "Zones:Modify",
        "write": True,
        # ttl: "Default value of `3600` is used when parameter is missing." (NS: the NS default, WebServiceZonesApi.cs)
        "params": dict(RECORD_VALUE_PARAMS, domain=DOMAIN, zone=OPTIONAL_ZONE, type=RECORD_TYPE, ttl=TTL, disable=FLAG, comments=TEXT,
                       ptr=FLAG, createPtrZone=FLAG, newDomain={"kind": "domain", "required": False},
                       newIpAddress={"kind": "ip", "required": False, "alternate": "newValue"},
                       newNameServer=NEW_VALUE_DOMAIN, newPtrName=NEW_VALUE_DOMAIN, newExchange=NEW_VALUE_DOMAIN,
                       newText={"kind": "text", "required": False, "alternate": "newValue"},
                       newPreference=UINT16, newPriority=UINT16, newWeight=UINT16, newPort=UINT16,
                       newTarget={"kind": "domain", "required": False}),
    },
    "/api/zones/records/delete": {
        "section": "Delete Record", "obsolete": ("/api/zone/deleteRecord", "/api/deleteRecord"), "zone_permission": "Zones:Delete",
        "write": True,
        # a CNAME is deleted by name alone: the section lists no `cname`
        "params": dict({name: rule for name, rule in RECORD_VALUE_PARAMS.items() if name != "cname"},
                       domain=DOMAIN, zone=OPTIONAL_ZONE, type=RECORD_TYPE),
    },
}


def call_for_path(path):
    """(canonical path, call rules) of a served path or one of its obsolete paths, else (None, None)."""
    if path in CALLS:
        return path, CALLS[path]
    for canonical, call in CALLS.items():
        if path in call["obsolete"]:
            return canonical, call
    return None, None
