"""Shared pytest fixtures: running pvesim simulators and authenticated sessions.

- `sim`: a running PVE 9.1 simulator (HTTPS, nodes pve1-pve3), one per test module, reset
  (state, logs, counters, faults, latency) before every test that uses it.
- `sim84`: the same for PVE 8.4.
- `sim_factory(version="9.1", nodes=("pve1", "pve2", "pve3"), **simulator_options)`: start
  extra simulators inside a test; they are stopped when the test ends.
- `api_session(sim, auth="token"|"ticket"|None)`: a requests.Session logged in to a simulator
  (pvesim.testing.ApiSession: .api(method, path, ...), .data(...), .sim(...)).
- `made_once(name, make)`: what `make()` returns (JSON), made once per test run and shared by the
  pytest-xdist workers (for prepared simulator states that take several playbook runs to make).

Test order: the modules whose tests declare the longest timeout (pytest-timeout marks) run first, so that
under pytest-xdist no long test starts last on one worker while the other has nothing left to do.

The simulators' tasks (clone, start, migrate, vzdump...) run TASK_SECONDS, not pvesim's default 0.5 s: the
clients still poll each task until it stops, as against PVE, only the wait is shorter. A test that needs a
task still running passes its own duration (sim.add_task(duration=...), sim_factory(task_duration=...)).
"""

import fcntl
import json
import os

import pytest

from pvesim import Simulator
from pvesim.testing import ApiSession


def pytest_collection_modifyitems(config, items):
    """The modules in descending order of their longest declared timeout (pytest.ini's for an unmarked test);
    the tests of a module stay together and in their order, and so do modules with the same timeout."""
    default = float(config.getini("timeout") or 0)

    def declared(item):
        marker = item.get_closest_marker("timeout")
        if marker is None:
            return default
        return float(marker.args[0] if marker.args else marker.kwargs.get("timeout", default))

    longest = {}
    for item in items:
        longest[item.path] = max(longest.get(item.path, 0.0), declared(item))
    items.sort(key=lambda item: -longest[item.path])


# Seconds a simulated task runs in these fixtures (see the module docstring).
TASK_SECONDS = 0.05


def _running(version):
    simulator = Simulator(pve_version=version, task_duration=TASK_SECONDS)
    simulator.start()
    return simulator


@pytest.fixture(scope="module")
def _sim_module():
    simulator = _running("9.1")
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def _sim84_module():
    simulator = _running("8.4")
    yield simulator
    simulator.stop()


@pytest.fixture
def sim(_sim_module):  # pylint: disable=redefined-outer-name
    """A running PVE 9.1 simulator in its initial state."""
    _sim_module.reset()
    return _sim_module


@pytest.fixture
def sim84(_sim84_module):  # pylint: disable=redefined-outer-name
    """A running PVE 8.4 simulator in its initial state."""
    _sim84_module.reset()
    return _sim84_module


@pytest.fixture
def sim_factory():
    """Start simulators with any options; all are stopped at the end of the test."""
    started = []

    def factory(version="9.1", nodes=("pve1", "pve2", "pve3"), **options):
        options.setdefault("task_duration", TASK_SECONDS)
        simulator = Simulator(pve_version=version, nodes=nodes, **options)
        started.append(simulator)
        simulator.start()
        return simulator

    yield factory
    for simulator in started:
        simulator.stop()


@pytest.fixture
def api_session():
    """Build logged-in requests sessions to a simulator; closed at the end of the test."""
    sessions = []

    def factory(simulator, auth="token", **options):
        session = ApiSession(simulator, auth=auth, **options)
        sessions.append(session)
        return session

    yield factory
    for session in sessions:
        session.close()


@pytest.fixture(scope="session")
def made_once(tmp_path_factory):
    """made_once(name, make): the JSON document `make()` returns, made once per test run. Under pytest-xdist the
    workers' temporary directories share a parent unique to the run: the first worker to ask makes the document
    and writes it there (holding a lock), the others wait for the lock and read it. Without xdist: make()."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return lambda name, make: json.loads(json.dumps(make()))
    shared = tmp_path_factory.getbasetemp().parent

    def made(name, make):
        document = shared / (name + ".json")
        with open(str(shared / (name + ".lock")), "w", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not document.exists():
                document.write_text(json.dumps(make()))
        # every worker, the maker too, uses the document as read back: the same data everywhere
        return json.loads(document.read_text())

    return made
