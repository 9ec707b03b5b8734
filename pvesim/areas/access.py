"""The access area: login, users and their API tokens, groups, roles, ACLs, permissions, realms.

Sources (proxmox/pve-access-control, 8.2.2 at 25dd375 for PVE 8.4, 9.0.4 at 3e9da0c for 9.1):
src/PVE/API2/AccessControl.pm (index, get_ticket, create_ticket, permissions),
src/PVE/API2/User.pm, Group.pm, Role.pm, ACL.pm, Domains.pm, src/PVE/AccessControl.pm
(lock_user_config: an error inside becomes the plain 500 `<what> failed: <error>`),
src/PVE/Auth/Plugin.pm (store_password, the pam/pve realms), src/PVE/Auth/OpenId.pm (options).
The state lives in the core directory's "auth" namespace (pvesim/auth.py); privileges, roles
and the evaluation of ACLs in pvesim/permissions.py, installed here as the API's check.
"""

import re
import uuid

from pvesim.areas import Area, route
from pvesim.auth import hash_secret
from pvesim.errors import HTTP_NOT_IMPLEMENTED, HTTP_UNAUTHORIZED, ApiError, ParamError, die
from pvesim.formats import split_list
from pvesim.permissions import AccessControl, PERMISSIONS_MODIFY, NO_ACCESS, is_acl_path, normalize_path, split_tokenid
from pvesim.sdn_config import wrap

USER_FIELDS = ("enable", "expire", "firstname", "lastname", "email", "comment", "keys")
TOKEN_FIELDS = ("privsep", "expire", "comment")
BUILTIN_REALM_TYPES = ("pam", "pve")
# Auth/OpenId.pm options: True = required
OPENID_OPTIONS = {
    "issuer-url": True, "client-id": True, "client-key": False, "autocreate": False, "username-claim": False,
    "groups-claim": False, "groups-autocreate": False, "groups-overwrite": False, "prompt": False, "scopes": False,
    "acr-values": False, "default": False, "comment": False, "query-userinfo": False,
}
# Auth/Plugin.pm and the pam/pve plugins: what their sections may carry
BUILTIN_REALM_OPTIONS = {"comment": False, "default": False, "tfa": False}
USER_GROUP_PRIVILEGES = ["User.Modify", "Sys.Audit"]
GROUP_LIST_PRIVILEGES = ["User.Modify", "Sys.Audit", "Group.Allocate"]


def user_config_locked(errmsg, change):
    """AccessControl.pm lock_user_config: run `change`; any error becomes `<errmsg>: <error>`."""
    try:
        return change()
    except ApiError as error:
        raise wrap(errmsg, error) from error


