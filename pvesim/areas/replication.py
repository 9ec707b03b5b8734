"""Storage replication (/cluster/replication, /nodes/{node}/replication), simulated time and node failure.

Sources: proxmox/pve-manager at 14a22df3 PVE/API2/ReplicationConfig.pm (the job CRUD) and
PVE/API2/Replication.pm (node status, log, schedule_now, run_jobs); proxmox/pve-guest-common at
4a8f6cbf src/PVE/ReplicationConfig.pm (job ids, the section writer, switch_replication_job_target),
src/PVE/ReplicationState.pm (job state, job_status, next_sync, record_job_end) and src/PVE/Replication.pm
(replicate: the log lines, snapshots); qemu-server src/PVE/QemuConfig.pm get_replicatable_volumes.

The simulated clock is `time.time()` plus an offset in this area's state; `POST /_sim/clock/advance`
moves it forward. The replication runner (pvescheduler's `pvesr run` every minute on each node) is
simulated lazily: every read of replication, cluster or HA state first catches up, running each job
once per schedule slot that has passed, with the node states of that moment (node fail/recover and
clock advances catch up before they change anything, so the states are constant between two of them).
A run is never placed before the last node fail/recover (it would see other node states).
As in ReplicationState.pm job_status: a new job (last_try 0) runs at once; after a failure the next try
is last_try + 5 min * fail_count (30 min from the fourth failure on), but only while the target is
online; a job whose guest sits on a failed node does not run at all (its runner is dead).
Runs more than a day before the catch-up are folded into one: with constant node states they all had
the same outcome, and PVE keeps only the last run's log.

A successful sync leaves the guest's volumes on the target node's storage (the storage area's volumes,
same volume id), so that a guest moved there after a node failure finds its disks.

Node failure (kept here, next to the clock, because replication and HA both follow it):
  POST /_sim/nodes/fail     {"node"}   the node is dead: unreachable, offline in /cluster/status
  POST /_sim/nodes/recover  {"node"}
  GET  /_sim/nodes                     {"failed": [...], "quorate": bool}
Simulated time:
  POST /_sim/clock/advance  {"seconds": N}   -> {"now": simulated epoch}
  GET  /_sim/clock                           -> {"now", "offset"}
pmxcfs (what an admin does on a surviving node when a guest's node is dead):
  POST /_sim/pmxcfs/move-guest {"vmid", "target"}  moves <vmid>.conf to the target node's directory
Replication state:
  GET  /_sim/replication    {jobid: {config, state, log}, "replicas": {vmid: {node: {volid: last_sync}}}}
"""

import datetime
import hashlib
import json
import re
import time

from pvesim.areas import Area, route
from pvesim.calendar_event import parse as parse_calendar_event
from pvesim.errors import ParamError, die
from pvesim.formats import FormatError, register, split_list

DEFAULT_SCHEDULE = "*/15"  # ReplicationConfig.pm: schedule default
JOB_OPTIONS = ("target", "schedule", "rate", "comment", "disable", "remove_job", "source")
UPDATABLE = ("schedule", "rate", "comment", "disable", "remove_job", "source")
FIXED = ("target",)
REQUIRED = ("type", "target")
STATUS_STATE_KEYS = ("last_sync", "last_try", "fail_count", "error", "duration")  # Replication.pm $extract_job_status
FOLD_AFTER = 86400  # runs older than this before a catch-up are folded (see the module docstring)
SYNC_SECONDS_BASE = 1.2  # the simulated duration of a sync: a base plus a share per volume
SYNC_SECONDS_PER_VOLUME = 0.35
GUEST_TYPE_NAMES = {"qemu": "VM", "lxc": "CT"}  # guest_class->guest_type() in Replication.pm's log
VOLUME_KEY_RE = re.compile(r"^(?:unused\d+|rootfs|mp\d+)$")


def parse_job_id(jobid):
    """ReplicationConfig.pm parse_replication_job_id: (guest, jobnum, normalised id `<guest>-<jobnum>`)."""
    match = re.match(r"^(\d+)-(\d+)$", str(jobid))
    if not match:
        raise ValueError("invalid replication job id '%s'" % jobid)
    guest, jobnum = int(match.group(1)), int(match.group(2))
    if guest < 100:
        raise ValueError("invalid replication job id '%s' (guest IDs < 100 are reserved)" % jobid)
    return guest, jobnum, "%d-%d" % (guest, jobnum)


@register("pve-replication-job-id")
def verify_replication_job_id(value):
    """ReplicationConfig.pm pve_verify_replication_job_id."""
    try:
        parse_job_id(value)
    except ValueError as error:
        raise FormatError(str(error)) from error


