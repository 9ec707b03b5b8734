"""simcore alone: a toy simulator built on SimulatorBase with a tiny schema tree, exercised over HTTP.

The toy pipeline uses the core the way a simulator does (observer faults and latency, state
lock, persist, request log); the tests assert what the core makes of it: routing, side channel,
faults (count, rate, phase), reset, latency, state files, redaction, the listener's hooks.
"""

import json
import os
import time

import pytest
import requests

from simcore import Area, Response, SchemaTree, SimulatorBase, discover, route
from simcore import server as core_server
from simcore.testing import SimSession

pytestmark = pytest.mark.timeout(60)

TREE = [
    {"path": "/things", "text": "things", "info": {"GET": {}, "POST": {}}, "children": [
        {"path": "/things/{id}", "text": "{id}", "info": {"GET": {}, "DELETE": {}}},
    ]},
    {"path": "/ping", "text": "ping", "info": {"GET": {}}},
]


class Things(Area):
    """A toy area: a dict of things in its state namespace."""

    name = "things"

    def initial_state(self):
        return {"items": {}}

    @route("GET", "/things")
    def list_things(self, _params):
        return sorted(self.state["items"])

    @route("POST", "/things")
    def add_thing(self, params):
        self.state["items"][params["id"]] = {"password": params.get("password")}
        return None

    @route("GET", "/things/{id}")
    def get_thing(self, params):
        return self.state["items"].get(params["id"])

    @route("DELETE", "/things/{id}")
    def delete_thing(self, params):
        self.state["items"].pop(params["id"], None)

    def side_routes(self):
        return {("GET", "/_toy/things/count"): lambda sim, body: len(self.state["items"])}


class ToySim(SimulatorBase):
    """A minimal simulator: JSON API under /api, errors as {"error": text}."""

    name = "toysim"
    server_name = "toy-daemon/1.0"
    side_prefix = "/_toy"
    response_headers = (("X-Toy", "yes"),)
    max_body = 1024
    fault_messages = {"busy": lambda fault, path: "busy at %s (%s)" % (path, fault.spec.get("who"))}
    fault_options = ("who",)
    custom_counters = ("toy_events",)

    def __init__(self, **options):
        super().__init__(tls=False, **options)
        self.schema = SchemaTree(TREE)
        self.install_areas([Things])
        self.load_state_file()

    def side_routes(self):
        return {("POST", "/_toy/event"): lambda sim, body: sim.observer.increment("toy_events")}

    def unknown_method_response(self, method):
        return Response(405, "Method Not Allowed", ("no %s here" % method).encode())

    def body_too_large_response(self, length):
        return Response(413, "Too Large", str(length).encode())

    @staticmethod
    def _error(status, text):
        return Response(status, text.split("\n", 1)[0], json.dumps({"error": text}).encode(), "application/json")

    def handle_api(self, method, raw_path, headers, body):
        started = time.monotonic()
        self.observer.sleep_latency()
        path = raw_path.split("?", 1)[0][len("/api"):]
        params = json.loads(body) if body else {}
        trace = {"route": None, "fault": None, "handled_status": None}

        def answer():
            found = self.schema.match(path)
            handler = self.routes.get((method, found[0])) if found else None
            if handler is None:
                return self._error(404, "no such route")
            trace["route"] = found[0]
            with self.state.lock:
                data = handler(dict(found[1], **params))
                if method != "GET":
                    self.persist()
            return Response(200, "OK", json.dumps({"data": data}).encode(), "application/json")

        response = self.observer.answer_with_faults(method, path, trace, answer, self._error)
        self.observer.log_request(method, path, response, started, route=trace["route"], params=params,
                                  userid="alice@toy!ci", is_write=method != "GET", fault=trace["fault"],
                                  handled_status=trace["handled_status"])
        return response


class ToySession(SimSession):
    api_prefix = "/api"


@pytest.fixture(scope="module")
def _toy_module():
    simulator = ToySim(seed=7)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def toy(_toy_module):
    _toy_module.reset()
    return _toy_module


@pytest.fixture
def client(toy):
    with ToySession(toy) as session:
        yield session


def test_start_binds_a_free_loopback_port_and_stop_closes_it():
    simulator = ToySim()
    with simulator:
        assert simulator.url == "http://127.0.0.1:%d" % simulator.port and simulator.port > 0
        assert requests.get(simulator.url + "/api/ping", timeout=5).status_code == 404  # no handler: the toy's 404
    with pytest.raises(requests.ConnectionError):
        requests.get(simulator.url + "/api/things", timeout=5)


