"""/version, /access/ticket, users, API tokens and ACLs.

proxmox-backup v3.2.4 (4940514) src/api2/access/{mod,user,acl}.rs and src/auth.rs, with the
4.x schema's additions (token `regenerate` and `delete`); every rule cites its function.
"""

import uuid

from simcore import route
from pbssim.access import PRIV, SUPERUSER, check_acl_path, is_token, owner_of
from pbssim.errors import HTTP_UNAUTHORIZED, ApiError, bail
from pbssim.simulator import PBS_VERSION, PbsArea, check_digest

REALMS = ("pam", "pbs")   # the realms every PBS has (src/auth.rs lookup_authenticator)
USER_FIELDS = ("comment", "enable", "expire", "firstname", "lastname", "email")


def set_or_clear(config, key, value, clear):
    """Set a config key, or drop it (PBS stores None) when `clear`."""
    if clear:
        config.pop(key, None)
    else:
        config[key] = value


def apply_account_update(config, params):
    """update_user / update_token: a blank comment, enable=1 and expire=0 clear their key."""
    if "comment" in params:
        comment = params["comment"].strip()
        set_or_clear(config, "comment", comment, not comment)
    if "enable" in params:
        set_or_clear(config, "enable", False, params["enable"])
    if "expire" in params:
        set_or_clear(config, "expire", params["expire"], params["expire"] <= 0)


