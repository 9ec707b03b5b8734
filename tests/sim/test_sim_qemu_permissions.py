"""The privilege checks qemu-server makes inside its handlers (pvesim/qemu_permissions.py).

Facts: qemu-server src/PVE/API2/Qemu.pm (e6352be6; 5ccd363e for PVE 8.4) $check_vm_modify_config_perm,
$check_storage_access, $check_storage_access_clone, $check_storage_access_migrate, create_vm, update_vm_api,
clone_vm, resize_vm, migrate_vm; QemuServer.pm check_bridge_access; pve-guest-common GuestHelpers.pm
check_vnet_access. The 403 text is RPCEnvironment.pm check / check_any's (pve-access-control).

The caller is a privilege-separated token whose user is Administrator on `/`: the token's own role on `/`
decides. Each rule: the role lacks exactly one privilege -> PVE's 403 naming path and privilege and nothing
changed; with the privilege the call succeeds.
"""

import time

import pytest

from pvesim.testing import assert_pve_error, ok, plain_error

pytestmark = pytest.mark.timeout(90)
USER = "tester@pve"
TOKEN = USER + "!ci"
ROLE = "QemuProbe"
TASK_WAIT = 10
VM = "/vms/100"
LOCAL_ZFS = "/storage/local-zfs"
VMBR0 = "/sdn/zones/localnetwork/vmbr0"


def set_acl(root, **params):
    answer = root.api("PUT", "/access/acl", data=params)
    assert answer.status_code == 200, answer.text


def denied(response, path, privileges):
    """RPCEnvironment.pm check / check_any: 403 `Permission check failed (<path>, <privs joined by |>)`."""
    text = "Permission check failed (%s, %s)" % (path, privileges)
    assert_pve_error(response, 403, text, message=text + "\n")


def wait_task(api, upid):
    """The task's exit status once it stopped (bounded wait)."""
    node = upid.split(":")[1]
    deadline = time.monotonic() + TASK_WAIT
    while time.monotonic() < deadline:
        status = ok(api, "GET", "/nodes/%s/tasks/%s/status" % (node, upid))
        if status["status"] == "stopped":
            return status["exitstatus"]
        time.sleep(0.1)
    raise AssertionError("task %s still running" % upid)


class RestrictedCaller:
    """Root's session and the restricted token; `grant` gives the token's role exactly these privileges on `/`."""

    def __init__(self, sim, api_session):
        self.sim = sim
        self.root = api_session(sim)
        ok(self.root, "POST", "/access/users", userid=USER, password="password1")
        set_acl(self.root, path="/", users=USER, roles="Administrator")
        ok(self.root, "POST", "/access/roles", roleid=ROLE, privs="VM.Audit")
        token = ok(self.root, "POST", "/access/users/%s/token/ci" % USER, privsep=1)
        set_acl(self.root, path="/", tokens=TOKEN, roles=ROLE)
        self.token = api_session(sim, auth=None)
        self.token.headers["Authorization"] = "PVEAPIToken=%s=%s" % (token["full-tokenid"], token["value"])

    def grant(self, privileges):
        ok(self.root, "PUT", "/access/roles/" + ROLE, privs=",".join(sorted(privileges)))

    def create_vm(self, vmid=100, **params):
        """A VM created by root (scsi0 on local-zfs, net0 on vmbr0)."""
        params.setdefault("scsi0", "local-zfs:4")
        params.setdefault("net0", "virtio,bridge=vmbr0")
        assert wait_task(self.root, ok(self.root, "POST", "/nodes/pve1/qemu", vmid=vmid, **params)) == "OK"

    def config(self, vmid=100):
        return ok(self.root, "GET", "/nodes/pve1/qemu/%d/config" % vmid)

    def vmids(self):
        return [entry["vmid"] for entry in ok(self.root, "GET", "/nodes/pve1/qemu")]


@pytest.fixture(name="tester")
def tester_fixture(sim, api_session):
    return RestrictedCaller(sim, api_session)


# -- create_vm -----------------------------------------------------------------------------------------
CREATE = {"vmid": 100, "name": "web1", "memory": 1024, "cores": 2, "scsi0": "local-zfs:4", "net0": "virtio,bridge=vmbr0",
          "scsihw": "virtio-scsi-single", "boot": "order=scsi0"}
