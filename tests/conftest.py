"""Shared pytest fixtures: running pvesim simulators and authenticated sessions.

- `sim`: a running PVE 9.1 simulator (HTTPS, nodes pve1-pve3), one per test module, reset
  (state, logs, counters, faults, latency) before every test that uses it.
- `sim84`: the same for PVE 8.4.
- `sim_factory(version="9.1", nodes=("pve1", "pve2", "pve3"), **simulator_options)`: start
  extra simulators inside a test; they are stopped when the test ends.
- `api_session(sim, auth="token"|"ticket"|None)`: a requests.Session logged in to a simulator
  (pvesim.testing.ApiSession: .api(method, path, ...), .data(...), .sim(...)).
"""

import pytest

from pvesim import Simulator
from pvesim.testing import ApiSession


def _running(version):
    simulator = Simulator(pve_version=version)
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
