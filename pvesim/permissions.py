"""Privileges, built-in roles, ACL evaluation and the API's `permissions.check` expressions.

Facts from proxmox/pve-access-control; PVE 8.4 ships 8.2.2 (commit 25dd375), PVE 9.1 ships
9.0.4 (commit 3e9da0c):
- src/PVE/AccessControl.pm: $privgroups, create_roles (the built-in roles), roles() (ACL walk
  from `/` to the path: a token's own entry beats the user's, the user's beats his groups', a
  deeper entry replaces the roles found above it, an entry with propagate=0 counts only on its
  own path; NoAccess wins over everything set at the same level), normalize_path, check_path;
- src/PVE/RPCEnvironment.pm: permissions() (root@pam has every privilege; a token without
  privilege separation has its user's privileges, with it the intersection of the user's and the
  token's own), pool ACLs (roles on /pool/<pool> apply, unpropagated, to its guests and storages;
  a pool NoAccess beats a plain ACL, a plain NoAccess beats the pool), check/check_any and their
  403 texts, check_perm_modify, exec_api2_perm_check (the `check` forms), compute_api_permission
  (the login's `cap`), get_effective_permissions;
- pve-common src/PVE/Tools.pm template_replace: a `{name}` without a value becomes `-`.
"""

import re

from pvesim.errors import PermissionDenied, die

ROOT = "root@pam"
NO_ACCESS = "NoAccess"
ADMINISTRATOR = "Administrator"
PERMISSIONS_MODIFY = "Permissions.Modify"

# AccessControl.pm $privgroups: per category the privileges of its root/admin/user/audit tiers.
_PRIVGROUPS_8 = {
    "VM": {
        "root": [],
        "admin": ["VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.HWType",
                  "VM.Config.Options", "VM.Allocate", "VM.Clone", "VM.Migrate", "VM.Monitor", "VM.Snapshot",
                  "VM.Snapshot.Rollback"],
        "user": ["VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.Backup", "VM.PowerMgmt"],
        "audit": ["VM.Audit"],
    },
    "Sys": {
        "root": ["Sys.PowerMgmt", "Sys.Modify", "Sys.Incoming", "Sys.AccessNetwork"],
        "admin": ["Sys.Console", "Sys.Syslog"],
        "user": [],
        "audit": ["Sys.Audit"],
    },
    "Datastore": {
        "root": [],
        "admin": ["Datastore.Allocate", "Datastore.AllocateTemplate"],
        "user": ["Datastore.AllocateSpace"],
        "audit": ["Datastore.Audit"],
    },
    "SDN": {"root": [], "admin": ["SDN.Allocate", "SDN.Audit"], "user": ["SDN.Use"], "audit": ["SDN.Audit"]},
    "User": {"root": ["Realm.Allocate"], "admin": ["User.Modify", "Group.Allocate", "Realm.AllocateUser"], "user": [], "audit": []},
    "Pool": {"root": [], "admin": ["Pool.Allocate"], "user": ["Pool.Audit"], "audit": ["Pool.Audit"]},
    "Mapping": {"root": [], "admin": ["Mapping.Modify"], "user": ["Mapping.Use"], "audit": ["Mapping.Audit"]},
}
# 9.x: VM.Monitor is gone; VM.GuestAgent.* and VM.Replicate are new.
_PRIVGROUPS_9 = dict(_PRIVGROUPS_8, VM={
    "root": [],
    "admin": ["VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.HWType",
              "VM.Config.Options", "VM.Allocate", "VM.Clone", "VM.GuestAgent.Unrestricted", "VM.Migrate",
              "VM.Replicate", "VM.Snapshot", "VM.Snapshot.Rollback"],
    "user": ["VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.Backup", "VM.GuestAgent.FileRead",
             "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite", "VM.PowerMgmt"],
    "audit": ["VM.Audit", "VM.GuestAgent.Audit"],
})
PRIVILEGE_GROUPS = {"8.4": _PRIVGROUPS_8, "9.1": _PRIVGROUPS_9}

