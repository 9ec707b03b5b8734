"""Users, API tokens, tickets, CSRF tokens and the API permission check.

Facts (pve-manager PVE/HTTPServer.pm auth_handler, pve-access-control src/PVE/AccessControl.pm,
pve-common src/PVE/Ticket.pm, src/PVE/RPCEnvironment.pm check_api2_permissions):
- no auth needed for GET /access/domains, GET|POST /access/ticket, POST /access/vncticket,
  POST /access/openid/login and /access/openid/auth-url;
- an API token (`Authorization: PVEAPIToken=USER@REALM!NAME=SECRET`) is only looked at when
  no ticket was sent; any token problem -> 401 "Authentication failed!";
- no ticket -> 401 "No ticket"; a bad/expired ticket or disabled user -> 401 "Authentication failed!";
- tickets are `PVE:<userid>:<8 hex digit time>::<signature>`, valid from -5 min to 2 h;
- with a ticket, every method but GET needs header CSRFPreventionToken `<8 hex>:<signature>`,
  else 401 "Permission denied - invalid csrf token" (a PVE::Exception: status and reason only);
- tokens never need CSRF.
The signatures here are HMACs with a per-simulator secret instead of PVE's RSA signatures:
same shape, not interchangeable with a real cluster's.
"""

import base64
import hashlib
import hmac
import re
import secrets
import time
from urllib.parse import unquote

from pvesim.errors import AuthError, PermissionDenied
from pvesim.formats import TOKEN_FULL_RE

TICKET_LIFETIME = 2 * 3600  # AccessControl.pm $ticket_lifetime
AUTH_GRACE_PERIOD = 5 * 60  # AccessControl.pm $auth_graceperiod
NO_AUTH_ROUTES = {
    ("GET", "/access/domains"),
    ("GET", "/access/ticket"),
    ("POST", "/access/ticket"),
    ("POST", "/access/vncticket"),
    ("POST", "/access/openid/login"),
    ("POST", "/access/openid/auth-url"),
}
COOKIE_NAME = "PVEAuthCookie"
APITOKEN_NAME = "PVEAPIToken"
# Documented demo secret of the default token root@pam!homecloud (README of pvesim / --help).
DEMO_TOKEN_SECRET = "5e1d0c1a-7b5e-4c8e-9a55-0c0ffee0cafe"
AUTH_FAILED = "Authentication failed!\n"


