"""Errors that become Cloudflare-shaped answers.

Every Cloudflare API v4 answer is the envelope {"success", "errors", "messages", "result"}
(the vendored schema's `*_api-response-common-failure`: success false, errors a list of
{"code", "message"}, result null). Some errors carry an `error_chain` of the underlying causes.

Where the codes and texts come from (public reports of real answers, cited by repository and issue):
- 9106 "Missing X-Auth-Key, X-Auth-Email or Authorization headers", HTTP 400
  (cloudflare/cloudflare-python issue 2678);
- 6003 "Invalid request headers" with error_chain 6111 "Invalid format for Authorization header",
  HTTP 400 (jeessy2/ddns-go issue 916);
- 10000 "Authentication error", HTTP 403 (hieunc229/mailflare issue 1; cloudflare/terraform-provider-cloudflare
  issue 3292: a DNS token used where it has no permission);
- 9109 "Unauthorized to access requested resource" (ChrispyBacon-dev/DockFlare issue 177: an Access call);
- 7003 "No route for the URI" (the vendored schema's failure example), HTTP 404;
- DNS: 1004 "DNS Validation Error" with a chain such as 9005 "Content for A record must be a valid IPv4
  address." (jordantrizz/cloudflare-cli issue 8, timothymiller/cloudflare-ddns issue 230),
  81044 "Record does not exist." (zanjie1999/cloudflare-api-v4-ddns issue 5),
  81053 "An A, AAAA, or CNAME record with that host already exists." (HermanMartinus/bearblog issue 105),
  81054 "A CNAME record with that host already exists. ..." (jeessy2/ddns-go issue 1557, HTTP 400),
  81057 "Record already exists." (aaPanel/aaPanel issue 112, HTTP 400);
- Tunnels: 1013 "You already have a tunnel with this name. Delete the existing tunnel, or choose a
  different name for your new tunnel" (linuxserver/docker-mods issue 280);
- Access: 11010 "access.api.error.application_already_exists", HTTP 409 (ChrispyBacon-dev/DockFlare issue 217).
Codes marked SIMULATOR below were not found in any public answer; they are this simulator's own
and the README lists them.
"""

HTTP_BAD_REQUEST = 400
HTTP_FORBIDDEN = 403
HTTP_NOT_FOUND = 404
HTTP_CONFLICT = 409

MISSING_AUTH = (9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
INVALID_HEADERS = (6003, "Invalid request headers")
INVALID_AUTHORIZATION_FORMAT = (6111, "Invalid format for Authorization header")
AUTHENTICATION_ERROR = (10000, "Authentication error")
UNAUTHORIZED_RESOURCE = (9109, "Unauthorized to access requested resource")
NO_ROUTE = (7003, "No route for the URI")
DNS_VALIDATION = (1004, "DNS Validation Error")
DNS_RECORD_MISSING = (81044, "Record does not exist.")
DNS_HOST_TAKEN = (81053, "An A, AAAA, or CNAME record with that host already exists.")
DNS_CNAME_TAKEN = (81054, "A CNAME record with that host already exists. For more details, refer to "
                          "<https://developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name/>.")
DNS_RECORD_EXISTS = (81057, "Record already exists.")
TUNNEL_NAME_TAKEN = (1013, "You already have a tunnel with this name. Delete the existing tunnel, "
                           "or choose a different name for your new tunnel")
ACCESS_APP_EXISTS = (11010, "access.api.error.application_already_exists")
# SIMULATOR: codes of request validation outside DNS and of a policy still used by an application
TUNNEL_VALIDATION_CODE = 1001
ACCESS_VALIDATION_CODE = 12130
ACCESS_POLICY_IN_USE = (12131, "access.api.error.policy_in_use")


class CfError(Exception):
    """An error answer: HTTP status and the `errors` entries (code, message, optional chain)."""

    def __init__(self, status, code_message, chain=()):
        super().__init__(code_message[1])
        self.status = status
        self.code, self.message = code_message
        self.chain = list(chain)

    def errors(self):
        """The envelope's `errors` list."""
        entry = {"code": self.code, "message": self.message}
        if self.chain:
            entry["error_chain"] = [{"code": code, "message": message} for code, message in self.chain]
        return [entry]


def not_found():
    """An id the account or zone does not have: 404 7003."""
    return CfError(HTTP_NOT_FOUND, NO_ROUTE)
