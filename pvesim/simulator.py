"""The Simulator: one simulated PVE cluster behind one HTTP(S) listener (simcore.SimulatorBase).

    sim = Simulator(pve_version="9.1", nodes=("pve1", "pve2", "pve3"))
    url = sim.start()        # https://127.0.0.1:<port>, served from a background thread
    ...
    sim.stop()

The lifecycle, state, observer and side channel are simcore's; this class adds PVE's wire
(pvesim/server.py), its request pipeline (dispatch.py), the cluster (nodes, users, tokens,
tasks) and the areas of pvesim/areas. The Python methods mirror the /_sim/ side channel.
"""

import os
import time

from simcore import SimulatorBase

from pvesim import areas, schema, server, sidechannel
from pvesim.auth import DEMO_TOKEN_SECRET, Directory, Permissions, check_tokenid, parse_token_option
from pvesim.dispatch import Dispatcher
from pvesim.observe import FAULT_MESSAGES, FAULT_OPTIONS
from pvesim.tasks import TaskEngine
from pvesim.validate import Validator

DEFAULT_NODES = ("pve1", "pve2", "pve3")
DEFAULT_ROOT_PASSWORD = "pvesim"
DEFAULT_TOKEN = "root@pam!homecloud"
DEFAULT_TASK_DURATION = 0.5


def _token_table(tokens):
    """Accept {id: secret}, or an iterable of "USER@REALM!NAME=SECRET"; default: the demo token."""
    if tokens is None:
        return {DEFAULT_TOKEN: DEMO_TOKEN_SECRET}
    if isinstance(tokens, dict):
        return {check_tokenid(tokenid): secret for tokenid, secret in tokens.items()}
    return dict(parse_token_option(text) for text in tokens)


class Simulator(SimulatorBase):  # pylint: disable=too-many-instance-attributes
    """A simulated PVE cluster; see the module docstring."""

    name = "pvesim"
    server_name = server.SERVER_NAME
    api_methods = server.KNOWN_METHODS
    max_body = server.MAX_BODY
    response_headers = server.RESPONSE_HEADERS
    fault_messages = FAULT_MESSAGES
    fault_options = FAULT_OPTIONS
    custom_counters = ("sdn_applies",)

    def __init__(self, pve_version="9.1", nodes=DEFAULT_NODES, tls=True, bind="127.0.0.1", port=0,
                 root_password=None, tokens=None, cluster_name="homecloud", state_file=None,
                 task_duration=DEFAULT_TASK_DURATION, seed=None, node_underlay=None, exec_netns_prefix=None):
        self.schema = schema.load(pve_version)
        self.pve_version = self.schema.release
        self.version = self.schema.pve_version
        self.nodes = tuple(nodes)
        if not self.nodes:
            raise ValueError("a cluster needs at least one node")
        super().__init__(tls=tls, bind=bind, port=port, state_file=state_file, seed=seed)
        self.cluster_name = cluster_name
        # node -> underlay (VTEP) address for SDN rendering; see the SDN section of README.md
        self.node_underlay = dict(node_underlay or {})
        # agent/exec runs for real in network namespaces of this prefix (qemu_runtime.py); None: never
        self.exec_netns_prefix = exec_netns_prefix or None
        self.root_password = root_password or os.environ.get("PVESIM_ROOT_PASSWORD") or DEFAULT_ROOT_PASSWORD
        self.tokens = _token_table(tokens)
        self.started_at = time.time()
        self.validator = Validator(self.observer.unknown_format)
        self.directory = Directory(self.state, self.root_password, self.tokens)
        self.permissions = Permissions(self.directory)
        self.tasks = TaskEngine(self.state, task_duration)
        self.dispatcher = Dispatcher(self)
        self.install_areas(areas.discover())
        self.load_state_file()

    # -- simcore hooks ---------------------------------------------------------------------------
    def handle_api(self, method, raw_path, headers, body):
        """Everything outside /_sim goes through PVE's request pipeline (dispatch.py)."""
        return self.dispatcher.handle(method, raw_path, headers, body)

    def register_route(self, method, schema_path, handler):
        """Areas' handlers are served only where this release's schema has the method."""
        self.dispatcher.register(method, schema_path, handler)

    def unknown_method_response(self, method):
        return server.unknown_method_response(method)

    def body_too_large_response(self, length):
        return server.body_too_large_response(length)

    def side_routes(self):
        return sidechannel.ROUTES

    def cert_names(self):
        """Like a node's pve-ssl.pem: the first node's name, plus every node and the loopback names."""
        return self.nodes[0], ["localhost"] + list(self.nodes), ["127.0.0.1", "::1"]

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

    def node_unreachable(self, node):
        """The first answer other than None of the areas' node_unreachable(node): a reason text or
        True when pveproxy cannot reach `node`; None when every area says nothing (the node is up)."""
        for area in self.areas.values():
            answer = area.node_unreachable(node)
            if answer is not None:
                return answer
        return None

    # -- the side channel, as Python -----------------------------------------------------------
    def inject_fault(self, action="status", method=None, path=None, status=500, message=None, count=1, rate=1.0,
                     phase="before", lockid=None):  # pylint: disable=arguments-differ
        """See POST /_sim/faults; returns the fault id. `lockid` is the lock-timeout fault's lock."""
        return super().inject_fault(action=action, method=method, path=path, status=status, message=message, count=count,
                                    rate=rate, phase=phase, lockid=lockid)

    def add_task(self, node, type, id="", user="root@pam", exitstatus="OK", log=(), duration=None):  # pylint: disable=redefined-builtin
        """See POST /_sim/tasks: create a task; returns its UPID."""
        if node not in self.nodes:
            raise ValueError("unknown node %r" % node)
        with self.state.lock:
            upid = self.tasks.start(node, type, id, user, exitstatus=exitstatus, log=log, duration=duration)
            self.persist()
        return upid
