"""The Simulator: one simulated PVE cluster behind one HTTP(S) listener.

    sim = Simulator(pve_version="9.1", nodes=("pve1", "pve2", "pve3"))
    url = sim.start()        # https://127.0.0.1:<port>, served from a background thread
    ...
    sim.stop()

The Python methods mirror the /_sim/ side channel (see sidechannel.py).
"""

import os
import shutil
import tempfile
import threading
import time

from pvesim import areas, certs, schema
from pvesim.auth import DEMO_TOKEN_SECRET, Directory, Permissions, check_tokenid, parse_token_option
from pvesim.dispatch import Dispatcher
from pvesim.observe import Observer
from pvesim.server import ApiServer, tls_context
from pvesim.state import State
from pvesim.tasks import TaskEngine
from pvesim.validate import Validator

DEFAULT_NODES = ("pve1", "pve2", "pve3")
DEFAULT_ROOT_PASSWORD = "pvesim"
DEFAULT_TOKEN = "root@pam!homecloud"
DEFAULT_TASK_DURATION = 0.5
STOP_TIMEOUT = 10


def _token_table(tokens):
    """Accept {id: secret}, or an iterable of "USER@REALM!NAME=SECRET"; default: the demo token."""
    if tokens is None:
        return {DEFAULT_TOKEN: DEMO_TOKEN_SECRET}
    if isinstance(tokens, dict):
        return {check_tokenid(tokenid): secret for tokenid, secret in tokens.items()}
    return dict(parse_token_option(text) for text in tokens)


class Simulator:  # pylint: disable=too-many-instance-attributes
    """A simulated PVE cluster; see the module docstring."""

    def __init__(self, pve_version="9.1", nodes=DEFAULT_NODES, tls=True, bind="127.0.0.1", port=0,
                 root_password=None, tokens=None, cluster_name="homecloud", state_file=None,
                 task_duration=DEFAULT_TASK_DURATION, seed=None, node_underlay=None):
        self.schema = schema.load(pve_version)
        self.pve_version = self.schema.release
        self.version = self.schema.pve_version
        self.nodes = tuple(nodes)
        if not self.nodes:
            raise ValueError("a cluster needs at least one node")
        self.cluster_name = cluster_name
        self.seed = seed
        # node -> underlay (VTEP) address for SDN rendering; see the SDN section of README.md
        self.node_underlay = dict(node_underlay or {})
        self.tls = tls
        self.bind = bind
        self.requested_port = port
        self.root_password = root_password or os.environ.get("PVESIM_ROOT_PASSWORD") or DEFAULT_ROOT_PASSWORD
        self.tokens = _token_table(tokens)
        self.state_file = state_file
        self.started_at = time.time()
        self.state = State()
        self.observer = Observer(seed)
        self.validator = Validator(self.observer.unknown_format)
        self.directory = Directory(self.state, self.root_password, self.tokens)
        self.permissions = Permissions(self.directory)
        self.tasks = TaskEngine(self.state, task_duration)
        self.dispatcher = Dispatcher(self)
        self.areas = {}
        for area_class in areas.discover():
            area = area_class(self)
            self.areas[area_class.__name__] = area
            for method, schema_path, handler in area.routes():
                self.dispatcher.register(method, schema_path, handler)
        if state_file and os.path.exists(state_file):
            self.state.load_file(state_file)
        self.port = None
        self.url = None
        self.cert_path = None
        self.cert_fingerprint = None
        self._server = None
        self._thread = None
        self._workdir = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        """Listen (port 0 = any free port), serve in a background thread; returns the base URL."""
        context = None
        self._workdir = tempfile.mkdtemp(prefix="pvesim-")
        if self.tls:
            cert_pem, key_pem, self.cert_fingerprint = certs.generate(
                self.nodes[0], ["localhost"] + list(self.nodes), ["127.0.0.1", "::1"])
            self.cert_path = os.path.join(self._workdir, "pvesim-cert.pem")
            key_path = os.path.join(self._workdir, "pvesim-key.pem")
            with open(self.cert_path, "wb") as handle:
                handle.write(cert_pem)
            with open(os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
                handle.write(key_pem)
            context = tls_context(self.cert_path, key_path)
        self._server = ApiServer((self.bind, self.requested_port), self, context)
        self.port = self._server.server_address[1]
        host = "[%s]" % self.bind if ":" in self.bind else self.bind
        self.url = "%s://%s:%d" % ("https" if self.tls else "http", host, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="pvesim-%d" % self.port, daemon=True)
        self._thread.start()
        return self.url

    def stop(self):
        """Stop serving and remove the generated certificate."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(STOP_TIMEOUT)
            self._server = None
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
            self.cert_path = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    # -- cluster facts areas share -----------------------------------------------------------
    def node_index(self, node):
        """1-based corosync node id."""
        return self.nodes.index(node) + 1

    def node_ip(self, node):
        """The (simulated) cluster address of a node."""
        return "10.10.10.%d" % (10 + self.node_index(node))

    def uptime(self):
        """Seconds the simulated nodes have been up."""
        return int(time.time() - self.tasks.boot_time)

    def persist(self):
        """Save the state after a successful write, when a state file is configured."""
        if self.state_file:
            self.state.save_file(self.state_file)

    # -- the side channel, as Python -----------------------------------------------------------
    def counters(self):
        """See GET /_sim/counters."""
        return self.observer.counters()

    def requests(self):
        """See GET /_sim/requests."""
        return self.observer.requests()

    def inject_fault(self, action="status", method=None, path=None, status=500, message=None, count=1, rate=1.0, lockid=None,
                     phase="before"):
        """See POST /_sim/faults; returns the fault id."""
        spec = {"action": action, "method": method, "path": path, "status": status, "message": message,
                "count": count, "rate": rate, "lockid": lockid, "phase": phase}
        return self.observer.add_fault(spec)

    def faults(self):
        """See GET /_sim/faults."""
        with self.observer.lock:
            return [fault.describe() for fault in self.observer.faults]

    def clear_faults(self):
        """See DELETE /_sim/faults."""
        self.observer.clear_faults()

    def set_latency(self, ms):
        """See PUT /_sim/latency: delay every /api2 request by `ms` milliseconds."""
        self.observer.latency_ms = max(0, int(ms))

    def reset(self):
        """See POST /_sim/reset: initial state, empty logs and counters, no faults, no latency."""
        self.state.reset()
        self.observer.reset()

    def add_task(self, node, type, id="", user="root@pam", exitstatus="OK", log=(), duration=None):  # pylint: disable=redefined-builtin
        """See POST /_sim/tasks: create a task; returns its UPID."""
        if node not in self.nodes:
            raise ValueError("unknown node %r" % node)
        with self.state.lock:
            upid = self.tasks.start(node, type, id, user, exitstatus=exitstatus, log=log, duration=duration)
            self.persist()
        return upid

    def dump_state(self):
        """See GET /_sim/state."""
        return self.state.dump()
