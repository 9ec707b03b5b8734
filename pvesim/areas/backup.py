"""Backups: the backup jobs (/cluster/backup), backup info, and vzdump runs (/nodes/{node}/vzdump).

Sources (proxmox/pve-manager at 14a22df3): PVE/API2/Backup.pm (job CRUD, the selection rules of an
update, included_volumes), PVE/API2/Cluster/BackupInfo.pm (not-backed-up), PVE/API2/VZDump.pm (the
vzdump call: local guests, silent exit, task id), PVE/VZDump.pm (verify_vzdump_parameters,
get_included_guests, notes templates, archive names, notes and protection after the archive, pruning);
proxmox/pve-guest-common src/PVE/VZDump/JobBase.pm (jobs.cfg section `vzdump`, property strings
decoded on read); proxmox/qemu-server src/PVE/QemuConfig.pm get_backup_volumes.

State "backup": {"jobs": {id: {option: value as jobs.cfg stores it}}, "order": [id, ...], "uuid_draws": n}.
A backup archive is a volume of the storage area; the guest's config is recorded with it (for restore).

Side channel (the scheduler, pvescheduler: PVE::Jobs runs a due job on every node):
  POST /_sim/backup/run {"id"}  run the job now -> {"upids": [...]} (one vzdump task per node with guests of it)
"""

import copy
import random
import re
import time
import uuid

from pvesim.areas import Area, route
from pvesim.calendar_event import next_after
from pvesim.errors import ApiError, ParamError, die
from pvesim.formats import split_list
from pvesim.qemu_config import drive_is_cdrom, is_drive_key, parse_property_string, parse_size
from pvesim.storage_config import parse_prune_backups, print_prune_backups, prune_marks

# Backup.pm update_job: options `delete` takes besides the vzdump options
DELETABLE_JOB_OPTIONS = ("comment", "repeat-missed")
# Backup.pm assert_param_permission_common: options only root@pam may set
ROOT_ONLY_OPTIONS = ("tmpdir", "dumpdir", "script", "job-id")
# JobBase.pm decode_value: options stored as property strings and read back as objects
PROPERTY_STRING_OPTIONS = ("prune-backups", "fleecing", "performance")
# VZDump.pm $generate_notes: the variables a notes template may use
NOTES_VARIABLES = ("cluster", "guestname", "node", "vmid")
# the vzdump.conf default target (VZDump.pm get_storage_param without `storage` or `dumpdir`)
DEFAULT_BACKUP_STORAGE = "local"
# Backup.pm $convert_to_schedule: a `dow` of every day is no restriction
ALL_DAYS = "mon,tue,wed,thu,fri,sat,sun"


def verify_notes_template(template):
    """VZDump.pm $verify_notes_template: one line, escapes `\\n` and `\\\\` only, known variables only."""
    if "\n" in template:
        raise ValueError("contains a line feed\n")
    problems = []
    for match in re.finditer(r"\\(.)", template):
        if match.group(1) not in ("n", "\\"):
            problems.append("escape sequence '\\%s' at char %d" % (match.group(1), match.end() - 2))
    for match in re.finditer(r"\{\{([^\s{}]+)\}\}", template):
        if match.group(1) not in NOTES_VARIABLES:
            problems.append("variable '%s' at char %d" % (match.group(1), match.end() - len(match.group(1))))
    if problems:
        raise ValueError("found unknown: %s\n" % ", ".join(problems))


def generate_notes(template, values):
    """VZDump.pm $generate_notes: escapes first, then the {{variables}}."""
    text = re.sub(r"\\(.)", lambda match: "\\" if match.group(1) == "\\" else "\n", template)
    return re.sub(r"\{\{(%s)\}\}" % "|".join(NOTES_VARIABLES), lambda match: str(values[match.group(1)]), text)


def vmid_list(text):
    """VZDump.pm check_vmids over split_list: the ids as sorted unique integers."""
    return sorted({int(item) for item in split_list(str(text or ""))})


