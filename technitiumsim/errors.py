"""Errors that become Technitium-shaped answers, and the texts they carry.

Every API answer is HTTP 200 with a JSON object (APIDOCS.md "API Response Format"):
  success  {"response": {...}, "server": <server domain>, "status": "ok"}
  error    {"server", "status": "error", "errorMessage", "stackTrace", "innerErrorMessage"}
  token    {"server", "status": "invalid-token", "errorMessage"}
The server writes `innerErrorMessage` only when the exception has an inner one
(DnsServerCore/DnsWebService.cs WebServiceExceptionHandler); `stackTrace` is in the documented
shape, here a one-line trace naming the simulator and the call.

Texts, from TechnitiumSoftware/DnsServer at the commit of data/PROVENANCE.md:
- DnsServerCore/DnsWebService.cs: "Invalid token or session expired."; a missing path under /api/
  answers 404 with an empty body (the `apiFallback` mark).
- DnsServerCore/Extensions.cs: "Parameter '<name>' missing."
- DnsServerCore/WebServiceZonesApi.cs: "Access was denied.", "Zone already exists: <zone>",
  "No such zone was found: <name>", "Domain name for a zone cannot contain wildcard character.",
  "The zone name contains an invalid character: <c>", "Record already exists. Use overwrite option if
  you wish to overwrite existing record.", "CNAME domain name cannot be same as that of the record
  name.", "Cannot add record: record already exists.", "Cannot delete record: no such record exists.",
  "No reverse zone available to add PTR record."
- DnsServerCore/Dns/Zones/AuthZone.cs: "Cannot add record: a CNAME record cannot exists with other
  record types for the same name.", "Cannot update record: the old record does not exists."
- DnsServerCore/Dns/ZoneManagers/AuthZoneManager.cs: "The domain name '<d>' does not belong to the
  zone: <zone>"
- TechnitiumLibrary.Net/Dns/ZoneFile.cs (TechnitiumSoftware/TechnitiumLibrary, commit
  d4ca600a92c602fb2c1a65159f38197390b9c036) ParseTtl: "Failed to parse TTL from value: <v>"
- .NET's own parse errors the server lets through (dotnet/runtime resource strings):
  Enum.Parse "Requested value '<v>' was not found.", bool.Parse "String '<v>' was not recognized as
  a valid Boolean.", IPAddress.Parse "An invalid IP address was specified.", int/uint parse "The
  input string '<v>' was not in a correct format." and "Value was either too large or too small for
  a <type>."
Texts marked SIMULATOR are this simulator's own (README "Limits").
"""

INVALID_TOKEN = "Invalid token or session expired."
ACCESS_DENIED = "Access was denied."
PARAMETER_MISSING = "Parameter '%s' missing."
ZONE_EXISTS = "Zone already exists: %s"
NO_SUCH_ZONE = "No such zone was found: %s"
ZONE_WILDCARD = "Domain name for a zone cannot contain wildcard character."
ZONE_INVALID_CHAR = "The zone name contains an invalid character: %s"
NOT_IN_ZONE = "The domain name '%s' does not belong to the zone: %s"
CNAME_EXISTS = "Record already exists. Use overwrite option if you wish to overwrite existing record."
CNAME_SAME_NAME = "CNAME domain name cannot be same as that of the record name."
CNAME_CONFLICT = "Cannot add record: a CNAME record cannot exists with other record types for the same name."
RECORD_EXISTS = "Cannot add record: record already exists."
NO_SUCH_RECORD = "Cannot delete record: no such record exists."
OLD_RECORD_MISSING = "Cannot update record: the old record does not exists."
NO_REVERSE_ZONE = "No reverse zone available to add PTR record."
ENUM_NOT_FOUND = "Requested value '%s' was not found."
BAD_BOOLEAN = "String '%s' was not recognized as a valid Boolean."
BAD_IP_ADDRESS = "An invalid IP address was specified."
BAD_NUMBER = "The input string '%s' was not in a correct format."
NUMBER_RANGE = "Value was either too large or too small for a %s."
BAD_TTL = "Failed to parse TTL from value: %s"
# SIMULATOR: what the simulator does not hold, and names the server would take apart later
ZONE_TYPE_NOT_SIMULATED = "technitiumsim: only Primary zones are simulated, not %s"
RECORD_TYPE_NOT_SIMULATED = "technitiumsim: %s records are not simulated"
INVALID_DOMAIN = "technitiumsim: invalid domain name: %s"


class TechnitiumError(Exception):
    """An answer with `status: error`; `inner` becomes `innerErrorMessage`."""

    def __init__(self, message, inner=None):
        super().__init__(message)
        self.message = message
        self.inner = inner


class InvalidToken(Exception):
    """No token, an unknown one or a removed one: `status: invalid-token`."""