CREATE_PRIVILEGES = {
    # privilege: the path PVE names when it is missing
    "Datastore.AllocateSpace": LOCAL_ZFS,   # $check_storage_access: a new volume
    "VM.Config.Options": VM,                # name
    "VM.Config.Memory": VM,                 # memory
    "VM.Config.CPU": VM,                    # cores
    "VM.Config.Network": VM,                # net0
    "VM.Config.HWType": VM,                 # scsihw
    "VM.Config.Disk": VM,                   # boot ($diskoptions)
    "SDN.Use": VMBR0,                       # check_bridge_access: a plain bridge is in zone localnetwork
}


@pytest.mark.parametrize("missing", sorted(CREATE_PRIVILEGES))
def test_create_needs_the_privilege_of_every_option(tester, missing):
    tester.grant(set(CREATE_PRIVILEGES) - {missing} | {"VM.Allocate"})
    denied(tester.token.api("POST", "/nodes/pve1/qemu", data=CREATE), CREATE_PRIVILEGES[missing], missing)
    assert tester.vmids() == []  # answered before the qmcreate task: nothing created
    assert ok(tester.root, "GET", "/nodes/pve1/storage/local-zfs/content") == []


def test_create_succeeds_with_exactly_those_privileges(tester):
    tester.grant(set(CREATE_PRIVILEGES) | {"VM.Allocate"})
    assert wait_task(tester.root, ok(tester.token, "POST", "/nodes/pve1/qemu", **CREATE)) == "OK"
    assert tester.config()["name"] == "web1"


def test_create_without_vm_allocate_is_a_bare_403(tester):
    tester.grant(CREATE_PRIVILEGES)
    response = tester.token.api("POST", "/nodes/pve1/qemu", data=CREATE)
    assert_pve_error(response, 403, "Permission check failed", message="Permission check failed\n")
    # the check comes before create_and_lock_config: an id in use gets the same 403
    tester.create_vm()
    assert_pve_error(tester.token.api("POST", "/nodes/pve1/qemu", data=CREATE), 403, "Permission check failed",
                     message="Permission check failed\n")


def test_create_with_vm_allocate_on_the_pool(tester):
    root = tester.root
    ok(root, "POST", "/pools", poolid="lab")
    ok(root, "POST", "/access/roles", roleid="Allocator", privs="VM.Allocate")
    set_acl(root, path="/pool/lab", tokens=TOKEN, roles="Allocator")
    tester.grant(CREATE_PRIVILEGES)
    assert wait_task(root, ok(tester.token, "POST", "/nodes/pve1/qemu", pool="lab", **CREATE)) == "OK"
    assert ok(root, "GET", "/pools/lab")["members"][0]["vmid"] == 100


def test_create_storage_parameter_needs_allocate_space_there(tester):
    tester.grant({"VM.Allocate", "VM.Config.Disk"})
    denied(tester.token.api("POST", "/nodes/pve1/qemu", data={"vmid": 100, "storage": "local", "scsi0": "local-zfs:1"}),
           "/storage/local", "Datastore.AllocateSpace")


def test_create_cloudinit_options_need_cloudinit_or_network(tester):
    params = {"vmid": 100, "ciuser": "admin", "ipconfig0": "ip=dhcp"}
    tester.grant({"VM.Allocate", "VM.Config.Options"})
    denied(tester.token.api("POST", "/nodes/pve1/qemu", data=params), VM, "VM.Config.Cloudinit|VM.Config.Network")
    tester.grant({"VM.Allocate", "VM.Config.Cloudinit"})
    assert wait_task(tester.root, ok(tester.token, "POST", "/nodes/pve1/qemu", **params)) == "OK"
    assert tester.config()["ciuser"] == "admin"


def test_create_options_only_root_may_set(tester):
    tester.grant({"VM.Allocate", "VM.Config.Options", "VM.Config.HWType", "VM.Config.Disk"})
    plain_error(tester.token.api("POST", "/nodes/pve1/qemu", data={"vmid": 100, "args": "-no-reboot"}),
                "only root can set 'args' config\n")
    plain_error(tester.token.api("POST", "/nodes/pve1/qemu", data={"vmid": 100, "serial0": "/dev/ttyS0"}),
                "only root can set 'serial0' config for real devices\n")
    assert tester.vmids() == []
    # a socket serial port is VM.Config.HWType's
    assert wait_task(tester.root, ok(tester.token, "POST", "/nodes/pve1/qemu", vmid=100, serial0="socket")) == "OK"


