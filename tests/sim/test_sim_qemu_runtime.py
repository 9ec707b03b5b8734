"""The qemu runtime (pvesim/areas/qemu_runtime.py): power tasks and status (qemu-server src/PVE/API2/Qemu.pm,
src/PVE/QemuServer.pm), the guest agent (src/PVE/API2/Qemu/Agent.pm, src/PVE/QemuServer/Agent.pm) and
migration (Qemu.pm migrate_vm*, src/PVE/QemuMigrate.pm, pve-guest-common src/PVE/AbstractMigrate.pm)."""

import copy
import time

import pytest

from pvesim.testing import ok, plain_error

pytestmark = pytest.mark.timeout(60)

GIB = 1024 ** 3
MAC = "BC:24:11:0A:0B:0C"


@pytest.fixture
def api(sim, api_session):
    sim.areas["QemuRuntimeArea"].agent_delay = 0
    return api_session(sim)


def place(sim, vmid, node="pve1", status="stopped", **config):
    """A VM record as the guests area keeps it; a running one booted with this config."""
    guests = sim.areas["GuestsArea"]
    with sim.state.lock:
        guests.add(vmid, node, name=config.pop("name", None), status=status)
        record = guests.record(vmid)
        record["config"].update(config)
        if status == "running":
            record["booted"] = {"at": time.time(), "config": copy.deepcopy(record["config"])}
    return record


def disk(sim, vmid, node="pve1", storage="local-zfs", size=4 * GIB):
    with sim.state.lock:
        return sim.areas["StorageArea"].alloc(node, storage, vmid, size)