class BackupArea(Area):
    """Backup jobs and vzdump runs."""

    name = "backup"

    def initial_state(self):
        return {"jobs": {}, "order": [], "uuid_draws": 0}

    def guests_area(self):
        """The guest records (a method: Area.routes inspects every attribute)."""
        return self.sim.areas["GuestsArea"]

    def storage_area(self):
        """The storage area's backup volume calls."""
        return self.sim.areas["StorageArea"]

    # -- options ---------------------------------------------------------------------------------
    def _property_format(self, key):
        properties = self.sim.schema.method("/cluster/backup", "POST")["parameters"]["properties"]
        fmt = (properties.get(key) or {}).get("format")
        return fmt if isinstance(fmt, dict) else {}

    def _read_value(self, key, value):
        """JobBase.pm decode_value: property strings as objects."""
        if key == "prune-backups":
            return parse_prune_backups(value)
        if key in PROPERTY_STRING_OPTIONS:
            return parse_property_string(self._property_format(key), value)
        return value

    @staticmethod
    def _prune_option(params):
        """VZDump.pm $parse_prune_backups (through verify_vzdump_parameters): the text normalised."""
        if params.get("prune-backups") is None:
            return
        try:
            params["prune-backups"] = print_prune_backups(parse_prune_backups(params["prune-backups"]))
        except ValueError as error:
            raise ParamError({"prune-backups": "invalid format - %s" % error}) from error

    def verify_parameters(self, params, check_missing=False):
        """VZDump.pm verify_vzdump_parameters: selection conflicts, prune-backups, the notes template,
        `exclude` without pool means all; with check_missing a selection is required."""
        for key in ("all", "exclude", "pool"):
            if params.get(key) and params.get("vmid"):
                raise ParamError({key: "option conflicts with option 'vmid'"})
        self._prune_option(params)
        if params.get("notes-template"):
            try:
                verify_notes_template(params["notes-template"])
            except ValueError as error:
                raise ParamError({"notes-template": str(error)}) from error
        if params.get("exclude") is not None and not params.get("pool"):
            params["all"] = 1
        if check_missing and not (params.get("all") or params.get("stop") or params.get("pool")) and not params.get("vmid"):
            raise ParamError({"vmid": "property is missing"})

    def _check_permissions(self, request, params, delete=(), current=None):
        """Backup.pm assert_param_permission_create / _update (root@pam may do anything)."""
        userid = request.userid
        if userid == "root@pam":
            return
        control = self.sim.permissions.control
        for options in (params, {key: 1 for key in delete}):
            for key in ROOT_ONLY_OPTIONS:
                if key in options:
                    raise ParamError({key: "Only root may set this option."})
        if any(params.get(key) is not None for key in ("bwlimit", "ionice", "performance")):
            control.check(userid, "/", ["Sys.Modify"])
        if params.get("storage"):
            control.check(userid, "/storage/%s" % params["storage"], ["Datastore.Allocate"])
        elif "storage" in delete:
            control.check(userid, "/storage/%s" % DEFAULT_BACKUP_STORAGE, ["Datastore.Allocate"])
        if current is not None:
            if current.get("dumpdir"):
                raise die("only root@pam may edit jobs with a 'dumpdir' option.")
            control.check(userid, "/storage/%s" % (current.get("storage") or DEFAULT_BACKUP_STORAGE), ["Datastore.Allocate"])

    def _check_pool(self, request, pool):
        """RPCEnvironment check_pool_exist, then VM.Backup on the pool."""
        if pool not in self.sim.directory.state["pools"]:
            raise die("pool '%s' does not exist\n" % pool)
        self.sim.permissions.control.check(request.userid, "/pool/%s" % pool, ["VM.Backup"])

    @staticmethod
    def _schedule(params, required):
        """Backup.pm $schedule_param_check: `starttime` (+`dow`) becomes `schedule`."""
        if params.get("schedule") is not None:
            if params.get("starttime") is not None:
                raise ParamError({"starttime": "'starttime' and 'schedule' cannot both be set"})
        elif params.get("starttime") is None:
            if required:
                raise ParamError({"schedule": "neither 'starttime' nor 'schedule' were set"})
        else:
            dow = ",".join(split_list(params.get("dow") or ""))
            params["schedule"] = params["starttime"] if not dow or dow == ALL_DAYS else "%s %s" % (dow, params["starttime"])
        params.pop("starttime", None)
        params.pop("dow", None)

    def _new_id(self):
        """Backup.pm create_job without `id`: UUID::uuid() (reproducible with the simulator's seed)."""
        self.state["uuid_draws"] += 1
        rng = random.Random("%s/backup/%d" % (self.sim.seed, self.state["uuid_draws"])) if self.sim.seed is not None else random.Random()
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def _job(self, job_id):
        job = self.state["jobs"].get(job_id)
        if job is None:
            raise ParamError({"id": "No such job '%s'" % job_id})
        return job

    def _describe(self, job_id, with_next_run):
        """A job as GET answers it: the stored options (property strings as objects), id and type;
        the list adds next-run from now (Backup.pm index: jobs are cluster wide, so no last run)."""
        job = self.state["jobs"][job_id]
        result = {key: self._read_value(key, value) for key, value in job.items()}
        result["id"] = job_id
        if with_next_run and job.get("schedule"):
            next_run = next_after(job["schedule"], int(time.time()))
            if next_run is not None:
                result["next-run"] = int(next_run)
        return result

    # -- /cluster/backup -------------------------------------------------------------------------
    @route("GET", "/cluster/backup")
    def list_jobs(self, request):
        """Backup.pm index, in jobs.cfg order."""
        del request
        return [self._describe(job_id, True) for job_id in self.state["order"] if job_id in self.state["jobs"]]

    @route("POST", "/cluster/backup")
    def create_job(self, request):
        """Backup.pm create_job: permissions, pool, schedule, `enabled` stored as 1, the id (a UUID when
        none is given), then verify_vzdump_parameters with the selection required."""
        params = dict(request.params)
        self._check_permissions(request, params)
        if params.get("pool"):
            self._check_pool(request, params["pool"])
        self._schedule(params, True)
        if params.get("enabled") is None:
            params["enabled"] = 1
        job_id = params.pop("id", None) or self._new_id()
        if job_id in self.state["jobs"]:
            raise die("Job '%s' already exists\n" % job_id)
        self.verify_parameters(params, check_missing=True)
        params["type"] = "vzdump"
        self.state["jobs"][job_id] = params
        self.state["order"].append(job_id)

    @route("GET", "/cluster/backup/{id}")
    def read_job(self, request):
        """Backup.pm read_job (no next-run)."""
        job_id = request.params["id"]
        self._job(job_id)
        return self._describe(job_id, False)

    @route("DELETE", "/cluster/backup/{id}")
    def delete_job(self, request):
        """Backup.pm delete_job."""
        job_id = request.params["id"]
        self._job(job_id)
        del self.state["jobs"][job_id]
        self.state["order"].remove(job_id)

    @route("PUT", "/cluster/backup/{id}")
    def update_job(self, request):
        """Backup.pm update_job: `delete` (vzdump options, comment, repeat-missed), the new values, then
        the selection replaced (vmid drops all/exclude/pool, all=1 drops vmid/pool, pool drops
        vmid/all/exclude) and checked again with the selection required."""
        params = dict(request.params)
        job_id = params.pop("id")
        delete = split_list(params.pop("delete", None) or "")
        self._check_permissions(request, params, delete)
        if params.get("pool"):
            self._check_pool(request, params["pool"])
        self._schedule(params, False)
        if not params and not delete:
            raise die("no options specified\n")
        self.verify_parameters(params)
        job = self.state["jobs"].get(job_id)
        if job is None:
            raise die("no such vzdump job\n")
        self._check_permissions(request, params, delete, current=job)
        known = self.sim.schema.method("/nodes/{node}/vzdump", "POST")["parameters"]["properties"]
        updated = dict(job)
        for key in delete:
            if key not in known and key not in DELETABLE_JOB_OPTIONS:
                raise ParamError({"delete": "unknown option '%s'" % key})
            updated.pop(key, None)
        updated.update(params)
        if updated.get("exclude") is not None and not updated.get("pool"):
            updated["all"] = 1
        if params.get("vmid") is not None:
            for key in ("all", "exclude", "pool"):
                updated.pop(key, None)
        elif params.get("all"):
            updated.pop("vmid", None)
            updated.pop("pool", None)
        elif updated.get("pool"):
            for key in ("vmid", "all", "exclude"):
                updated.pop(key, None)
        self.verify_parameters(updated, check_missing=True)
        self.state["jobs"][job_id] = updated

    def remove_vmid(self, vmid):
        """pve-guest-common src/PVE/VZDump/Plugin.pm (at 4a8f6cbf) remove_vmid_from_backup_jobs, called by
        qemu-server src/PVE/API2/Qemu.pm (at e6352be6) destroy_vm with `purge`: a job listing guests loses the vmid and is deleted when
        none is left; else a job's `exclude` loses it and is dropped when empty; pool jobs stay as they
        are. The ids are compared as text, as remove_vmid_from_list does."""
        def without_vmid(text):
            return ",".join(item for item in split_list(str(text)) if item != str(vmid))

        for job_id in list(self.state["order"]):
            job = self.state["jobs"].get(job_id)
            if job is None:
                continue
            if job.get("vmid") is not None:
                job["vmid"] = without_vmid(job["vmid"])
                if not job["vmid"]:
                    del self.state["jobs"][job_id]
                    self.state["order"].remove(job_id)
            elif job.get("exclude") is not None:
                job["exclude"] = without_vmid(job["exclude"])
                if not job["exclude"]:
                    del job["exclude"]

    # -- which guests a job backs up ---------------------------------------------------------------
    def included_guests(self, job):
        """VZDump.pm get_included_guests: {node: [vmid]} of pool members, the listed ids, or all guests but
        the excluded; guests elsewhere than `node` are left out; ids of no guest go under ''."""
        guests = {summary["vmid"]: summary for summary in self.guests_area().guests()}
        if job.get("pool"):
            pool = self.sim.directory.state["pools"].get(job["pool"]) or {}
            vmids = sorted(set(pool.get("vms", [])))
        elif job.get("vmid"):
            vmids = vmid_list(job["vmid"])
        elif job.get("all"):
            excluded = set(vmid_list(job.get("exclude")))
            vmids = sorted(vmid for vmid in guests if vmid not in excluded)
        else:
            return {}
        per_node = {}
        for vmid in vmids:
            if vmid in guests:
                if job.get("node") and job["node"] != guests[vmid]["node"]:
                    continue
                per_node.setdefault(guests[vmid]["node"], []).append(vmid)
            else:
                per_node.setdefault("", []).append(vmid)
        return per_node

    def _backup_volumes(self, config):
        """QemuConfig.pm get_backup_volumes: every disk but CD-ROMs (cloud-init drives are CD-ROMs), with
        whether it is backed up and why (sic: an explicit backup=1 reads `backup=no`)."""
        guests = self.guests_area()
        volumes = []
        for key in sorted(config):
            if not is_drive_key(key):
                continue
            drive = guests.parse_drive(key, config[key])
            if drive_is_cdrom(drive):
                continue
            included = int(drive.get("backup", 1))
            reason = "backup=%s" % ("no" if "backup" in drive else "yes")
            if key.startswith("efidisk") and config.get("bios") != "ovmf":
                included, reason = 0, "efidisk but no OVMF BIOS"
            volumes.append({"key": key, "drive": drive, "included": included, "reason": reason})
        return volumes

    @route("GET", "/cluster/backup/{id}/included_volumes")
    def included_volumes(self, request):
        """Backup.pm get_volume_backup_included: per guest the caller may audit its volumes; an id of no
        guest is `unknown`."""
        job = self._job(request.params["id"])
        control = self.sim.permissions.control
        children = []
        for vmid in sorted(vmid for vmids in self.included_guests(job).values() for vmid in vmids):
            if not control.has(request.userid, "/vms/%d" % vmid, ["VM.Audit"]):
                continue
            record = self.guests_area().record(vmid)
            if record is None:
                children.append({"id": vmid, "type": "unknown", "leaf": 1})
                continue
            disks = [{"id": "%d:%s" % (vmid, volume["key"]), "name": volume["drive"].get("file"), "included": volume["included"],
                      "reason": volume["reason"], "leaf": 1} for volume in self._backup_volumes(record["config"])]
            children.append({"id": vmid, "type": record["type"], "name": record["config"].get("name") or "",
                             "children": disks, "leaf": 0 if disks else 1})
        return {"children": children}

    @route("GET", "/cluster/backup-info/not-backed-up")
    def not_backed_up(self, request):
        """BackupInfo.pm: the guests the caller may audit that no backup job includes."""
        included = {vmid for job in self.state["jobs"].values() for vmids in self.included_guests(job).values() for vmid in vmids}
        control = self.sim.permissions.control
        result = []
        for summary in self.guests_area().guests():
            if summary["vmid"] in included or not control.has(request.userid, "/vms/%d" % summary["vmid"], ["VM.Audit"]):
                continue
            entry = {"vmid": summary["vmid"], "type": summary["type"]}
            name = self.guests_area().record(summary["vmid"])["config"].get("name" if summary["type"] == "qemu" else "hostname")
            if name is not None:
                entry["name"] = name
            result.append(entry)
        return result

    # -- vzdump ------------------------------------------------------------------------------------
    @route("POST", "/nodes/{node}/vzdump")
    def vzdump(self, request):
        """VZDump.pm API vzdump: checks, then one `vzdump` task for the node's guests; `OK` without a
        task when none of the selected guests is on this node."""
        params = dict(request.params)
        if request.userid != "root@pam":
            for key in ROOT_ONLY_OPTIONS:
                if key in params:
                    raise ParamError({key: "Only root may set this option."})
        if params.get("stdout"):
            raise ParamError({"stdout": "option is only allowed on the command line interface."})
        self.verify_parameters(params, check_missing=True)
        return self.run(params["node"], params, request.userid)

    def run(self, node, options, userid):
        """VZDump.pm exec_backup on `node`: each local guest (and each id of no guest) in turn; a task
        whose status is `job errors` when a guest failed. Returns the UPID, or `OK` without a task."""
        per_node = self.included_guests(options)
        local = per_node.get(node, []) + per_node.get("", [])
        if not local and not options.get("all"):
            return "OK"
        storage = options.get("storage") or DEFAULT_BACKUP_STORAGE
        if userid != "root@pam":
            self.sim.permissions.control.check(userid, "/storage/%s" % storage, ["Datastore.AllocateSpace"])
        scfg = self.storage_area().storage_config(storage)
        if "backup" not in self.storage_area().content_types(scfg):  # VZDump.pm storage_info, in the worker
            return self.sim.tasks.start(node, "vzdump", str(local[0]) if len(local) == 1 else "", userid,
                                        exitstatus="can't use storage '%s' for backups - wrong content type" % storage)
        log = ["INFO: starting new backup job: vzdump %s" % " ".join(
            "--%s %s" % (key, value) for key, value in sorted(options.items()) if key not in ("node", "type", "enabled", "schedule"))]
        upid = self.sim.tasks.start(node, "vzdump", str(local[0]) if len(local) == 1 else "", userid)
        task = self.sim.tasks.find(upid)
        end = self.sim.tasks.end_time(task)
        failed = 0
        for vmid in local:
            try:
                log.extend(self._backup_guest(node, vmid, options, storage, scfg, end))
            except ApiError as error:
                failed += 1
                log.append("ERROR: Backup of VM %d failed - %s" % (vmid, error.message.rstrip("\n")))
        log.append("INFO: Backup job finished with errors" if failed else "INFO: Backup job finished successfully")
        task["log"] = log
        task["exitstatus"] = "job errors" if failed else "OK"
        return upid

    def _backup_guest(self, node, vmid, options, storage, scfg, lock_until):  # pylint: disable=too-many-arguments
        """One guest: the archive (with notes, protection), the guest's lock `backup` while the task runs,
        then pruning by the job's (else the storage's) retention. Returns the log lines."""
        record = self.guests_area().record(vmid)
        if record is None:
            raise die("unable to find VM '%d'\n" % vmid)
        if record["type"] != "qemu":
            raise ApiError(501, "backups of containers are not simulated by pvesim\n")
        self.guests_area().check_lock(record)
        name = record["config"].get("name") or "VM %d" % vmid
        log = ["INFO: Starting Backup of VM %d (qemu)" % vmid, "INFO: VM Name: %s" % name]
        size = sum(parse_size(volume["drive"].get("size") or "0") for volume in self._backup_volumes(record["config"])
                   if volume["included"])
        notes = None
        if options.get("notes-template"):
            notes = generate_notes(options["notes-template"], {"cluster": self.sim.cluster_name, "guestname": name, "node": node,
                                                               "vmid": vmid})
        backup_time = int(time.time())
        existing = {backup["ctime"] for backup in self.storage_area().backups_of(node, storage, vmid)}
        while backup_time in existing:  # one archive per second and guest, as a real run takes longer
            backup_time += 1
        volid = self.storage_area().add_backup(node, storage, vmid, backup_time, size, record["config"], notes)
        if options.get("protected"):
            log.append("INFO: marking backup as protected")
            self.storage_area().set_volume_attribute(node, volid, "protected", 1)
        log.append("INFO: creating %s archive '%s'" % ("Proxmox Backup Server" if scfg["type"] == "pbs" else "vzdump", volid))
        if notes is not None:
            log.append("INFO: adding notes to backup")
        record["lock"], record["lock_until"] = "backup", lock_until
        log.append("INFO: Finished Backup of VM %d (00:00:01)" % vmid)
        if options.get("remove", 1):
            log.extend(self._prune(node, storage, scfg, vmid, options))
        return log

    def _prune(self, node, storage, scfg, vmid, options):  # pylint: disable=too-many-arguments
        """VZDump.pm after a backup: the retention of the job, else of the storage, else keep-all; the
        backups marked `remove` go."""
        retention = parse_prune_backups(options.get("prune-backups") or scfg.get("prune-backups") or "keep-all=1")
        log = ["INFO: prune older backups with retention: %s" % print_prune_backups(retention).replace(",", ", ")]
        removed = 0
        for volid, mark in sorted(prune_marks(self.storage_area().backups_of(node, storage, vmid), retention).items()):
            if mark == "remove":
                self.storage_area().free(node, volid)
                removed += 1
        log.append("INFO: pruned %d backup(s)%s" % (removed, " not covered by keep-retention policy" if removed else ""))
        return log

    # -- side channel ------------------------------------------------------------------------------
    def side_routes(self):
        def run_job(sim, body):
            with sim.state.lock:
                job = self.state["jobs"].get(body["id"])
                if job is None:
                    raise ValueError("no backup job %r" % body["id"])
                upids = []
                for node in sim.nodes:
                    if job.get("node") and job["node"] != node:
                        continue
                    options = copy.deepcopy(job)
                    options["node"] = node
                    answer = self.run(node, options, "root@pam")
                    if answer != "OK":
                        upids.append(answer)
                sim.persist()
            return {"upids": upids}

        return {("POST", "/_sim/backup/run"): run_job}
