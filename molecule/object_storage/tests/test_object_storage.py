# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The object_storage role and the tenants' slices proven by S3 calls from the rig's client namespaces.

Each probe is the repository's .venv python with boto3 run inside a namespace (ip netns exec),
bounded by connect/read timeouts and the namespace runner's timeout. The credentials are the
ones s3_user generated on the VM (read there as root); they travel to the probe on its
standard input, never on a command line.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
_SPEC = importlib.util.spec_from_file_location('rig', os.path.join(HERE, '..', '..', 'resources', 'rig.py'))
rig = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(rig)

SERVICE = 'hc-s3-1'
testinfra_hosts = ['podman://%s' % SERVICE]
PROJECT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
PYTHON = os.path.join(PROJECT, '.venv', 'bin', 'python')
ADDRESS = '10.128.1.11'
ENDPOINT = 'http://%s:8333' % ADDRESS
BUCKETS = {'acme': 'acme-backups', 'globex': 'globex-assets'}

# Runs S3 operations with the keys on stdin ({"key", "secret", "operations": [[name, args]]});
# prints [[name, "ok", value] | [name, "error", code]] as JSON.
PROBE = r'''
import json, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ConnectTimeoutError
request = json.load(sys.stdin)
s3 = boto3.client("s3", endpoint_url=request["endpoint"], aws_access_key_id=request["key"],
                  aws_secret_access_key=request["secret"], region_name="us-east-1",
                  config=Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=10))
answers = []
for name, args in request["operations"]:
    try:
        if name == "put":
            s3.put_object(Bucket=args[0], Key=args[1], Body=args[2].encode())
            value = None
        elif name == "get":
            value = s3.get_object(Bucket=args[0], Key=args[1])["Body"].read().decode()
        elif name == "list":
            value = [item["Key"] for item in s3.list_objects_v2(Bucket=args[0]).get("Contents", [])]
        elif name == "create":
            s3.create_bucket(Bucket=args[0])
            value = None
        elif name == "buckets":
            value = [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
        answers.append([name, "ok", value])
    except ClientError as error:
        answers.append([name, "error", error.response["Error"]["Code"]])
    except (EndpointConnectionError, ConnectTimeoutError) as error:
        answers.append([name, "error", "unreachable"])
print(json.dumps(answers))
'''


def namespaces():
    return rig.services_namespaces()


def credentials(host, tenant):
    # the podman backend works as root in the container, as the converge's ssh does
    text = host.file('/root/homecloud-s3/%s' % tenant).content_string
    key, secret = text.strip().split(':', 1)
    return key, secret


def probe(namespace, key, secret, operations):
    request = json.dumps(dict(endpoint=ENDPOINT, key=key, secret=secret, operations=operations))
    done = rig.run_in_namespace(namespace, [PYTHON, '-c', PROBE], timeout=60, stdin=request)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_server_listens_on_the_service_address_only_and_keeps_its_secrets(host):
    assert host.service('seaweedfs').is_running and host.service('seaweedfs').is_enabled
    sockets = [str(socket) for socket in host.socket.get_listening_sockets()]
    assert 'tcp://%s:8333' % ADDRESS in sockets
    for port in (9333, 8888, 8080, 19333, 18888):
        # master, filer, volume server and their gRPC ports: loopback only
        assert not any(socket.endswith(':%d' % port) and '127.0.0.1' not in socket for socket in sockets), sockets
    identity = host.file('/etc/seaweedfs/s3.json')
    assert identity.mode == 0o600 and identity.user == 'seaweedfs'
    data = host.file('/var/lib/seaweedfs')
    assert data.mode == 0o700 and data.user == 'seaweedfs'
    for tenant in BUCKETS:
        assert host.file('/root/homecloud-s3/%s' % tenant).mode == 0o600
    assert '-master.telemetry=false' in host.file('/etc/systemd/system/seaweedfs.service').content_string


def test_each_tenant_uses_its_bucket_and_nothing_else(host):
    ns = namespaces()
    for tenant, other in (('acme', 'globex'), ('globex', 'acme')):
        key, secret = credentials(host, tenant)
        mine, theirs = BUCKETS[tenant], BUCKETS[other]
        answers = probe(ns[tenant], key, secret, [
            ['put', [mine, 'hello.txt', 'from ' + tenant]],
            ['get', [mine, 'hello.txt']],
            ['list', [mine]],
            ['buckets', []],
            ['list', [theirs]],
            ['put', [theirs, 'intruder.txt', 'x']],
            ['get', [theirs, 'hello.txt']],
            ['create', [tenant + '-extra']],
        ])
        assert answers[0] == ['put', 'ok', None], answers
        assert answers[1] == ['get', 'ok', 'from ' + tenant]
        assert answers[2] == ['list', 'ok', ['hello.txt']]
        assert answers[3] == ['buckets', 'ok', [mine]]
        assert [answer[1:] for answer in answers[4:]] == [['error', 'AccessDenied']] * 4, answers


def test_a_wrong_secret_and_unknown_keys_are_denied(host):
    ns = namespaces()
    key, secret = credentials(host, 'acme')
    other_key, other_secret = credentials(host, 'globex')
    wrong = probe(ns['acme'], key, other_secret, [['list', ['acme-backups']], ['put', ['acme-backups', 'x', 'x']]])
    assert [answer[2] for answer in wrong] == ['SignatureDoesNotMatch'] * 2, wrong
    # the outside reaches the port through the rig's router (the transit firewall is issue 13's),
    # and the server itself refuses it: it holds no valid key
    outside = probe(ns['outside'], 'AKIAOUTSIDER0000000', 'not-a-secret-of-this-server', [['buckets', []], ['list', ['acme-backups']]])
    assert [answer[2] for answer in outside] == ['InvalidAccessKeyId'] * 2, outside
    assert other_key != key and other_secret != secret
