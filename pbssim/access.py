"""PBS users, API tokens, tickets and ACLs: who is calling and what may they do.

Facts from proxmox-rs at f330500 (pbs-api-types src/acl.rs: privileges and roles;
proxmox-auth-api src/api/mod.rs: header and cookie parsing, CSRF) and proxmox-backup at 4940514
(v3.2.4; pbs-config src/acl.rs: AclTree::roles, check_acl_path; pbs-config
src/cached_user_info.rs: lookup_privs, check_privs, is_active_auth_id).

- Privileges are checked on ACL paths such as /datastore/<store>/<ns component>/... . The roles
  of an auth id at a path come from the deepest node on the way that names it (a node's roles
  replace those above); above the leaf only roles with `propagate` count; NoAccess on a node
  wins over any other role there. root@pam (not its tokens) has every privilege.
- An API token has at most its user's privileges: token privileges AND the user's.
- Groups exist in the schema only: PBS has no group membership and refuses group ACLs.
"""

import hashlib
import hmac
import os
import re
import time
from urllib.parse import unquote

from pbssim.errors import HTTP_UNAUTHORIZED, ApiError, bail

SUPERUSER = "root@pam"
TICKET_LIFETIME = 7200   # proxmox-auth-api TICKET_LIFETIME (2 hours)
TICKET_PREFIX = "PBS"
AUTH_COOKIE = "PBSAuthCookie"
TOKEN_PREFIX = "PBSAPIToken"

# pbs-api-types src/acl.rs PRIVILEGES, in declaration order (privs_to_priv_names keeps it)
PRIVILEGES = (
    "Sys.Audit", "Sys.Modify", "Sys.PowerManagement",
    "Datastore.Audit", "Datastore.Allocate", "Datastore.Modify", "Datastore.Read", "Datastore.Verify",
    "Datastore.Backup", "Datastore.Prune", "Permissions.Modify",
    "Remote.Audit", "Remote.Modify", "Remote.Read", "Remote.DatastoreBackup", "Remote.DatastoreModify",
    "Remote.DatastorePrune", "Sys.Console", "Tape.Audit", "Tape.Modify", "Tape.Write", "Tape.Read",
    "Realm.Allocate",
)
PRIV = {name: 1 << bit for bit, name in enumerate(PRIVILEGES)}
ALL_PRIVS = (1 << len(PRIVILEGES)) - 1


def _privs(*names):
    value = 0
    for name in names:
        value |= PRIV[name]
    return value


# pbs-api-types src/acl.rs ROLE_* constants
ROLES = {
    "Admin": ALL_PRIVS,
    "Audit": _privs("Sys.Audit", "Datastore.Audit"),
    "NoAccess": 0,
    "DatastoreAdmin": _privs("Datastore.Audit", "Datastore.Modify", "Datastore.Read", "Datastore.Verify",
                             "Datastore.Backup", "Datastore.Prune"),
    "DatastoreReader": _privs("Datastore.Audit", "Datastore.Verify", "Datastore.Read"),
    "DatastoreBackup": _privs("Datastore.Backup"),
    "DatastorePowerUser": _privs("Datastore.Prune", "Datastore.Backup"),
    "DatastoreAudit": _privs("Datastore.Audit"),
    "RemoteAudit": _privs("Remote.Audit"),
    "RemoteAdmin": _privs("Remote.Audit", "Remote.Modify", "Remote.Read"),
    "RemoteSyncOperator": _privs("Remote.Audit", "Remote.Read"),
    "RemoteSyncPushOperator": _privs("Remote.Audit", "Remote.DatastoreBackup"),
    "RemoteDatastorePowerUser": _privs("Remote.Audit", "Remote.DatastoreBackup", "Remote.DatastorePrune"),
    "RemoteDatastoreAdmin": _privs("Remote.Audit", "Remote.DatastoreBackup", "Remote.DatastoreModify",
                                   "Remote.DatastorePrune"),
    "TapeAudit": _privs("Tape.Audit"),
    "TapeAdmin": _privs("Tape.Audit", "Tape.Modify", "Tape.Read", "Tape.Write"),
    "TapeOperator": _privs("Tape.Audit", "Tape.Read", "Tape.Write"),
    "TapeReader": _privs("Tape.Audit", "Tape.Read"),
}