def test_tls_listener_serves_with_its_generated_certificate():
    simulator = ToySim()
    simulator.tls = True
    with simulator:
        assert simulator.url.startswith("https://127.0.0.1:")
        answer = requests.get(simulator.url + "/api/things", verify=simulator.cert_path, timeout=5)
        assert answer.json() == {"data": []}
        assert len(simulator.cert_fingerprint.split(":")) == 32
        cert_path = simulator.cert_path
    assert not os.path.exists(cert_path)  # the work dir goes with stop()


def test_routing_by_schema_path_with_params(client):
    assert client.api("POST", "/things", json={"id": "a1"}).status_code == 200
    assert client.data("GET", "/things/a1") == {"password": None}
    assert client.data("GET", "/things") == ["a1"]
    assert client.api("GET", "/nothing").json() == {"error": "no such route"}
    log = client.sim("GET", "requests").json()["data"]
    assert [(entry["method"], entry["path"], entry["route"]) for entry in log] == [
        ("POST", "/things", "/things"), ("GET", "/things/a1", "/things/{id}"), ("GET", "/things", "/things"),
        ("GET", "/nothing", None)]


def test_listener_hooks_server_name_headers_unknown_method_body_limit(client):
    answer = client.api("GET", "/things")
    assert answer.headers["Server"] == "toy-daemon/1.0" and answer.headers["X-Toy"] == "yes"
    answer = client.api("PATCH", "/things")
    assert (answer.status_code, answer.reason, answer.text) == (405, "Method Not Allowed", "no PATCH here")
    answer = client.api("POST", "/things", data=b"x" * 2000)
    assert (answer.status_code, answer.text) == (413, "2000")
    assert answer.headers["Connection"] == "close"


def test_side_channel_answers_loopback_clients_only(client, monkeypatch):
    assert client.sim("GET", "counters").status_code == 200
    monkeypatch.setattr(core_server, "is_loopback_client", lambda address: False)
    answer = client.sim("GET", "counters")
    assert (answer.status_code, answer.json()) == (403, {"error": "side channel is loopback only"})
    assert client.api("GET", "/things").status_code == 200  # the API itself is not restricted


def test_is_loopback_client():
    assert core_server.is_loopback_client(("127.0.0.1", 1)) and core_server.is_loopback_client(("::1", 1, 0, 0))
    assert not core_server.is_loopback_client(("192.0.2.10", 1))


def test_side_channel_errors_and_contributed_calls(client):
    assert client.sim("GET", "nothing").status_code == 404
    answer = client.sim("POST", "faults", json={"action": "explode"})
    assert answer.status_code == 400 and "unknown fault action 'explode'" in answer.json()["error"]
    assert client.sim("POST", "faults", json={"colour": "red"}).status_code == 400  # not a fault option
    assert client.sim("POST", "faults", data="[1]").json() == {"error": "the body must be a JSON object"}
    client.api("POST", "/things", json={"id": "b"})
    assert client.sim("GET", "things/count").json() == {"data": 1}  # the area's call
    client.sim("POST", "event")  # the simulator's call
    assert client.sim("GET", "counters").json()["data"]["toy_events"] == 1


def test_status_fault_fires_count_times_then_stops(toy, client):
    fault_id = client.sim("POST", "faults", json={"method": "GET", "path": "^/things$", "status": 503,
                                                  "message": "down", "count": 2}).json()["data"]["id"]
    for _attempt in range(2):
        answer = client.api("GET", "/things")
        assert (answer.status_code, answer.json()) == (503, {"error": "down"})
    assert client.api("GET", "/things").status_code == 200
    assert client.api("POST", "/things", json={"id": "x"}).status_code == 200  # method filter
    assert toy.faults() == [{"id": fault_id, "action": "status", "phase": "before", "method": "GET", "path": "^/things$",
                             "status": 503, "remaining": 0, "fired": 2, "rate": 1.0}]
    assert [entry["fault"] for entry in toy.requests()] == [fault_id, fault_id, None, None]


def test_simulator_fault_action_reads_its_option(toy, client):
    toy.inject_fault(action="busy", path="^/things", who="backup")
    assert client.api("GET", "/things").json() == {"error": "busy at /things (backup)"}
    toy.inject_fault(path="^/things")
    assert client.api("GET", "/things").json() == {"error": "toysim injected fault\n"}


def test_fault_rate_draws_from_the_seeded_rng():
    def fired_pattern():
        simulator = ToySim(seed=42)
        with simulator, ToySession(simulator) as session:
            simulator.inject_fault(path="^/things$", count=100, rate=0.5)
            return [session.api("GET", "/things").status_code for _attempt in range(40)]
    first = fired_pattern()
    assert 5 < first.count(500) < 35 and first.count(200) + first.count(500) == 40
    assert fired_pattern() == first  # same seed, same run


def test_rate_zero_never_fires(toy, client):
    toy.inject_fault(path="^/things$", count=5, rate=0.0)
    assert {client.api("GET", "/things").status_code for _attempt in range(10)} == {200}
    assert toy.faults()[0]["fired"] == 0


