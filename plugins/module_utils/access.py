# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the access and pool modules share: PVE's id rules, privilege lists, the ACL plan.

The id rules are those of pve-access-control src/PVE/Auth/Plugin.pm (user and realm
regexes, verify_username) and src/PVE/AccessControl.pm (verify_groupname,
verify_rolename, verify_poolname, the token sub-id regex, normalize_path). Checking
them here lets a module refuse a bad id before any write, with the option's name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxApiError, ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import Write, same_value

REALM = r"[A-Za-z][A-Za-z0-9\.\-_]+"
USERID_RE = re.compile(r"^([^\s:/]+)@(" + REALM + r")$")
TOKEN_SUBID_RE = re.compile(r"^" + REALM + r"$")  # AccessControl.pm: $token_subid_regex = $realm_regex
GROUPID_RE = re.compile(r"^[A-Za-z0-9\.\-_]+$")
ROLEID_RE = re.compile(r"^[A-Za-z0-9\.\-_]+$")
POOLID_RE = re.compile(r"^[A-Za-z0-9\.\-_]+(?:/[A-Za-z0-9\.\-_]+){0,2}$")

# The role that holds every privilege of the running PVE (AccessControl.pm $special_roles:
# 'Administrator' => $valid_privs), so its list is the version's valid privileges.
ALL_PRIVILEGES_ROLE = "Administrator"

ACL_KINDS = ("user", "group", "token")  # GET /access/acl "type"; PUT /access/acl takes users/groups/tokens


def check_userid(userid, option="userid"):
    """A PVE user id (name@realm, 3 to 64 characters), or ProxmoxError naming the option."""
    text = userid or ""
    if not 3 <= len(text) <= 64 or not USERID_RE.match(text):
        raise ProxmoxError("{0}: {1!r} is not a PVE user id: name@realm, 3 to 64 characters, no whitespace, ':' or '/' "
                           "in the name, a realm of letters, digits, '.', '-', '_' starting with a letter; nothing was "
                           "changed".format(option, userid))
    return text


def check_tokenid(tokenid, option="tokenid"):
    """A token name (the part after '!'), or ProxmoxError."""
    if not TOKEN_SUBID_RE.match(tokenid or ""):
        raise ProxmoxError("{0}: {1!r} is not a PVE token name: a letter, then at least one letter, digit, '.', '-' "
                           "or '_'; nothing was changed".format(option, tokenid))
    return tokenid


def check_full_tokenid(full_tokenid, option="token"):
    """user@realm!name, or ProxmoxError; returns (userid, tokenid)."""
    userid, separator, tokenid = (full_tokenid or "").partition("!")
    if not separator:
        raise ProxmoxError("{0}: {1!r} is not a full token id (user@realm!name); nothing was changed".format(
            option, full_tokenid))
    return check_userid(userid, option), check_tokenid(tokenid, option)


def check_id(value, pattern, option, what):
    """A group, role or pool id against PVE's pattern, or ProxmoxError naming the option."""
    if not pattern.match(value or ""):
        raise ProxmoxError("{0}: {1!r} is not a valid {2} id for PVE; nothing was changed".format(option, value, what))
    return value


def split_list(value):
    """PVE's list strings (comma, semicolon or space separated: pve-common Tools.pm split_list) or lists, as a list."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return [item for item in re.split(r"[,;\s]+", str(value).strip()) if item]


def same_text(current, desired):
    """Free-text options: PVE drops an empty value, so unset and '' are the same."""
    if desired == "" and current in (None, ""):
        return True
    return same_value(current, desired)


def same_set(current, desired):
    """Lists whose order PVE does not keep (a user's groups, a role's privileges)."""
    return set(split_list(current)) == set(split_list(desired))


def privileges(role):
    """A role's privileges from GET /access/roles (a comma-separated string), as a sorted list."""
    return sorted(split_list(role.get("privs")))


def privilege_errors(declared, valid, option="privs"):
    """Messages for the declared privileges PVE does not know (AccessControl.pm verify_privname)."""
    return ["{0}[{1}]: invalid privilege '{2}'".format(option, index, privilege)
            for index, privilege in enumerate(declared) if privilege not in valid]


def valid_privileges(roles):
    """The privileges of the running PVE: those of the built-in Administrator role."""
    for role in roles:
        if role.get("roleid") == ALL_PRIVILEGES_ROLE:
            return set(privileges(role))
    raise ProxmoxError("GET /access/roles listed no '{0}' role, so the valid privileges are unknown; nothing was "
                       "changed".format(ALL_PRIVILEGES_ROLE))


def not_found(error):
    """Whether a PVE error says the object does not exist ("pool 'x' does not exist", "no such user")."""
    reason = str(error.reason or "") + " " + " ".join(getattr(error, "details", None) or [])
    return isinstance(error, ProxmoxApiError) and ("does not exist" in reason or "no such" in reason)


def find(items, key, value):
    """The entry of a PVE list whose `key` is `value`, or None."""
    return next((item for item in items or [] if item.get(key) == value), None)


# --- ACL entries ---------------------------------------------------------------------------


