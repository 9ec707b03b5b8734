"""The runtime of QEMU guests: power tasks, status, the guest agent, and migration.

Sources (proxmox/qemu-server at e6352be6): src/PVE/API2/Qemu.pm (vmcmdidx, vm_status, vm_start, vm_stop,
vm_shutdown, vm_reboot, vm_reset, vm_suspend, vm_resume, migrate_vm_precondition, migrate_vm),
src/PVE/QemuServer.pm (vm_start, _do_vm_stop, vm_reboot, vm_reset, vmstatus, foreach_volid,
check_local_storage_availability, check_storage_availability), src/PVE/QemuServer/RunState.pm (vm_suspend,
vm_resume), src/PVE/API2/Qemu/Agent.pm and src/PVE/QemuServer/Agent.pm (assert_agent_available,
qemu_exec, qemu_exec_status), src/PVE/QemuServer/PCI.pm (NIC slots), src/PVE/QemuMigrate.pm (prepare,
scan_local_volumes, sync_offline_local_volumes, phase1); pve-guest-common src/PVE/AbstractConfig.pm
(load_config, check_lock) and src/PVE/AbstractMigrate.pm (migrate, log); QEMU qga/qapi-schema.json
(guest-network-get-interfaces, guest-exec-status, guest-get-osinfo, guest-get-host-name, guest-info).

The guest records belong to the guests area (`sim.areas["GuestsArea"].record(vmid)`, see its docstring);
this area has no state of its own. What a running guest is lives in the record's `booted`
({"at", "config"} plus `paused`, and the agent's `exec` results), so a stop forgets all of it.

How the simulator runs the power tasks: PVE checks most conditions inside the worker, so a start of a
running VM answers a UPID and the task fails (`VM 100 already running`); the simulator does the same.
A task's effect is applied to the record when the task is created, and the task then runs for the
simulator's task duration; a client that waits for the task sees the same end state as against PVE.
Migration sets the record's `migrate` lock until its task ends (the lock is cleared on the first read
after that, like the guests area's other task locks).

The guest agent answers when the config has `agent` (else "No QEMU guest agent configured"), the VM
runs, is not paused, booted with the agent enabled and has been up for `agent_delay` seconds (the time
a real guest needs to boot and start qemu-guest-agent; default 2 s, `PUT /_sim/qemu/agent-delay
{"seconds": n}` or the area's `agent_delay` attribute). It answers from the config the VM booted with
(what cloud-init applied), never from later edits. `exec` runs nothing: `true` exits 0, `false` 1, and
anything else 127 with "<command>: command not found" on stderr (a simulator convention).

Real exec (opt-in, for the network twin): a simulator made with `exec_netns_prefix` (e.g. "hctw-") accepts
`POST /_sim/qemu/exec-netns {"vmid": N, "netns": NAME}` (NAME must start with the prefix and exist in
/run/netns; `{"netns": null}` or `DELETE` with {"vmid": N} drops it). `agent/exec` of that VMID then runs
`timeout -s KILL <exec_timeout> ip netns exec NAME <command...>` in the background with `input-data` on
stdin; `exec-status` answers `{"exited": 0}` while it runs and then what qemu-ga's guest-exec-status gives
after PVE decoded it (QEMU qga/commands.c: exitcode when it exited, signal when killed, out-/err-data
capped at GUEST_EXEC_MAX_OUTPUT with out-/err-truncated; qemu-server Agent.pm qemu_exec_status decodes
the base64).
"""

import copy
import ipaddress
import os
import subprocess
import threading
import time

from pvesim.areas import Area, route
from pvesim.errors import HTTP_NOT_IMPLEMENTED, ApiError, ParamError, die
from pvesim.qemu_config import (
    DRIVE_KEY_RE, NET_KEY_RE, drive_is_cdrom, drive_is_cloudinit, hostname_fqdn, parse_ipconfig, parse_property_string, parse_size)
from pvesim.qemu_permissions import check_migrate_storage
from pvesim.sdn_config import parse_dhcp_range, subnet_cidr
from pvesim.storage_config import parse_volname, parse_volume_id
from pvesim.validate import parse_boolean

QEMU = "/nodes/{node}/qemu/{vmid}"
AGENT = QEMU + "/agent"
DEFAULT_AGENT_DELAY = 2.0
ROOT_ONLY = "Only root may use this option."
# QEMU each PVE release ships (pve-qemu-kvm 9.2.0 in PVE 8.4, 10.1.2 in PVE 9.1): `running-qemu`
QEMU_VERSION = {"8.4": "9.2.0", "9.1": "10.1.2"}
# PCI.pm: net0..net5 sit in slots 18..23 of bus 0, so a guest's predictable name is ens18..ens23;
# net6..net31 sit behind the pci.1 bridge (bus 1, slots 1..26): path names enp1s<slot> (an assumption:
# what systemd names them depends on the guest's slot information).
FIRST_NIC_SLOT = 18
BRIDGED_NICS_FROM = 6
GUEST_EXEC_FIRST_PID = 1000
SIMULATED_EXEC = {"true": (0, ""), "false": (1, "")}
# Real exec in a registered network namespace (see the module docstring): seconds before the command is killed,
# and qemu-ga's cap of captured output per stream (qga/commands.c GUEST_EXEC_MAX_OUTPUT, 16 MiB)
DEFAULT_EXEC_TIMEOUT = 60
GUEST_EXEC_MAX_OUTPUT = 16 * 1024 * 1024
NETNS_DIR = "/run/netns"
# A Debian 12 cloud image (what the homecloud demo boots): guest-get-osinfo and guest-info
DEBIAN_OSINFO = {"id": "debian", "kernel-release": "6.1.0-28-cloud-amd64",
                 "kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)", "machine": "x86_64",
                 "name": "Debian GNU/Linux", "pretty-name": "Debian GNU/Linux 12 (bookworm)", "version": "12 (bookworm)",
                 "version-id": "12"}
QGA_VERSION = "7.2.15"
SIMULATED_QGA_COMMANDS = ("guest-exec", "guest-exec-status", "guest-get-host-name", "guest-get-osinfo", "guest-info",
                          "guest-network-get-interfaces", "guest-ping")
