"""Resource pools: /pools (8.4 and 9.1 alike: `poolid` as a parameter, nested pools, `allow-move`)
and the deprecated /pools/{poolid} calls.

Sources: proxmox/pve-manager PVE/API2/Pool.pm at ec58e45e (8.4.0) and 5829c814 (9.1.3); the
9.x create also wants every pool name level to start with a letter. Pools live in user.cfg, so
here in the directory's "auth" namespace (`pools`), where the permission evaluator sees them.
Every write runs in lock_user_config: an error inside becomes the plain 500 `<what> failed: <error>`
(a 403 of check_perm_modify too, stringified).

PVE does not check that a guest exists when it joins a pool (`vms` is only a pve-vmid-list):
the member is kept, not listed (GET skips ids without a guest) and does not block a delete
("ignore destroyed guests"). The simulator has no storage configuration, so storage members
behave like storages PVE does not know: kept, not listed, not blocking a delete.
"""

import re

from pvesim.areas import Area, route
from pvesim.areas.access import user_config_locked
from pvesim.errors import die
from pvesim.formats import split_list


class PoolsArea(Area):
    """Pools with guest and storage members."""

    @property
    def pools(self):
        """user.cfg's pools: {poolid: {comment, vms: [vmid], storage: [storeid]}}."""
        return self.sim.directory.state["pools"]

    @property
    def control(self):
        """The permission evaluator."""
        return self.sim.permissions.control

    def _pool(self, poolid):
        pool = self.pools.get(poolid)
        if pool is None:
            raise die("pool '%s' does not exist\n" % poolid)
        return pool

    def _guests(self):
        return self.sim.areas["GuestsArea"]

    def describe(self, poolid, member_type=None):
        """Pool.pm index with a poolid: comment, poolid and its members (guests that exist)."""
        pool = self._pool(poolid)
        members = []
        for vmid in sorted(pool["vms"]):
            guest = self._guests().guest(vmid)
            if guest is None or (member_type is not None and member_type != guest["type"]):
                continue
            members.extend(entry for entry in self._guests().cluster_resources() if entry["vmid"] == vmid)
        for entry in members:
            entry["pool"] = poolid
        result = {"members": members, "poolid": poolid}
        if pool.get("comment") is not None:
            result["comment"] = pool["comment"]
        return result

    @route("GET", "/pools")
    def list_pools(self, request):
        """Pool.pm index: pools with Pool.Audit, or one pool with its members."""
        poolid = request.params.get("poolid")
        if poolid:
            return [self.describe(poolid, request.params.get("type"))]
        entries = []
        for pool_name in sorted(self.pools):
            if not self.control.has(request.userid, "/pool/%s" % pool_name, ["Pool.Audit"]):
                continue
            entry = {"poolid": pool_name}
            if self.pools[pool_name].get("comment") is not None:
                entry["comment"] = self.pools[pool_name]["comment"]
            entries.append(entry)
        return entries

    @route("GET", "/pools/{poolid}")
    def read_pool(self, request):
        """Pool.pm read_pool (deprecated): the first entry of index with the poolid."""
        return self.describe(request.params["poolid"], request.params.get("type"))

    @route("POST", "/pools")
    def create_pool(self, request):
        """Pool.pm create_pool: a nested pool needs its parent; 9.x: each level starts with a letter."""
        poolid = request.params["poolid"]

        def change():
            if poolid in self.pools:
                raise die("pool '%s' already exists\n" % poolid)
            parent, _separator, leaf = poolid.rpartition("/")
            if parent and parent not in self.pools:
                raise die("parent '%s' of pool '%s' does not exist\n" % (parent, poolid))
            if self.sim.pve_version != "8.4" and not re.match(r"^[A-Za-z]", leaf):
                raise die("pool name must start with a letter\n")

        user_config_locked("create pool failed", change)
        self.pools[poolid] = {"vms": [], "storage": []}
        if request.params.get("comment"):
            self.pools[poolid]["comment"] = request.params["comment"]

    @route("PUT", "/pools")
    @route("PUT", "/pools/{poolid}")
    def update_pool(self, request):
        """Pool.pm update_pool: comment, add or (`delete`) remove guests and storages.

        Each member needs check_perm_modify on its path; a guest of another pool moves only with
        `allow-move` and Pool.Allocate on that pool.
        """
        params = request.params
        poolid = params["poolid"]
        authid = request.userid
        delete = params.get("delete")
        vmids = [int(vmid) for vmid in split_list(params.get("vms") or "")]
        storages = split_list(params.get("storage") or "")

        def plan():
            pool = self._pool(poolid)
            moves = {}
            for vmid in vmids:
                self.control.check_perm_modify(authid, "/vms/%d" % vmid)
                if delete:
                    if vmid not in pool["vms"]:
                        raise die("VM %d is not a pool member\n" % vmid)
                    continue
                if vmid in pool["vms"]:
                    raise die("VM %d is already a pool member\n" % vmid)
                existing = self.control.pool_of(vmid)
                if existing is not None:
                    if not params.get("allow-move"):
                        raise die("VM %d belongs already to pool '%s' and 'allow-move' is not set\n" % (vmid, existing))
                    self.control.check(authid, "/pool/%s" % existing, ["Pool.Allocate"])
                    moves[vmid] = existing
            for storage in storages:
                self.control.check_perm_modify(authid, "/storage/%s" % storage)
                if delete and storage not in pool["storage"]:
                    raise die("Storage '%s' is not a pool member\n" % storage)
                if not delete and storage in pool["storage"]:
                    raise die("Storage '%s' is already a pool member\n" % storage)
            return pool, moves

        pool, moves = user_config_locked("update pools failed", plan)
        if params.get("comment") is not None:
            pool["comment"] = params["comment"]
        for vmid, previous in moves.items():
            self.pools[previous]["vms"].remove(vmid)
        for key, members in (("vms", vmids), ("storage", storages)):
            if delete:
                pool[key] = [member for member in pool[key] if member not in members]
            else:
                pool[key] = sorted(set(pool[key]) | set(members))

    @route("DELETE", "/pools")
    @route("DELETE", "/pools/{poolid}")
    def delete_pool(self, request):
        """Pool.pm delete_pool: only an empty pool (no sub-pool, no existing guest); its ACL entries go too."""
        poolid = request.params["poolid"]

        def change():
            pool = self._pool(poolid)
            for other in sorted(self.pools):
                if other.startswith(poolid + "/") and "/" not in other[len(poolid) + 1:]:
                    raise die("pool '%s' is not empty (contains pool '%s')\n" % (poolid, other))
            for vmid in sorted(pool["vms"]):
                if self._guests().guest(vmid) is not None:
                    raise die("pool '%s' is not empty (contains VM %d)\n" % (poolid, vmid))

        user_config_locked("delete pool failed", change)
        del self.pools[poolid]
        self.sim.directory.state["acl"].pop("/pool/%s" % poolid, None)