def hash_secret(secret):
    """What the state stores instead of a password or token secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_tokenid(tokenid):
    """Raise ValueError unless `tokenid` is a full token id `USER@REALM!NAME`."""
    if not re.match(r"^%s$" % TOKEN_FULL_RE, tokenid):
        raise ValueError("token must look like USER@REALM!NAME=SECRET, got token id %r" % tokenid)
    return tokenid


def parse_token_option(text):
    """`USER@REALM!NAME=SECRET` -> (token id, secret); raises ValueError.

    Split at the first '=' after the token id (token names cannot contain '='), so secrets may.
    """
    tokenid, separator, secret = text.partition("=")
    if not separator:
        raise ValueError("token must look like USER@REALM!NAME=SECRET, got %r" % text)
    return check_tokenid(tokenid), secret


def extract_auth_value(header, key):
    """pve-http-server Formatter.pm extract_auth_value (cookie or Authorization header)."""
    if not header:
        return None
    match = re.search(r"(?:^|\s)%s(?:=| )([^;]*)" % re.escape(key), header)
    if not match or not match.group(1):
        return None
    return unquote(match.group(1))


def _sign(secret, text):
    return base64.b64encode(hmac.new(secret, text.encode("utf-8"), hashlib.sha256).digest()).decode("ascii")


class Directory:
    """Users and API tokens (state namespace 'auth'), tickets and CSRF tokens."""

    def __init__(self, state, root_password, tokens, clock=time.time):
        self.secret = secrets.token_bytes(32)
        self.clock = clock
        self.state = state.register("auth", lambda: self._initial(root_password, tokens))

    @staticmethod
    def _initial(root_password, tokens):
        """user.cfg and domains.cfg as the simulator keeps them (JSON types only):

        users {userid: {enable, expire, password (hash or None), firstname, ...}},
        tokens {"USER@REALM!NAME": {secret (hash), privsep, expire, comment}},
        groups {groupid: {comment, members: [userid]}}, roles {custom roleid: [privileges]}
        (the built-in roles come from pvesim.permissions), acl {path: {users|groups|tokens:
        {id: {roleid: propagate}}}}, pools {poolid: {comment, vms: [vmid], storage: [storeid]}},
        domains {realm: {type, comment, ...}}.
        """
        users = {"root@pam": {"enable": 1, "expire": 0, "password": hash_secret(root_password)}}
        token_table = {}
        for tokenid, secret in tokens.items():
            user = tokenid.split("!", 1)[0]
            users.setdefault(user, {"enable": 1, "expire": 0, "password": None})
            token_table[tokenid] = {"secret": hash_secret(secret), "privsep": 0, "expire": 0}
        # the realms PVE always has (pve-access-control src/PVE/Auth/Plugin.pm parse_config)
        domains = {"pam": {"type": "pam", "comment": "Linux PAM standard authentication"},
                   "pve": {"type": "pve", "comment": "Proxmox VE authentication server"}}
        return {"users": users, "tokens": token_table, "groups": {}, "roles": {}, "acl": {}, "pools": {}, "domains": domains}

    # -- users -----------------------------------------------------------------------------
    def user_enabled(self, userid):
        """AccessControl.pm check_user_enabled, as a boolean."""
        user = self.state["users"].get(userid)
        if not user or not user.get("enable"):
            return False
        return not user.get("expire") or user["expire"] >= self.clock()

    def check_password(self, userid, password):
        """authenticate_user for the simulated realms: pam/pve passwords from the state."""
        user = self.state["users"].get(userid)
        stored = user.get("password") if user else None
        return bool(stored) and hmac.compare_digest(stored, hash_secret(password))

    def is_root_equivalent(self, userid):
        """root@pam, or one of its tokens without privilege separation."""
        if userid == "root@pam":
            return True
        token = self.state["tokens"].get(userid)
        return userid.startswith("root@pam!") and token is not None and not token.get("privsep")

    # -- tickets ---------------------------------------------------------------------------
    def assemble_ticket(self, userid):
        """`PVE:<userid>:<HEXTIME>::<signature>` (Ticket.pm assemble_rsa_ticket; ':' is escaped)."""
        plain = "PVE:%s:%08X" % (userid.replace(":", "%3A"), int(self.clock()))
        return plain + "::" + _sign(self.secret, plain)

    def verify_ticket(self, ticket):
        """Return the user of a valid ticket, else None (Ticket.pm verify_rsa_ticket)."""
        match = re.match(r"^(PVE:\S+)::([^:\s]+)$", ticket or "")
        if not match or not hmac.compare_digest(match.group(2), _sign(self.secret, match.group(1))):
            return None
        plain = re.match(r"^PVE:(?:(\S+):)?([A-Z0-9]{8})$", match.group(1))
        if not plain or not plain.group(1):
            return None
        age = self.clock() - int(plain.group(2), 16)
        if not -AUTH_GRACE_PERIOD < age < TICKET_LIFETIME:
            return None
        return plain.group(1).replace("%3A", ":")

    def assemble_csrf_token(self, userid):
        """Ticket.pm assemble_csrf_prevention_token: `<HEXTIME>:<hmac>`."""
        stamp = "%08X" % int(self.clock())
        return "%s:%s" % (stamp, _sign(self.secret, "%s:%s" % (stamp, userid)).rstrip("="))

    def verify_csrf_token(self, userid, token):
        """Ticket.pm verify_csrf_prevention_token; raises the 401 PVE raises."""
        match = re.match(r"^([A-Z0-9]{8}):(\S+)$", token or "")
        if match:
            age = self.clock() - int(match.group(1), 16)
            expected = _sign(self.secret, "%s:%s" % (match.group(1), userid)).rstrip("=")
            if hmac.compare_digest(match.group(2), expected) and -AUTH_GRACE_PERIOD < age < TICKET_LIFETIME:
                return
        raise AuthError("Permission denied - invalid csrf token\n")

    # -- API tokens ------------------------------------------------------------------------
    def verify_token(self, api_token):
        """AccessControl.pm verify_token; returns the token id or None."""
        match = re.match(r"^(.*)=(.*)$", api_token or "")
        if not match:
            return None
        tokenid, value = match.groups()
        if not re.match(r"^%s$" % TOKEN_FULL_RE, tokenid):
            return None
        token = self.state["tokens"].get(tokenid)
        if not self.user_enabled(tokenid.split("!", 1)[0]) or token is None:
            return None
        if token.get("expire") and token["expire"] < self.clock():
            return None
        return tokenid if hmac.compare_digest(token["secret"], hash_secret(value)) else None

    def authenticate(self, method, rel_uri, headers):
        """HTTPServer.pm auth_handler; returns {'userid', 'api_token'} or raises AuthError."""
        ticket = extract_auth_value(headers.get("Cookie"), COOKIE_NAME) or extract_auth_value(headers.get("Authorization"), COOKIE_NAME)
        api_token = None if ticket else extract_auth_value(headers.get("Authorization"), APITOKEN_NAME)
        if (method, rel_uri) in NO_AUTH_ROUTES:
            return {"userid": None, "api_token": api_token}
        if api_token:
            userid = self.verify_token(api_token)
            if userid is None:
                raise AuthError(AUTH_FAILED)
            return {"userid": userid, "api_token": api_token}
        if not ticket:
            raise AuthError("No ticket\n")
        userid = self.verify_ticket(ticket)
        if userid is None or not self.user_enabled(userid):
            raise AuthError(AUTH_FAILED)
        if method != "GET":
            self.verify_csrf_token(userid, headers.get("CSRFPreventionToken"))
        return {"userid": userid, "api_token": None}


class Permissions:
    """RPCEnvironment.pm check_api2_permissions, with a hook for the `check` expressions.

    Without a hook only root-equivalent identities pass a `check`. The access area installs
    `control` (a pvesim.permissions.AccessControl: ACL answers for handlers, e.g.
    `sim.permissions.control.check(userid, "/vms/100", ["VM.Audit"])`) and
    `check_hook(userid, check, uri_params)`, which returns True or raises PVE's 403.
    """

    def __init__(self, directory):
        self.directory = directory
        self.check_hook = None
        self.control = None

    def check(self, permissions, userid, uri_params):
        """Raise PermissionDenied (403 "Permission check failed ...") unless allowed."""
        if not userid and permissions and permissions.get("user") == "world":
            return
        if not userid:
            raise PermissionDenied("user != null")
        if userid == "root@pam":
            return
        if not permissions:
            raise PermissionDenied("user != root@pam")
        if permissions.get("user") == "all":
            return
        if permissions.get("check"):
            if self.check_hook is not None:
                allowed = self.check_hook(userid, permissions["check"], uri_params)
            else:
                allowed = self.directory.is_root_equivalent(userid)
            if allowed:
                return
        raise PermissionDenied()