def test_create_start_needs_power_management_on_9_only(tester, sim84, api_session):
    tester.grant({"VM.Allocate", "VM.Config.Options"})
    denied(tester.token.api("POST", "/nodes/pve1/qemu", data={"vmid": 100, "name": "a", "start": 1}), VM, "VM.PowerMgmt")
    tester.grant({"VM.Allocate", "VM.Config.Options", "VM.PowerMgmt"})
    assert wait_task(tester.root, ok(tester.token, "POST", "/nodes/pve1/qemu", vmid=100, name="a", start=1)) == "OK"
    # qemu-server 8.4 starts from the create worker without that check
    old = RestrictedCaller(sim84, api_session)
    old.grant({"VM.Allocate", "VM.Config.Options"})
    assert wait_task(old.root, ok(old.token, "POST", "/nodes/pve1/qemu", vmid=100, name="a", start=1)) == "OK"


def test_import_from_another_vms_disk_needs_vm_clone_on_it(tester):
    tester.create_vm(vmid=9000)
    source = "local-zfs:vm-9000-disk-0"
    params = {"vmid": 100, "scsi0": "local-zfs:0,import-from=%s" % source}
    tester.grant({"VM.Allocate", "Datastore.AllocateSpace"})
    denied(tester.token.api("POST", "/nodes/pve1/qemu", data=params), "/vms/9000", "VM.Clone")
    tester.grant({"VM.Allocate", "Datastore.AllocateSpace", "VM.Clone"})
    assert wait_task(tester.root, ok(tester.token, "POST", "/nodes/pve1/qemu", **params)) == "OK"
    assert tester.config()["scsi0"].startswith("local-zfs:vm-100-disk-0")


# -- update_vm_api ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("option, value, privilege", [
    ("name", "web2", "VM.Config.Options"),
    ("bios", "ovmf", "VM.Config.Options"),
    ("onboot", 1, "VM.Config.Options"),
    ("memory", 2048, "VM.Config.Memory"),
    ("balloon", 512, "VM.Config.Memory"),
    ("sockets", 2, "VM.Config.CPU"),
    ("numa0", "cpus=0,memory=512", "VM.Config.CPU"),
    ("vga", "qxl", "VM.Config.HWType"),
    ("machine", "q35", "VM.Config.HWType"),
    ("boot", "order=scsi0", "VM.Config.Disk"),
    ("freeze", 1, "VM.PowerMgmt"),
])
def test_update_option_needs_its_privilege(tester, option, value, privilege):
    tester.create_vm()
    before = tester.config()
    tester.grant({"VM.Config.CDROM"})  # passes the schema's any-of check, grants nothing here
    for method in ("PUT", "POST"):
        denied(tester.token.api(method, "/nodes/pve1/qemu/100/config", data={option: value}), VM, privilege)
    assert tester.config() == before
    tester.grant({privilege, "VM.Config.CDROM"})
    ok(tester.token, "PUT", "/nodes/pve1/qemu/100/config", **{option: value})
    assert str(tester.config()[option]) == str(value)


def test_delete_and_revert_need_the_privilege_of_the_key(tester):
    tester.create_vm(memory=2048, name="web1")
    tester.grant({"VM.Config.Options"})
    denied(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"delete": "memory"}), VM, "VM.Config.Memory")
    assert tester.config()["memory"] == "2048"
    ok(tester.token, "PUT", "/nodes/pve1/qemu/100/config", delete="name")
    assert "name" not in tester.config()


def test_startup_needs_sys_modify_on_root(tester):
    tester.create_vm()
    tester.grant({"VM.Config.Options"})
    denied(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"startup": "order=1"}), "/", "Sys.Modify")
    tester.grant({"VM.Config.Options", "Sys.Modify"})
    ok(tester.token, "PUT", "/nodes/pve1/qemu/100/config", startup="order=1")


def test_tags_need_config_options(tester):
    tester.create_vm()
    tester.grant({"VM.Config.Memory"})
    denied(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"tags": "web"}), VM, "VM.Config.Options")
    tester.grant({"VM.Config.Options"})
    ok(tester.token, "PUT", "/nodes/pve1/qemu/100/config", tags="web")
    assert tester.config()["tags"] == "web"