class AccessArea(PbsArea):
    """Users, tokens, tickets and ACLs live in the Directory (pbssim.access); this area serves them."""

    @property
    def directory(self):
        """The simulator's Directory."""
        return self.sim.directory

    def _user_config_text(self):
        data = self.directory.data
        lines = ["user: %s %s\n" % (userid, sorted(config.items())) for userid, config in sorted(data["users"].items())]
        lines += ["token: %s %s\n" % (tokenid, sorted(config.items())) for tokenid, config in sorted(data["tokens"].items())]
        return "".join(lines)

    # -- version and ticket ----------------------------------------------------------------------
    @route("GET", "/version")
    def version(self, _request):
        """src/api2/version.rs; `release` names the simulator, `repoid` the vendored schema (its sha256 prefix)."""
        return {"version": PBS_VERSION, "release": "pbssim", "repoid": self.sim.repoid}

    @route("POST", "/access/ticket")
    def create_ticket(self, request):
        """proxmox-auth-api api/access.rs create_ticket: a wrong password is 401 "permission check failed."."""
        userid, password = request.params["username"], request.params.get("password")
        if password is None:
            raise ApiError(HTTP_UNAUTHORIZED, "missing password")
        if not self.directory.is_active(userid) or not self.directory.check_password(userid, password):
            raise ApiError(HTTP_UNAUTHORIZED, "permission check failed.")
        ticket, csrf = self.directory.issue_ticket(userid)
        return {"username": userid, "ticket": ticket, "CSRFPreventionToken": csrf}

    # -- users --------------------------------------------------------------------------------------
    def _user(self, userid):
        user = self.directory.data["users"].get(userid)
        if user is None:
            raise bail("no such user '%s'" % userid)   # SectionConfigData::lookup
        return user

    @route("GET", "/access/users")
    def list_users(self, request):
        """user.rs list_users: everyone with Sys.Audit on /access/users, else the caller's own user."""
        data = self.directory.data
        audit = self.directory.lookup_privs(request.auth_id, ["access", "users"]) & PRIV["Sys.Audit"]
        request.set_digest(self._user_config_text())
        answer = []
        for userid, config in sorted(data["users"].items()):
            if not audit and userid != owner_of(request.auth_id):
                continue
            entry = dict(config)
            if request.params.get("include_tokens"):
                entry["tokens"] = [dict(token) for tokenid, token in sorted(data["tokens"].items()) if owner_of(tokenid) == userid]
            answer.append(entry)
        return answer

    @route("POST", "/access/users")
    def create_user(self, request):
        """user.rs create_user: duplicate, unknown realm, and only root@pam sets pam passwords."""
        params = request.params
        userid = params["userid"]
        if userid in self.directory.data["users"]:
            raise bail("user '%s' already exists." % userid)
        realm = userid.rsplit("@", 1)[1]
        if realm not in REALMS:
            raise bail("unknown realm '%s'" % realm)
        if params.get("password") is not None and realm == "pam" and request.auth_id != SUPERUSER:
            raise bail("only superuser can edit pam credentials!")
        self.directory.data["users"][userid] = dict({"userid": userid}, **{key: params[key] for key in USER_FIELDS if key in params})
        if params.get("password") is not None:
            self.directory.data["passwords"][userid] = params["password"]
        return None

    @route("GET", "/access/users/{userid}")
    def read_user(self, request):
        """user.rs read_user."""
        request.set_digest(self._user_config_text())
        return dict(self._user(request.params["userid"]))

    @route("PUT", "/access/users/{userid}")
    def update_user(self, request):
        """user.rs update_user: empty strings and enable/expire defaults clear the field."""
        params = request.params
        check_digest(request.params.get("digest"), self._user_config_text())
        user = self._user(params["userid"])
        if params.get("password") is not None:
            self_service = owner_of(request.auth_id) == params["userid"]
            if not self_service and params["userid"].endswith("@pam") and request.auth_id != SUPERUSER:
                raise bail("only superuser can edit pam credentials!")
        for key in params.get("delete") or []:
            user.pop(key, None)
        apply_account_update(user, params)
        for key in ("firstname", "lastname", "email"):
            if key in params:
                set_or_clear(user, key, params[key], params[key] == "")
        if params.get("password") is not None:
            self.directory.data["passwords"][params["userid"]] = params["password"]
        return None

    @route("DELETE", "/access/users/{userid}")
    def delete_user(self, request):
        """user.rs delete_user (v3.2.4 removes the user and its password only: its tokens stay in
        user.cfg, inactive without their user, and its ACL entries stay)."""
        check_digest(request.params.get("digest"), self._user_config_text())
        userid = request.params["userid"]
        if userid not in self.directory.data["users"]:
            raise bail("user '%s' does not exist." % userid)
        del self.directory.data["users"][userid]
        self.directory.data["passwords"].pop(userid, None)
        return None

    # -- tokens ---------------------------------------------------------------------------------------
    @staticmethod
    def _tokenid(params):
        return "%s!%s" % (params["userid"], params["token-name"])

    @route("GET", "/access/users/{userid}/token")
    def list_tokens(self, request):
        """user.rs list_tokens: token-name plus the token's config."""
        request.set_digest(self._user_config_text())
        userid = request.params["userid"]
        return [dict(token, **{"token-name": tokenid.split("!", 1)[1]})
                for tokenid, token in sorted(self.directory.data["tokens"].items()) if owner_of(tokenid) == userid]

    @route("GET", "/access/users/{userid}/token/{token-name}")
    def read_token(self, request):
        """user.rs read_token."""
        request.set_digest(self._user_config_text())
        tokenid = self._tokenid(request.params)
        token = self.directory.data["tokens"].get(tokenid)
        if token is None:
            raise bail("no such token '%s'" % tokenid)
        return dict(token)

    @route("POST", "/access/users/{userid}/token/{token-name}")
    def generate_token(self, request):
        """user.rs generate_token: the secret is answered once (a UUID in hex, as PBS makes it)."""
        params = request.params
        check_digest(request.params.get("digest"), self._user_config_text())
        tokenid = self._tokenid(params)
        if tokenid in self.directory.data["tokens"]:
            raise bail("token '%s' for user '%s' already exists." % (params["token-name"], params["userid"]))
        secret = str(uuid.uuid4())
        token = {"tokenid": tokenid}
        token.update({key: params[key] for key in ("comment", "enable", "expire") if key in params})
        self.directory.data["tokens"][tokenid] = token
        self.directory.data["token_secrets"][tokenid] = secret
        return {"tokenid": tokenid, "value": secret}

    @route("PUT", "/access/users/{userid}/token/{token-name}")
    def update_token(self, request):
        """user.rs update_token (+ 4.x `delete` and `regenerate`, which answers the new secret)."""
        params = request.params
        check_digest(request.params.get("digest"), self._user_config_text())
        tokenid = self._tokenid(params)
        token = self.directory.data["tokens"].get(tokenid)
        if token is None:
            raise bail("no such token '%s'" % tokenid)
        for key in params.get("delete") or []:
            token.pop(key, None)
        apply_account_update(token, params)
        if params.get("regenerate"):
            secret = str(uuid.uuid4())
            self.directory.data["token_secrets"][tokenid] = secret
            return {"secret": secret}
        return {}

    @route("DELETE", "/access/users/{userid}/token/{token-name}")
    def delete_token(self, request):
        """user.rs delete_token: config entry and secret go (the token's ACL entries stay, as in v3.2.4)."""
        params = request.params
        check_digest(request.params.get("digest"), self._user_config_text())
        tokenid = self._tokenid(params)
        if tokenid not in self.directory.data["tokens"]:
            raise bail("token '%s' of user '%s' does not exist." % (params["token-name"], params["userid"]))
        del self.directory.data["tokens"][tokenid]
        self.directory.data["token_secrets"].pop(tokenid, None)
        return None

    # -- ACLs ------------------------------------------------------------------------------------------
    @route("GET", "/access/acl")
    def read_acl(self, request):
        """acl.rs read_acl: all entries with Sys.Audit on /access/acl, else only the caller's user's tokens'."""
        audit = self.directory.lookup_privs(request.auth_id, ["access", "acl"]) & PRIV["Sys.Audit"]
        request.set_digest(self.directory.acl_config_text())
        if not audit and is_token(request.auth_id):
            return []   # "tokens can't have tokens"
        return self.directory.acl_entries(request.params.get("path"), request.params.get("exact", False),
                                          None if audit else owner_of(request.auth_id))

    @route("PUT", "/access/acl")
    def update_acl(self, request):
        """acl.rs update_acl: without Permissions.Modify on /access/acl a user may only set ACLs of his
        own tokens; groups are refused; an unknown user or token only when adding."""
        params = request.params
        caller, auth_id = request.auth_id, params.get("auth-id")
        if not self.directory.lookup_privs(caller, ["access", "acl"]) & PRIV["Permissions.Modify"]:
            if params.get("group") is not None:
                raise bail("Unprivileged users are not allowed to create group ACL item.")
            if auth_id is None:
                raise bail("Unprivileged user needs to provide auth_id to update ACL item.")
            if is_token(caller):
                raise bail("Unprivileged API tokens can't set ACL items.")
            if not is_token(auth_id):
                raise bail("Unprivileged users can only set ACL items for API tokens.")
            if owner_of(auth_id) != owner_of(caller):
                raise bail("Unprivileged users can only set ACL items for their own API tokens.")
        check_digest(request.params.get("digest"), self.directory.acl_config_text())
        delete = params.get("delete", False)
        if params.get("group") is not None:
            raise bail("parameter 'group' - groups are currently not supported.")
        if auth_id is None:
            raise bail("missing 'userid' or 'group' parameter.")
        if not delete:
            known = self.directory.data["tokens"] if is_token(auth_id) else self.directory.data["users"]
            if auth_id not in known:
                raise bail("no such %s." % ("API token" if is_token(auth_id) else "user"))
            check_acl_path(params["path"])
            self.directory.set_role(params["path"], auth_id, params["role"], params.get("propagate", True))
        else:
            self.directory.delete_role(params["path"], auth_id, params["role"])
        return None