# proxmox-auth-api types: user@realm and user@realm!token
USERID_RE = re.compile(r"^([^\s:/\x00-\x1f\x7f]+)@([A-Za-z0-9_][A-Za-z0-9._\-]*)\Z")
AUTHID_RE = re.compile(r"^([^\s:/\x00-\x1f\x7f]+@[A-Za-z0-9_][A-Za-z0-9._\-]*)(?:!([A-Za-z0-9_][A-Za-z0-9._\-]*))?\Z")
MAX_NAMESPACE_DEPTH = 7


def priv_names(privs):
    """privs_to_priv_names: the names of the set bits, in declaration order."""
    return [name for name in PRIVILEGES if PRIV[name] & privs]


def split_acl_path(path):
    """pbs-config acl.rs split_acl_path: components without empty ones (an element may hold '/')."""
    if isinstance(path, str):
        path = [path]
    return [part for element in path for part in element.split("/") if part]


def owner_of(auth_id):
    """The user of an auth id (itself for a user)."""
    return auth_id.split("!", 1)[0]


def is_token(auth_id):
    """True for user@realm!token."""
    return "!" in auth_id


def check_acl_path(path):
    """pbs-config acl.rs check_acl_path for the paths this simulator knows (raises a 400)."""
    parts = split_acl_path(path)
    count = len(parts)
    valid = count == 0
    if count and parts[0] == "access":
        valid = count == 1 or (parts[1] in ("acl", "users", "domains") and count == 2) \
            or (parts[1] == "openid" and count <= 3)
    elif count and parts[0] == "datastore":
        valid = count <= 2 + MAX_NAMESPACE_DEPTH
    elif count and parts[0] == "remote":
        valid = count <= 3
    elif count and parts[0] == "system":
        valid = count == 1 or (count == 2 and parts[1] in (
            "certificates", "disks", "log", "notifications", "status", "tasks", "time", "network")) \
            or (parts[1] == "services" and count <= 3) \
            or (parts[1] == "network" and count == 3 and parts[2] == "dns") \
            or (parts[1] == "network" and count <= 4 and count > 2 and parts[2] == "interfaces")
    elif count and parts[0] == "tape":
        valid = count == 1 or (parts[1] in ("device", "pool", "job") and count <= 3)
    if not valid:
        raise bail("invalid acl path '%s'." % path)