def _log_time(timestamp):
    """Replication.pm get_log_time: strftime("%F %H:%M:%S") (the simulated nodes run in UTC)."""
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def shell_quote(text):
    """String::ShellQuote shell_quote (behind PVE::Tools shellquote) for one word: a word with other
    than the safe characters goes in single quotes, ' as '\\'', without an empty '' at either end."""
    if not text:
        return "''"
    if not re.search(r"[^\w!%+,\-./:=@^]", text):
        return text
    quoted = "'%s'" % text.replace("'", "'\\''")
    quoted = quoted[2:] if quoted.startswith("''") else quoted
    return quoted[:-2] if quoted.endswith("''") else quoted


def snapshot_name(jobid, last_sync):
    """ReplicationState.pm replication_snapshot_name."""
    return "__replicate_%s_%d__" % (jobid, last_sync)


class ReplicationArea(Area):  # pylint: disable=too-many-public-methods
    """Replication jobs and their runner; the simulated clock; failed nodes; the pmxcfs guest move."""

    name = "replication"

    def initial_state(self):
        return {"clock_offset": 0, "failed_nodes": [], "nodes_changed_at": 0, "jobs": {}, "job_state": {}, "logs": {}, "replicas": {}}

    # -- the simulated clock --------------------------------------------------------------------
    def now(self):
        """The simulated time (UNIX seconds, float)."""
        return time.time() + self.state["clock_offset"]

    def advance_clock(self, seconds):
        """Move the simulated clock forward; replication catches up slot by slot, then HA reacts."""
        seconds = float(seconds)
        if seconds < 0:
            raise ValueError("seconds must not be negative, got %r" % seconds)
        self.catch_up()
        self.state["clock_offset"] += seconds
        self.catch_up()
        ha_area = self.sim.areas.get("HaArea")
        if ha_area is not None:
            ha_area.clock_advanced(seconds)
        return {"now": int(self.now())}

    # -- node failure ---------------------------------------------------------------------------
    def node_online(self, node):
        """False while a node is failed through the side channel."""
        return node not in self.state["failed_nodes"]

    def node_unreachable(self, node):
        """The pipeline's hook: True (pveproxy's "No route to host") while `node` is failed, else no opinion."""
        return True if node in self.sim.nodes and not self.node_online(node) else None

    def quorate(self):
        """corosync votequorum with one vote per node: quorate while a majority is online."""
        online = sum(1 for node in self.sim.nodes if self.node_online(node))
        return online * 2 > len(self.sim.nodes)

    def fail_node(self, node):
        """The node is dead from now on (side channel)."""
        self._known_node(node)
        self.catch_up()
        if node not in self.state["failed_nodes"]:
            self.state["failed_nodes"].append(node)
            self.state["nodes_changed_at"] = int(self.now())
        ha_area = self.sim.areas.get("HaArea")
        if ha_area is not None:
            ha_area.node_failed(node)
        return self.nodes_status()

    def recover_node(self, node):
        """The node is back (side channel); its jobs run again from the next catch-up."""
        self._known_node(node)
        self.catch_up()
        if node in self.state["failed_nodes"]:
            self.state["failed_nodes"].remove(node)
            self.state["nodes_changed_at"] = int(self.now())
        ha_area = self.sim.areas.get("HaArea")
        if ha_area is not None:
            ha_area.node_recovered(node)
        self.catch_up()
        return self.nodes_status()

    def nodes_status(self):
        """What GET /_sim/nodes answers."""
        return {"failed": sorted(self.state["failed_nodes"]), "quorate": self.quorate()}

    def _known_node(self, node):
        if node not in self.sim.nodes:
            raise ValueError("unknown node %r (nodes: %s)" % (node, ", ".join(self.sim.nodes)))

    # -- pmxcfs: moving a guest's config to another node's directory -------------------------------
    def move_guest(self, vmid, target):
        """`mv /etc/pve/nodes/<node>/qemu-server/<vmid>.conf /etc/pve/nodes/<target>/qemu-server/`.

        pmxcfs only needs quorum (the surviving majority); the guest is stopped on the new node (its
        old node is dead). The guest's disks there are the replicated copies; the jobs of the guest
        are switched by the next runner pass on the new node (ReplicationState.pm job_status, "fix
        jobs for stolen guest": the job to the new node now targets the old source).
        Refused while the guest's node is online (that is a migration, not a recovery), when the
        target is down, or without quorum.
        """
        self._known_node(target)
        record = self._guests().record(vmid)
        if record is None:
            raise ValueError("no guest with vmid %s" % vmid)
        if not self.node_online(target):
            raise ValueError("target node %r is down: pmxcfs there is not writable" % target)
        if not self.quorate():
            raise ValueError("cluster not quorate: /etc/pve is read-only")
        if record["node"] == target:
            raise ValueError("guest %s is already on node %r" % (vmid, target))
        source = record["node"]
        if self.node_online(source):
            raise ValueError("node %r of guest %s is online: migrate the guest instead of moving its config" % (source, vmid))
        self.rehome_guest(record, target)
        missing = [volid for volid in self.guest_volumes(record) if self._storage().volume(target, volid) is None]
        return {"vmid": record["vmid"], "node": target, "previous_node": source, "missing_volumes": missing,
                "replica_age": {volid: self.replica_age(record["vmid"], target, volid) for volid in self.guest_volumes(record)}}

    def rehome_guest(self, record, target):
        """The guest's config now lives in `target`'s directory (pmxcfs move; HA recovery does the
        same): stopped there; the runner's next pass switches its replication jobs."""
        self.catch_up()
        self._guests().move(record["vmid"], target)
        self._guests().runtime_area().power_off(record)
        self.catch_up()

    def holds_volumes(self, record, node):
        """True when `node` has every volume of the guest that lives on a local (not shared) storage:
        the replicas, after replication; the guest can run there."""
        storage = self._storage()
        for volid in self.guest_volumes(record):
            scfg = storage.state["config"].get(volid.split(":", 1)[0])
            if scfg is not None and not scfg.get("shared") and storage.volume(node, volid) is None:
                return False
        return True

    # -- helpers ---------------------------------------------------------------------------------
    def _guests(self):
        return self.sim.areas["GuestsArea"]

    def _storage(self):
        return self.sim.areas["StorageArea"]

    @property
    def jobs(self):
        """replication.cfg: {jobid: {type, guest, jobnum, target, schedule?, rate?, comment?, disable?, remove_job?, source?}}."""
        return self.state["jobs"]

    def _config_text(self):
        """replication.cfg as SectionConfig writes it (for the digest)."""
        lines = []
        for jobid in self._job_ids():
            job = self.jobs[jobid]
            lines.append("local: %s" % jobid)
            for key in JOB_OPTIONS:
                if job.get(key) is not None:
                    lines.append("\t%s %s" % (key, job[key]))
            lines.append("")
        return "\n".join(lines)

    def digest(self):
        """SectionConfig digest: SHA1 of the file as written."""
        return hashlib.sha1(self._config_text().encode("utf-8")).hexdigest()

    def guest_volumes(self, record):
        """Every volume id a guest's config references (drives, unusedN, rootfs, mpN), no CD-ROMs."""
        volumes = []
        for _drive, volid in self._drives(record):
            if volid and volid != "none" and ":" in volid and volid not in volumes:
                volumes.append(volid)
        return volumes

    def _drives(self, record):
        """(drive, volume id or None) of every config key that holds a volume, in key order."""
        for key, value in sorted(record["config"].items()):
            drive = self._drive(record, key, value)
            if drive is not None:
                yield drive, drive.get("file") or drive.get("volume")

    def _drive(self, record, key, value):
        """The parsed drive of a config key that holds a volume, or None."""
        guests = self._guests()
        if record["type"] == "qemu" and re.match(r"^(?:ide|sata|scsi|virtio|efidisk|tpmstate)\d+$", key):
            drive = guests.parse_drive(key, value)
            return None if drive.get("media") == "cdrom" else drive
        if VOLUME_KEY_RE.match(key):
            first, _comma, rest = str(value).partition(",")
            drive = {"file": first.split("=", 1)[1] if first.startswith("volume=") else first}
            for part in rest.split(","):
                name, _equals, setting = part.partition("=")
                if name:
                    drive[name] = setting
            return drive
        return None

    def replicatable_volumes(self, record, noerr=False):
        """QemuConfig.pm get_replicatable_volumes: every volume unless `replicate=0`; each must be on a
        storage with the replicate feature (ZFSPoolPlugin.pm: zfspool), else the plain dies of PVE
        (with `noerr`, as QemuMigrate.pm scan_local_volumes asks, such a volume is left out instead)."""
        volumes = []
        for drive, volid in self._drives(record):
            if not volid or volid == "none" or str(drive.get("replicate", "1")) in ("0", "no", "off", "false"):
                continue
            if ":" not in volid:
                if noerr:
                    continue
                raise die("unable to replicate local file '%s'\n" % volid)
            storage = volid.split(":", 1)[0]
            scfg = self._storage().state["config"].get(storage)
            if scfg is None or scfg["type"] != "zfspool":
                if noerr:
                    continue
                raise die("missing replicate feature on volume '%s'\n" % volid)
            if volid not in volumes:
                volumes.append(volid)
        return sorted(volumes)

    def _job_state(self, jobid):
        """ReplicationState.pm extract_job_state: defaults for a job that never ran."""
        job_state = self.state["job_state"].setdefault(jobid, {})
        for key in ("last_iteration", "last_try", "last_sync", "fail_count"):
            job_state.setdefault(key, 0)
        job_state.setdefault("storeid_list", [])
        job_state.setdefault("since", int(self.now()))
        return job_state

    def _job_ids(self):
        """The job ids in replication.cfg's order: by guest, then job number."""
        return sorted(self.jobs, key=lambda key: parse_job_id(key)[:2])

    def _job(self, jobid):
        job = self.jobs.get(jobid)
        if job is None:
            raise die("no such replication job '%s'\n" % jobid)
        return job

    # -- the runner ------------------------------------------------------------------------------
    def next_sync(self, jobid):
        """ReplicationState.pm job_status: the job's next_sync (0: it does not run now)."""
        job = self.jobs[jobid]
        job_state = self._job_state(jobid)
        if job.get("remove_job"):
            return 1
        fail_count = job_state["fail_count"]
        if fail_count:
            if self.node_online(job["target"]):
                return job_state["last_try"] + 60 * (5 * fail_count if fail_count <= 3 else 30)
            return 0
        event = parse_calendar_event(job.get("schedule") or DEFAULT_SCHEDULE)
        return event.next_after(job_state["last_try"]) or 0

    def catch_up(self):
        """Run every job whose slots have passed (see the module docstring)."""
        now = int(self.now())
        for jobid in self._job_ids():
            self._catch_up_job(jobid, now)

    def _prepare(self, jobid):
        """job_status for one job: None when the runner skips it, else the guest's record."""
        job = self.jobs.get(jobid)
        if job is None:
            return None
        record = self._guests().record(job["guest"])
        if record is None or not self.node_online(record["node"]):
            return None  # no such guest, or its node's runner is dead
        local_node = record["node"]
        if job.get("source") is None:
            job["source"] = local_node
        if job["source"] != local_node:
            self.switch_targets(job["guest"], local_node, job["source"])
        if not job.get("remove_job") and (job["target"] == local_node or job.get("disable")):
            return None
        return record

    def _catch_up_job(self, jobid, now):
        while True:
            record = self._prepare(jobid)
            if record is None:
                return
            next_sync = self.next_sync(jobid)
            if not next_sync or next_sync > now:
                return
            job_state = self._job_state(jobid)
            # a run happens with the node states of its time: not before the last change of them
            start = max(next_sync, job_state["since"], self.state["nodes_changed_at"])
            if self.jobs[jobid].get("remove_job"):
                # next_sync 1: the runner's next pass (a minute later in PVE, so after the last sync)
                start = max(now, job_state["last_sync"] + 1)
            elif start > now:
                return
            if now - start > FOLD_AFTER and not self.jobs[jobid].get("remove_job"):
                job_state["last_try"] = now - FOLD_AFTER
                continue
            ok = self._run(jobid, record, int(start))
            if not ok and self.jobs.get(jobid, {}).get("remove_job"):
                return  # a removal retries every minute in PVE: once per catch-up here

    def check_for_existing_jobs(self, vmid):
        """ReplicationConfig.pm check_for_existing_jobs: a guest with a job (also one marked for
        removal that the runner has not removed yet) cannot go. PVE names whichever job its hash
        yields first; the simulator names the lowest job number."""
        self.catch_up()
        for jobid in self._job_ids():
            if self.jobs[jobid]["guest"] == int(vmid):
                raise die("There is a replication job '%s' for guest '%d' - Please remove that first.\n" % (jobid, int(vmid)))

    def remove_vmid_jobs(self, vmid):
        """ReplicationConfig.pm remove_vmid_jobs (a destroy with `purge`): the guest's jobs leave the
        config at once, without a runner pass, so the copies on the targets stay (as PVE leaves them);
        the job states and the guest's sync records go with the jobs."""
        self.catch_up()
        for jobid in [jobid for jobid, job in self.jobs.items() if job["guest"] == int(vmid)]:
            self._drop_job(jobid)
        self.state["replicas"].pop(str(int(vmid)), None)

    def _drop_job(self, jobid):
        """The job leaves replication.cfg, and its state with it."""
        self.jobs.pop(jobid, None)
        self.state["job_state"].pop(jobid, None)

    def switch_targets(self, vmid, old_target, new_target):
        """ReplicationConfig.pm switch_replication_job_target_nolock."""
        for job in self.jobs.values():
            if job["guest"] != int(vmid):
                continue
            if job["target"] == old_target:
                job["target"] = new_target
            job["source"] = old_target

    # -- migration (qemu-server src/PVE/QemuMigrate.pm, pve-guest-common src/PVE/AbstractMigrate.pm) ----------
    def migration_job(self, vmid, target):
        """ReplicationConfig.pm find_local_replication_job: the id of the guest's job to `target`, or None."""
        self.catch_up()
        for jobid in self._job_ids():
            if self.jobs[jobid]["guest"] == int(vmid) and self.jobs[jobid]["target"] == target:
                return jobid
        return None

    def is_replicated(self, vmid):
        """ReplicationConfig.pm check_for_existing_jobs($vmid, 1): the guest has any job."""
        return any(job["guest"] == int(vmid) for job in self.jobs.values())

    def job_marked_for_removal(self, jobid):
        """True when the job has `remove_job` set (QemuMigrate.pm prepare refuses to migrate then)."""
        return bool(self.jobs[jobid].get("remove_job"))

    def replicate_for_migration(self, jobid, record, echo):
        """QemuMigrate.pm handle_replication: Replication.pm run_replication of the job once more, now
        (a disabled job too), its messages echoed into the migration's task log; the job's own log and
        state are those of a runner pass. Returns the replicated volume ids; raises the run's error.

        The simulated runner syncs a new job in the second it is created (PVE's runner needs up to a
        minute); a migration in that same second syncs one second later instead of failing with
        "start time before last sync"."""
        start = max(int(self.now()), self._job_state(jobid)["last_sync"] + 1)
        if not self._run(jobid, record, start, echo=echo):
            raise die(self._job_state(jobid)["error"] + "\n")
        return self.replicatable_volumes(record)

    def transfer_state_command(self, vmid, source, target):
        """AbstractMigrate.pm transfer_replication_state: the `pvesr set-state` call on the target as
        AbstractMigrate.pm cmd logs it (`# ` + PVE::Tools cmd2string). The state is the guest's job
        states by target id, the one for `target` renamed to `source` (ReplicationState.pm
        extract_vmid_tranfer_state); the keys are sorted here (Perl's hash order is random)."""
        states = {}
        for jobid in self._job_ids():
            job = self.jobs[jobid]
            if job["guest"] != int(vmid):
                continue
            state = {key: value for key, value in self._job_state(jobid).items() if key != "since"}
            states["local/%s" % (source if job["target"] == target else job["target"])] = state
        encoded = json.dumps(states, sort_keys=True, separators=(",", ":"))
        # quoted by the worker (PVE::Tools shellquote), then once more by cmd2string
        return "# %s pvesr set-state %d %s" % (self._ssh_command(target), int(vmid), shell_quote(shell_quote(encoded)))

    def guest_migrated(self, vmid, source, target):
        """After the config moved to `target` (QemuMigrate.pm phase3_cleanup): the sync records kept for
        `target` now stand for `source`, whose volumes are the replica (transfer_replication_state), and
        ReplicationConfig.pm switch_replication_job_target: the job to `target` now targets `source`,
        every job of the guest has source `target`. The runner's next pass syncs incrementally."""
        replicas = self.state["replicas"].get(str(int(vmid)), {})
        if target in replicas:
            replicas[source] = replicas.pop(target)
        self.switch_targets(vmid, target, source)

    def _run(self, jobid, record, start, echo=None):  # pylint: disable=too-many-locals
        """Replication.pm run_replication: one run at `start`; returns True on success. `echo` is the
        caller's logfunc: it gets each message too, without time and job id (not verbose)."""
        job = self.jobs[jobid]
        job_state = self._job_state(jobid)
        job_state["last_try"] = start
        job_state["last_iteration"] = start
        job_state["last_node"] = record["node"]
        log = []

        def say(message):
            log.append("%s %s: %s" % (_log_time(start), jobid, message))
            if echo is not None:
                echo(message)

        say("start replication job")
        error = None
        volumes = []
        try:
            volumes = self.replicatable_volumes(record) if not job.get("remove_job") else self.guest_volumes(record)
            running = 1 if record["status"] == "running" else 0
            say("guest => %s %d, running => %d" % (GUEST_TYPE_NAMES[record["type"]], record["vmid"], running))
            say("volumes => %s" % ",".join(volumes))
            if start <= job_state["last_sync"]:
                raise die("start time before last sync (%d <= %d) - abort sync\n" % (start, job_state["last_sync"]))
            if not self.node_online(job["target"]):
                raise die(self._ssh_failure(jobid, job, volumes, job_state["last_sync"]))
            if job.get("remove_job"):
                self._remove(job, say)
            else:
                self._sync(jobid, job, record, volumes, start, say)
        except Exception as failure:  # pylint: disable=broad-except
            error = getattr(failure, "message", None) or str(failure)
        duration = round(SYNC_SECONDS_BASE + SYNC_SECONDS_PER_VOLUME * len(volumes), 6)
        if error:
            say(("end replication job with error: %s" % error).rstrip("\n"))
            job_state["fail_count"] += 1
            job_state["error"] = error.rstrip("\n")
            job_state["duration"] = duration
        else:
            say("end replication job")
            if job.get("remove_job"):
                self._drop_job(jobid)
            else:
                job_state.update(last_sync=start, fail_count=0, duration=duration)
                job_state.pop("error", None)
        self.state["logs"][jobid] = log
        return error is None

    def _ssh_command(self, node):
        """pve-cluster PVE::SSHInfo ssh_info_to_command, as PVE's messages print it."""
        return ("/usr/bin/ssh -e none -o 'BatchMode=yes' -o 'HostKeyAlias=%s' -o "
                "'UserKnownHostsFile=/etc/pve/nodes/%s/ssh_known_hosts' -o 'GlobalKnownHostsFile=none' root@%s") % (
            node, node, self.sim.node_ip(node))

    def _ssh_failure(self, jobid, job, volumes, last_sync):
        """Replication.pm remote_prepare_local_job through PVE::SSHInfo: ssh cannot reach a dead target."""
        command = "%s -- pvesr prepare-local-job %s %s --last_sync %d" % (
            self._ssh_command(job["target"]), jobid, " ".join(volumes), last_sync)
        return "command '%s' failed: exit code 255\n" % re.sub(r"\s+", " ", command)

    def _sync(self, jobid, job, record, volumes, start, say):  # pylint: disable=too-many-arguments
        """Replication.pm replicate: snapshot, full or incremental send per volume, finalize."""
        target = job["target"]
        sync_snapshot = snapshot_name(jobid, start)
        replicas = self.state["replicas"].setdefault(str(record["vmid"]), {}).setdefault(target, {})
        for volid in volumes:
            say("create snapshot '%s' on %s" % (sync_snapshot, volid))
        rate = job.get("rate")
        say("using secure transmission, rate limit: %s" % ("%s MByte/s" % rate if rate else "none"))
        storage = self._storage()
        for volid in volumes:
            base = replicas.get(volid)
            if base is not None and storage.volume(target, volid) is not None:
                say("incremental sync '%s' (%s => %s)" % (volid, snapshot_name(jobid, base), sync_snapshot))
            else:
                say("full sync '%s' (%s)" % (volid, sync_snapshot))
                self._place_replica(record, target, volid)
            replicas[volid] = start
        job_state = self._job_state(jobid)
        job_state["storeid_list"] = sorted({volid.split(":", 1)[0] for volid in volumes})
        if job_state["last_sync"]:
            for volid in volumes:
                say("delete previous replication snapshot '%s' on %s" % (snapshot_name(jobid, job_state["last_sync"]), volid))

    def _place_replica(self, record, target, volid):
        """The target's copy of a volume: same volume id, same size (a zvol received with zfs recv)."""
        storage = self._storage()
        source = storage.volume(record["node"], volid)
        if storage.volume(target, volid) is not None:
            return
        storage_id, volname = volid.split(":", 1)
        size = source["size"] if source else 0
        storage.alloc(target, storage_id, record["vmid"], size, "raw", name=volname)

    def _remove(self, job, say):
        """Replication.pm replicate with remove_job: `full` removes the target's copies, then the job goes."""
        say("start job removal - mode '%s'" % job["remove_job"])
        replicas = self.state["replicas"].get(str(job["guest"]), {})
        if job["remove_job"] == "full":
            storage = self._storage()
            for volid in sorted(replicas.get(job["target"], {})):
                if storage.volume(job["target"], volid) is not None:
                    storage.free(job["target"], volid)
            replicas.pop(job["target"], None)
        say("job removed")

    def replica_age(self, vmid, target, volid=None):
        """Seconds since the last successful sync of the guest's volumes to `target` (the oldest volume
        when `volid` is None), on the simulated clock; None when there is no replica there."""
        self.catch_up()
        replicas = self.state["replicas"].get(str(int(vmid)), {}).get(target, {})
        if volid is not None:
            synced = replicas.get(volid)
        else:
            synced = min(replicas.values()) if replicas else None
        return None if synced is None else int(self.now()) - synced

    def has_replica(self, vmid, node):
        """True when `node` holds a replica of every replicated volume of the guest."""
        return bool(self.state["replicas"].get(str(int(vmid)), {}).get(node))

    # -- /cluster/replication (ReplicationConfig.pm) ------------------------------------------------
    def _checked_job_id(self, request):
        """(guest, jobnum, id) of the request's job id, after the permission check; the runner caught up."""
        guest, jobnum, jobid = parse_job_id(request.params["id"])
        self._check_replicate(request, guest)
        self.catch_up()
        return guest, jobnum, jobid

    def _check_replicate(self, request, guest):
        """9.x: VM.Replicate on the guest (pve-manager c81fe5cc, "close #2809"); 8.4 checks
        Datastore.Allocate on /storage in the method's schema, which the dispatcher does."""
        if self.sim.pve_version != "8.4":
            self.sim.permissions.control.check(request.userid, "/vms/%d" % guest, ["VM.Replicate"])

    def _describe(self, jobid):
        job = self.jobs[jobid]
        entry = {key: value for key, value in job.items() if value is not None}
        entry.update(id=jobid, type="local")
        return entry

    @route("GET", "/cluster/replication")
    def list_jobs(self, request):
        """ReplicationConfig.pm index: the jobs of guests the caller may audit."""
        self.catch_up()
        control = self.sim.permissions.control
        return [self._describe(jobid) for jobid in self._job_ids()
                if control.has(request.userid, "/vms/%d" % self.jobs[jobid]["guest"], ["VM.Audit"])]

    @route("GET", "/cluster/replication/{id}")
    def read_job(self, request):
        """ReplicationConfig.pm read: the job and the file's digest."""
        self.catch_up()
        jobid = parse_job_id(request.params["id"])[2]
        job = self._job(jobid)
        self.sim.permissions.control.check(request.userid, "/vms/%d" % job["guest"], ["VM.Audit"])
        return dict(self._describe(jobid), digest=self.digest())

    @route("POST", "/cluster/replication")
    def create_job(self, request):
        """ReplicationConfig.pm create: the checks in PVE's order, then the section writer's."""
        params = request.params
        guest, jobnum, jobid = self._checked_job_id(request)
        record = self._guests().record(guest)
        if record is None:
            raise die("Guest '%d' does not exist.\n" % guest)
        target = params["target"]
        if target not in self.sim.nodes:
            raise die("Target '%s' does not exist.\n" % target)
        source = record["node"]
        if params.get("source") is not None and params["source"] != source:
            raise die("Source '%s' does not match current node of guest '%d' (%s)\n" % (params["source"], guest, source))
        if target == source:
            raise die("Source and target must not be identical\n")
        if not self.replicatable_volumes(record):
            raise die("No replicatable volumes found\n")
        if jobid in self.jobs:
            raise die("replication job '%s' already exists\n" % jobid)
        for other in self.jobs.values():
            if other["guest"] == guest and other["target"] == target:
                # ReplicationConfig.pm write_config: one job per guest and target (unique target id)
                raise die("replication job for guest '%d' to target 'local/%s' already exists\n" % (guest, target))
        job = {"guest": guest, "jobnum": jobnum, "target": target, "source": params.get("source") or source}
        for key in ("schedule", "rate", "comment", "disable", "remove_job"):
            if params.get(key) is not None:
                job[key] = params[key]
        self.jobs[jobid] = job
        self.state["job_state"].pop(jobid, None)
        self._job_state(jobid)["since"] = int(self.now())
        self.catch_up()  # PVE's runner picks a new job up at once (last_try 0)

    @route("PUT", "/cluster/replication/{id}")
    def update_job(self, request):
        """ReplicationConfig.pm update: digest, options, `delete` (not required, not fixed ones)."""
        params = request.params
        jobid = self._checked_job_id(request)[2]
        digest = params.get("digest")
        if digest and digest != self.digest():
            raise die("detected modified configuration - file changed by other user? Try again.\n")
        job = self.jobs.get(jobid)
        if job is None:
            raise die("no such job '%s'\n" % jobid)
        changes = {key: params[key] for key in UPDATABLE if params.get(key) is not None}
        deletions = split_list(params.get("delete") or "")
        for key in deletions:
            if key not in JOB_OPTIONS + ("type",):
                raise die("no such option '%s'\n" % key)
            if key in REQUIRED:
                raise die("unable to delete required option '%s'\n" % key)
            if key in FIXED:
                raise die("unable to delete fixed option '%s'\n" % key)
        job.update(changes)
        for key in deletions:
            job.pop(key, None)

    @route("DELETE", "/cluster/replication/{id}")
    def delete_job(self, request):
        """ReplicationConfig.pm delete: mark for removal (`full`, `local` with keep); `force` drops the entry."""
        params = request.params
        jobid = self._checked_job_id(request)[2]
        if params.get("force"):
            if params.get("keep"):
                raise ParamError({"keep": "conflicts with parameter 'force'"})
            self._drop_job(jobid)
            return None
        job = self.jobs.get(jobid)
        if job is None:
            raise die("no such job '%s'\n" % jobid)
        job["remove_job"] = "local" if params.get("keep") else "full"
        return None

    # -- /nodes/{node}/replication (Replication.pm) ----------------------------------------------
    def _node_jobs(self, node):
        """ReplicationState.pm job_status(1) on `node`: the jobs of guests on that node, with next_sync."""
        result = {}
        for jobid in self._job_ids():
            job = self.jobs[jobid]
            record = self._guests().record(job["guest"])
            if record is None or record["node"] != node:
                continue
            if not job.get("remove_job") and job["target"] == node:
                continue
            entry = self._describe(jobid)
            entry["vmtype"] = record["type"]
            entry["next_sync"] = int(self.next_sync(jobid))
            job_state = self._job_state(jobid)
            for key in STATUS_STATE_KEYS:
                if job_state.get(key) is not None:
                    entry[key] = job_state[key]
            result[jobid] = entry
        return result

    @route("GET", "/nodes/{node}/replication")
    def node_status(self, request):
        """Replication.pm status: the node's jobs the caller may audit (optionally of one guest)."""
        self.catch_up()
        control = self.sim.permissions.control
        guest = request.params.get("guest")
        return [entry for entry in self._node_jobs(request.params["node"]).values()
                if (guest is None or entry["guest"] == int(guest))
                and control.has(request.userid, "/vms/%d" % entry["guest"], ["VM.Audit"])]

    @route("GET", "/nodes/{node}/replication/{id}")
    def job_index(self, _request):
        """Replication.pm index: the job's subdirectories."""
        return [{"name": "schedule_now"}, {"name": "log"}, {"name": "status"}]

    @route("GET", "/nodes/{node}/replication/{id}/status")
    def job_status(self, request):
        """Replication.pm job_status."""
        self.catch_up()
        jobid = parse_job_id(request.params["id"])[2]
        entry = self._node_jobs(request.params["node"]).get(jobid)
        if entry is None:
            raise die("no such replication job '%s'\n" % jobid)
        self.sim.permissions.control.check(request.userid, "/vms/%d" % entry["guest"], ["VM.Audit"])
        return entry

    @route("GET", "/nodes/{node}/replication/{id}/log")
    def job_log(self, request):
        """Replication.pm read_job_log: the last run's log (dump_logfile: start, limit, `total`)."""
        self.catch_up()
        jobid = parse_job_id(request.params["id"])[2]
        job = self._job(jobid)
        control = self.sim.permissions.control
        if not control.has(request.userid, "/vms/%d" % job["guest"], ["VM.Audit"]):
            control.check(request.userid, "/nodes/%s" % request.params["node"], ["Sys.Audit"])
        lines = self.state["logs"].get(jobid) or []
        start = int(request.params.get("start") or 0)
        limit = request.params.get("limit")
        limit = 50 if limit is None else int(limit)  # Tools.pm dump_logfile default limit
        selected = lines[start:start + limit] if limit else []
        request.set_result_attrib("total", len(lines))
        if not lines:
            return [{"n": 1, "t": "no content"}]
        return [{"n": start + index + 1, "t": text} for index, text in enumerate(selected)]

    @route("POST", "/nodes/{node}/replication/{id}/schedule_now")
    def schedule_now(self, request):
        """Replication.pm schedule_now: last_try = 0 (only for a job that has state), the runner does the rest."""
        jobid = parse_job_id(request.params["id"])[2]
        job = self._job(jobid)
        self._check_replicate(request, job["guest"])
        self.catch_up()
        job_state = self.state["job_state"].get(jobid)
        if job_state is not None:
            job_state["last_try"] = 0
            job_state["since"] = int(self.now())
        self.catch_up()

    # -- side channel ------------------------------------------------------------------------------
    def dump(self):
        """GET /_sim/replication."""
        self.catch_up()
        jobs = {jobid: {"config": dict(self.jobs[jobid]), "state": dict(self._job_state(jobid)),
                        "next_sync": self.next_sync(jobid), "log": list(self.state["logs"].get(jobid, []))}
                for jobid in self.jobs}
        return {"jobs": jobs, "replicas": self.state["replicas"], "now": int(self.now())}

    def side_routes(self):
        def locked(function):
            def call(sim, body):
                with sim.state.lock:
                    result = function(body)
                    sim.persist()
                return result
            return call

        return {
            ("POST", "/_sim/clock/advance"): locked(lambda body: self.advance_clock(body["seconds"])),
            ("GET", "/_sim/clock"): locked(lambda body: {"now": int(self.now()), "offset": self.state["clock_offset"]}),
            ("POST", "/_sim/nodes/fail"): locked(lambda body: self.fail_node(body["node"])),
            ("POST", "/_sim/nodes/recover"): locked(lambda body: self.recover_node(body["node"])),
            ("GET", "/_sim/nodes"): locked(lambda body: self.nodes_status()),
            ("POST", "/_sim/pmxcfs/move-guest"): locked(lambda body: self.move_guest(body["vmid"], body["target"])),
            ("GET", "/_sim/replication"): locked(lambda body: self.dump()),
        }
