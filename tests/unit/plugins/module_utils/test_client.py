# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Logic of the API client that needs no server: error text, retry rules, task waits."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import requests

from ansible_collections.homecloud.proxmox.plugins.module_utils import client as client_module
from ansible_collections.homecloud.proxmox.plugins.module_utils.client import (
    ProxmoxApiError,
    ProxmoxClient,
    ProxmoxError,
    ProxmoxTaskError,
    PveVersion,
    upid_node,
)

UPID = "UPID:pve2:00001A2B:0000C0DE:6740A1B2:srvreload:networking:root@pam:"


def test_api_error_names_call_status_reason_and_each_field():
    error = ProxmoxApiError("POST", "/cluster/sdn/zones", 400, "Parameter verification failed.",
                            {"zone": "invalid format - zone ID 'tenantabc1' ...\n", "type": "value 'x' does not ..."})
    assert str(error) == ("POST /cluster/sdn/zones failed: HTTP 400 Parameter verification failed. - "
                          "type: value 'x' does not ...; zone: invalid format - zone ID 'tenantabc1' ...")
    assert not error.transient


@pytest.mark.parametrize("method, status, reason, transient", [
    ("PUT", 500, "cfs-lock 'file-sdn_cfg' error: got lock request timeout", True),
    ("POST", 500, "cfs-lock 'domain-sdn' error: no quorum!", True),
    ("DELETE", 500, "got no worker upid - start worker failed", True),
    ("GET", 502, "Bad Gateway", True),
    ("GET", 503, "Service Unavailable", True),
    ("GET", 504, "Gateway Timeout", True),
    # a gateway error says nothing about whether a write ran: never resent blindly
    ("POST", 502, "Bad Gateway", False),
    ("PUT", 504, "Gateway Timeout", False),
    ("DELETE", 503, "Service Unavailable", False),
    ("PUT", 500, "create sdn zone object failed: sdn zone object ID 'z1' already defined", False),
    ("GET", 400, "Parameter verification failed.", False),
    ("GET", 401, "authentication failure", False),
    ("PUT", 403, "Permission check failed (/sdn/zones, SDN.Allocate)", False),
    ("GET", 501, "Method 'GET /nope' not implemented", False),
])
def test_only_failures_that_did_not_run_are_resent(method, status, reason, transient):
    assert ProxmoxApiError(method, "/x", status, reason).transient is transient


@pytest.mark.parametrize("error, never_reached, read_resend", [
    (requests.exceptions.ConnectionError("Connection aborted. RemoteDisconnected"), False, True),
    (requests.exceptions.ConnectionError("NewConnectionError: Connection refused"), True, True),
    (requests.exceptions.ConnectTimeout("connect timed out"), True, True),
    (requests.exceptions.ReadTimeout("read timed out"), False, True),
    (requests.exceptions.ChunkedEncodingError("broken"), False, True),
    (requests.exceptions.SSLError("certificate verify failed"), False, False),
    (requests.exceptions.InvalidURL("bad"), False, False),
])
def test_transport_failures(error, never_reached, read_resend):
    """Only a connection that was never made proves that a write did not run."""
    assert client_module._never_reached(error) is never_reached  # pylint: disable=protected-access
    assert client_module._read_may_resend(error) is read_resend  # pylint: disable=protected-access


@pytest.mark.parametrize("data, expected", [
    ({"version": "9.1.3", "release": "9.1"}, (9, 1, 3)),
    ({"version": "8.4.0", "release": "8.4"}, (8, 4, 0)),
    ({"version": "8.4", "release": "8.4"}, (8, 4, 0)),
])
def test_version_parsing(data, expected):
    version = PveVersion(data)
    assert (version.major, version.minor, version.patch) == expected
    assert version.at_least(8, 4)
    assert version.at_least(9) is (expected[0] >= 9)
    assert version.as_dict()["release"] == data["release"]


def test_version_without_number_is_an_error():
    with pytest.raises(ProxmoxError, match="no usable version"):
        PveVersion({"release": "x"})


def test_upid_node():
    assert upid_node(UPID) == "pve2"
    with pytest.raises(ProxmoxError, match="not a task id"):
        upid_node("pve2:1234")


def test_wire_values():
    wire = client_module._wire_value  # pylint: disable=protected-access
    assert wire(True) == 1 and wire(False) == 0
    assert wire(["start-address=10.0.0.10,end-address=10.0.0.20"]) == ["start-address=10.0.0.10,end-address=10.0.0.20"]
    assert wire("x") == "x" and wire(7) == 7