def wait_task(api, node, upid, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = api.data("GET", "/nodes/%s/tasks/%s/status" % (node, upid))
        if status["status"] == "stopped":
            return status
        time.sleep(0.05)
    raise AssertionError("task %s still running after %ss" % (upid, timeout))


def task_log(api, node, upid):
    return [line["t"] for line in api.data("GET", "/nodes/%s/tasks/%s/log" % (node, upid), params={"limit": 0})]


def run(api, path, node="pve1", **params):
    """POST a task-starting call, wait for the task; (upid, exitstatus)."""
    upid = ok(api, "POST", path, **params)
    return upid, wait_task(api, node, upid)["exitstatus"]


# -- status ------------------------------------------------------------------------------------
def test_status_index_and_current_of_a_stopped_vm_vmstatus(sim, api):
    place(sim, 100, name="web1", memory="4096", cores=2, sockets=2, tags="demo")
    assert [entry["subdir"] for entry in ok(api, "GET", "/nodes/pve1/qemu/100/status")] == \
        ["current", "start", "stop", "reset", "shutdown", "suspend", "reboot"]
    status = ok(api, "GET", "/nodes/pve1/qemu/100/status/current")
    assert {key: status[key] for key in ("vmid", "name", "status", "qmpstatus", "cpus", "maxmem", "uptime", "tags", "ha")} == \
        {"vmid": 100, "name": "web1", "status": "stopped", "qmpstatus": "stopped", "cpus": 4, "maxmem": 4096 * 1024 ** 2,
         "uptime": 0, "tags": "demo", "ha": {"managed": 0}}
    assert "pid" not in status and "agent" not in status and "running-qemu" not in status and "template" not in status


def test_status_of_a_running_vm_with_agent_lock_and_template_flags(sim, api):
    place(sim, 100, status="running", agent="enabled=1", machine="q35")
    status = ok(api, "GET", "/nodes/pve1/qemu/100/status/current")
    assert status["status"] == "running" and status["qmpstatus"] == "running" and status["agent"] == 1
    assert isinstance(status["pid"], int) and status["running-qemu"] == "10.1.2" and status["running-machine"] == "pc-q35-10.1+pve0"
    with sim.state.lock:
        sim.areas["GuestsArea"].record(100).update(lock="backup")
    assert ok(api, "GET", "/nodes/pve1/qemu/100/status/current")["lock"] == "backup"
    place(sim, 101, template=1)
    assert ok(api, "GET", "/nodes/pve1/qemu/101/status/current")["template"] == 1


def test_status_on_pve84_names_its_qemu(sim84, api_session):
    api = api_session(sim84)
    place(sim84, 100, status="running")
    status = ok(api, "GET", "/nodes/pve1/qemu/100/status/current")
    assert status["running-qemu"] == "9.2.0" and status["running-machine"] == "pc-i440fx-9.2+pve0" and "memhost" not in status


def test_a_vm_on_another_node_has_no_config_file_there_abstractconfig_load_config(sim, api):
    place(sim, 100, node="pve2")
    plain_error(api.api("GET", "/nodes/pve1/qemu/100/status/current"),
                "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist\n")
    plain_error(api.api("GET", "/nodes/pve1/qemu/100/status"), "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist\n")


# -- power ---------------------------------------------------------------------------------------
def test_start_applies_pending_and_boots_then_refuses_a_running_vm(sim, api):
    record = place(sim, 100, memory="2048")
    with sim.state.lock:
        record["pending"] = {"memory": "4096"}
    upid, exitstatus = run(api, "/nodes/pve1/qemu/100/status/start")
    assert exitstatus == "OK" and ":qmstart:100:root@pam!homecloud:" in upid
    assert record["status"] == "running" and record["config"]["memory"] == "4096" and record["pending"] == {}
    assert record["booted"]["config"]["memory"] == "4096"
    _upid, exitstatus = run(api, "/nodes/pve1/qemu/100/status/start")
    assert exitstatus == "VM 100 already running"


def test_start_fails_in_the_worker_for_a_template_a_lock_and_a_missing_config(sim, api):
    place(sim, 100, template=1)
    assert run(api, "/nodes/pve1/qemu/100/status/start")[1] == "you can't start a vm if it's a template"
    record = place(sim, 101)
    with sim.state.lock:
        record["lock"] = "backup"
    upid, exitstatus = run(api, "/nodes/pve1/qemu/101/status/start")
    assert exitstatus == "VM is locked (backup)" and task_log(api, "pve1", upid)[-1] == "TASK ERROR: VM is locked (backup)"
    assert record["status"] == "stopped"
    assert run(api, "/nodes/pve1/qemu/102/status/start")[1] == "Configuration file 'nodes/pve1/qemu-server/102.conf' does not exist"


def test_skiplock_is_root_only_a_token_is_not_root(sim, api, api_session):
    record = place(sim, 100)
    with sim.state.lock:
        record["lock"] = "backup"
    answer = api.api("POST", "/nodes/pve1/qemu/100/status/start", data={"skiplock": 1})
    assert answer.status_code == 400 and answer.json()["errors"] == {"skiplock": "Only root may use this option."}
    root = api_session(sim, auth="ticket")
    assert run(root, "/nodes/pve1/qemu/100/status/start", skiplock=1)[1] == "OK"
    assert record["status"] == "running"


def test_stop_and_shutdown_power_off_and_a_stopped_vm_is_done_at_once(sim, api):
    record = place(sim, 100, status="running")
    assert run(api, "/nodes/pve1/qemu/100/status/shutdown", timeout=30, forceStop=1)[1] == "OK"
    assert record["status"] == "stopped" and record["booted"] is None
    assert run(api, "/nodes/pve1/qemu/100/status/stop")[1] == "OK"
    place(sim, 101, status="running")
    upid, exitstatus = run(api, "/nodes/pve1/qemu/101/status/stop")
    assert exitstatus == "OK" and ":qmstop:101:" in upid and sim.areas["GuestsArea"].record(101)["status"] == "stopped"


def test_stop_of_a_locked_vm_fails_in_the_worker(sim, api):
    record = place(sim, 100, status="running")
    with sim.state.lock:
        record["lock"] = "migrate"
    assert run(api, "/nodes/pve1/qemu/100/status/stop")[1] == "VM is locked (migrate)"
    assert record["status"] == "running"


def test_stop_overrules_a_running_shutdown(sim, api):
    place(sim, 100, status="running")
    with sim.state.lock:
        shutdown = sim.tasks.start("pve1", "qmshutdown", "100", "root@pam", duration=30)
    upid, exitstatus = run(api, "/nodes/pve1/qemu/100/status/stop", **{"overrule-shutdown": 1})
    assert exitstatus == "OK" and task_log(api, "pve1", upid)[0] == "overruled qmshutdown tasks: %s" % shutdown
    assert wait_task(api, "pve1", shutdown)["exitstatus"] == "received interrupt"


def test_reboot_applies_pending_and_needs_a_running_vm(sim, api):
    record = place(sim, 100, status="running", cores=1)
    with sim.state.lock:
        record["pending"] = {"cores": "4"}
        record["booted"]["at"] -= 100
    before = record["booted"]["at"]
    assert run(api, "/nodes/pve1/qemu/100/status/reboot", timeout=10)[1] == "OK"
    assert record["config"]["cores"] == "4" and record["booted"]["config"]["cores"] == "4" and record["booted"]["at"] > before
    place(sim, 101)
    plain_error(api.api("POST", "/nodes/pve1/qemu/101/status/reboot"), "VM 101 not running\n")
    plain_error(api.api("POST", "/nodes/pve1/qemu/101/status/reset"), "VM 101 not running\n")


def test_reset_reboots_the_guest_without_applying_pending(sim, api):
    record = place(sim, 100, status="running", cores=1)
    with sim.state.lock:
        record["pending"] = {"cores": "4"}
        record["booted"]["at"] -= 100
    assert run(api, "/nodes/pve1/qemu/100/status/reset")[1] == "OK"
    assert record["config"]["cores"] == 1 and record["pending"] == {"cores": "4"} and time.time() - record["booted"]["at"] < 10


def test_suspend_pauses_resume_continues_and_a_paused_vm_refuses_shutdown(sim, api):
    place(sim, 100, status="running", agent="1")
    upid, exitstatus = run(api, "/nodes/pve1/qemu/100/status/suspend")
    assert exitstatus == "OK" and ":qmpause:100:" in upid
    assert ok(api, "GET", "/nodes/pve1/qemu/100/status/current")["qmpstatus"] == "paused"
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/agent/ping"), "QEMU guest agent is not running\n")
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/status/shutdown"), "VM is paused - cannot shutdown\n")
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/status/reboot"), "VM is paused - cannot shutdown\n")
    upid, exitstatus = run(api, "/nodes/pve1/qemu/100/status/resume")
    assert exitstatus == "OK" and ":qmresume:100:" in upid
    assert ok(api, "GET", "/nodes/pve1/qemu/100/status/current")["qmpstatus"] == "running"
    assert api.api("POST", "/nodes/pve1/qemu/100/status/suspend", data={"todisk": 1}).status_code == 501


def test_resume_of_a_running_template_fails_in_the_worker(sim, api):
    place(sim, 100, status="running", template=1)
    assert run(api, "/nodes/pve1/qemu/100/status/resume")[1] == "VM 100 is a template and cannot be resumed!"


# -- guest agent -------------------------------------------------------------------------------------
def test_agent_errors_of_assert_agent_available(sim, api):
    place(sim, 100, status="running")
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/agent/ping"), "No QEMU guest agent configured\n")
    place(sim, 101, agent="1")
    plain_error(api.api("POST", "/nodes/pve1/qemu/101/agent/ping"), "VM 101 is not running\n")
    place(sim, 102, status="running", agent="0")
    plain_error(api.api("POST", "/nodes/pve1/qemu/102/agent/ping"), "QEMU guest agent is not running\n")
    plain_error(api.api("POST", "/nodes/pve2/qemu/102/agent/ping"), "Configuration file 'nodes/pve2/qemu-server/102.conf' does not exist\n")


def test_agent_answers_only_after_the_agent_delay(sim, api):
    place(sim, 100, status="running", agent="1")
    assert api.sim("PUT", "qemu/agent-delay", json={"seconds": 30}).json()["data"] == {"seconds": 30}
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/agent/ping"), "QEMU guest agent is not running\n")
    api.sim("PUT", "qemu/agent-delay", json={"seconds": 0})
    assert ok(api, "POST", "/nodes/pve1/qemu/100/agent/ping") == {"result": {}}


def test_agent_after_start_waits_for_the_boot(sim, api):
    place(sim, 100, agent="1")
    sim.areas["QemuRuntimeArea"].agent_delay = 0.3
    run(api, "/nodes/pve1/qemu/100/status/start")
    deadline = time.time() + 5
    while api.api("POST", "/nodes/pve1/qemu/100/agent/ping").status_code != 200:
        assert time.time() < deadline
        time.sleep(0.05)
    assert ok(api, "GET", "/nodes/pve1/qemu/100/agent/get-host-name") == {"result": {"host-name": "vm-100"}}


def test_agent_info_osinfo_host_name_and_index(sim, api):
    place(sim, 100, status="running", agent="1,fstrim_cloned_disks=1", name="web1.lab.example")
    info = ok(api, "GET", "/nodes/pve1/qemu/100/agent/info")["result"]
    assert "guest-network-get-interfaces" in [command["name"] for command in info["supported_commands"]]
    assert ok(api, "GET", "/nodes/pve1/qemu/100/agent/get-osinfo")["result"]["id"] == "debian"
    assert ok(api, "GET", "/nodes/pve1/qemu/100/agent/get-host-name") == {"result": {"host-name": "web1"}}
    names = [entry["name"] for entry in ok(api, "GET", "/nodes/pve1/qemu/100/agent")]
    assert names == sorted(names) and {"exec", "exec-status", "ping", "network-get-interfaces"} <= set(names)


def test_network_interfaces_from_the_booted_config_qga_schema(sim, api):
    record = place(sim, 100, status="running", agent="1", net0="virtio=%s,bridge=vmbr0" % MAC,
                   ipconfig0="ip=192.0.2.10/24,gw=192.0.2.1,ip6=2001:db8::10/64",
                   net1="virtio=BC:24:11:00:00:01,bridge=vmbr1", ipconfig1="ip=198.51.100.7/25")
    with sim.state.lock:
        record["config"]["ipconfig0"] = "ip=192.0.2.99/24"  # edited after boot: not what the guest runs
    interfaces = ok(api, "GET", "/nodes/pve1/qemu/100/agent/network-get-interfaces")["result"]
    assert [(nic["name"], nic["hardware-address"]) for nic in interfaces] == \
        [("lo", "00:00:00:00:00:00"), ("ens18", MAC.lower()), ("ens19", "bc:24:11:00:00:01")]
    assert interfaces[1]["ip-addresses"] == [
        {"ip-address-type": "ipv4", "ip-address": "192.0.2.10", "prefix": 24},
        {"ip-address-type": "ipv6", "ip-address": "2001:db8::10", "prefix": 64},
        {"ip-address-type": "ipv6", "ip-address": "fe80::be24:11ff:fe0a:b0c", "prefix": 64}]
    assert interfaces[2]["ip-addresses"][0]["ip-address"] == "198.51.100.7"
    assert set(interfaces[0]["statistics"]) == {
        "rx-bytes", "rx-dropped", "rx-errs", "rx-packets", "tx-bytes", "tx-dropped", "tx-errs", "tx-packets"}


def test_dhcp_address_from_the_sdn_vnet_range(sim, api):
    ok(api, "POST", "/cluster/sdn/zones", zone="tenants", type="simple", dhcp="dnsmasq", ipam="pve")
    ok(api, "POST", "/cluster/sdn/vnets", vnet="t1", zone="tenants")
    ok(api, "POST", "/cluster/sdn/vnets/t1/subnets", subnet="10.1.0.0/24", type="subnet", gateway="10.1.0.1",
       **{"dhcp-range": "start-address=10.1.0.100,end-address=10.1.0.200"})
    upid = ok(api, "PUT", "/cluster/sdn")
    wait_task(api, "pve1", upid)
    place(sim, 100, status="running", agent="1", net0="virtio=%s,bridge=t1" % MAC, ipconfig0="ip=dhcp")
    place(sim, 101, status="running", agent="1", net0="virtio=BC:24:11:00:00:02,bridge=vmbr0")
    nic = ok(api, "GET", "/nodes/pve1/qemu/100/agent/network-get-interfaces")["result"][1]
    assert nic["ip-addresses"][0] == {"ip-address-type": "ipv4", "ip-address": "10.1.0.100", "prefix": 24}
    no_range = ok(api, "GET", "/nodes/pve1/qemu/101/agent/network-get-interfaces")["result"][1]
    assert [entry["ip-address"] for entry in no_range["ip-addresses"]] == ["fe80::be24:11ff:fe00:2"]


def test_exec_and_exec_status_simulated_commands(sim, api):
    place(sim, 100, status="running", agent="1")
    results = {}
    for command in ("true", "/bin/false", "hostname"):
        pid = ok(api, "POST", "/nodes/pve1/qemu/100/agent/exec", command=[command])["pid"]
        results[command] = ok(api, "GET", "/nodes/pve1/qemu/100/agent/exec-status", pid=pid)
    assert results["true"] == {"exited": 1, "exitcode": 0}
    assert results["/bin/false"] == {"exited": 1, "exitcode": 1}
    assert results["hostname"] == {"exited": 1, "exitcode": 127, "err-data": "hostname: command not found\n"}
    plain_error(api.api("GET", "/nodes/pve1/qemu/100/agent/exec-status", params={"pid": 4242}),
                "VM 100 qga command 'guest-exec-status' failed - Invalid parameter 'pid'\n")


def test_exec_status_error_on_pve84_qmpclient(sim84, api_session):
    api = api_session(sim84)
    sim84.areas["QemuRuntimeArea"].agent_delay = 0
    place(sim84, 100, status="running", agent="1")
    plain_error(api.api("GET", "/nodes/pve1/qemu/100/agent/exec-status", params={"pid": 4242}),
                "VM 100 qmp command 'guest-exec-status' failed - Invalid parameter 'pid'\n")


# -- migration ---------------------------------------------------------------------------------------
def test_migrate_precondition_lists_local_disks_and_nodes(sim, api):
    volid = disk(sim, 100)
    place(sim, 100, status="running", scsi0="%s,size=4G" % volid, ide2="none,media=cdrom")
    answer = ok(api, "GET", "/nodes/pve1/qemu/100/migrate")
    assert answer["running"] == 1 and answer["allowed_nodes"] == ["pve2", "pve3"] and answer["not_allowed_nodes"] == {}
    assert [(entry["volid"], entry["size"], entry["is_attached"], entry["drivename"]) for entry in answer["local_disks"]] == \
        [(volid, 4 * GIB, 1, "scsi0")]
    assert answer["local_resources"] == [] and answer["has-dbus-vmstate"] == 1
    with sim.state.lock:
        sim.areas["StorageArea"].state["config"]["local-zfs"]["nodes"] = ["pve1", "pve2"]
    answer = ok(api, "GET", "/nodes/pve1/qemu/100/migrate")
    assert answer["allowed_nodes"] == ["pve2"] and answer["not_allowed_nodes"] == {"pve3": {"unavailable_storages": ["local-zfs"]}}


def test_migrate_refusals_before_the_worker(sim, api):
    place(sim, 100, status="running")
    assert api.api("POST", "/nodes/pve1/qemu/100/migrate", data={"target": "pve1"}).json()["errors"] == {"target": "target is local node."}
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/migrate", data={"target": "pve9"}), "no such cluster node 'pve9'\n")
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/migrate", data={"target": "pve2"}), "can't migrate running VM without --online\n")
    with sim.state.lock:
        sim.areas["GuestsArea"].record(100)["lock"] = "backup"
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/migrate", data={"target": "pve2", "online": 1}), "VM is locked (backup)\n")
    plain_error(api.api("GET", "/nodes/pve1/qemu/100/migrate"), "VM is locked (backup)\n")
    answer = api.api("POST", "/nodes/pve1/qemu/100/migrate", data={"target": "pve2", "force": 1})
    assert answer.json()["errors"] == {"force": "Only root may use this option."}


def test_offline_migration_moves_local_disks_and_the_vm(sim, api):
    volid = disk(sim, 100)
    record = place(sim, 100, scsi0="%s,size=4G" % volid)
    upid = ok(api, "POST", "/nodes/pve1/qemu/100/migrate", target="pve2")
    assert ":qmigrate:100:" in upid and upid.startswith("UPID:pve1:")
    assert ok(api, "GET", "/nodes/pve2/qemu/100/status/current")["lock"] == "migrate"
    assert wait_task(api, "pve1", upid)["exitstatus"] == "OK"
    assert "lock" not in ok(api, "GET", "/nodes/pve2/qemu/100/status/current")
    storage = sim.areas["StorageArea"]
    assert record["node"] == "pve2" and record["config"]["scsi0"] == "local-zfs:vm-100-disk-0,size=4G"
    assert storage.volume("pve2", "local-zfs:vm-100-disk-0")["size"] == 4 * GIB and storage.volume("pve1", volid) is None
    lines = [line.split(" ", 2)[2] for line in task_log(api, "pve1", upid)[:-1]]
    assert lines == ["starting migration of VM 100 to node 'pve2' (10.10.10.12)",
                     "found local disk 'local-zfs:vm-100-disk-0' (attached)", "copying local disk images",
                     "volume 'local-zfs:vm-100-disk-0' is 'local-zfs:vm-100-disk-0' on the target",
                     "migration finished successfully (duration 00:00:01)"]
    plain_error(api.api("GET", "/nodes/pve1/qemu/100/status/current"), "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist\n")


def test_live_migration_needs_with_local_disks(sim, api):
    volid = disk(sim, 100)
    record = place(sim, 100, status="running", scsi0="%s,size=4G" % volid)
    upid = ok(api, "POST", "/nodes/pve1/qemu/100/migrate", target="pve3", online=1)
    assert wait_task(api, "pve1", upid)["exitstatus"] == "migration aborted"
    log = task_log(api, "pve1", upid)
    assert log[-3].endswith(" ERROR: Problem found while scanning volumes - can't migrate VM - check log")
    assert log[-4].endswith("can't migrate local disk '%s': can't live migrate attached local disks without with-local-disks option" % volid)
    assert log[-2].endswith(" ERROR: migration aborted (duration 00:00:00): Problem found while scanning volumes - can't migrate VM - check log")
    assert record["node"] == "pve1" and record["lock"] is None
    upid = ok(api, "POST", "/nodes/pve1/qemu/100/migrate", target="pve3", online=1, **{"with-local-disks": 1})
    assert wait_task(api, "pve1", upid)["exitstatus"] == "OK"
    assert record["node"] == "pve3" and record["status"] == "running"
    assert ok(api, "GET", "/nodes/pve3/qemu/100/status/current")["qmpstatus"] == "running"


def test_a_linked_clone_on_local_storage_cannot_migrate(sim, api):
    storage = sim.areas["StorageArea"]
    with sim.state.lock:
        base = storage.to_base("pve1", storage.alloc("pve1", "local-zfs", 100, GIB))
        clone = storage.linked_clone("pve1", base, 101)
    place(sim, 101, scsi0="%s,size=1G" % clone)
    upid = ok(api, "POST", "/nodes/pve1/qemu/101/migrate", target="pve2")
    assert wait_task(api, "pve1", upid)["exitstatus"] == "migration aborted"
    assert task_log(api, "pve1", upid)[-2].endswith(
        "Problem found while scanning volumes - can't migrate '%s' as it's a clone of 'base-100-disk-0'"
        " at /usr/share/perl5/PVE/QemuMigrate.pm line 586." % clone)


def test_slaac_address_from_the_vnet_ipv6_prefix(sim, api):
    ok(api, "POST", "/cluster/sdn/zones", zone="lab", type="simple")
    ok(api, "POST", "/cluster/sdn/vnets", vnet="v6net", zone="lab")
    ok(api, "POST", "/cluster/sdn/vnets/v6net/subnets", subnet="fd00:1::/64", type="subnet")
    wait_task(api, "pve1", ok(api, "PUT", "/cluster/sdn"))
    place(sim, 100, status="running", agent="1", net0="virtio=%s,bridge=v6net,link_down=1" % MAC, ipconfig0="ip6=auto")
    nic = ok(api, "GET", "/nodes/pve1/qemu/100/agent/network-get-interfaces")["result"][1]
    assert [entry["ip-address"] for entry in nic["ip-addresses"]] == ["fd00:1::be24:11ff:fe0a:b0c", "fe80::be24:11ff:fe0a:b0c"]


def test_migrate_refuses_a_storage_the_target_lacks_storage_check_enabled(sim, api):
    volid = disk(sim, 100)
    place(sim, 100, scsi0="%s,size=4G" % volid)
    with sim.state.lock:
        sim.areas["StorageArea"].state["config"]["local-zfs"]["nodes"] = ["pve1", "pve2"]
    plain_error(api.api("POST", "/nodes/pve1/qemu/100/migrate", data={"target": "pve3"}),
                "storage 'local-zfs' is not available on node 'pve3'\n")


def test_migrate_with_targetstorage_maps_the_disks(sim, api):
    ok(api, "POST", "/storage", storage="tank", type="zfspool", pool="tank/vm", content="images")
    volid = disk(sim, 100)
    record = place(sim, 100, scsi0="%s,size=4G" % volid)
    upid = ok(api, "POST", "/nodes/pve1/qemu/100/migrate", target="pve2", targetstorage="local-zfs:tank")
    assert wait_task(api, "pve1", upid)["exitstatus"] == "OK"
    assert record["config"]["scsi0"] == "tank:vm-100-disk-0,size=4G"
    assert sim.areas["StorageArea"].volume("pve2", "tank:vm-100-disk-0")["size"] == 4 * GIB


def test_another_vms_disk_aborts_the_migration(sim, api):
    foreign = disk(sim, 200)
    place(sim, 100, scsi0="%s,size=4G" % foreign)
    upid = ok(api, "POST", "/nodes/pve1/qemu/100/migrate", target="pve2")
    assert wait_task(api, "pve1", upid)["exitstatus"] == "migration aborted"
    assert any(line.endswith("can't migrate local disk '%s': owned by other VM (owner = VM 200)" % foreign) for line in task_log(api, "pve1", upid))


def test_migrate_precondition_on_pve84_has_no_dbus_vmstate(sim84, api_session):
    api = api_session(sim84)
    place(sim84, 100)
    answer = ok(api, "GET", "/nodes/pve1/qemu/100/migrate")
    assert answer["running"] == 0 and answer["allowed_nodes"] == ["pve2", "pve3"] and "has-dbus-vmstate" not in answer
