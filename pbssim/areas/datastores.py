"""Datastores, namespaces, backup groups and snapshots.

proxmox-backup v3.2.4 (4940514): src/api2/config/datastore.rs, src/api2/admin/datastore.rs
(get_datastore_list, list_groups, list_snapshots), src/api2/admin/namespace.rs,
src/backup/hierarchy.rs (check_ns_privs*), pbs-datastore src/datastore.rs (create_namespace,
remove_namespace_recursive, check_backup_owner), src/api2/backup/mod.rs (the checks a backup
client's session passes); pbs-api-types src/datastore.rs (proxmox-rs f330500: BackupNamespace).

State (`datastores`): config {name: DataStoreConfig}, namespaces {store: [ns, ...]} (the root
namespace "" always exists), groups {store: {ns: {"<type>/<id>": {owner, snapshots: {time: files}}}}}.
"""

import time

from simcore import route
from pbssim.access import PRIV, owner_of, priv_names, split_acl_path
from pbssim.errors import HTTP_FORBIDDEN, HTTP_NOT_FOUND, ApiError, bail, http_error, param_bail
from pbssim.simulator import PbsArea, check_digest

MAX_NAMESPACE_DEPTH = 7
MAX_NAMESPACE_LENGTH = 256
# hierarchy.rs NS_PRIVS_OK
NS_PRIVS_OK = PRIV["Datastore.Modify"] | PRIV["Datastore.Read"] | PRIV["Datastore.Backup"] | PRIV["Datastore.Audit"]
KEEP_OPTIONS = ("keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly")
# the archives a client writes per backup type (what `files` lists)
DEFAULT_FILES = {
    "vm": ["index.json.blob", "qemu-server.conf.blob", "drive-scsi0.img.fidx"],
    "ct": ["index.json.blob", "pct.conf.blob", "root.pxar.didx"],
    "host": ["index.json.blob", "root.pxar.didx"],
}


def ns_components(ns):
    """BackupNamespace components of "a/b" ("" is the root)."""
    return [part for part in (ns or "").split("/") if part]


def ns_acl_path(store, ns):
    """BackupNamespace::acl_path: ["datastore", store, components...]."""
    return ["datastore", store] + ns_components(ns)


def ns_push(parent, name):
    """BackupNamespace::push: depth, length and component checks; returns the child's name."""
    components = ns_components(parent)
    if "/" in name:
        raise bail("namespace component contained a slash")
    if len(components) >= MAX_NAMESPACE_DEPTH:
        raise bail("namespace too deep, %d >= max %d" % (len(components), MAX_NAMESPACE_DEPTH))
    if len("/".join(components)) + len(name) + 1 > MAX_NAMESPACE_LENGTH:
        raise bail("namespace length exceeded")
    return "/".join(components + [name])