class FakeClock:
    """A clock that only moves when the client sleeps."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


class ScriptedClient(ProxmoxClient):
    """A client whose GETs answer from a script instead of the network."""

    def __init__(self, answers, clock):
        super(ScriptedClient, self).__init__("pve.invalid", "root@pam", password="x", sleep=clock.sleep, clock=clock)
        self.answers = answers
        self.calls = []

    def request_document(self, method, path, confirm=None, **params):
        self.calls.append((method, path, params))
        answers = self.answers[path]  # the last answer repeats
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if path.endswith("/log"):  # PVE pages the log: `total` beside the requested lines
            start, limit = params.get("start", 0), params.get("limit", 50)
            return {"data": answer[start:start + limit], "total": len(answer)}
        return {"data": answer}


def test_wait_task_polls_until_stopped():
    clock = FakeClock()
    status = "/nodes/pve2/tasks/{0}/status".format(UPID)
    client = ScriptedClient({status: [{"status": "running"}, {"status": "running"},
                                      {"status": "stopped", "exitstatus": "WARNINGS: 2"}]}, clock)
    assert client.wait_task(UPID, timeout=10)["exitstatus"] == "WARNINGS: 2"
    assert clock.sleeps == [0.25, 0.5], "quick polls first"


def test_wait_task_polls_no_faster_than_asked_later_on():
    clock = FakeClock()
    status = "/nodes/pve2/tasks/{0}/status".format(UPID)
    client = ScriptedClient({status: [{"status": "running"}] * 6 + [{"status": "stopped", "exitstatus": "OK"}]}, clock)
    client.wait_task(UPID, timeout=60, interval=2.0)
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_failed_task_reports_exit_status_and_log_tail():
    clock = FakeClock()
    base = "/nodes/pve2/tasks/{0}".format(UPID)
    log = [{"n": n, "t": "line {0}".format(n)} for n in range(1, 26)]
    client = ScriptedClient({base + "/status": [{"status": "stopped", "exitstatus": "command 'ifreload -a' failed: exit code 1"}],
                             base + "/log": [log]}, clock)
    with pytest.raises(ProxmoxTaskError) as caught:
        client.wait_task(UPID, what="SDN apply")
    message = str(caught.value)
    assert message.startswith("SDN apply failed on node pve2: command 'ifreload -a' failed: exit code 1")
    assert caught.value.log_tail == ["line {0}".format(n) for n in range(16, 26)]
    assert message.endswith("line 16\nline 17\nline 18\nline 19\nline 20\nline 21\nline 22\nline 23\nline 24\nline 25")
    logs = [params for _method, path, params in client.calls if path == base + "/log"]
    assert logs == [{"start": 0, "limit": 1}, {"start": 15, "limit": 10}], "the total first, then only the tail"


def test_task_timeout_says_how_long_and_what_state():
    clock = FakeClock()
    base = "/nodes/pve2/tasks/{0}".format(UPID)
    client = ScriptedClient({base + "/status": [{"status": "running"}], base + "/log": [[{"n": 1, "t": "waiting"}]]}, clock)
    with pytest.raises(ProxmoxTaskError, match=r"did not finish within 5 s \(status: running\); last task log lines:\nwaiting"):
        client.wait_task(UPID, timeout=5, interval=2)
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0, 2.0] and clock.now == 5.75


def test_the_user_agent_carries_the_collection_version():
    import json  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel
    import yaml  # pylint: disable=import-outside-toplevel
    root = os.path.join(os.path.dirname(client_module.__file__), "..", "..")
    if os.path.exists(os.path.join(root, "galaxy.yml")):  # the repository
        with open(os.path.join(root, "galaxy.yml")) as handle:
            version = yaml.safe_load(handle)["version"]
    else:  # an installed artifact
        with open(os.path.join(root, "MANIFEST.json")) as handle:
            version = json.load(handle)["collection_info"]["version"]
    assert client_module.USER_AGENT == "homecloud.proxmox/" + version


def test_the_lines_after_the_reason_are_kept():
    """pve-network stringifies a 400 raised inside the SDN lock into a plain 500: its fields follow the first line."""
    error = ProxmoxApiError("POST", "/cluster/sdn/zones", 500, "create sdn zone object failed: 400 Parameter verification failed.",
                            details=["ipam: nosuch not existing"])
    assert str(error) == ("POST /cluster/sdn/zones failed: HTTP 500 create sdn zone object failed: 400 Parameter verification "
                          "failed. - ipam: nosuch not existing")