def test_new_disk_needs_allocate_space_before_and_config_disk_inside_the_task(tester):
    tester.create_vm()
    tester.grant({"VM.Config.Disk"})
    denied(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"scsi1": "local-zfs:2"}), LOCAL_ZFS,
           "Datastore.AllocateSpace")
    # with the storage but without VM.Config.Disk the early checks pass: the async call's task fails
    tester.grant({"Datastore.AllocateSpace", "VM.Config.CDROM"})
    denied(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"scsi1": "local-zfs:2"}), VM, "VM.Config.Disk")
    upid = ok(tester.token, "POST", "/nodes/pve1/qemu/100/config", scsi1="local-zfs:2")
    assert wait_task(tester.root, upid) == "403 Permission check failed (%s, VM.Config.Disk)" % VM
    assert "scsi1" not in tester.config()
    tester.grant({"Datastore.AllocateSpace", "VM.Config.Disk"})
    assert wait_task(tester.root, ok(tester.token, "POST", "/nodes/pve1/qemu/100/config", scsi1="local-zfs:2")) == "OK"
    assert tester.config()["scsi1"].startswith("local-zfs:vm-100-disk-1")


def test_cdrom_and_cloudinit_drives_have_their_own_privileges(tester):
    tester.create_vm()
    tester.grant({"VM.Config.Disk"})
    denied(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"ide2": "none,media=cdrom"}), VM, "VM.Config.CDROM")
    tester.grant({"VM.Config.CDROM"})
    ok(tester.token, "PUT", "/nodes/pve1/qemu/100/config", ide2="none,media=cdrom")
    # the host drive (`cdrom`) needs Sys.Console on /
    denied(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"cdrom": "cdrom"}), "/", "Sys.Console")
    # replacing it by a cloud-init drive: VM.Config.Cloudinit and VM.Config.CDROM
    denied(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"ide2": "local-zfs:cloudinit"}), VM,
           "VM.Config.Cloudinit")
    tester.grant({"VM.Config.CDROM", "VM.Config.Cloudinit"})
    ok(tester.token, "PUT", "/nodes/pve1/qemu/100/config", ide2="local-zfs:cloudinit")
    assert "vm-100-cloudinit" in tester.config()["ide2"]


def test_nic_needs_sdn_use_on_the_vnet_of_its_zone_and_vlan(tester):
    root = tester.root
    ok(root, "POST", "/cluster/sdn/zones", zone="zonea", type="simple")
    ok(root, "POST", "/cluster/sdn/vnets", vnet="vneta", zone="zonea")
    ok(root, "PUT", "/cluster/sdn")
    tester.create_vm()
    tester.grant({"VM.Config.Network"})
    denied(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"net1": "virtio,bridge=vneta"}),
           "/sdn/zones/zonea/vneta", "SDN.Use")
    denied(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"net1": "virtio,bridge=vmbr0,tag=20"}),
           VMBR0 + "/20", "SDN.Use")
    denied(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"net1": "virtio,bridge=vmbr0,trunks=7-8;30"}),
           VMBR0 + "/30", "SDN.Use")  # Perl sorts the trunk VLANs as strings: 30 before 7
    assert "net1" not in tester.config()
    ok(root, "POST", "/access/roles", roleid="VnetUser", privs="SDN.Use")
    set_acl(root, path="/sdn/zones/zonea/vneta", tokens=TOKEN, roles="VnetUser")
    ok(tester.token, "PUT", "/nodes/pve1/qemu/100/config", net1="virtio,bridge=vneta")
    assert "bridge=vneta" in tester.config()["net1"]
    # changing or deleting net0 checks the bridge it is on now (vmbr0) too
    denied(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"delete": "net0"}), VMBR0, "SDN.Use")
    denied(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"net0": "virtio,bridge=vneta"}), VMBR0, "SDN.Use")