# RPCEnvironment.pm compute_api_permission: which privileges of which top-level path show in `cap`.
_CAP_PATTERNS = {
    "vms": r"VM\.|Permissions\.Modify",
    "access": r"(User|Group)\.|Permissions\.Modify",
    "storage": r"Datastore\.|Permissions\.Modify",
    "nodes": r"Sys\.|Permissions\.Modify",
    "sdn": r"SDN\.|Permissions\.Modify",
    "dc": r"Sys\.Audit|Sys\.Modify|SDN\.",
    "mapping": r"Mapping\.|Permissions.Modify",
}
_CAP_PATHS = ["/", "/nodes", "/access/groups", "/vms", "/storage", "/sdn", "/mapping"]
_EFFECTIVE_PATHS = ["/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms"]

# AccessControl.pm check_path: the paths an ACL may be set on.
_ACL_PATH_RE = re.compile(r"""^(
    /|/access|/access/groups|/access/groups/[A-Za-z0-9._-]+|/access/realm|/access/realm/[A-Za-z0-9._-]+
    |/nodes|/nodes/[A-Za-z0-9._-]+|/pool|/pool/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+){0,2}
    |/sdn|/sdn/controllers|/sdn/controllers/[A-Za-z0-9_-]+|/sdn/dns|/sdn/dns/[A-Za-z0-9]+
    |/sdn/fabrics|/sdn/fabrics/[A-Za-z0-9]+|/sdn/ipams|/sdn/ipams/[A-Za-z0-9]+|/sdn/zones
    |/sdn/zones/[A-Za-z0-9._-]+|/sdn/zones/[A-Za-z0-9._-]+/[A-Za-z0-9._-]+
    |/sdn/zones/[A-Za-z0-9._-]+/[A-Za-z0-9._-]+/[1-9][0-9]{0,3}
    |/storage|/storage/[A-Za-z0-9._-]+|/vms|/vms/[1-9][0-9]{2,}
    |/mapping|/mapping/[A-Za-z0-9._-]+|/mapping/[A-Za-z0-9._-]+/[A-Za-z0-9._-]+
)$""", re.X)

# The `check` forms exec_api2_perm_check knows (anything else dies "unknown permission test").
CHECK_FORMS = ("and", "or", "perm", "userid-group", "userid-param", "perm-modify")


def valid_privileges(release):
    """Every privilege of a release (AccessControl.pm $valid_privs), sorted."""
    privileges = {PERMISSIONS_MODIFY}
    for tiers in PRIVILEGE_GROUPS[release].values():
        for names in tiers.values():
            privileges.update(names)
    return sorted(privileges)


def builtin_roles(release):
    """AccessControl.pm create_roles: the special roles of a release as {role: set of privileges}."""
    roles = {NO_ACCESS: set(), ADMINISTRATOR: set(valid_privileges(release))}
    for category, tiers in PRIVILEGE_GROUPS[release].items():
        admin = tiers["admin"] + tiers["user"] + tiers["audit"]
        roles.setdefault("PVE%sAdmin" % category, set()).update(admin)
        roles.setdefault("PVEAdmin", set()).update(admin)
        if tiers["user"]:
            roles.setdefault("PVE%sUser" % category, set()).update(tiers["user"] + tiers["audit"])
        roles.setdefault("PVEAuditor", set()).update(tiers["audit"])
    # only Administrator, root@pam and PVEMappingAdmin may use Mapping.Modify for now
    roles["PVEAdmin"].discard("Mapping.Modify")
    roles["PVETemplateUser"] = {"VM.Clone", "VM.Audit"}
    return roles


def normalize_path(path):
    """AccessControl.pm normalize_path; None for an empty or invalid path."""
    if not path:
        return None
    path = re.sub(r"/+", "/", path)
    path = re.sub(r"/$", "", path) or "/"
    if not path.startswith("/"):
        path = "/" + path
    return path if re.match(r"^[A-Za-z0-9._/-]+$", path) else None


def is_acl_path(path):
    """AccessControl.pm check_path."""
    return bool(_ACL_PATH_RE.match(path))


