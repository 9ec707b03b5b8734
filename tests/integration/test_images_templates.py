# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cloud_image and vm_template against the simulator (PVE 8.4 and 9.1): a verified download and a template
built once from it (check mode = the real run's plan, second run writes nothing), a tampered image stops the
play before any template, and the refusals happen before any write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import hashlib
import http.server
import threading
import time

import pytest
import requests

from .playbook import CONNECTION, run_playbook, run_tasks, sim_vars

WRITES = ("POST", "PUT", "DELETE")
GIB = 1024 ** 3
IMAGE_URL = "https://cloud.example.org/bookworm/debian-12-genericcloud-amd64.qcow2"
IMAGE_BYTES = "debian 12 generic cloud image, bookworm"
SHA256 = hashlib.sha256(IMAGE_BYTES.encode("utf-8")).hexdigest()
IMAGE_VOLID = "local:import/debian-12-genericcloud-amd64-{0}.qcow2".format(SHA256[:12])


@pytest.fixture(params=["9.1", "8.4"])
def pve(request):
    """The simulator of each release this collection supports."""
    return request.getfixturevalue("sim" if request.param == "9.1" else "sim84")


def side(sim, method, path, **body):
    answer = requests.request(method, sim.url + "/_sim/" + path, json=body, verify=sim.cert_path, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def api(sim, path, method="GET", **params):
    """One API call as the simulator's root token; returns the requests response."""
    full_id, secret = next(iter(sim.tokens.items()))
    where = dict(params=params) if method in ("GET", "DELETE") else dict(data=params)
    return requests.request(method, sim.url + "/api2/json" + path, verify=sim.cert_path, timeout=10,
                            headers={"Authorization": "PVEAPIToken={0}={1}".format(full_id, secret)}, **where)


def api_task(sim, method, path, **params):
    """A call that starts a task, waited for (bounded) until it ends OK."""
    answer = api(sim, path, method=method, **params)
    assert answer.status_code == 200, answer.text
    upid = answer.json()["data"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = api(sim, "/nodes/{0}/tasks/{1}/status".format(upid.split(":")[1], upid)).json()["data"]
        if status["status"] == "stopped":
            assert status["exitstatus"] == "OK", status
            return
        time.sleep(0.1)
    raise AssertionError("task {0} did not end within 30 s".format(upid))


def writes(sim):
    return [(entry["method"], entry["path"]) for entry in sim.requests()
            if entry["method"] in WRITES and entry["path"].startswith("/nodes/")]


def node_calls(sim):
    return [entry for entry in sim.requests() if entry["path"].startswith(("/nodes/", "/cluster/"))]


def publish(sim, url=IMAGE_URL, content=IMAGE_BYTES, virtual_size=2 * GIB):
    """The image the simulated node downloads from `url` (the simulator has no internet)."""
    side(sim, "POST", "storage/images", url=url, content=content, virtual_size=virtual_size)


def import_files(sim, node="pve1"):
    answer = api(sim, "/nodes/{0}/storage/local/content".format(node), content="import")
    assert answer.status_code == 200, answer.text
    return dict((entry["volid"], entry) for entry in answer.json()["data"])


def vm_config(sim, vmid, node="pve1"):
    answer = api(sim, "/nodes/{0}/qemu/{1}/config".format(node, vmid))
    return answer.json()["data"] if answer.status_code == 200 else None


def image_task(**args):
    return ("cloud_image", dict(dict(node="pve1", url=IMAGE_URL, checksum="sha256:" + SHA256), **args))


def template_task(**args):
    return ("vm_template", dict(dict(node="pve1", vmid=9000, name="debian-12", image="{{ r0.volid }}",
                                     checksum="sha256:" + SHA256), **args))


def test_verified_image_and_template_built_once_with_exact_check_mode(pve, tmp_path):
    publish(pve)
    tasks = [image_task(), template_task(disk_size="20G", cores=2, bridge="vmbr0", tags=["debian", "cloudinit"])]

    process, planned = run_tasks(pve, tmp_path, tasks, check=True)
    assert process.returncode == 0, process.stdout[-5000:]
    assert writes(pve) == [] and IMAGE_VOLID not in import_files(pve)
    assert planned[0]["volid"] == IMAGE_VOLID and planned[0]["size"] is None
    assert any("image {0} is not on node pve1 (yet)".format(IMAGE_VOLID) in warning for warning in planned[1]["warnings"])

    process, done = run_tasks(pve, tmp_path, tasks)
    assert process.returncode == 0, process.stdout[-5000:]
    for plan, result in zip(planned, done):
        assert not result.get("failed"), result.get("msg")
        assert plan["writes"] == result["writes"] and plan["diff"] == result["diff"]
    assert writes(pve) == [("POST", "/nodes/pve1/storage/local/download-url"), ("POST", "/nodes/pve1/qemu"),
                           ("PUT", "/nodes/pve1/qemu/9000/resize"), ("POST", "/nodes/pve1/qemu/9000/template")]
    assert done[0]["volid"] == IMAGE_VOLID and done[0]["filename"] == IMAGE_VOLID.split("/", 1)[1]
    assert done[0]["size"] == import_files(pve)[IMAGE_VOLID]["size"] == 2 * GIB
    assert "checksum-algorithm=sha256" in done[0]["writes"][0] and "checksum=" + SHA256 in done[0]["writes"][0]

    config = vm_config(pve, 9000)
    assert int(config["template"]) == 1 and config["name"] == "debian-12" and int(config["cores"]) == 2
    assert config["scsi0"].startswith("local-zfs:base-9000-disk-0") and "size=20G" in config["scsi0"]
    assert config["ide2"].startswith("local-zfs:vm-9000-cloudinit")
    assert config["agent"] == "enabled=1,fstrim_cloned_disks=1" and config["serial0"] == "socket" and config["vga"] == "serial0"
    assert config["boot"] == "order=scsi0" and config["scsihw"] == "virtio-scsi-single" and "bridge=vmbr0" in config["net0"]
    assert "homecloud.proxmox.vm_template image={0} checksum=sha256:{1}".format(IMAGE_VOLID, SHA256) in config["description"]

    first = writes(pve)
    process, again = run_tasks(pve, tmp_path, tasks)
    assert process.returncode == 0, process.stdout[-5000:]
    assert writes(pve) == first, "the second run wrote"
    assert [result["changed"] for result in again] == [False, False] and [result["writes"] for result in again] == [[], []]
    assert again[0]["size"] == 2 * GIB

    # a declared option that differs: one config write, the disk left as built (with a warning)
    process, changed = run_tasks(pve, tmp_path, [image_task(), template_task(cores=4, disk_size="30G", bridge="vmbr0")])
    assert process.returncode == 0, process.stdout[-5000:]
    assert changed[1]["writes"] == ["PUT /nodes/pve1/qemu/9000/config cores=4"]
    assert any("scsi0 is 20G, disk_size says 30G" in warning for warning in changed[1]["warnings"])
    assert int(vm_config(pve, 9000)["cores"]) == 4


def test_a_tampered_image_fails_the_download_and_no_template_is_made(pve, tmp_path):
    publish(pve, content=IMAGE_BYTES + " with a backdoor")
    plays = [{"name": "image and template", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Download the image", "homecloud.proxmox.cloud_image": dict(CONNECTION, **image_task()[1]), "register": "r0"},
        {"name": "Build the template", "homecloud.proxmox.vm_template": dict(CONNECTION, **template_task()[1])},
    ]}]
    process = run_playbook(plays, tmp_path, extra_vars=sim_vars(pve))
    assert process.returncode != 0
    assert "Build the template" not in process.stdout  # the play stopped at the failed download
    failed = process.stdout[process.stdout.index("Download the image"):]
    assert "download of {0} failed on node pve1: checksum mismatch: got '".format(IMAGE_URL) in failed
    assert "' != expect '{0}'; expected sha256:{0}; nothing was stored ({1} does not exist)".format(SHA256, IMAGE_VOLID) in failed
    assert IMAGE_VOLID not in import_files(pve) and vm_config(pve, 9000) is None
    assert writes(pve) == [("POST", "/nodes/pve1/storage/local/download-url")]

    # and with errors ignored, vm_template itself refuses the missing image before any write
    process, results = run_tasks(pve, tmp_path, [image_task(), template_task()])
    assert results[0]["failed"] and results[0]["failure"]["exitstatus"].startswith("checksum mismatch: got '")
    assert results[0]["image"] is None
    assert results[1]["failed"] and results[1]["msg"].startswith(
        "image {0} is not on node pve1 (GET /nodes/pve1/storage/local/content?content=import)".format(IMAGE_VOLID))
    assert writes(pve) == [("POST", "/nodes/pve1/storage/local/download-url")] * 2 and vm_config(pve, 9000) is None


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture
def image_server(tmp_path):
    """An HTTP server on 127.0.0.1 (a free port) serving tmp_path/www; yields its base URL."""
    www = tmp_path / "www"
    www.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, kwargs=dict(poll_interval=0.1), daemon=True)
    thread.start()
    yield "http://127.0.0.1:{0}".format(server.server_address[1]), www
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_an_image_served_over_http_with_sha512_then_removed(sim, tmp_path, image_server):
    base, www = image_server
    data = b"ubuntu noble raw image bytes" * 64
    (www / "noble-server-cloudimg-amd64.img").write_bytes(data)
    sha512 = hashlib.sha512(data).hexdigest()
    volid = "local:import/noble-server-cloudimg-amd64-{0}.raw".format(sha512[:12])
    task = ("cloud_image", dict(node="pve2", url=base + "/noble-server-cloudimg-amd64.img", checksum="sha512:" + sha512,
                                filename="noble-server-cloudimg-amd64.raw"))
    process, results = run_tasks(sim, tmp_path, [task, task, ("cloud_image", dict(task[1], state="absent")),
                                                 ("cloud_image", dict(task[1], state="absent"))])
    assert process.returncode == 0, process.stdout[-5000:]
    assert [result["changed"] for result in results] == [True, False, True, False], [r.get("msg") for r in results]
    assert results[0]["volid"] == volid and results[0]["size"] == len(data)
    assert results[2]["writes"] == ["DELETE /nodes/pve2/storage/local/content/" + volid] and results[2]["image"] is None
    assert volid not in import_files(sim, "pve2")
    assert writes(sim) == [("POST", "/nodes/pve2/storage/local/download-url"), ("DELETE", "/nodes/pve2/storage/local/content/" + volid)]


def test_refusals_before_any_call_or_write(sim, tmp_path):
    publish(sim)
    before = len(node_calls(sim))
    _process, results = run_tasks(sim, tmp_path, [
        ("cloud_image", dict(node="pve1", url=IMAGE_URL)),
        ("cloud_image", dict(node="pve1", url="https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img",
                             checksum="sha256:" + SHA256)),
        ("vm_template", dict(node="pve1", vmid=9000, name="x", image="local:iso/debian.iso")),
    ])
    assert [result["failed"] for result in results] == [True, True, True]
    assert results[0]["msg"].startswith("checksum is required")
    assert "Ubuntu's .img cloud images are qcow2" in results[1]["msg"]
    assert results[2]["msg"].startswith("image: 'local:iso/debian.iso' is not an import volume id")
    assert len(node_calls(sim)) == before, "a refused task called the API"

    # a VM that is not a template, and a template of another image, at the vmid: refused before any write
    side(sim, "POST", "guests", vmid=9001, node="pve1", name="web", type="qemu", status="running")
    _process, results = run_tasks(sim, tmp_path, [
        image_task(),
        template_task(vmid=9001),
        ("vm_template", dict(node="pve1", vmid=9001, state="absent")),
        template_task(vmid=9000),
        template_task(vmid=9000, image="local:import/debian-12-genericcloud-amd64-{0}.raw".format(SHA256[:12])),
        template_task(vmid=9000, node="pve2"),
    ])
    assert results[0]["changed"] and not results[3].get("failed"), results[3]
    assert results[1]["msg"] == ("vmid 9001 holds VM 'web' (running), which is not a template: vm_template neither converts "
                                 "nor removes other VMs; use a new vmid; nothing was changed")
    assert results[2]["msg"].startswith("vmid 9001 holds VM 'web' (running), which is not a template: vm_template removes templates only")
    assert results[4]["msg"].startswith("vmid 9000 holds template 'debian-12' built from image {0}, not from ".format(IMAGE_VOLID))
    assert "state=absent first" in results[4]["msg"]
    assert results[5]["msg"].startswith("vmid 9000 is template 'debian-12' (stopped) on node pve1, not on pve2")
    assert [result.get("writes") for result in results[1:3] + results[4:]] == [None] * 4  # refused while planning
    assert [path for _method, path in writes(sim)] == [
        "/nodes/pve1/storage/local/download-url", "/nodes/pve1/qemu", "/nodes/pve1/qemu/9000/template"]


def test_absent_destroys_the_template_unless_linked_clones_use_it(pve, tmp_path):
    publish(pve)
    process, results = run_tasks(pve, tmp_path, [image_task(), template_task()])
    assert process.returncode == 0 and not results[1].get("failed"), process.stdout[-5000:]
    # a linked clone (the default of a template's clone): its disk uses the template's base disk
    api_task(pve, "POST", "/nodes/pve1/qemu/9000/clone", newid=9100, name="web1")

    absent = ("vm_template", dict(node="pve1", vmid=9000, state="absent", timeout=30))
    process, results = run_tasks(pve, tmp_path, [absent])
    assert results[0]["failed"] and results[0]["writes"] == ["DELETE /nodes/pve1/qemu/9000 destroy-unreferenced-disks=1 purge=1"]
    assert "removal of template 9000 failed on node pve1" in results[0]["msg"]
    assert vm_config(pve, 9000) is not None

    api_task(pve, "DELETE", "/nodes/pve1/qemu/9100")
    process, planned = run_tasks(pve, tmp_path, [absent], check=True)
    assert planned[0]["changed"] and vm_config(pve, 9000) is not None
    process, results = run_tasks(pve, tmp_path, [absent, absent])
    assert process.returncode == 0, process.stdout[-5000:]
    assert [result["changed"] for result in results] == [True, False] and results[0]["writes"] == planned[0]["writes"]
    assert results[0]["diff"] == planned[0]["diff"] and results[0]["diff"]["after"] is None
    assert vm_config(pve, 9000) is None and not [volid for volid in volumes(pve) if "9000" in volid]


def volumes(sim, node="pve1"):
    answer = api(sim, "/nodes/{0}/storage/local-zfs/content".format(node))
    assert answer.status_code == 200, answer.text
    return [entry["volid"] for entry in answer.json()["data"]]