def test_serial_port_changes(tester, sim, api_session):
    # only root@pam itself may set a real device (a token of root's is refused too)
    root_login = api_session(sim, auth="ticket")
    assert wait_task(root_login, ok(root_login, "POST", "/nodes/pve1/qemu", vmid=100, serial0="/dev/ttyS0")) == "OK"
    plain_error(tester.root.api("PUT", "/nodes/pve1/qemu/100/config", data={"serial1": "/dev/ttyS1"}),
                "only root can modify 'serial1' config for real devices\n")
    tester.grant({"VM.Config.HWType"})
    plain_error(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"serial0": "socket"}),
                "only root can modify 'serial0' config for real devices\n")
    plain_error(tester.token.api("PUT", "/nodes/pve1/qemu/100/config", data={"delete": "serial0"}),
                "only root can delete 'serial0' config for real devices\n")
    ok(tester.token, "PUT", "/nodes/pve1/qemu/100/config", serial1="socket")
    assert tester.config()["serial1"] == "socket"


# -- clone, resize, migrate -------------------------------------------------------------------------------
CLONE_PRIVILEGES = {"VM.Clone": VM, "VM.Allocate": None, "Datastore.AllocateSpace": LOCAL_ZFS, "SDN.Use": VMBR0}


@pytest.mark.parametrize("missing", sorted(CLONE_PRIVILEGES))
def test_clone_needs_clone_allocate_storage_and_bridge(tester, missing):
    tester.create_vm()
    tester.grant(set(CLONE_PRIVILEGES) - {missing})
    response = tester.token.api("POST", "/nodes/pve1/qemu/100/clone", data={"newid": 101})
    if missing == "VM.Allocate":  # the schema's `or` (/vms/{newid} or /pool/{pool}) fails without naming either
        assert_pve_error(response, 403, "Permission check failed", message="Permission check failed\n")
    else:
        denied(response, CLONE_PRIVILEGES[missing], missing)
    assert tester.vmids() == [100]
    tester.grant(CLONE_PRIVILEGES)
    assert wait_task(tester.root, ok(tester.token, "POST", "/nodes/pve1/qemu/100/clone", newid=101)) == "OK"
    assert tester.vmids() == [100, 101]


def test_clone_to_another_storage_needs_allocate_space_there(tester):
    root = tester.root
    tester.create_vm()
    ok(root, "PUT", "/storage/local", content="iso,vztmpl,backup,images")
    ok(root, "POST", "/access/roles", roleid="SpaceUser", privs="Datastore.AllocateSpace")
    set_acl(root, path=LOCAL_ZFS, tokens=TOKEN, roles="SpaceUser")
    tester.grant(set(CLONE_PRIVILEGES) - {"Datastore.AllocateSpace"})
    denied(tester.token.api("POST", "/nodes/pve1/qemu/100/clone", data={"newid": 101, "full": 1, "storage": "local"}),
           "/storage/local", "Datastore.AllocateSpace")
    assert wait_task(root, ok(tester.token, "POST", "/nodes/pve1/qemu/100/clone", newid=101, full=1, storage="local-zfs")) == "OK"


def test_resize_needs_allocate_space_in_its_task(tester):
    tester.create_vm()
    tester.grant({"VM.Config.Disk"})
    upid = ok(tester.token, "PUT", "/nodes/pve1/qemu/100/resize", disk="scsi0", size="+1G")
    assert wait_task(tester.root, upid) == "403 Permission check failed (%s, Datastore.AllocateSpace)" % LOCAL_ZFS
    assert "size=4G" in tester.config()["scsi0"]
    tester.grant({"VM.Config.Disk", "Datastore.AllocateSpace"})
    assert wait_task(tester.root, ok(tester.token, "PUT", "/nodes/pve1/qemu/100/resize", disk="scsi0", size="+1G")) == "OK"
    assert "size=5G" in tester.config()["scsi0"]


@pytest.mark.parametrize("missing, path", [("VM.Config.Disk", VM), ("Datastore.AllocateSpace", LOCAL_ZFS)])
def test_migrate_with_targetstorage_needs_disk_and_storage_privileges(tester, missing, path):
    tester.create_vm()
    privileges = {"VM.Migrate", "VM.Config.Disk", "Datastore.AllocateSpace"}
    tester.grant(privileges - {missing})
    data = {"target": "pve2", "targetstorage": "local-zfs"}
    denied(tester.token.api("POST", "/nodes/pve1/qemu/100/migrate", data=data), path, missing)
    tester.grant(privileges)
    assert wait_task(tester.root, ok(tester.token, "POST", "/nodes/pve1/qemu/100/migrate", **data)) == "OK"
    assert ok(tester.root, "GET", "/nodes/pve2/qemu")[0]["vmid"] == 100