class AccessArea(Area):
    """/access: the directory's API, and the permission evaluator for every request."""

    def __init__(self, sim):
        super().__init__(sim)
        self.control = AccessControl(sim.directory.state, sim.pve_version)
        sim.permissions.control = self.control
        sim.permissions.check_hook = self.control.check_api2

    @property
    def auth(self):
        """The "auth" namespace (user.cfg and domains.cfg)."""
        return self.sim.directory.state

    @route("GET", "/access")
    def index(self, _request):
        """AccessControl.pm index: the subdirectories (from the version's schema)."""
        return [{"subdir": name} for name in self.sim.schema.children("/access")]

    # -- login ---------------------------------------------------------------------------------
    @route("GET", "/access/ticket")
    def get_ticket(self, _request):
        """AccessControl.pm get_ticket: a dummy for login pages."""

    @route("POST", "/access/ticket")
    def create_ticket(self, request):
        """AccessControl.pm create_ticket: a password, or a valid ticket of the same user (renewal).

        Every failure is 401 "authentication failure" (no user enumeration). PVE also delays
        every 401 by 3 s (AnyEvent.pm); the simulator does not, to keep tests fast. `cap` is
        compute_api_permission of the user.
        """
        params = request.params
        userid = params["username"] + ("@" + params["realm"] if params.get("realm") else "")
        directory = self.sim.directory
        ticket_user = directory.verify_ticket(params["password"])
        valid = directory.user_enabled(userid) and (
            ticket_user in ("root@pam", userid) or directory.check_password(userid, params["password"]))
        if not valid:
            raise ApiError(HTTP_UNAUTHORIZED, "authentication failure\n")
        return {
            "username": userid,
            "ticket": directory.assemble_ticket(userid),
            "CSRFPreventionToken": directory.assemble_csrf_token(userid),
            "clustername": self.sim.cluster_name,
            "cap": self.control.compute_api_permission(userid),
        }

    @route("GET", "/access/permissions")
    def permissions(self, request):
        """AccessControl.pm permissions: one's own (or an own token's); others' need Sys.Audit on /access."""
        authid = request.userid
        userid = request.params.get("userid") or authid
        owner, token_name = split_tokenid(userid)
        if userid != authid and not (token_name is not None and owner == authid):
            self.control.check(authid, "/access", ["Sys.Audit"])
        path = request.params.get("path")
        if path:
            return {path: self.control.permissions(userid, path)}
        return self.control.effective_permissions(userid)

    # -- users ---------------------------------------------------------------------------------
    def groups_of(self, userid):
        """The groups a user is a member of, sorted."""
        return sorted(group for group, data in self.auth["groups"].items() if userid in data["members"])

    def tokens_of(self, userid):
        """{token name: token info} of a user (User.pm token-info: privsep, expire, comment)."""
        prefix = userid + "!"
        return {tokenid[len(prefix):]: self.token_info(token)
                for tokenid, token in sorted(self.auth["tokens"].items()) if tokenid.startswith(prefix)}

    @staticmethod
    def token_info(token):
        """A token as the API shows it: never its secret."""
        return {key: token[key] for key in TOKEN_FIELDS if token.get(key) is not None}

    def user_data(self, userid, full):
        """User.pm extract_user_data."""
        stored = self.auth["users"][userid]
        data = {key: stored[key] for key in USER_FIELDS if stored.get(key) is not None}
        if full:
            data["groups"] = self.groups_of(userid)
            data["tokens"] = self.tokens_of(userid)
        return data

    @route("GET", "/access/users")
    def list_users(self, request):
        """User.pm index: users visible through User.Modify/Sys.Audit on /access/groups or a group; always oneself."""
        authid = request.userid
        can_see_all = self.control.has(authid, "/access/groups", USER_GROUP_PRIVILEGES, any_of=True)
        allowed = self.control.members_of(self.control.groups_with(authid, USER_GROUP_PRIVILEGES))
        wanted = request.params.get("enabled")
        entries = []
        for userid in sorted(self.auth["users"]):
            if not (can_see_all or userid == authid or userid in allowed):
                continue
            entry = self.user_data(userid, request.params.get("full"))
            if wanted is not None and bool(entry.get("enable")) != bool(wanted):
                continue
            if "groups" in entry:
                entry["groups"] = ",".join(entry["groups"])
            if "tokens" in entry:
                entry["tokens"] = [dict(info, tokenid=name) for name, info in entry["tokens"].items()]
            realm = userid.rpartition("@")[2]
            if realm in self.auth["domains"]:
                entry["realm-type"] = self.auth["domains"][realm]["type"]
            entry["userid"] = userid
            entries.append(entry)
        return entries

    def _check_groups_exist(self, groups):
        for group in groups:
            if group not in self.auth["groups"]:
                raise die("no such group '%s'\n" % group)

    def _set_membership(self, userid, groups, append):
        if not append:
            for data in self.auth["groups"].values():
                if userid in data["members"]:
                    data["members"].remove(userid)
        for group in groups:
            members = self.auth["groups"][group]["members"]
            if userid not in members:
                members.append(userid)
                members.sort()

    @route("POST", "/access/users")
    def create_user(self, request):
        """User.pm create_user; a password is stored by the realm (pve: hashed; others refuse it)."""
        params = request.params
        userid = params["userid"]
        groups = split_list(params.get("groups") or "")

        def change():
            if userid in self.auth["users"]:
                raise die("user '%s' already exists\n" % userid)
            password_hash = None
            if params.get("password") is not None:
                password_hash = self._stored_password(userid, params["password"])
            self._check_groups_exist(groups)
            user = {"enable": params.get("enable", 1), "password": password_hash}
            for key in ("expire", "firstname", "lastname", "email", "comment", "keys"):
                if params.get(key):
                    user[key] = params[key]
            self.auth["users"][userid] = user
            self._set_membership(userid, groups, append=True)

        user_config_locked("create user failed", change)

    def _stored_password(self, userid, password):
        """AccessControl.pm domain_set_password: the realm must exist and be able to store passwords.

        PAM's store_password runs `usermod -p`; the simulator keeps the hash, as for `pve`.
        """
        realm = userid.rpartition("@")[2]
        domain = self.auth["domains"].get(realm)
        if domain is None:
            raise die("auth domain '%s' does not exist\n" % realm)
        if domain["type"] not in BUILTIN_REALM_TYPES:
            raise die("can't set password on auth type '%s'\n" % domain["type"])
        return hash_secret(password)

    @route("GET", "/access/users/{userid}")
    def read_user(self, request):
        """User.pm read_user."""
        userid = request.params["userid"]
        self.control.user_exists(userid)
        return self.user_data(userid, True)

    @route("PUT", "/access/users/{userid}")
    def update_user(self, request):
        """User.pm update_user: `groups` replaces the memberships unless `append`."""
        params = request.params
        userid = params["userid"]

        def change():
            self.control.user_exists(userid)
            groups = split_list(params.get("groups") or "")
            self._check_groups_exist(groups)
            user = self.auth["users"][userid]
            for key in USER_FIELDS:
                if params.get(key) is not None:
                    user[key] = params[key]
            if params.get("groups") is not None:
                self._set_membership(userid, groups, params.get("append"))

        user_config_locked("update user failed", change)

    @route("DELETE", "/access/users/{userid}")
    def delete_user(self, request):
        """User.pm delete_user: the user, its tokens, its group memberships and its ACL entries."""
        userid = request.params["userid"]
        self.auth["users"].pop(userid, None)
        for tokenid in [tokenid for tokenid in self.auth["tokens"] if tokenid.startswith(userid + "!")]:
            del self.auth["tokens"][tokenid]
        self._set_membership(userid, [], append=False)
        for entry in self.auth["acl"].values():
            entry.get("users", {}).pop(userid, None)

    # -- tokens --------------------------------------------------------------------------------
    def _token(self, userid, name):
        """AccessControl.pm check_token_exist."""
        self.control.user_exists(userid)
        token = self.auth["tokens"].get("%s!%s" % (userid, name))
        if token is None:
            raise die("no such token '%s' for user '%s'\n" % (name, userid))
        return token

    @route("GET", "/access/users/{userid}/token")
    def list_tokens(self, request):
        """User.pm token_index."""
        userid = request.params["userid"]
        self.control.user_exists(userid)
        return [dict(info, tokenid=name) for name, info in self.tokens_of(userid).items()]

    @route("GET", "/access/users/{userid}/token/{tokenid}")
    def read_token(self, request):
        """User.pm read_token."""
        return self.token_info(self._token(request.params["userid"], request.params["tokenid"]))

    @route("POST", "/access/users/{userid}/token/{tokenid}")
    def create_token(self, request):
        """User.pm generate_token: privsep defaults to 1; the secret (`value`) is only answered here."""
        params = request.params
        userid, name = params["userid"], params["tokenid"]
        full_tokenid = "%s!%s" % (userid, name)
        self.control.user_exists(userid)
        if full_tokenid in self.auth["tokens"]:
            raise ParamError({"tokenid": "Token already exists."})
        value = str(uuid.uuid4())  # TokenConfig.pm generate_token: a UUID
        token = {"secret": hash_secret(value), "privsep": params.get("privsep", 1)}
        if params.get("expire") is not None:
            token["expire"] = params["expire"]
        if params.get("comment"):
            token["comment"] = params["comment"]
        self.auth["tokens"][full_tokenid] = token
        return {"info": self.token_info(token), "value": value, "full-tokenid": full_tokenid}

    @route("PUT", "/access/users/{userid}/token/{tokenid}")
    def update_token(self, request):
        """User.pm update_token_info: privsep, expire, comment; `delete` knows only comment."""
        params = request.params
        token = self._token(params["userid"], params["tokenid"])
        deleted = split_list(params.get("delete") or "")
        for key in deleted:
            if key != "comment":
                raise wrap("updating token info failed", ParamError({"delete": "unknown option '%s'" % key}))
        for key in TOKEN_FIELDS:
            if params.get(key) is not None:
                token[key] = params[key]
        if not token.get("comment") or "comment" in deleted:
            token.pop("comment", None)
        return self.token_info(token)

    @route("DELETE", "/access/users/{userid}/token/{tokenid}")
    def delete_token(self, request):
        """User.pm remove_token."""
        params = request.params
        self._token(params["userid"], params["tokenid"])
        del self.auth["tokens"]["%s!%s" % (params["userid"], params["tokenid"])]

    # -- groups --------------------------------------------------------------------------------
    @route("GET", "/access/groups")
    def list_groups(self, request):
        """Group.pm index: groups where the caller has any of User.Modify, Sys.Audit, Group.Allocate."""
        entries = []
        for group in self.control.groups_with(request.userid, GROUP_LIST_PRIVILEGES):
            data = self.auth["groups"][group]
            entry = {"groupid": group, "users": ",".join(sorted(data["members"]))}
            if data.get("comment") is not None:
                entry["comment"] = data["comment"]
            entries.append(entry)
        return entries

    def _group(self, group):
        data = self.auth["groups"].get(group)
        if data is None:
            raise die("group '%s' does not exist\n" % group)
        return data

    @route("POST", "/access/groups")
    def create_group(self, request):
        """Group.pm create_group."""
        group = request.params["groupid"]

        def change():
            if group in self.auth["groups"]:
                raise die("group '%s' already exists\n" % group)
            self.auth["groups"][group] = {"members": []}
            if request.params.get("comment"):
                self.auth["groups"][group]["comment"] = request.params["comment"]

        user_config_locked("create group failed", change)

    @route("GET", "/access/groups/{groupid}")
    def read_group(self, request):
        """Group.pm read_group."""
        data = self._group(request.params["groupid"])
        result = {"members": sorted(data["members"])}
        if data.get("comment") is not None:
            result["comment"] = data["comment"]
        return result

    @route("PUT", "/access/groups/{groupid}")
    def update_group(self, request):
        """Group.pm update_group: the comment."""
        def change():
            data = self._group(request.params["groupid"])
            if request.params.get("comment") is not None:
                data["comment"] = request.params["comment"]

        user_config_locked("update group failed", change)

    @route("DELETE", "/access/groups/{groupid}")
    def delete_group(self, request):
        """Group.pm delete_group: the group and its ACL entries (AccessControl.pm delete_group_acl)."""
        group = request.params["groupid"]
        user_config_locked("delete group failed", lambda: self._group(group))
        del self.auth["groups"][group]
        for entry in self.auth["acl"].values():
            entry.get("groups", {}).pop(group, None)

    # -- roles ---------------------------------------------------------------------------------
    def _all_roles(self):
        roles = {role: set(privileges) for role, privileges in self.control.builtin.items()}
        roles.update((role, set(privileges)) for role, privileges in self.auth["roles"].items())
        return roles

    @route("GET", "/access/roles")
    def list_roles(self, _request):
        """Role.pm index: every role with its privileges (comma list) and `special` for the built-in ones."""
        return [{"roleid": role, "privs": ",".join(sorted(privileges)), "special": 1 if role in self.control.builtin else 0}
                for role, privileges in sorted(self._all_roles().items())]

    def _privileges_param(self, text):
        """The `privs` list; its format pve-priv-list (verify_privname) refuses unknown privileges (400)."""
        privileges = split_list(text or "")
        for privilege in privileges:
            if privilege not in self.control.privileges:
                raise ParamError({"privs": "invalid format - invalid privilege '%s'\n" % privilege})
        return privileges

    @route("POST", "/access/roles")
    def create_role(self, request):
        """Role.pm create_role: no ids in the (case-insensitive) PVE namespace."""
        role = request.params["roleid"]
        privileges = self._privileges_param(request.params.get("privs"))
        if re.match(r"^PVE", role, re.I):
            raise ParamError({"roleid": "cannot use role ID starting with the (case-insensitive) 'PVE' namespace"})

        def change():
            if self.control.role_privileges(role) is not None:
                raise die("role '%s' already exists\n" % role)
            self.auth["roles"][role] = sorted(set(privileges))

        user_config_locked("create role failed", change)

    @route("GET", "/access/roles/{roleid}")
    def read_role(self, request):
        """Role.pm read_role: {privilege: 1}."""
        privileges = self.control.role_privileges(request.params["roleid"])
        if privileges is None:
            raise die("role '%s' does not exist\n" % request.params["roleid"])
        return {privilege: 1 for privilege in sorted(privileges)}

    @route("PUT", "/access/roles/{roleid}")
    def update_role(self, request):
        """Role.pm update_role: replaces the privileges unless `append`; built-in roles are fixed."""
        role = request.params["roleid"]
        privileges = self._privileges_param(request.params.get("privs"))
        if role in self.control.builtin:
            raise die("auto-generated role '%s' cannot be modified\n" % role)

        def change():
            if role not in self.auth["roles"]:
                raise die("role '%s' does not exist\n" % role)
            base = set(self.auth["roles"][role]) if request.params.get("append") else set()
            self.auth["roles"][role] = sorted(base | set(privileges))

        user_config_locked("update role failed", change)

    @route("DELETE", "/access/roles/{roleid}")
    def delete_role(self, request):
        """Role.pm delete_role (its ACL entries stay, like PVE's, and grant nothing)."""
        role = request.params["roleid"]
        if role in self.control.builtin:
            raise die("auto-generated role '%s' cannot be deleted\n" % role)

        def change():
            if role not in self.auth["roles"]:
                raise die("role '%s' does not exist\n" % role)
            del self.auth["roles"][role]

        user_config_locked("delete role failed", change)

    # -- ACLs ----------------------------------------------------------------------------------
    @route("GET", "/access/acl")
    def read_acl(self, request):
        """ACL.pm read_acl: entries on paths where the caller may modify permissions (all with Sys.Audit on /access)."""
        authid = request.userid
        audit = self.control.has(authid, "/access", ["Sys.Audit"])
        entries = []
        for path in self.control.acl_paths():
            if not (audit or self.control.check_perm_modify(authid, path, noerr=True)):
                continue
            for kind in ("user", "group", "token"):
                for ugid, roles in sorted(self.auth["acl"][path].get(kind + "s", {}).items()):
                    for role, propagate in sorted(roles.items()):
                        entries.append({"path": path, "type": kind, "ugid": ugid, "roleid": role, "propagate": propagate})
        return entries

    @route("PUT", "/access/acl")
    def update_acl(self, request):
        """ACL.pm update_acl: add (or with `delete` remove) roles of users, groups and tokens on a path.

        Without Permissions.Modify on the path (perm-modify let the caller in through VM.Allocate,
        Datastore.Allocate or Pool.Allocate) only roles within the caller's own privileges may be
        handed out, propagated only where the caller's are.
        """
        params = request.params
        subjects = {kind: split_list(params.get(kind) or "") for kind in ("users", "groups", "tokens")}
        if not any(subjects.values()):
            raise ParamError({kind: "either 'users', 'groups' or 'tokens' is required." for kind in subjects})
        path = normalize_path(params["path"])
        if not path or (not params.get("delete") and not is_acl_path(path)):
            raise ParamError({"path": "invalid ACL path '%s'" % params["path"]})
        propagate = 1 if params.get("propagate") is None else (1 if params["propagate"] else 0)
        delete = bool(params.get("delete"))
        user_config_locked("ACL update failed", lambda: self._check_acl_update(request.userid, path, params["roles"], subjects, propagate, delete))
        entry = self.auth["acl"].setdefault(path, {})
        for role in split_list(params["roles"]):
            for kind, ids in subjects.items():
                for ugid in ids:
                    roles = entry.setdefault(kind, {}).setdefault(ugid, {})
                    if delete:
                        roles.pop(role, None)
                    else:
                        roles[role] = propagate
        self._prune_acl(path)

    def _check_acl_update(self, authid, path, roles, subjects, propagate, delete):
        granted = self.control.permissions(authid, path)
        verb = "remove" if delete else "add"
        for role in split_list(roles):
            privileges = self.control.role_privileges(role)
            if privileges is None:
                raise die("role '%s' does not exist\n" % role)
            if PERMISSIONS_MODIFY not in granted:
                for privilege in sorted(privileges):
                    if privilege not in granted:
                        raise ParamError({"role": "Cannot %s role '%s' - requires 'Permissions.Modify' or superset of privileges." % (verb, role)})
                    if propagate and granted[privilege] != propagate and not delete:
                        raise ParamError({"role": "Cannot %s role '%s' with propagation - requires 'Permissions.Modify' or "
                                                  "propagated superset of privileges." % (verb, role)})
                if role == NO_ACCESS:
                    raise ParamError({"role": "Cannot %s role '%s' - requires 'Permissions.Modify'" % (verb, role)})
            for group in subjects["groups"]:
                if group not in self.auth["groups"]:
                    raise die("group '%s' does not exist\n" % group)
            for userid in subjects["users"]:
                if userid not in self.auth["users"]:
                    raise die("user '%s' does not exist\n" % userid)
            for tokenid in subjects["tokens"]:
                user, name = split_tokenid(tokenid)
                self._token(user, name)

    def _prune_acl(self, path):
        """Drop emptied entries, so that a path without roles is no ACL path any more."""
        entry = self.auth["acl"].get(path, {})
        for kind in list(entry):
            for ugid in [ugid for ugid, roles in entry[kind].items() if not roles]:
                del entry[kind][ugid]
            if not entry[kind]:
                del entry[kind]
        if not entry:
            self.auth["acl"].pop(path, None)

    # -- realms --------------------------------------------------------------------------------
    @route("GET", "/access/domains")
    def list_domains(self, _request):
        """Domains.pm index: realm, type, comment and default when set."""
        entries = []
        for realm, domain in sorted(self.auth["domains"].items()):
            entry = {"realm": realm, "type": domain["type"]}
            for key in ("comment", "default"):
                if domain.get(key):
                    entry[key] = domain[key]
            entries.append(entry)
        return entries

    def _domain(self, realm):
        domain = self.auth["domains"].get(realm)
        if domain is None:
            raise die("domain '%s' does not exist\n" % realm)
        return domain

    @staticmethod
    def _realm_options(realm_type):
        if realm_type == "openid":
            return OPENID_OPTIONS
        if realm_type in BUILTIN_REALM_TYPES:
            return BUILTIN_REALM_OPTIONS
        raise ApiError(HTTP_NOT_IMPLEMENTED, "realm type '%s' is not simulated by pvesim (only pam, pve and openid)\n" % realm_type)

    @staticmethod
    def _realm_settings(options, params, create):
        """SectionConfig.pm check_config: unknown options, then (create) missing required ones."""
        settings = {key: value for key, value in params.items() if key not in ("realm", "type", "delete", "digest")}
        for key in sorted(settings):
            if key not in options:
                raise die("unexpected property '%s'\n" % key)
        if create:
            for key in sorted(options):
                if options[key] and key not in settings:
                    raise die("missing value for required option '%s'\n" % key)
        return settings

    def _clear_default(self, settings):
        if settings.get("default"):
            for domain in self.auth["domains"].values():
                domain.pop("default", None)

    @route("POST", "/access/domains")
    def create_domain(self, request):
        """Domains.pm create: pam and pve are built in; openid realms need issuer-url and client-id."""
        params = dict(request.params)
        realm, realm_type = params["realm"], params["type"]

        def change():
            if realm in self.auth["domains"]:
                raise die("domain '%s' already exists\n" % realm)
            if realm in BUILTIN_REALM_TYPES:
                raise die("unable to use reserved name '%s'\n" % realm)
            if realm_type in BUILTIN_REALM_TYPES:
                raise die("unable to create builtin type '%s'\n" % realm_type)
            if params.get("check-connection") is not None:
                raise die("'check-connection' parameter can only be set for realms of type 'ldap' or 'ad'\n")
            return self._realm_settings(self._realm_options(realm_type), params, create=True)

        settings = user_config_locked("add auth server failed", change)
        self._clear_default(settings)
        self.auth["domains"][realm] = dict(settings, type=realm_type)

    @route("GET", "/access/domains/{realm}")
    def read_domain(self, request):
        """Domains.pm read: the realm's settings with its type."""
        return dict(self._domain(request.params["realm"]))

    @route("PUT", "/access/domains/{realm}")
    def update_domain(self, request):
        """Domains.pm update: set options, `delete` removes optional ones."""
        params = dict(request.params)
        realm = params["realm"]

        def change():
            domain = self._domain(realm)
            deleted = split_list(params.get("delete") or "")
            settings = self._realm_settings(self._realm_options(domain["type"]), params, create=False)
            if not settings and not deleted:
                raise die("no options specified\n")
            for key in deleted:
                if self._realm_options(domain["type"]).get(key):
                    raise die("unable to delete required option '%s'\n" % key)
            return domain, settings, deleted

        domain, settings, deleted = user_config_locked("update auth server failed", change)
        self._clear_default(settings)
        for key in deleted:
            domain.pop(key, None)
        domain.update(settings)

    @route("DELETE", "/access/domains/{realm}")
    def delete_domain(self, request):
        """Domains.pm delete."""
        realm = request.params["realm"]

        def change():
            if realm not in self.auth["domains"]:
                raise die("authentication domain '%s' does not exist\n" % realm)

        user_config_locked("delete auth server failed", change)
        del self.auth["domains"][realm]
