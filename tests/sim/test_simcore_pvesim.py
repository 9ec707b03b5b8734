"""pvesim on simcore: the PVE wire parameters it sets on the core, and the node-reachability hook
of its pipeline (an area says a node is down; pveproxy's proxy to it fails with 595)."""

import http.client
import signal
import ssl
import subprocess
import sys

import pytest
import requests

from pvesim.areas import Area
from pvesim.testing import ok

pytestmark = pytest.mark.timeout(60)


class NodeDown(Area):
    """A test area (not in pvesim/areas, so never discovered) that takes nodes down."""

    def __init__(self, sim, down):
        super().__init__(sim)
        self.down = down

    def node_unreachable(self, node):
        return self.down.get(node)


@pytest.fixture
def api(sim, api_session):
    return api_session(sim)


@pytest.fixture
def nodes_down(sim):
    down = {}
    sim.areas["NodeDown"] = NodeDown(sim, down)
    yield down
    del sim.areas["NodeDown"]


def test_pveproxy_wire_on_the_core_listener(sim, api):
    answer = api.api("GET", "/version")
    assert answer.headers["Server"] == "pve-api-daemon/3.0"
    assert (answer.headers["Cache-Control"], answer.headers["Pragma"]) == ("max-age=0", "no-cache")
    answer = api.api("PATCH", "/version")
    assert (answer.status_code, answer.reason, answer.content) == (501, "method 'PATCH' not available", b"")
    # the limit is checked on Content-Length, before any of the body is read (AnyEvent.pm $limit_max_post)
    connection = http.client.HTTPSConnection("127.0.0.1", sim.port, timeout=10,
                                             context=ssl.create_default_context(cafile=sim.cert_path))
    try:
        connection.putrequest("POST", "/api2/json/version")
        connection.putheader("Content-Length", str(64 * 1024 + 1))
        connection.endheaders()
        answer = connection.getresponse()
        assert (answer.status, answer.reason, answer.read()) == (501, "for data too large", b"for data too large")
    finally:
        connection.close()


def test_proxyto_a_down_node_answers_595_no_route_to_host(sim, api, nodes_down):
    nodes_down["pve2"] = True
    answer = api.api("GET", "/nodes/pve2/status")
    assert (answer.status_code, answer.reason, answer.content) == (595, "No route to host", b"")
    assert ok(api, "GET", "/nodes/pve1/status")["uptime"] >= 0  # the other nodes answer
    entry = sim.requests()[0]
    assert (entry["status"], entry["route"]) == (595, "/nodes/{node}/status")


def test_an_area_names_the_socket_error(api, nodes_down):
    nodes_down["pve3"] = "Connection timed out"
    answer = api.api("GET", "/nodes/pve3/network")
    assert (answer.status_code, answer.reason) == (595, "Connection timed out")


def test_node_down_after_permissions_before_parameter_verification(sim, api, api_session, nodes_down):
    nodes_down["pve2"] = True
    # an invalid parameter is the target node's business: pveproxy never gets there
    assert api.api("GET", "/nodes/pve2/network", params={"type": "no-such-type"}).status_code == 595
    # the permission check happens on the node the client talks to, before proxying
    anonymous = api_session(sim, auth=None)
    assert anonymous.api("GET", "/nodes/pve2/status").status_code == 401


def test_methods_without_proxyto_ignore_down_nodes(sim, api, nodes_down):
    nodes_down.update(pve1=True, pve2=True, pve3=True)
    assert ok(api, "GET", "/version")["version"] == sim.version
    assert {entry["node"] for entry in ok(api, "GET", "/cluster/resources", type="node")} == {"pve1", "pve2", "pve3"}


def test_simulator_asks_the_areas_first_answer_wins(sim, nodes_down):
    assert sim.node_unreachable("pve2") is None
    nodes_down["pve2"] = "Connection refused"
    assert sim.node_unreachable("pve2") == "Connection refused"


def test_command_line_writes_its_files_and_stops_on_sigterm(tmp_path):
    port_file, cert_file, fingerprint_file = (tmp_path / name for name in ("port", "cert.pem", "fingerprint"))
    process = subprocess.Popen([sys.executable, "-m", "pvesim", "--port", "0", "--nodes", "pve1", "--port-file", str(port_file),
                                "--cert-file", str(cert_file), "--fingerprint-file", str(fingerprint_file)],
                               stdout=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()  # printed once the files are written
        port = int(port_file.read_text())
        assert banner == "pvesim 9.1.3 (PVE 9.1, nodes pve1) listening on https://127.0.0.1:%d/api2/json\n" % port
        assert len(fingerprint_file.read_text().split(":")) == 32
        answer = requests.get("https://127.0.0.1:%d/_sim/counters" % port, verify=str(cert_file), timeout=10)
        assert answer.json()["data"]["total"] == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=15)
        process.stdout.close()