def normalize_acl_path(path):
    """The path as PVE keeps it (AccessControl.pm normalize_path: one leading '/', no doubled or trailing '/')."""
    text = "/" + "/".join(part for part in str(path or "").split("/") if part)
    return text


class AclEntry:
    """One ACL entry: path, role, and whom it grants (kind user|group|token, ugid), with propagate."""

    def __init__(self, path, kind, ugid, role, propagate=True):
        self.path = normalize_acl_path(path)
        self.kind = kind
        self.ugid = ugid
        self.role = role
        self.propagate = bool(int(propagate))

    @classmethod
    def from_api(cls, entry):
        """An entry of GET /access/acl ({path, type, ugid, roleid, propagate})."""
        return cls(entry["path"], entry["type"], entry["ugid"], entry["roleid"], entry.get("propagate", 1))

    @property
    def key(self):
        return (self.path, self.kind, self.ugid, self.role)

    def as_dict(self):
        return dict(path=self.path, type=self.kind, ugid=self.ugid, roleid=self.role, propagate=self.propagate)

    def write(self, delete=False):
        """The PUT /access/acl that grants (or, delete=True, revokes) this entry."""
        params = dict(path=self.path, roles=self.role, propagate=None if delete else self.propagate)
        params[self.kind + "s"] = self.ugid
        if delete:
            params["delete"] = True
        return Write("PUT", "/access/acl", params, what="{0} acl {1} {2} {3} {4}".format(
            "revoke" if delete else "grant", self.path, self.kind, self.ugid, self.role))


def declared_acl_entry(item, index, option="acl"):
    """An AclEntry from one item of the `acl` option, checking it names exactly one of user/group/token."""
    whom = [kind for kind in ACL_KINDS if item.get(kind)]
    if len(whom) != 1:
        raise ProxmoxError("{0}[{1}]: give exactly one of user, group or token (got {2}); nothing was changed".format(
            option, index, ", ".join(whom) or "none"))
    kind = whom[0]
    ugid = item[kind]
    if kind == "user":
        check_userid(ugid, "{0}[{1}].user".format(option, index))
    elif kind == "token":
        check_full_tokenid(ugid, "{0}[{1}].token".format(option, index))
    else:
        check_id(ugid, GROUPID_RE, "{0}[{1}].group".format(option, index), "group")
    return AclEntry(item["path"], kind, ugid, item["role"], item.get("propagate", True) is not False)


def plan_acl(current, declared, exclusive_paths=()):
    """(writes, touched paths) that take the ACL from `current` to the declared entries.

    `current` lists AclEntry objects of GET /access/acl; `declared` lists (AclEntry, state).
    One PUT /access/acl per change: a missing entry or one whose propagate differs is granted
    (PVE's update overwrites the propagate flag of an existing entry, AccessControl.pm),
    an entry declared absent is revoked with delete=1, and on `exclusive_paths` every entry
    not declared present is revoked too. Writes come in the order of the declaration, then
    the undeclared entries of the exclusive paths in path order.
    """
    held = dict((entry.key, entry) for entry in current)
    writes, wanted, seen = [], set(), set()
    for entry, state in declared:
        if entry.key in seen:
            raise ProxmoxError("the acl entry {0} {1} {2} {3} is declared twice; nothing was changed".format(*entry.key))
        seen.add(entry.key)
        existing = held.get(entry.key)
        if state == "absent":
            if existing is not None:
                writes.append(existing.write(delete=True))
            continue
        wanted.add(entry.key)
        if existing is None or existing.propagate != entry.propagate:
            writes.append(entry.write())
    exclusive = set(normalize_acl_path(path) for path in exclusive_paths or ())
    for entry in sorted(current, key=lambda item: item.key):
        if entry.path in exclusive and entry.key not in wanted and entry.key not in seen:
            writes.append(entry.write(delete=True))
    touched = exclusive | set(entry.path for entry, _state in declared)
    return writes, touched


def acl_after(current, declared, exclusive_paths=()):
    """The entries PVE holds after plan_acl's writes."""
    held = dict((entry.key, entry) for entry in current)
    exclusive = set(normalize_acl_path(path) for path in exclusive_paths or ())
    declared_keys = set(entry.key for entry, _state in declared)
    for key in list(held):
        if key[0] in exclusive and key not in declared_keys:
            del held[key]
    for entry, state in declared:
        if state == "absent":
            held.pop(entry.key, None)
        else:
            held[entry.key] = entry
    return list(held.values())


def acl_view(entries, paths):
    """Entries on `paths`, as sorted dicts (the diff and the result)."""
    return [entry.as_dict() for entry in sorted(entries, key=lambda item: item.key) if entry.path in paths]


# Pools: a guest member is listed with its type (pve-access-control src/PVE/API2/Pool.pm read_pool).
GUEST_TYPES = ("qemu", "lxc", "openvz")


def members_of(pool):
    """(guest ids, storage ids) of GET /pools?poolid= members, sorted."""
    members = pool.get("members") or []
    vms = sorted(int(member["vmid"]) for member in members if member.get("type") in GUEST_TYPES)
    storage = sorted(member["storage"] for member in members if member.get("type") == "storage")
    return vms, storage