def template_replace(template, params):
    """pve-common Tools.pm template_replace: `{name}` -> the parameter, or `-` when unset/false."""
    return re.sub(r"\{([^}]+)\}", lambda match: str(params.get(match.group(1)) or "-"), template)


def split_tokenid(authid):
    """(user, token name) of a token id, (authid, None) of a user id."""
    user, _separator, token = authid.partition("!")
    return user, (token or None)


def ancestor_paths(path):
    """'/vms/100' -> ['/', '/vms', '/vms/100'] (the order roles() walks the ACL tree)."""
    parts = [part for part in path.split("/") if part]
    return ["/"] + ["/" + "/".join(parts[:index]) for index in range(1, len(parts) + 1)]


class AccessControl:
    """Permission answers over the "auth" state (users, tokens, groups, roles, acl, pools)."""

    def __init__(self, state, release):
        self.state = state
        self.release = release
        self.privileges = valid_privileges(release)
        self.builtin = builtin_roles(release)

    # -- configuration ---------------------------------------------------------------------
    def role_privileges(self, role):
        """The privileges of a built-in or custom role (None: no such role)."""
        if role in self.builtin:
            return self.builtin[role]
        custom = self.state["roles"].get(role)
        return None if custom is None else set(custom)

    def pool_of(self, vmid):
        """The pool a guest belongs to (user.cfg's `vms` map), or None."""
        for poolid, pool in self.state["pools"].items():
            if int(vmid) in pool["vms"]:
                return poolid
        return None

    def token(self, authid):
        """The token's entry, or None."""
        return self.state["tokens"].get(authid)

    # -- AccessControl.pm roles --------------------------------------------------------------
    def roles(self, authid, path):
        """{role: propagate} of a user or token on a path, pools not considered."""
        if authid == ROOT:
            return {ADMINISTRATOR: 1}
        user, token_name = split_tokenid(authid)
        if token_name is not None:
            token = self.token(authid)
            if token is None:
                return {}
            if not token.get("privsep"):
                return self.roles(user, path)
        groups = [group for group, data in self.state["groups"].items() if authid in data["members"]]
        roles = {}
        paths = ancestor_paths(path)
        for index, prefix in enumerate(paths):
            final = index == len(paths) - 1
            entry = self.state["acl"].get(prefix, {})
            found = self._roles_at(entry.get("tokens", {}).get(authid), final)
            if found is None:
                found = self._roles_at(entry.get("users", {}).get(authid), final)
            if found is None:
                for group in groups:
                    found = dict(found or {}, **(self._roles_at(entry.get("groups", {}).get(group), final) or {}))
                found = found or None
            if found is not None:
                roles = found
        if NO_ACCESS in roles:
            return {NO_ACCESS: roles[NO_ACCESS]}
        return roles

    @staticmethod
    def _roles_at(assigned, final):
        """The roles of one ACL entry that apply here: all on the path itself, propagated ones below."""
        if not assigned:
            return None
        applying = {role: propagate for role, propagate in assigned.items() if final or propagate}
        return applying or None

    # -- RPCEnvironment.pm permissions ---------------------------------------------------------
    def permissions(self, authid, path):
        """{privilege: propagate} of a user or token on a path."""
        if authid == ROOT:
            return {privilege: 1 for privilege in self.privileges}
        user, token_name = split_tokenid(authid)
        if token_name is not None:
            token = self.token(authid)
            if token is None:
                return {}
            user_privileges = self.permissions(user, path)
            if not token.get("privsep"):
                return user_privileges
        roles = self._with_pool_roles(authid, path, self.roles(authid, path))
        privileges = {}
        for role, propagate in roles.items():
            for privilege in self.role_privileges(role) or ():
                privileges[privilege] = privileges.get(privilege, 0) or propagate
        if token_name is not None and user != ROOT:
            privileges = {privilege: (user_privileges[privilege] and propagate)
                          for privilege, propagate in privileges.items() if privilege in user_privileges}
        return privileges

    def _with_pool_roles(self, authid, path, roles):
        """compile_acl_path: roles from /pool/<pool> ACLs on the pool's guests and storages."""
        pool_roles = {}
        for poolid, pool in self.state["pools"].items():
            members = ["/vms/%d" % vmid for vmid in pool["vms"]] + ["/storage/%s" % storage for storage in pool["storage"]]
            if path in members:
                pool_roles.update(self.roles(authid, "/pool/%s" % poolid))
        if not pool_roles or NO_ACCESS in roles:
            return roles
        if NO_ACCESS in pool_roles:
            return {NO_ACCESS: 0}
        merged = dict(roles)
        for role in pool_roles:
            merged.setdefault(role, 0)  # pool-derived roles never propagate
        return merged

    def has(self, authid, path, privileges, any_of=False):
        """check(..., noerr=1) / check_any(..., noerr=1) as a boolean."""
        granted = self.permissions(authid, path)
        if any_of:
            return any(privilege in granted for privilege in privileges)
        return all(privilege in granted for privilege in privileges)

    def check(self, authid, path, privileges, any_of=False, noerr=False):
        """RPCEnvironment.pm check / check_any: 403 `Permission check failed (<path>, <priv>)`.

        check names the first missing privilege, check_any all of them joined by `|`.
        """
        granted = self.permissions(authid, path)
        if any_of:
            if any(privilege in granted for privilege in privileges):
                return True
            missing = "|".join(privileges)
        else:
            missing = next((privilege for privilege in privileges if privilege not in granted), None)
            if missing is None:
                return True
        if noerr:
            return False
        raise PermissionDenied("%s, %s" % (path, missing))

    def check_perm_modify(self, authid, path, noerr=False):
        """RPCEnvironment.pm check_perm_modify: Permissions.Modify, or the object's allocate privilege."""
        if not path:
            return self.check(authid, "/access", [PERMISSIONS_MODIFY], noerr=noerr)
        wanted = [PERMISSIONS_MODIFY]
        for prefix, privilege in (("/storage/", "Datastore.Allocate"), ("/vms/", "VM.Allocate"), ("/pool/", "Pool.Allocate")):
            if path.startswith(prefix) and len(path) > len(prefix):
                wanted.append(privilege)
        return self.check(authid, path, wanted, any_of=True, noerr=noerr)

    # -- users and groups for the userid-* tests ---------------------------------------------
    def user_exists(self, userid, noerr=False):
        """AccessControl.pm check_user_exist (a plain die `no such user ('<id>')`)."""
        if userid in self.state["users"]:
            return True
        if noerr:
            return False
        raise die("no such user ('%s')\n" % userid)

    def groups_with(self, authid, privileges):
        """filter_groups(any): groups on whose /access/groups/<group> the caller has any privilege."""
        return [group for group in sorted(self.state["groups"])
                if self.has(authid, "/access/groups/%s" % group, privileges, any_of=True)]

    def members_of(self, groups):
        """group_member_join."""
        return {member for group in groups for member in self.state["groups"].get(group, {}).get("members", [])}

    # -- RPCEnvironment.pm exec_api2_perm_check ----------------------------------------------
    def evaluate(self, check, authid, params, noerr=False):
        """Evaluate one `permissions.check` expression; True, False (noerr) or a raised 403/500."""
        test = check[0] if check else None
        if test not in CHECK_FORMS:
            raise die("unknown permission test\n")
        return getattr(self, "_test_" + test.replace("-", "_"))(check, authid, params, noerr)

    def _test_and(self, check, authid, params, _noerr):
        for subcheck in check[1:]:
            self.evaluate(subcheck, authid, params)
        return True

    def _test_or(self, check, authid, params, noerr):
        for subcheck in check[1:]:
            if self.evaluate(subcheck, authid, params, noerr=True):
                return True
        if noerr:
            return False
        raise PermissionDenied()

    def _test_perm(self, check, authid, params, noerr):
        template, privileges = check[1], check[2]
        options = dict(zip(check[3::2], check[4::2]))
        required = options.get("require_param")
        if required and params.get(required) is None:
            if noerr:
                return False
            raise PermissionDenied()
        path = normalize_path(template_replace(template, params))
        return self.check(authid, path, privileges, any_of=bool(options.get("any")), noerr=noerr)

    def _test_userid_group(self, check, authid, params, noerr):
        privileges = check[1]
        options = dict(zip(check[2::2], check[3::2]))
        userid = params.get("userid")
        groups_param = options.get("groups_param")
        check_existing_user = groups_param != "create"
        if check_existing_user and not self.user_exists(userid, noerr):
            return False
        if self.has(authid, "/access/groups", privileges, any_of=True):
            return True
        allowed_groups = self.groups_with(authid, privileges)
        if groups_param:
            wanted = [group for group in re.split(r"[\s,;]+", params.get("groups") or "") if group]
            if not wanted:
                raise PermissionDenied("/access/groups, %s" % "|".join(privileges))
            for group in wanted:
                if group not in allowed_groups:
                    raise PermissionDenied("/access/groups/%s, %s" % (group, "|".join(privileges)))
        if check_existing_user and userid not in self.members_of(allowed_groups):
            if noerr:
                return False
            raise PermissionDenied()
        return True

    def _test_userid_param(self, check, authid, params, noerr):
        userid = params.get("userid") or ""
        subtest = check[1]
        if subtest == "self":
            if not self.user_exists(userid, noerr):
                return False
            if authid == userid:
                return True
            if noerr:
                return False
            raise PermissionDenied()
        if subtest == "Realm.AllocateUser":
            realm = userid.rpartition("@")[2]
            return self.check(authid, "/access/realm/%s" % realm, ["Realm.AllocateUser"], noerr=noerr)
        raise die("unknown userid-param test\n")

    def _test_perm_modify(self, check, authid, params, noerr):
        path = normalize_path(template_replace(check[1], params))
        if path is None:
            return False
        return self.check_perm_modify(authid, path, noerr)

    def check_api2(self, authid, check, params):
        """The hook pvesim.auth.Permissions calls for a method's `check` (root@pam never gets here)."""
        return self.evaluate(check, authid, params)

    # -- what a caller may see -----------------------------------------------------------------
    def acl_paths(self):
        """Paths that carry ACL entries (iterate_acl_tree), sorted."""
        return sorted(path for path, entry in self.state["acl"].items() if any(entry.get(kind) for kind in ("users", "groups", "tokens")))

    def compute_api_permission(self, authid):
        """RPCEnvironment.pm compute_api_permission: the `cap` of a login."""
        capabilities = {scope: {} for scope in _CAP_PATTERNS}
        for path in dict.fromkeys(_CAP_PATHS + self.acl_paths()):
            granted = self.permissions(authid, path)
            match = re.match(r"^/(\w+)", path)
            toplevel = match.group(1) if match else "dc"
            if toplevel == "pool":
                for privilege in granted:
                    if privilege.startswith("VM."):
                        capabilities["vms"][privilege] = 1
                    elif privilege.startswith("Datastore."):
                        capabilities["storage"][privilege] = 1
                    elif privilege == PERMISSIONS_MODIFY:
                        capabilities["storage"][privilege] = 1
                        capabilities["vms"][privilege] = 1
            elif toplevel in _CAP_PATTERNS:
                for privilege in granted:
                    if re.match(r"^(%s)" % _CAP_PATTERNS[toplevel], privilege):
                        capabilities[toplevel][privilege] = 1
        return capabilities

    def effective_permissions(self, authid):
        """RPCEnvironment.pm get_effective_permissions: {path: {privilege: propagate}} where any is set."""
        paths = list(_EFFECTIVE_PATHS) + self.acl_paths()
        for pool in self.state["pools"].values():
            paths += ["/vms/%d" % vmid for vmid in pool["vms"]] + ["/storage/%s" % storage for storage in pool["storage"]]
        result = {}
        for path in dict.fromkeys(paths):
            granted = self.permissions(authid, path)
            if granted:
                result[path] = granted
        return result