def test_after_fault_lets_the_handler_work_then_replaces_the_answer(toy, client):
    fault_id = toy.inject_fault(method="POST", path="^/things$", status=504, message="gateway timeout", phase="after")
    assert client.api("POST", "/things", json={"id": "late"}).status_code == 504
    assert client.data("GET", "/things") == ["late"]  # the work was done
    entry = toy.requests()[0]
    assert (entry["status"], entry["handled_status"], entry["fault"]) == (504, 200, fault_id)
    toy.inject_fault(action="reset", method="POST", path="^/things$", phase="after")
    with pytest.raises(requests.ConnectionError):
        client.api("POST", "/things", json={"id": "lost"})
    assert client.data("GET", "/things") == ["late", "lost"]
    entry = toy.requests()[2]
    assert (entry["status"], entry["handled_status"]) == (None, 200)


def test_before_fault_leaves_the_state_alone(toy, client):
    toy.inject_fault(method="POST", path="^/things$")
    assert client.api("POST", "/things", json={"id": "never"}).status_code == 500
    assert client.data("GET", "/things") == []


def test_reset_fault_drops_the_connection_and_logs_no_status(toy, client):
    toy.inject_fault(action="reset", path="^/things$")
    with pytest.raises(requests.ConnectionError):
        client.api("GET", "/things")
    assert toy.requests()[0]["status"] is None


def test_reset_restores_state_logs_counters_faults_latency(toy, client):
    client.api("POST", "/things", json={"id": "a"})
    toy.inject_fault(path="^/nothing$", count=3)
    client.sim("PUT", "latency", json={"ms": 50})
    client.sim("POST", "event")
    assert client.sim("POST", "reset").json() == {"data": None}
    assert client.data("GET", "/things") == []
    assert toy.faults() == [] and toy.observer.latency_ms == 0
    counters = toy.counters()
    assert (counters["total"], counters["toy_events"], counters["by_status"]) == (1, 0, {"200": 1})  # the GET above


def test_latency_delays_every_api_request(client):
    assert client.sim("PUT", "latency", json={"ms": 300}).json() == {"data": {"ms": 300}}
    started = time.monotonic()
    client.api("GET", "/things")
    assert time.monotonic() - started >= 0.3
    assert client.sim("GET", "requests").json()["data"][0]["latency_ms"] >= 300
    assert client.sim("PUT", "latency", json={"ms": -5}).json() == {"data": {"ms": 0}}


def test_request_log_redacts_secrets_and_splits_user_and_token(toy, client):
    client.api("POST", "/things", json={"id": "s", "password": "hunter2"})
    entry = client.sim("GET", "requests").json()["data"][0]
    assert entry["params"] == {"id": "s", "password": "***"}
    assert (entry["user"], entry["token"]) == ("alice@toy", "alice@toy!ci")
    assert toy.dump_state()["namespaces"]["things"]["items"]["s"] == {"password": "hunter2"}  # only the log hides it
    counters = toy.counters()
    assert (counters["total"], counters["writes"], counters["by_route"]) == (1, 1, {"POST /things": 1})


def test_state_file_saved_after_writes_and_loaded_at_start(tmp_path):
    state_file = str(tmp_path / "toy.json")
    with ToySim(state_file=state_file) as simulator, ToySession(simulator) as session:
        session.api("POST", "/things", json={"id": "kept"})
    with open(state_file, encoding="utf-8") as handle:
        assert json.load(handle) == {"format": 1, "namespaces": {"things": {"items": {"kept": {"password": None}}}}}
    assert os.listdir(str(tmp_path)) == ["toy.json"]  # no temp file left behind
    with ToySim(state_file=state_file) as simulator, ToySession(simulator) as session:
        assert session.data("GET", "/things") == ["kept"]


def test_state_load_copies_the_document_and_ignores_unknown_namespaces(toy, client):
    saved = {"format": 1, "namespaces": {"things": {"items": {"k": {"password": None}}}, "other": {"x": 1}}}
    toy.state.load(saved)
    client.api("DELETE", "/things/k")
    assert saved["namespaces"]["things"]["items"] == {"k": {"password": None}}
    toy.state.load(saved)
    assert client.data("GET", "/things") == ["k"]
    assert "other" not in toy.dump_state()["namespaces"]


def test_discover_finds_area_subclasses_of_a_package_in_module_order(tmp_path, monkeypatch):
    package = tmp_path / "toyareas"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "b_second.py").write_text("from simcore import Area\nclass Second(Area):\n    name = 'second'\n")
    (package / "a_first.py").write_text("from simcore import Area\nfrom toyareas.b_second import Second\n"
                                        "class First(Area):\n    name = 'first'\nclass NotAnArea:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [area.__name__ for area in discover("toyareas")] == ["First", "Second"]