AGENT_COMMANDS = ("exec", "exec-status", "file-read", "file-write", "fsfreeze-freeze", "fsfreeze-status", "fsfreeze-thaw",
                  "fstrim", "get-fsinfo", "get-host-name", "get-memory-block-info", "get-memory-blocks", "get-osinfo",
                  "get-time", "get-timezone", "get-users", "get-vcpus", "info", "network-get-interfaces", "ping",
                  "set-user-password", "shutdown", "suspend-disk", "suspend-hybrid", "suspend-ram")
ZERO_NIC_STATISTICS = {"rx-bytes": 0, "rx-dropped": 0, "rx-errs": 0, "rx-packets": 0,
                       "tx-bytes": 0, "tx-dropped": 0, "tx-errs": 0, "tx-packets": 0}
STATUS_SUBDIRS = ("current", "start", "stop", "reset", "shutdown", "suspend", "reboot")  # Qemu.pm vmcmdidx order


def agent_enabled(value):
    """QemuServer/Agent.pm parse_guest_agent + get_qga_key(enabled): `1`, `enabled=1`, `1,type=virtio`."""
    if value is None:
        return False
    enabled = parse_property_string({"enabled": {"default_key": 1}}, str(value)).get("enabled", "0")
    return parse_boolean(str(enabled)) == 1


def log_line(text, level="info"):
    """AbstractMigrate.pm $msg2text: local time, `ERROR:` for errors."""
    prefix = time.strftime("%Y-%m-%d %H:%M:%S")
    return "%s%s %s" % (prefix, " ERROR:" if level == "err" else "", text.rstrip("\n"))


def drives(config):
    """(key, drive) of every drive and unusedN of a config, in key order (QemuConfig foreach_volume with unused)."""
    for key in sorted(config):
        if DRIVE_KEY_RE.match(key) and config[key]:
            yield key, parse_property_string({"file": {"default_key": 1}}, config[key])


def eui64_link_local(mac):
    """The fe80:: address a Linux guest derives from its MAC (RFC 4291 modified EUI-64)."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return str(ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui)))


def nic_name(index):
    """The guest's name of the NIC of netN (see FIRST_NIC_SLOT)."""
    if index < BRIDGED_NICS_FROM:
        return "ens%d" % (FIRST_NIC_SLOT + index)
    return "enp1s%d" % (index - BRIDGED_NICS_FROM + 1)


def address_entry(address, prefix):
    """One ip-addresses item of guest-network-get-interfaces."""
    version = ipaddress.ip_address(address).version
    return {"ip-address-type": "ipv4" if version == 4 else "ipv6", "ip-address": address, "prefix": int(prefix)}