class Directory:
    """Users, tokens, secrets, tickets and the ACL tree, kept in the `access` state namespace.

    State layout: users {userid: config}, passwords {userid: password}, tokens {tokenid: config},
    token_secrets {tokenid: secret}, acl {"/path": {auth_id: {role: propagate}}}.
    """

    def __init__(self, state, root_password, tokens):
        self.root_password = root_password
        self.initial_tokens = dict(tokens)
        self.ticket_secret = os.urandom(32)
        self.data = state.register("access", self.initial_state)

    def initial_state(self):
        """A fresh PBS: root@pam, plus the configured tokens (their users get created, Admin on /)."""
        users = {SUPERUSER: {"userid": SUPERUSER, "comment": "Superuser", "enable": True, "expire": 0}}
        tokens, secrets, acl = {}, {}, {}
        for tokenid, secret in self.initial_tokens.items():
            userid = owner_of(tokenid)
            users.setdefault(userid, {"userid": userid, "enable": True, "expire": 0})
            tokens[tokenid] = {"tokenid": tokenid, "enable": True, "expire": 0}
            secrets[tokenid] = secret
            acl.setdefault("/", {}).setdefault(tokenid, {})["Admin"] = True
            if userid != SUPERUSER:
                acl["/"].setdefault(userid, {})["Admin"] = True
        return {"users": users, "passwords": {}, "tokens": tokens, "token_secrets": secrets, "acl": acl}

    # -- who is active -------------------------------------------------------------------------
    @staticmethod
    def _active(config, now):
        expire = config.get("expire") or 0
        return config.get("enable", True) is not False and (expire == 0 or expire > now)

    def is_active(self, auth_id):
        """CachedUserInfo::is_active_auth_id: the user (and the token) exist, enabled, not expired."""
        now = time.time()
        user = self.data["users"].get(owner_of(auth_id))
        if user is None or not self._active(user, now):
            return False
        if is_token(auth_id):
            token = self.data["tokens"].get(auth_id)
            return token is not None and self._active(token, now)
        return True

    # -- privileges ------------------------------------------------------------------------------
    def _roles(self, auth_id, components):
        """AclTree::roles: the deepest node naming `auth_id` decides; NoAccess wins on its node."""
        acl = self.data["acl"]
        paths = ["/"] + ["/" + "/".join(components[:depth]) for depth in range(1, len(components) + 1)]
        role_map = {}
        for depth, path in enumerate(paths):
            leaf = depth == len(components)
            found = {}
            for role, propagate in acl.get(path, {}).get(auth_id, {}).items():
                if propagate or leaf:
                    if role == "NoAccess":
                        found = {"NoAccess": False}
                        break
                    found[role] = propagate
            if found:
                role_map = found
        return role_map

    def lookup_privs_details(self, auth_id, path):
        """(privileges, propagated privileges) of an auth id on an ACL path."""
        if auth_id == SUPERUSER:
            return ALL_PRIVS, ALL_PRIVS
        privs = propagated = 0
        for role, propagate in self._roles(auth_id, split_acl_path(path)).items():
            privs |= ROLES.get(role, 0)
            if propagate:
                propagated |= ROLES.get(role, 0)
        if is_token(auth_id):
            user_privs, user_propagated = self.lookup_privs_details(owner_of(auth_id), path)
            privs &= user_privs
            propagated &= user_propagated
        return privs, propagated

    def lookup_privs(self, auth_id, path):
        """CachedUserInfo::lookup_privs."""
        return self.lookup_privs_details(auth_id, path)[0]

    def check_privs(self, auth_id, path, required, partial):
        """CachedUserInfo::check_privs: a plain error (400) naming privileges and path."""
        privs = self.lookup_privs(auth_id, path)
        allowed = (privs & required) != 0 if partial else (privs & required) == required
        if not allowed:
            names = ("|" if partial else "&").join(priv_names(required))
            raise bail("missing permissions '%s' on '/%s'" % (names, "/".join(split_acl_path(path))))

    def permission_allows(self, expression, auth_id, params):
        """proxmox-router check_api_permission over the api-viewer form of a method's permission."""
        if not expression:
            return False
        if expression.get("user") == "world":
            return True
        if expression.get("user") == "all":
            return auth_id is not None
        if auth_id is None:
            return False
        if "or" in expression:
            return any(self.permission_allows(item, auth_id, params) for item in expression["or"])
        if "and" in expression:
            return all(self.permission_allows(item, auth_id, params) for item in expression["and"])
        if "userParam" in expression:
            # Permission::UserParam: the named parameter is the caller's user (a token's owner counts)
            return params.get(expression["userParam"]) == owner_of(auth_id)
        if "check" in expression:
            check = expression["check"]
            path = [params.get(part[1:-1], "") if part.startswith("{") else part for part in check["path"]]
            privs = self.lookup_privs(auth_id, path)
            required = _privs(*check["privs"])
            return (privs & required) != 0 if check.get("partial") else (privs & required) == required
        return False

    # -- ACL edits --------------------------------------------------------------------------------
    def acl_entries(self, path=None, exact=False, owner_filter=None):
        """read_acl's AclListItem list: by node, users then groups (none here), children after."""
        nodes = sorted(self.data["acl"])
        if path is not None:
            base = "/" + "/".join(split_acl_path(path))
            nodes = [node for node in nodes if node == base or (not exact and node.startswith(base.rstrip("/") + "/"))]
        items = []
        for node in nodes:
            for auth_id, roles in sorted(self.data["acl"][node].items()):
                if owner_filter is not None and not (is_token(auth_id) and owner_of(auth_id) == owner_filter):
                    continue
                items.extend({"path": node, "ugid": auth_id, "ugid_type": "user", "propagate": propagate,
                              "roleid": role} for role, propagate in sorted(roles.items()))
        return items

    def set_role(self, path, auth_id, role, propagate):
        """AclTreeNode::insert_user_role: NoAccess replaces every role, any other role removes NoAccess."""
        node = "/" + "/".join(split_acl_path(path))
        roles = self.data["acl"].setdefault(node, {}).setdefault(auth_id, {})
        if role == "NoAccess":
            roles.clear()
        else:
            roles.pop("NoAccess", None)
        roles[role] = propagate

    def delete_role(self, path, auth_id, role):
        """AclTree::delete_user_role (nothing to do when absent)."""
        node = "/" + "/".join(split_acl_path(path))
        roles = self.data["acl"].get(node, {}).get(auth_id)
        if roles is not None:
            roles.pop(role, None)
            if not roles:
                del self.data["acl"][node][auth_id]
            if not self.data["acl"][node]:
                del self.data["acl"][node]

    def delete_node(self, path):
        """AclTree::delete_node: the node and everything below it."""
        node = "/" + "/".join(split_acl_path(path))
        for key in [key for key in self.data["acl"] if key == node or key.startswith(node + "/")]:
            del self.data["acl"][key]

    def delete_auth_id(self, auth_id):
        """AclTree::delete_authid: every entry of one user or token."""
        for node in list(self.data["acl"]):
            self.data["acl"][node].pop(auth_id, None)
            if not self.data["acl"][node]:
                del self.data["acl"][node]

    def acl_config_text(self):
        """acl.cfg-like text (one line per path, auth id and propagate flag); its sha256 is the digest."""
        lines = []
        for node in sorted(self.data["acl"]):
            for auth_id, roles in sorted(self.data["acl"][node].items()):
                for propagate in (False, True):
                    names = sorted(role for role, flag in roles.items() if flag is propagate)
                    if names:
                        lines.append("acl:%d:%s:%s:%s\n" % (int(propagate), node, auth_id, ",".join(names)))
        return "".join(lines)

    # -- authentication ----------------------------------------------------------------------------
    def _sign(self, text):
        return hmac.new(self.ticket_secret, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def issue_ticket(self, userid, now=None):
        """(ticket, CSRF prevention token): `PBS:<userid>:<HEX time>::<signature>` and `<HEX time>:<signature>`."""
        stamp = "%08X" % int(now if now is not None else time.time())
        ticket_data = "%s:%s:%s" % (TICKET_PREFIX, userid, stamp)
        csrf_data = "%s:%s" % (stamp, userid)
        return "%s::%s" % (ticket_data, self._sign(ticket_data)), "%s:%s" % (stamp, self._sign(csrf_data))

    def _ticket_user(self, ticket):
        data, _sep, signature = ticket.rpartition("::")
        parts = data.split(":")
        if len(parts) != 3 or parts[0] != TICKET_PREFIX or not hmac.compare_digest(self._sign(data), signature):
            return None
        age = time.time() - int(parts[2], 16)
        return parts[1] if -300 <= age <= TICKET_LIFETIME else None

    def _csrf_ok(self, userid, token):
        stamp, _sep, signature = (token or "").partition(":")
        if not re.match(r"^[0-9A-F]{8}\Z", stamp) or not hmac.compare_digest(self._sign("%s:%s" % (stamp, userid)), signature):
            return False
        return -300 <= time.time() - int(stamp, 16) <= TICKET_LIFETIME

    def check_password(self, userid, password):
        """The pam and pbs realms' password check (root@pam's password is the simulator's)."""
        if userid == SUPERUSER:
            return hmac.compare_digest(password, self.root_password)
        stored = self.data["passwords"].get(userid)
        return stored is not None and hmac.compare_digest(password, stored)

    def authenticate(self, method, headers):
        """http_check_auth: the caller's auth id, or ApiError 401 "authentication failed"."""
        ticket = None
        for cookie in headers.get_all("Cookie") or []:
            for pair in cookie.split(";"):
                name, _sep, value = pair.strip().partition("=")
                if name == "__Host-" + AUTH_COOKIE:
                    ticket = value
                    break
                if name == AUTH_COOKIE and ticket is None:
                    ticket = value
        if ticket is not None:
            userid = self._ticket_user(unquote(ticket))
            if userid is None or not self.is_active(userid):
                raise ApiError(HTTP_UNAUTHORIZED, "authentication failed")
            if method != "GET" and not self._csrf_ok(userid, headers.get("CSRFPreventionToken")):
                raise ApiError(HTTP_UNAUTHORIZED, "authentication failed")
            return userid
        header = headers.get("Authorization") or ""
        if header.startswith(TOKEN_PREFIX) and header[len(TOKEN_PREFIX):len(TOKEN_PREFIX) + 1] in (" ", "="):
            tokenid, sep, secret = header[len(TOKEN_PREFIX) + 1:].partition(":")
            match = AUTHID_RE.match(tokenid)
            if sep and match and match.group(2) and self.is_active(tokenid):
                stored = self.data["token_secrets"].get(tokenid)
                if stored is not None and hmac.compare_digest(stored, unquote(secret)):
                    return tokenid
        raise ApiError(HTTP_UNAUTHORIZED, "authentication failed")