class DatastoreArea(PbsArea):
    """Datastore configuration and contents."""

    name = "datastores"

    def initial_state(self):
        return {"config": {}, "namespaces": {}, "groups": {}}

    # -- helpers other areas use ---------------------------------------------------------------
    def config_text(self):
        """datastore.cfg-like text (its sha256 is the digest)."""
        return "".join("datastore: %s %s\n" % (name, sorted(config.items())) for name, config in sorted(self.state["config"].items()))

    def lookup(self, store):
        """DataStore::lookup_datastore / SectionConfigData::lookup: a missing store is a plain error."""
        if store not in self.state["config"]:
            raise bail("no such datastore '%s'" % store)
        return self.state["config"][store]

    def namespace_exists(self, store, ns):
        """DataStore::namespace_exists."""
        return ns == "" or ns in self.state["namespaces"].get(store, [])

    def check_ns_privs(self, store, ns, auth_id, full, partial=0):
        """hierarchy.rs check_ns_privs_full: True for partial access, False for full; 403 otherwise."""
        privs = self.sim.directory.lookup_privs(auth_id, ns_acl_path(store, ns))
        if full and privs & full:
            return False
        if partial and privs & partial:
            return True
        raise http_error(HTTP_FORBIDDEN, "permission check failed - missing %s on /%s"
                         % ("|".join(priv_names(full | partial)), "/".join(ns_acl_path(store, ns))))

    def _check_ns_modification(self, store, ns, auth_id):
        """hierarchy.rs check_ns_modification_privs: Datastore.Modify on the parent."""
        if ns == "":
            raise bail("Cannot create/delete root namespace!")
        self.check_ns_privs(store, "/".join(ns_components(ns)[:-1]), auth_id, PRIV["Datastore.Modify"])

    def _descendants(self, store, ns, max_depth=MAX_NAMESPACE_DEPTH):
        """ListNamespacesRecursive: the anchor first (even when it does not exist), then depth-first."""
        base = ns_components(ns)
        depth_limit = min(max_depth, MAX_NAMESPACE_DEPTH - len(base))
        below = [name for name in sorted(self.state["namespaces"].get(store, []))
                 if ns_components(name)[:len(base)] == base and 0 < len(ns_components(name)) - len(base) <= depth_limit]
        return [ns] + below

    def _any_privs_below(self, auth_id, path, privs):
        """CachedUserInfo::any_privs_below: propagated privileges here, or an ACL entry of the caller below."""
        directory = self.sim.directory
        if directory.lookup_privs_details(auth_id, path)[1] & privs:
            return True
        prefix = "/" + "/".join(split_acl_path(path)) + "/"
        return any(directory.lookup_privs(auth_id, node) & privs for node, entries in directory.data["acl"].items()
                   if node.startswith(prefix) and auth_id in entries)

    # -- /config/datastore -------------------------------------------------------------------------
    @route("GET", "/config/datastore")
    def list_datastores(self, request):
        """config/datastore.rs list_datastores: those with Datastore.Audit on /datastore/<name>."""
        request.set_digest(self.config_text())
        return [dict(config) for name, config in sorted(self.state["config"].items())
                if self.sim.directory.lookup_privs(request.auth_id, ["datastore", name]) & PRIV["Datastore.Audit"]]

    @route("POST", "/config/datastore")
    def create_datastore(self, request):
        """config/datastore.rs create_datastore: a `create-datastore` task; prune-schedule and keep-*
        become a prune job `default-<name>-<uuid>` (cut to 32 characters); ChunkStore::create wants
        an absolute path (the task fails otherwise and nothing is configured)."""
        params = dict(request.params)
        name = params["name"]
        if name in self.state["config"]:
            raise param_bail("name", "datastore '%s' already exists." % name)
        if not params["path"].startswith("/"):
            return self.sim.tasks.start("create-datastore", name, request.auth_id,
                                        exitstatus='Error: expected absolute path - got "%s"' % params["path"])
        schedule = params.pop("prune-schedule", None)
        keep = {key: params.pop(key) for key in KEEP_OPTIONS if key in params}
        self.state["config"][name] = params
        self.state["namespaces"][name] = []
        self.state["groups"][name] = {}
        log = ["Chunkstore create: 1%", "Chunkstore create: 100%"]
        if schedule is not None:
            job_id = self.sim.areas["JobsArea"].create_default_prune_job(name, schedule, keep)
            log.append("created prune job '%s'" % job_id)
        return self.sim.tasks.start("create-datastore", name, request.auth_id, log=log)

    @route("GET", "/config/datastore/{name}")
    def read_datastore(self, request):
        """config/datastore.rs read_datastore."""
        config = self.lookup(request.params["name"])
        request.set_digest(self.config_text())
        return dict(config)

    @route("PUT", "/config/datastore/{name}")
    def update_datastore(self, request):
        """config/datastore.rs update_datastore: prune settings are refused (prune jobs replaced them)."""
        params = request.params
        check_digest(params.get("digest"), self.config_text())
        config = self.lookup(params["name"])
        for key in params.get("delete") or []:
            config.pop(key, None)
        for key in KEEP_OPTIONS + ("prune-schedule",):
            if key in params:
                raise param_bail(key, "datastore prune settings have been replaced by prune jobs")
        for key, value in params.items():
            if key in ("name", "delete", "digest"):
                continue
            if key == "comment":
                value = value.strip()
                if not value:
                    config.pop("comment", None)
                    continue
            config[key] = value
        return None

    @route("DELETE", "/config/datastore/{name}")
    def delete_datastore(self, request):
        """config/datastore.rs delete_datastore: 404 when unknown; unless keep-job-configs its verify
        and prune jobs and the ACL subtree /datastore/<name> go; a `delete-datastore` task."""
        params = request.params
        name = params["name"]
        check_digest(params.get("digest"), self.config_text())
        if name not in self.state["config"]:
            raise http_error(HTTP_NOT_FOUND, "datastore '%s' does not exist." % name)
        if not params.get("keep-job-configs", False):
            self.sim.areas["JobsArea"].delete_jobs_of(name)
            self.sim.directory.delete_node("/datastore/%s" % name)
        del self.state["config"][name]
        self.state["namespaces"].pop(name, None)
        self.state["groups"].pop(name, None)
        return self.sim.tasks.start("delete-datastore", name, request.auth_id)

    # -- /admin/datastore ------------------------------------------------------------------------------
    @route("GET", "/admin/datastore")
    def datastore_list(self, request):
        """admin/datastore.rs get_datastore_list: Audit or Backup on the store, or any namespace
        privilege below it (then without the comment)."""
        answer = []
        for store, config in sorted(self.state["config"].items()):
            privs = self.sim.directory.lookup_privs(request.auth_id, ["datastore", store])
            allowed = privs & (PRIV["Datastore.Audit"] | PRIV["Datastore.Backup"])
            if not allowed and not self._any_privs_below(request.auth_id, ["datastore", store], NS_PRIVS_OK):
                continue
            entry = {"store": store, "backend-type": "filesystem", "mount-status": "nonremovable"}
            if allowed and "comment" in config:
                entry["comment"] = config["comment"]
            if "maintenance-mode" in config:
                entry["maintenance"] = config["maintenance-mode"]
            answer.append(entry)
        return answer

    @route("GET", "/admin/datastore/{store}/namespace")
    def list_namespaces(self, request):
        """namespace.rs list_namespaces: the namespaces the caller has any of NS_PRIVS_OK on; 403 when
        that leaves nothing and the parent itself is not accessible (no leaking of names)."""
        params = request.params
        store, parent = params["store"], params.get("parent", "")
        try:
            self.check_ns_privs(store, parent, request.auth_id, NS_PRIVS_OK)
            parent_access = True
        except ApiError:
            parent_access = False
        self.lookup(store)
        visible = [{"ns": ns} for ns in self._descendants(store, parent, params.get("max-depth", MAX_NAMESPACE_DEPTH))
                   if self.sim.directory.lookup_privs(request.auth_id, ns_acl_path(store, ns)) & NS_PRIVS_OK]
        if not visible and not parent_access:
            raise http_error(HTTP_FORBIDDEN, "permission check failed")
        return visible

    @route("POST", "/admin/datastore/{store}/namespace")
    def create_namespace(self, request):
        """namespace.rs create_namespace + DataStore::create_namespace: Datastore.Modify on the parent,
        the parent must exist; creating an existing namespace succeeds (create_dir_all)."""
        params = request.params
        store, parent = params["store"], params.get("parent", "")
        ns = ns_push(parent, params["name"])
        self._check_ns_modification(store, ns, request.auth_id)
        self.lookup(store)
        if not self.namespace_exists(store, parent):
            raise bail("cannot create new namespace, parent %s doesn't already exists" % parent)
        if ns not in self.state["namespaces"][store]:
            self.state["namespaces"][store].append(ns)
        return ns

    @route("DELETE", "/admin/datastore/{store}/namespace")
    def delete_namespace(self, request):
        """namespace.rs delete_namespace + remove_namespace_recursive: without delete-groups only empty
        namespaces go (bottom up) and a namespace left behind makes the call fail."""
        params = request.params
        store, ns = params["store"], params["ns"]
        self._check_ns_modification(store, ns, request.auth_id)
        self.lookup(store)
        tree = self._descendants(store, ns)
        groups = self.state["groups"][store]
        if params.get("delete-groups", False):
            for name in tree:
                groups.pop(name, None)
        removed_all = True
        for name in sorted(tree, key=lambda item: -len(ns_components(item))):
            if name not in self.state["namespaces"][store]:
                continue
            has_children = any(other != name and ns_components(other)[:len(ns_components(name))] == ns_components(name)
                               for other in self.state["namespaces"][store])
            if groups.get(name) or has_children:
                removed_all = False
                continue
            self.state["namespaces"][store].remove(name)
            groups.pop(name, None)
        if not removed_all:
            raise bail("only partially deleted due to existing groups but `delete-groups` not true ")
        return None

    def _visible_groups(self, request):
        params = request.params
        store, ns = params["store"], params.get("ns", "")
        list_all = not self.check_ns_privs(store, ns, request.auth_id, PRIV["Datastore.Audit"], PRIV["Datastore.Backup"])
        self.lookup(store)
        for key, group in sorted(self.state["groups"][store].get(ns, {}).items()):
            owner = group["owner"]
            if not list_all and not (owner == request.auth_id or ("!" in owner and owner_of(owner) == request.auth_id)):
                continue  # check_backup_owner
            yield key.split("/", 1), group

    @route("GET", "/admin/datastore/{store}/groups")
    def list_groups(self, request):
        """admin/datastore.rs list_groups: all with Datastore.Audit, the caller's own with Datastore.Backup."""
        answer = []
        for (backup_type, backup_id), group in self._visible_groups(request):
            times = sorted(int(stamp) for stamp in group["snapshots"])
            if not times:
                continue
            answer.append({"backup-type": backup_type, "backup-id": backup_id, "last-backup": times[-1],
                           "backup-count": len(times), "files": list(group["snapshots"][str(times[-1])]),
                           "owner": group["owner"]})
        return answer

    @route("GET", "/admin/datastore/{store}/snapshots")
    def list_snapshots(self, request):
        """admin/datastore.rs list_snapshots (filters backup-type, backup-id)."""
        params = request.params
        answer = []
        for (backup_type, backup_id), group in self._visible_groups(request):
            if params.get("backup-type", backup_type) != backup_type or params.get("backup-id", backup_id) != backup_id:
                continue
            for stamp in sorted(group["snapshots"], key=int):
                answer.append({"backup-type": backup_type, "backup-id": backup_id, "backup-time": int(stamp),
                               "files": list(group["snapshots"][stamp]), "owner": group["owner"], "protected": False})
        return answer

    # -- the side channel: a backup client's write --------------------------------------------------------
    def side_routes(self):
        return {("POST", self.sim.side_prefix + "/backups"): lambda sim, body: self.add_backup(body)}

    def add_backup(self, body):
        """POST /_sim/backups {store, id, ns, type, time, auth_id, files}: a snapshot as a backup client
        session would write it (backup/mod.rs): with `auth_id`, Datastore.Backup on
        /datastore/<store>[/<ns>] (else 403), the namespace must exist (404 "namespace not found"), an
        existing group must be owned by the caller ("backup owner check failed"), and the time must be
        newer than the group's last backup. The owner of a new group is `auth_id` (root@pam without
        one). Answers {"status": 200, "snapshot": {...}} or {"status", "error"} as PBS would refuse it."""
        unknown = sorted(set(body) - {"store", "id", "ns", "type", "time", "auth_id", "files"})
        if unknown:
            raise ValueError("unknown argument(s): %s" % ", ".join(unknown))
        with self.sim.state.lock:
            try:
                snapshot = self._write_backup(body["store"], body.get("ns") or "", body.get("type", "vm"), str(body["id"]),
                                              body.get("time"), body.get("auth_id"), body.get("files"))
            except ApiError as error:
                return {"status": error.status, "error": error.message}
            self.sim.persist()
            return {"status": 200, "snapshot": snapshot}

    def _write_backup(self, store, ns, backup_type, backup_id, stamp, auth_id, files):  # pylint: disable=too-many-arguments
        if backup_type not in DEFAULT_FILES:
            raise ValueError("type must be one of %s" % ", ".join(sorted(DEFAULT_FILES)))
        if auth_id is not None:
            try:
                self.sim.directory.check_privs(auth_id, ns_acl_path(store, ns), PRIV["Datastore.Backup"], False)
            except ApiError as error:
                raise http_error(HTTP_FORBIDDEN, error.message) from None
        self.lookup(store)
        if not self.namespace_exists(store, ns):
            raise http_error(HTTP_NOT_FOUND, "namespace not found")
        owner = auth_id or "root@pam"
        group = self.state["groups"][store].setdefault(ns, {}).get("%s/%s" % (backup_type, backup_id))
        if group is not None and not (group["owner"] == owner or ("!" in group["owner"] and owner_of(group["owner"]) == owner)):
            raise bail("backup owner check failed (%s != %s)" % (owner, group["owner"]))
        stamp = int(stamp if stamp is not None else time.time())
        if group is not None and group["snapshots"] and stamp <= max(int(key) for key in group["snapshots"]):
            raise bail("backup timestamp is older than last backup.")
        if group is None:
            group = self.state["groups"][store][ns]["%s/%s" % (backup_type, backup_id)] = {"owner": owner, "snapshots": {}}
        group["snapshots"][str(stamp)] = list(files or DEFAULT_FILES[backup_type])
        return {"store": store, "ns": ns, "backup-type": backup_type, "backup-id": backup_id, "backup-time": stamp}