class QemuRuntimeArea(Area):
    """Power, status, guest agent and migration of QEMU guests (state: the guests area's records)."""

    def __init__(self, sim):
        super().__init__(sim)
        self.agent_delay = DEFAULT_AGENT_DELAY
        self.exec_timeout = DEFAULT_EXEC_TIMEOUT
        self.exec_netns = {}  # vmid -> network namespace its agent/exec runs in (not state: host resources)

    def side_routes(self):
        def set_agent_delay(sim, body):
            del sim
            seconds = float(body["seconds"])
            if seconds < 0:
                raise ValueError("seconds must not be negative")
            self.agent_delay = seconds
            return {"seconds": self.agent_delay}

        def set_exec_netns(sim, body):
            del sim
            self.register_exec_netns(int(body["vmid"]), body.get("netns"))
            return {str(vmid): netns for vmid, netns in sorted(self.exec_netns.items())}

        def drop_exec_netns(sim, body):
            del sim
            self.register_exec_netns(int(body["vmid"]), None)
            return {str(vmid): netns for vmid, netns in sorted(self.exec_netns.items())}

        return {("PUT", "/_sim/qemu/agent-delay"): set_agent_delay,
                ("GET", "/_sim/qemu/agent-delay"): lambda sim, body: {"seconds": self.agent_delay},
                ("POST", "/_sim/qemu/exec-netns"): set_exec_netns,
                ("DELETE", "/_sim/qemu/exec-netns"): drop_exec_netns,
                ("GET", "/_sim/qemu/exec-netns"): lambda sim, body: {str(vmid): netns for vmid, netns in sorted(self.exec_netns.items())}}

    def register_exec_netns(self, vmid, netns):
        """Run agent/exec of `vmid` for real inside `netns` (None: back to the simulated programs)."""
        if netns is None:
            self.exec_netns.pop(vmid, None)
            return
        prefix = getattr(self.sim, "exec_netns_prefix", None)
        if not prefix:
            raise ValueError("real exec is off: start the simulator with exec_netns_prefix (--exec-netns-prefix)")
        if not isinstance(netns, str) or not netns.startswith(prefix) or "/" in netns or netns in (".", ".."):
            raise ValueError("network namespace %r is outside the prefix %r" % (netns, prefix))
        if not os.path.exists(os.path.join(NETNS_DIR, netns)):
            raise ValueError("network namespace %r does not exist (not in %s)" % (netns, NETNS_DIR))
        self.exec_netns[vmid] = netns

    # -- records ---------------------------------------------------------------------------------
    # plain methods, not properties: Area.routes() inspects every attribute while the areas are being built
    def _guests(self):
        return self.sim.areas["GuestsArea"]

    def _storage(self):
        return self.sim.areas["StorageArea"]

    def _record(self, vmid, node):
        """AbstractConfig.pm load_config on `node`: the VM's record, or PVE's die for a config file that
        is not on that node (another node's guest, a container, or no guest at all)."""
        record = self._guests().record(vmid)
        if record is None or record["node"] != node or record["type"] != "qemu":
            raise die("Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist\n" % (node, int(vmid)))
        return record

    @staticmethod
    def _running(record):
        return record["status"] == "running"

    @staticmethod
    def _paused(record):
        return bool(record["status"] == "running" and (record.get("booted") or {}).get("paused"))

    @staticmethod
    def _lock_error(record, skiplock=False):
        """AbstractConfig.pm check_lock: `VM is locked (<lock>)` (None when free or skipped)."""
        if record.get("lock") and not skiplock:
            return "VM is locked (%s)\n" % record["lock"]
        return None

    @staticmethod
    def _root_only(request, *names):
        """Qemu.pm: options only root@pam may set (an API token is not root@pam)."""
        for name in names:
            if request.params.get(name) and request.userid != "root@pam":
                raise ParamError({name: ROOT_ONLY})

    def boot(self, record, at=None):
        """A cold start (QemuServer.pm vm_start_nolock): pending applied, the guest runs what it booted,
        booted at `at` (default now; a create or restore task starts the VM when it ends). Also the
        start of the other areas (create, restore, HA); a container's pending section stays empty (no
        LXC config API is simulated), so the same start serves it."""
        self._guests().apply_pending(record["vmid"])
        record["status"] = "running"
        record["booted"] = {"at": self.sim.tasks.clock() if at is None else at, "config": copy.deepcopy(record["config"])}

    @staticmethod
    def power_off(record):
        """The guest is off: stopped, and what it booted is forgotten (the agent's state with it)."""
        record["status"] = "stopped"
        record["booted"] = None

    def _task(self, request, task_type, error=None, log=()):
        """fork_worker on the path's node, id = vmid; `error` (a die inside the worker) fails the task."""
        exitstatus = error.rstrip("\n") if error else "OK"
        return self.sim.tasks.start(request.params["node"], task_type, str(request.params["vmid"]), request.userid,
                                    exitstatus=exitstatus, log=log)

    def _worker_record(self, request):
        """(record, None) or (None, load_config's die text): a worker that fails on a missing config."""
        try:
            return self._record(request.params["vmid"], request.params["node"]), None
        except ApiError as error:
            return None, error.message

    # -- status --------------------------------------------------------------------------------
    @route("GET", QEMU + "/status")
    def status_index(self, request):
        """Qemu.pm vmcmdidx: the subdirectories, after load_config."""
        self._record(request.params["vmid"], request.params["node"])
        return [{"subdir": subdir} for subdir in STATUS_SUBDIRS]

    @route("GET", QEMU + "/status/current")
    def status_current(self, request):
        """Qemu.pm vm_status from QemuServer.pm vmstatus (full): figures from the config, `qmpstatus` from
        QMP query-status (running, paused) or the status, `agent` when the config enables it."""
        record = self._record(request.params["vmid"], request.params["node"])
        config = record["config"]
        figures = self._guests().figures(record)
        running = self._running(record)
        status = {"vmid": record["vmid"], "name": config.get("name") or "VM %d" % record["vmid"],
                  "status": record["status"], "qmpstatus": record["status"], "cpus": figures["cpus"],
                  "maxmem": figures["maxmem"], "mem": 0, "maxdisk": figures["maxdisk"], "disk": 0,
                  "uptime": figures["uptime"], "cpu": 0, "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
                  "ha": {"managed": 0}}
        if self.sim.pve_version != "8.4":
            status["memhost"] = 0
        if running:
            status["qmpstatus"] = "paused" if self._paused(record) else "running"
            status["pid"] = self._pid(record)
            status["mem"] = figures["maxmem"] // 4
            status["running-qemu"] = QEMU_VERSION.get(self.sim.pve_version, QEMU_VERSION["9.1"])
            status["running-machine"] = self._running_machine(record)
            if self.sim.pve_version != "8.4":
                status["memhost"] = status["mem"]
                status.update(dict.fromkeys(("pressurecpufull", "pressurecpusome", "pressureiofull", "pressureiosome",
                                             "pressurememoryfull", "pressurememorysome"), 0))
        if config.get("template"):
            status["template"] = 1
        if record.get("lock"):
            status["lock"] = record["lock"]
        if config.get("tags") is not None:
            status["tags"] = config["tags"]
        if agent_enabled(config.get("agent")):
            status["agent"] = 1
        return status

    @staticmethod
    def _pid(record):
        """A stable QEMU pid for a running VM (derived from its id and boot time)."""
        return 10000 + (record["vmid"] * 7 + int(record["booted"]["at"])) % 50000

    def _running_machine(self, record):
        """Machine.pm current_from_query_machines: the booted machine type with the QEMU version (pinned
        versions kept) and the `+pve0` suffix."""
        machine = str(record["booted"]["config"].get("machine") or "pc")
        machine_type = parse_property_string({"type": {"default_key": 1}}, machine).get("type", "pc")
        qemu = ".".join(QEMU_VERSION.get(self.sim.pve_version, QEMU_VERSION["9.1"]).split(".")[:2])
        if machine_type in ("pc", "i440fx"):
            machine_type = "pc-i440fx-%s" % qemu
        elif machine_type == "q35":
            machine_type = "pc-q35-%s" % qemu
        return machine_type.split("+", 1)[0] + "+pve0"

    # -- power tasks ---------------------------------------------------------------------------
    @route("POST", QEMU + "/status/start")
    def vm_start(self, request):
        """Qemu.pm vm_start -> QemuServer.pm vm_start in the worker: template, lock (a `suspended` lock is
        the resume from disk), already running; a cold start applies the pending changes."""
        self._root_only(request, "skiplock", "stateuri", "migratedfrom", "migration_type", "migration_network",
                        "targetstorage", "force-cpu", "with-conntrack-state", "nets-host-mtu")
        if request.params.get("targetstorage") and not request.params.get("migratedfrom"):
            raise ParamError({"targetstorage": "targetstorage can only by used with migratedfrom."})
        if request.params.get("migratedfrom") or request.params.get("stateuri"):
            raise ApiError(HTTP_NOT_IMPLEMENTED, "pvesim: starting a migration target (migratedfrom, stateuri) is not simulated\n")
        record, error = self._worker_record(request)
        if record is not None:
            if record["config"].get("template"):
                error = "you can't start a vm if it's a template\n"
            elif record.get("lock") != "suspended":
                error = self._lock_error(record, request.params.get("skiplock"))
            if error is None and self._running(record):
                error = "VM %d already running\n" % record["vmid"]
        if error is None:
            self.boot(record)
        return self._task(request, "qmstart", error)

    def _stop_worker(self, request, skiplock):
        """QemuServer.pm _do_vm_stop: a VM that does not run is done at once; else check_lock, then off."""
        record, error = self._worker_record(request)
        if record is not None and self._running(record):
            error = self._lock_error(record, skiplock)
            if error is None:
                self.power_off(record)
        return error

    @route("POST", QEMU + "/status/stop")
    def vm_stop(self, request):
        """Qemu.pm vm_stop: `overrule-shutdown` aborts the VM's running qmshutdown tasks first."""
        self._root_only(request, "skiplock", "keepActive", "migratedfrom")
        log = []
        if request.params.get("overrule-shutdown"):
            engine = self.sim.tasks
            overruled = [task for task in engine.tasks() if task["type"] == "qmshutdown" and task["id"] == str(request.params["vmid"])
                         and task["node"] == request.params["node"] and engine.running(task)]
            for task in overruled:
                engine.stop(task)
            if overruled:
                log.append("overruled qmshutdown tasks: %s" % ", ".join(task["upid"] for task in overruled))
        error = self._stop_worker(request, request.params.get("skiplock"))
        return self._task(request, "qmstop", error, log)

    @route("POST", QEMU + "/status/shutdown")
    def vm_shutdown(self, request):
        """Qemu.pm vm_shutdown: a paused VM is refused before the worker (with forceStop it is stopped);
        `timeout` is accepted (the simulated guest always powers down in time)."""
        self._root_only(request, "skiplock", "keepActive")
        record = self._guests().record(request.params["vmid"])
        if record is not None and record["node"] == request.params["node"] and self._paused(record) and not request.params.get("forceStop"):
            raise die("VM is paused - cannot shutdown\n")
        error = self._stop_worker(request, request.params.get("skiplock"))
        return self._task(request, "qmshutdown", error)

    def _assert_running(self, request):
        """QemuServer.pm check_running before the worker: the config must be on the node, the VM running."""
        record = self._record(request.params["vmid"], request.params["node"])
        if not self._running(record):
            raise die("VM %d not running\n" % record["vmid"])
        return record

    @route("POST", QEMU + "/status/reboot")
    def vm_reboot(self, request):
        """Qemu.pm vm_reboot: paused and not running are refused; the worker shuts the VM down (check_lock)
        and qmeventd starts it again, which applies the pending changes."""
        record = self._guests().record(request.params["vmid"])
        if record is not None and record["node"] == request.params["node"] and self._paused(record):
            raise die("VM is paused - cannot shutdown\n")
        record = self._assert_running(request)
        error = self._lock_error(record)
        if error is None:
            self.boot(record)
        return self._task(request, "qmreboot", error)

    @route("POST", QEMU + "/status/reset")
    def vm_reset(self, request):
        """Qemu.pm vm_reset: QMP system_reset; the same QEMU process (no pending applied), the guest boots anew."""
        self._root_only(request, "skiplock")
        record = self._assert_running(request)
        error = self._lock_error(record, request.params.get("skiplock"))
        if error is None:
            record["booted"] = dict(record["booted"], at=self.sim.tasks.clock(), exec={})
        return self._task(request, "qmreset", error)

    @route("POST", QEMU + "/status/suspend")
    def vm_suspend(self, request):
        """Qemu.pm vm_suspend: a `qmpause` task (QMP stop); suspend to disk (`qmsuspend`) is not simulated."""
        self._root_only(request, "skiplock")
        record = self._assert_running(request)
        if request.params.get("todisk"):
            raise ApiError(HTTP_NOT_IMPLEMENTED, "pvesim: suspend to disk (todisk) is not simulated\n")
        error = self._lock_error(record, request.params.get("skiplock"))
        if error is None:
            record["booted"]["paused"] = True
        return self._task(request, "qmpause", error)

    @route("POST", QEMU + "/status/resume")
    def vm_resume(self, request):
        """Qemu.pm vm_resume -> RunState.pm vm_resume: a template is refused, a VM that runs is done, else
        check_lock and QMP cont."""
        self._root_only(request, "skiplock", "nocheck")
        record = self._assert_running(request)
        error = None
        if record["config"].get("template"):
            error = "VM %d is a template and cannot be resumed!\n" % record["vmid"]
        elif self._paused(record):
            error = self._lock_error(record, request.params.get("skiplock"))
            if error is None:
                record["booted"]["paused"] = False
        return self._task(request, "qmresume", error)

    # -- guest agent ---------------------------------------------------------------------------
    def _agent_answers(self, record):
        """guest-ping succeeds: booted with the agent enabled, up for agent_delay, not paused."""
        booted = record.get("booted") or {}
        if not booted or booted.get("paused") or not agent_enabled(booted["config"].get("agent")):
            return False
        return self.sim.tasks.clock() - booted["at"] >= self.agent_delay

    def _agent(self, request):
        """QemuServer/Agent.pm assert_agent_available, after load_config."""
        record = self._record(request.params["vmid"], request.params["node"])
        if record["config"].get("agent") is None:
            raise die("No QEMU guest agent configured\n")
        if not self._running(record):
            raise die("VM %d is not running\n" % record["vmid"])
        if not self._agent_answers(record):
            raise die("QEMU guest agent is not running\n")
        return record

    @route("GET", AGENT)
    def agent_index(self, _request):
        """Agent.pm index: every command, sorted."""
        return [{"name": name} for name in AGENT_COMMANDS]

    @route("POST", AGENT + "/ping")
    def agent_ping(self, request):
        """guest-ping: an empty answer."""
        self._agent(request)
        return {"result": {}}

    @route("GET", AGENT + "/info")
    def agent_info(self, request):
        """guest-info: the agent's version and its commands."""
        self._agent(request)
        commands = [{"enabled": True, "name": name, "success-response": True} for name in SIMULATED_QGA_COMMANDS]
        return {"result": {"version": QGA_VERSION, "supported_commands": commands}}

    @route("GET", AGENT + "/get-osinfo")
    def agent_osinfo(self, request):
        """guest-get-osinfo of the simulated guest OS (see DEBIAN_OSINFO)."""
        self._agent(request)
        return {"result": dict(DEBIAN_OSINFO)}

    @route("GET", AGENT + "/get-host-name")
    def agent_host_name(self, request):
        """guest-get-host-name: the host name cloud-init set at boot (Cloudinit.pm get_hostname_fqdn)."""
        record = self._agent(request)
        return {"result": {"host-name": hostname_fqdn(record["booted"]["config"], record["vmid"])[0]}}

    @route("GET", AGENT + "/network-get-interfaces")
    def agent_interfaces(self, request):
        """guest-network-get-interfaces: `lo`, then one NIC per netN of the booted config with the addresses
        its ipconfigN gave it (static, or DHCP/SLAAC from the SDN VNet of its bridge) and its link-local."""
        record = self._agent(request)
        config = record["booted"]["config"]
        interfaces = [{"name": "lo", "hardware-address": "00:00:00:00:00:00",
                       "ip-addresses": [address_entry("127.0.0.1", 8), address_entry("::1", 128)],
                       "statistics": dict(ZERO_NIC_STATISTICS)}]
        nets = sorted((int(NET_KEY_RE.match(key).group(1)), key) for key in config if NET_KEY_RE.match(key))
        for index, key in nets:
            net = parse_property_string({}, config[key])
            mac = next((value for name, value in net.items() if name == "macaddr" or ":" in value), None)
            if mac is None:
                continue
            mac = mac.lower()
            interfaces.append({"name": nic_name(index), "hardware-address": mac,
                               "ip-addresses": self._guest_addresses(config, index, net.get("bridge"), mac),
                               "statistics": dict(ZERO_NIC_STATISTICS)})
        return {"result": interfaces}

    def _guest_addresses(self, config, index, bridge, mac):
        """The addresses a NIC holds: ipconfigN (Network.pm parse_ipconfig: none set means dhcp for both)."""
        ipconfig = parse_ipconfig(config.get("ipconfig%d" % index))
        if not ipconfig.get("ip") and not ipconfig.get("ip6"):
            ipconfig = {"ip": "dhcp", "ip6": "dhcp"}
        addresses = []
        ip4 = ipconfig.get("ip")
        if ip4 == "dhcp":
            leased = self._dhcp_lease(bridge, mac, 4)
            if leased:
                addresses.append(address_entry(*leased))
        elif ip4:
            address, prefix = ip4.split("/")
            addresses.append(address_entry(address, prefix))
        ip6 = ipconfig.get("ip6")
        if ip6 == "dhcp":
            leased = self._dhcp_lease(bridge, mac, 6)
            if leased:
                addresses.append(address_entry(*leased))
        elif ip6 == "auto":
            prefix_net = self._vnet_network(bridge, 6)
            if prefix_net is not None and prefix_net.prefixlen == 64:
                interface_id = int(ipaddress.IPv6Address(eui64_link_local(mac))) & ((1 << 64) - 1)
                addresses.append(address_entry(str(prefix_net.network_address + interface_id), 64))
        elif ip6:
            address, prefix = ip6.split("/")
            addresses.append(address_entry(str(ipaddress.ip_address(address)), prefix))
        addresses.append(address_entry(eui64_link_local(mac), 64))
        return addresses

    def _vnet_subnets(self, bridge, version):
        """(zone id, network) of the running SDN subnets of the VNet named like the bridge."""
        sdn = self.sim.areas.get("SdnArea")
        running = (sdn.state.get("running") or {}) if sdn is not None else {}
        for subnet_id, subnet in sorted(running.get("subnets", {}).items()):
            if subnet.get("vnet") != bridge or bridge not in running.get("vnets", {}):
                continue
            zone_id, network, mask = subnet_cidr(subnet_id)
            net = ipaddress.ip_network("%s/%d" % (network, mask), strict=False)
            if net.version == version:
                yield zone_id, net, subnet

    def _vnet_network(self, bridge, version):
        return next((net for _zone, net, _subnet in self._vnet_subnets(bridge, version)), None)

    def _dhcp_lease(self, bridge, mac, version):
        """The address SDN DHCP gives a MAC: the one the PVE IPAM holds for it, else the first free address
        of the subnet's dhcp-range (the simulator does not register it). None without a DHCP range."""
        sdn = self.sim.areas.get("SdnArea")
        for zone_id, net, subnet in self._vnet_subnets(bridge, version):
            ranges = [parse_dhcp_range(item) if isinstance(item, str) else item for item in subnet.get("dhcp-range") or []]
            if not ranges:
                continue
            ips = sdn.state["ipam_db"]["zones"].get(zone_id, {}).get("subnets", {}).get(str(net), {}).get("ips", {})
            for address, entry in sorted(ips.items()):
                if str(entry.get("mac", "")).lower() == mac:
                    return address, net.prefixlen
            for dhcp_range in ranges:
                current = ipaddress.ip_address(dhcp_range["start-address"])
                while current <= ipaddress.ip_address(dhcp_range["end-address"]):
                    if str(current) not in ips:
                        return str(current), net.prefixlen
                    current += 1
        return None

    @route("POST", AGENT + "/exec")
    def agent_exec(self, request):
        """Agent.pm exec -> qemu_exec: guest-exec answers the pid; the result is kept for exec-status."""
        record = self._agent(request)
        command = request.params.get("command") or []
        if isinstance(command, str):
            command = [command]
        booted = record["booted"]
        results = booted.setdefault("exec", {})
        pid = GUEST_EXEC_FIRST_PID + len(results)
        netns = self.exec_netns.get(record["vmid"])
        if netns is not None:
            if not command:
                raise ParamError({"command": "property is missing and it is not optional"})
            results[str(pid)] = {"exited": 0}
            self._run_in_netns(results, str(pid), netns, [str(part) for part in command], request.params.get("input-data"))
            return {"pid": pid}
        program = command[0].rsplit("/", 1)[-1] if command else ""
        exitcode, stdout = SIMULATED_EXEC.get(program, (127, None))
        result = {"exited": 1, "exitcode": exitcode}
        if stdout:
            result["out-data"] = stdout
        if stdout is None:
            result["err-data"] = "%s: command not found\n" % (command[0] if command else "")
        results[str(pid)] = result
        return {"pid": pid}

    def _run_in_netns(self, results, pid, netns, command, input_data):  # pylint: disable=too-many-arguments
        """Start the command in `netns`; a thread stores qemu-ga's result under `pid` when it ends."""
        argv = ["timeout", "-s", "KILL", str(int(self.exec_timeout)), "ip", "netns", "exec", netns] + command
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # pylint: disable=consider-using-with
        except OSError as error:
            # qemu-ga answers a failed spawn with an error of guest-exec itself
            results.pop(pid, None)
            raise die("VM guest-exec failed - %s\n" % error)

        def wait():
            # the timeout command kills at exec_timeout; the margin only guards against a hung pipe
            try:
                stdout, stderr = process.communicate((input_data or "").encode("utf-8"), timeout=self.exec_timeout + 10)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            result = {"exited": 1}
            if process.returncode < 0:
                result["signal"] = -process.returncode
            else:
                result["exitcode"] = process.returncode
            for key, data in (("out", stdout), ("err", stderr)):
                if data:
                    result[key + "-data"] = data[:GUEST_EXEC_MAX_OUTPUT].decode("utf-8", "replace")
                if len(data) > GUEST_EXEC_MAX_OUTPUT:
                    result[key + "-truncated"] = 1
            with self.sim.state.lock:
                results[pid] = result

        threading.Thread(target=wait, name="pvesim-exec-%s" % pid, daemon=True).start()

    @route("GET", AGENT + "/exec-status")
    def agent_exec_status(self, request):
        """Agent.pm exec-status -> qemu_exec_status; qemu-ga refuses a pid it never started (QMPClient.pm
        names the peer `VM <vmid>` and its type: qmp in 8.4, qga in 9.x)."""
        record = self._agent(request)
        result = (record["booted"].get("exec") or {}).get(str(request.params["pid"]))
        if result is None:
            peer = "qmp" if self.sim.pve_version == "8.4" else "qga"
            raise die("VM %d %s command 'guest-exec-status' failed - Invalid parameter 'pid'\n" % (record["vmid"], peer))
        return dict(result)

    # -- migration -----------------------------------------------------------------------------
    def _volumes(self, record):
        """QemuServer.pm foreach_volid over the config and the pending values: {volid: attributes}."""
        volumes = {}
        for pending, config in ((False, record["config"]), (True, record.get("pending") or {})):
            for key, drive in drives(config):
                volid = drive.get("file")
                attributes = volumes.setdefault(volid, {"volid": volid, "cdrom": 1, "is_cloudinit": 0, "shared": 0,
                                                        "is_unused": 0, "is_attached": 0, "replicate": 0,
                                                        "is_vmstate": 0, "is_tpmstate": 0})
                if not drive_is_cdrom(drive):
                    attributes["cdrom"] = 0
                if drive_is_cloudinit(drive):
                    attributes["is_cloudinit"] = 1
                if drive.get("shared") in ("1", 1):
                    attributes["shared"] = 1
                if parse_boolean(str(drive.get("replicate", "1"))) == 1:
                    attributes["replicate"] = 1
                if key.startswith("unused"):
                    attributes["is_unused"] = 1
                elif not pending:
                    attributes["is_attached"] = 1
                if pending:
                    attributes["referenced_in_pending"] = 1
                if drive.get("size") and "size" not in attributes:
                    attributes["size"] = parse_size(drive["size"])
                if key == "tpmstate0":
                    attributes["is_tpmstate"] = 1
                if not key.startswith("unused"):
                    attributes["drivename"] = key
        return volumes

    def _local_disks(self, record):
        """Qemu.pm $check_vm_disks_local: volumes not on a shared storage, no empty CD-ROM."""
        result = []
        for volid, attributes in sorted(self._volumes(record).items()):
            storage = self._storage_of(volid)
            if storage is not None and self._storage().state["config"].get(storage, {}).get("shared"):
                continue
            if attributes["shared"] or (attributes["cdrom"] and volid == "none"):
                continue
            result.append(dict(attributes))
        return result

    @staticmethod
    def _storage_of(volid):
        try:
            return parse_volume_id(volid)[0]
        except ValueError:
            return None

    def _unavailable_storages(self, record):
        """QemuServer.pm check_local_storage_availability: {node: [storage]} of disabled storages or storages
        whose `nodes` leave the node out."""
        unavailable = {node: set() for node in self.sim.nodes}
        for _key, drive in drives(record["config"]):
            storage = self._storage_of(drive.get("file"))
            scfg = self._storage().state["config"].get(storage) if storage else None
            if scfg is None:
                continue
            for node in self.sim.nodes:
                if scfg.get("disable") or (scfg.get("nodes") and node not in scfg["nodes"]):
                    unavailable[node].add(storage)
        return {node: sorted(storages) for node, storages in unavailable.items() if storages}

    @route("GET", QEMU + "/migrate")
    def migrate_precondition(self, request):
        """Qemu.pm migrate_vm_precondition: check_lock, running, the other nodes allowed or not (unavailable
        storages), the local disks; no local resources or mappings are simulated (lists stay empty)."""
        record = self._record(request.params["vmid"], request.params["node"])
        error = self._lock_error(record)
        if error:
            raise die(error)
        unavailable = self._unavailable_storages(record)
        result = {"running": 1 if self._running(record) else 0, "allowed_nodes": [], "not_allowed_nodes": {},
                  "local_disks": self._local_disks(record), "local_resources": [], "mapped-resources": [],
                  "mapped-resource-info": {}}
        for node in self.sim.nodes:
            if node == request.params["node"]:
                continue
            if node in unavailable:
                result["not_allowed_nodes"][node] = {"unavailable_storages": unavailable[node]}
            else:
                result["allowed_nodes"].append(node)
        if self.sim.pve_version != "8.4":
            result["has-dbus-vmstate"] = 1
        return result

    @staticmethod
    def _storage_map(text):
        """JSONSchema.pm parse_idmap for `targetstorage`: `1` identity, `<id>` default, `a:b,...` entries."""
        mapping = {"entries": {}, "default": None, "identity": False}
        for item in str(text or "").split(","):
            if not item:
                continue
            if item == "1":
                mapping["identity"] = True
            elif ":" in item:
                source, target = item.split(":", 1)
                if source in mapping["entries"]:
                    raise ParamError({"targetstorage": "failed to parse storage map: duplicate mapping for source '%s'\n" % source})
                mapping["entries"][source] = target
            elif mapping["default"] is None:
                mapping["default"] = item
            else:
                raise ParamError({"targetstorage": "failed to parse storage map: default target ID can only be provided once\n"})
        return mapping

    @staticmethod
    def _mapped(mapping, storage):
        """JSONSchema.pm map_id."""
        if mapping is None or mapping["identity"]:
            return storage
        return mapping["entries"].get(storage) or mapping["default"] or storage

    @route("POST", QEMU + "/migrate")
    def migrate_vm(self, request):
        """Qemu.pm migrate_vm: target checks, root-only options, load_config, check_lock, online for a running
        VM, the storages of every drive enabled on both nodes; then the qmigrate worker (QemuMigrate.pm)."""
        params = request.params
        source, target, vmid = params["node"], params["target"], int(params["vmid"])
        if target == source:
            raise ParamError({"target": "target is local node."})
        if target not in self.sim.nodes:
            raise die("no such cluster node '%s'\n" % target)  # Cluster.pm check_node_exists
        self._root_only(request, "force", "migration_type", "migration_network")
        record = self._record(vmid, source)
        error = self._lock_error(record)
        if error:
            raise die(error)
        online = bool(params.get("online")) and self._running(record)
        if self._running(record) and not params.get("online"):
            raise die("can't migrate running VM without --online\n")
        mapping = self._storage_map(params.get("targetstorage")) if params.get("targetstorage") else None
        if mapping is not None:
            check_migrate_storage(self.sim, request.userid, vmid, mapping, target)
        for _key, drive in drives(record["config"]):
            storage = self._storage_of(drive.get("file"))
            if storage is None or (mapping is not None and not mapping["identity"]):
                continue
            scfg = self._storage().check_enabled(storage, source)
            self._storage().check_enabled(storage, target)
            vtype = parse_volname(scfg["type"], parse_volume_id(drive["file"])[1]).vtype
            if vtype not in scfg.get("content", []):
                raise die("%s: content type '%s' is not available on storage '%s'\n" % (drive["file"], vtype, storage))
        log, error = self._migrate(record, target, online, mapping, params)
        upid = self.sim.tasks.start(source, "qmigrate", str(vmid), request.userid, exitstatus=error or "OK", log=log)
        if error is None:
            task = self.sim.tasks.find(upid)
            record["lock"] = "migrate"
            record["lock_until"] = self.sim.tasks.end_time(task)
        return upid

    def _migrate(self, record, target, online, mapping, params):  # pylint: disable=too-many-locals,too-many-return-statements,too-many-branches
        """QemuMigrate.pm prepare, phase1 (+ phase2 for a running VM) and phase3_cleanup: scan the local
        volumes, replicate the ones the job to the target replicates, copy the others to the target
        node, free those on the source, move the config, hand the replication over. Returns (task
        log, None or the task's error)."""
        vmid, source = record["vmid"], record["node"]
        log = []
        replication = self.sim.areas.get("ReplicationArea")
        jobid = replication.migration_job(vmid, target) if replication else None
        is_replicated = bool(replication) and replication.is_replicated(vmid)
        # prepare: its errors end the task without the phase's own error line
        if jobid is not None and replication.job_marked_for_removal(jobid):
            return self._aborted(log, "refusing to migrate replicated VM whose replication job is marked for removal\n", phase=False)
        if online and is_replicated and jobid is None:
            if not params.get("force"):
                return self._aborted(log, "Cannot live-migrate replicated VM to node '%s' - not a replication target. "
                                     "Use 'force' to override.\n" % target, phase=False)
            log.append(log_line("WARNING: Node '%s' is not a replication target. Existing replication jobs will fail "
                                "after migration!" % target, "warn"))
        log.append(log_line("starting migration of VM %d to node '%s' (%s)" % (vmid, target, self.sim.node_ip(target))))
        local, problems = self._scan_volumes(record, target, online, mapping, params)
        replicated = set(replication.replicatable_volumes(record, noerr=True)) & set(local) if jobid is not None else set()
        for volid in sorted(local):
            attributes = local[volid]
            if attributes.get("is_cloudinit") or attributes.get("is_tpmstate"):
                log.append(log_line("found generated disk '%s' (in current VM config)" % volid))
            else:
                reference = ("attached" if attributes["is_attached"] else "unused" if attributes["is_unused"]
                             else "pending change" if attributes.get("referenced_in_pending") else None)
                kind = "local, replicated" if volid in replicated else "local"
                log.append(log_line("found %s disk '%s'%s" % (kind, volid, " (%s)" % reference if reference else "")))
        for volid, message in sorted(problems.items()):
            log.append(log_line("can't migrate local disk '%s': %s" % (volid, message.rstrip("\n")), "warn"))
        if problems:
            return self._aborted(log, "Problem found while scanning volumes - can't migrate VM - check log\n")
        for volid in sorted(local):
            if local[volid].get("clone_of"):
                # a die without newline: Perl names the place (QemuMigrate.pm at e6352be6)
                return self._aborted(log, "Problem found while scanning volumes - can't migrate '%s' as it's a clone of '%s'"
                                     " at /usr/share/perl5/PVE/QemuMigrate.pm line 586.\n" % (volid, local[volid]["clone_of"]))
        # online: the attached volumes go over NBD, the replicated ones as the delta since the sync
        live = sorted(volid for volid in replicated if online and local[volid]["is_attached"])
        if jobid is not None:
            error = self._replicate(record, jobid, sorted(replicated), live, local, log)
            if error:
                return self._aborted(log, error)
        volume_map = {}
        copies = sorted(volid for volid in local if volid not in replicated)
        if copies:
            log.append(log_line("copying local disk images"))
        for volid in copies:
            targetsid = local[volid]["targetsid"]
            try:
                volume_map[volid] = self._copy_volume(volid, local[volid], vmid, source, target, targetsid)
            except ApiError as error:
                for new_volid in volume_map.values():
                    self._storage().free(target, new_volid)
                return self._aborted(log, "storage migration for '%s' to storage '%s' failed - %s\n"
                                     % (volid, targetsid, error.message.rstrip("\n")))
            log.append(log_line("volume '%s' is '%s' on the target" % (volid, volume_map[volid])))
        if online:
            log.append(log_line("starting VM %d on remote node '%s'" % (vmid, target)))
            for volid in live:  # the target re-uses the replica (QemuMigrate.pm phase2_start_local_cluster)
                log.append(log_line("volume '%s' is '%s' on the target" % (volid, volid)))
            log.append(log_line("start migrate command to unix:/run/qemu-server/%d.migrate" % vmid))
            log.append(log_line("migration completed"))
        for volid in sorted(volume_map):
            self._storage().free(source, volid)  # the replicated ones stay: the job's replica from now on
        for section in (record["config"], record.get("pending") or {}):
            for key, drive in list(drives(section)):
                if drive.get("file") in volume_map:
                    section[key] = volume_map[drive["file"]] + section[key][len(drive["file"]):]
        if is_replicated:
            log.append(log_line(replication.transfer_state_command(vmid, source, target)))
        self._guests().move(vmid, target)
        if is_replicated:
            replication.guest_migrated(vmid, source, target)
        log.append(log_line("migration finished successfully (duration 00:00:01)"))
        return log, None

    def _replicate(self, record, jobid, replicated, live, local, log):  # pylint: disable=too-many-arguments
        """QemuMigrate.pm handle_replication: dirty bitmaps for the live drives, then the job runs once
        more; None, or the error that aborts the migration."""
        for volid in live:
            drive = local[volid]["drivename"]
            log.append(log_line("%s: start tracking writes using block-dirty-bitmap 'repl_%s'" % (drive, drive)))
        log.append(log_line("replicating disk images"))
        try:
            actual = self.sim.areas["ReplicationArea"].replicate_for_migration(jobid, record, lambda text: log.append(log_line(text)))
        except ApiError as error:
            return error.message
        for volid in replicated:
            if volid not in actual:
                return "expected volume '%s' to get replicated, but it wasn't\n" % volid
        return None

    def _copy_volume(self, volid, attributes, vmid, source, target, targetsid):  # pylint: disable=too-many-arguments
        """Storage.pm storage_migrate: a cloud-init or TPM state volume keeps its name, a disk takes the
        target's next free disk name (the same as the source's on an empty target)."""
        if attributes.get("is_cloudinit") or attributes.get("is_tpmstate"):
            volume = self._storage().volume(source, volid)
            scfg = self._storage().storage_config(parse_volume_id(volid)[0])
            name = parse_volname(scfg["type"], parse_volume_id(volid)[1]).name
            return self._storage().alloc(target, targetsid, vmid, volume["size"], volume["format"], name=name)
        return self._storage().copy(source, volid, targetsid, vmid, target_node=target)

    @staticmethod
    def _aborted(log, error, phase=True):
        """AbstractMigrate.pm migrate: the phase's error (a phase1 error; prepare's is not logged on its
        own), then `migration aborted`."""
        if phase:
            log.append(log_line(error, "err"))
        log.append(log_line("migration aborted (duration 00:00:00): %s" % error, "err"))
        return log, "migration aborted"

    def _scan_volumes(self, record, target, online, mapping, params):  # pylint: disable=too-many-arguments
        """QemuMigrate.pm scan_local_volumes: ({volid: attributes + targetsid}, {volid: problem})."""
        vmid, source = record["vmid"], record["node"]
        local, problems = {}, {}
        for volid, attributes in sorted(self._volumes(record).items()):
            if attributes["cdrom"] and volid in ("none", "cdrom"):
                if volid == "cdrom":
                    problems[volid] = "can't migrate local cdrom drive\n"
                continue
            if volid.startswith("/"):
                if not attributes["shared"]:
                    problems[volid] = "local file/device\n"
                continue
            problem = self._volume_problem(volid, attributes, vmid, source, target, mapping)
            if problem is None:
                continue
            if problem:
                problems[volid] = problem
                continue
            local[volid] = attributes
            if online and attributes["is_attached"] and not attributes["is_cloudinit"] and not params.get("with-local-disks"):
                problems[volid] = "can't live migrate attached local disks without with-local-disks option\n"
        return local, problems

    def _volume_problem(self, volid, attributes, vmid, source, target, mapping):  # pylint: disable=too-many-arguments,too-many-return-statements
        """The test_volid checks of one volume: None for a shared one (nothing to do), "" for a local one to
        copy (its `targetsid`, `size` and `format` set), else the problem's text."""
        try:
            storage, volname = parse_volume_id(volid)
            scfg = self._storage().check_enabled(storage, source)
            targetsid = storage if scfg.get("shared") else self._mapped(mapping, storage)
            parsed = parse_volname(scfg["type"], volname)
            target_scfg = self._storage().check_enabled(targetsid, target)
        except ApiError as error:
            return error.message
        except ValueError as error:
            return str(error)
        if parsed.vtype not in target_scfg.get("content", []):
            return "%s: content type '%s' is not available on storage '%s'\n" % (volid, parsed.vtype, targetsid)
        if scfg.get("shared"):
            return None
        volume = self._storage().volume(source, volid)
        if volume is None:
            return "unable to determine size for volume '%s'\n" % volid
        attributes.update(targetsid=targetsid, size=volume["size"], format=volume["format"])
        if attributes["cdrom"] and not attributes["is_cloudinit"]:
            return "local cdrom image\n"
        if attributes["cdrom"]:
            return ""
        if volume.get("vmid") != vmid:
            return "owned by other VM (owner = VM %s)\n" % volume.get("vmid")
        if volume.get("used_by_base"):
            return "referenced by linked clone(s)\n"
        attributes["clone_of"] = parsed.basename
        return ""
