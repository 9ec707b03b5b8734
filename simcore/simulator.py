"""SimulatorBase: one simulated system behind one HTTP(S) listener.

A simulator subclasses it, sets the class attributes that describe its wire (server name, side
channel prefix, body limit, ...), builds its own pieces (schema, pipeline) in __init__ after
calling the base __init__, installs its areas, and implements `handle_api`:

    class MySim(SimulatorBase):
        name = "pbssim"
        server_name = "proxmox-backup-api"
        def __init__(self, **options):
            super().__init__(**options)
            self.schema = SchemaTree(load_tree(...))
            self.install_areas(discover("pbssim.areas", PbsArea))
            self.load_state_file()
        def handle_api(self, method, raw_path, headers, body):
            ...  # -> simcore.server.Response

    with MySim(tls=True) as sim:  # start() listens on port 0 = any free port
        print(sim.url)

The Python methods below mirror the side channel (sidechannel.py).
"""

import os
import shutil
import tempfile
import threading

from simcore import certs, sidechannel
from simcore.observe import Observer
from simcore.server import Response, SimServer, tls_context
from simcore.state import State

STOP_TIMEOUT = 10
LOOPBACK_NAMES = (["localhost"], ["127.0.0.1", "::1"])


class SimulatorBase:  # pylint: disable=too-many-instance-attributes
    """Lifecycle (start/stop, TLS certificate, work directory), state, observer, areas, side channel."""

    # -- what the subclass says about its wire -------------------------------------------------
    name = "simcore"                 # certificate organisation, work dir and thread names, default fault text
    server_name = "simcore"          # the Server header
    side_prefix = "/_sim"            # side channel paths (loopback only)
    api_methods = ("GET", "POST", "PUT", "DELETE")  # others get unknown_method_response()
    max_body = 64 * 1024             # bigger bodies get body_too_large_response()
    response_headers = ()            # extra (name, value) headers on every answer
    close_after_error = True         # close the connection after a status >= 400
    fault_messages = {}              # extra fault actions: {action: fn(fault, path) -> message}
    fault_options = ()               # extra keys a fault spec may carry for those actions
    custom_counters = ()             # counters areas bump with observer.increment()

    def __init__(self, tls=True, bind="127.0.0.1", port=0, state_file=None, seed=None):
        self.tls = tls
        self.bind = bind
        self.requested_port = port
        self.state_file = state_file
        self.seed = seed
        self.state = State()
        self.observer = Observer(seed, name=self.name, fault_messages=self.fault_messages,
                                 custom_counters=self.custom_counters)
        self.areas = {}
        self.routes = {}
        self.port = None
        self.url = None
        self.cert_path = None
        self.cert_fingerprint = None
        self._server = None
        self._thread = None
        self._workdir = None

    # -- hooks ---------------------------------------------------------------------------------
    def handle_api(self, method, raw_path, headers, body):
        """Answer one API request (everything outside the side channel) with a Response."""
        raise NotImplementedError("%s must implement handle_api" % type(self).__name__)

    def unknown_method_response(self, method):
        """The answer to an HTTP method outside `api_methods`."""
        return Response(501, "Not Implemented", ("method '%s' not available" % method).encode("utf-8"),
                        "text/plain;charset=UTF-8")

    def body_too_large_response(self, length):  # pylint: disable=unused-argument
        """The answer to a request body over `max_body` bytes (not read)."""
        return Response(413, "Payload Too Large", b"request body too large", "text/plain;charset=UTF-8")

    def register_route(self, method, schema_path, handler):
        """Called for every @route of every installed area; the default keeps them in `routes`."""
        self.routes[(method, schema_path)] = handler

    def side_routes(self):
        """The simulator's own side-channel calls: {(method, path): function(sim, body)}."""
        return {}

    def cert_names(self):
        """(common name, DNS names, IP addresses) of the generated certificate."""
        return "localhost", LOOPBACK_NAMES[0], LOOPBACK_NAMES[1]

    # -- areas and state -------------------------------------------------------------------------
    def install_areas(self, area_classes):
        """Instantiate each area (it registers its state namespace) and register its routes."""
        for area_class in area_classes:
            area = area_class(self)
            self.areas[area_class.__name__] = area
            for method, schema_path, handler in area.routes():
                self.register_route(method, schema_path, handler)

    def load_state_file(self):
        """Load `state_file` when it exists (call after install_areas: unknown namespaces are ignored)."""
        if self.state_file and os.path.exists(self.state_file):
            self.state.load_file(self.state_file)

    def persist(self):
        """Save the state after a successful write, when a state file is configured."""
        if self.state_file:
            self.state.save_file(self.state_file)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self):
        """Listen (port 0 = any free port), serve in a background thread; returns the base URL."""
        context = None
        self._workdir = tempfile.mkdtemp(prefix="%s-" % self.name)
        if self.tls:
            common_name, dns_names, ip_addresses = self.cert_names()
            cert_pem, key_pem, self.cert_fingerprint = certs.generate(common_name, dns_names, ip_addresses, self.name)
            self.cert_path = os.path.join(self._workdir, "%s-cert.pem" % self.name)
            key_path = os.path.join(self._workdir, "%s-key.pem" % self.name)
            with open(self.cert_path, "wb") as handle:
                handle.write(cert_pem)
            with open(os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
                handle.write(key_pem)
            context = tls_context(self.cert_path, key_path)
        self._server = SimServer((self.bind, self.requested_port), self, context)
        self.port = self._server.server_address[1]
        host = "[%s]" % self.bind if ":" in self.bind else self.bind
        self.url = "%s://%s:%d" % ("https" if self.tls else "http", host, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="%s-%d" % (self.name, self.port), daemon=True)
        self._thread.start()
        return self.url

    def stop(self):
        """Stop serving and remove the work directory (with the generated certificate)."""
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

    # -- the side channel, as Python ---------------------------------------------------------------
    def handle_side_channel(self, method, raw_path, body):
        """(status, document) of one side-channel call; the listener calls this for loopback clients."""
        return sidechannel.handle(self, method, raw_path, body)

    def counters(self):
        """See GET /_sim/counters."""
        return self.observer.counters()

    def requests(self):
        """See GET /_sim/requests."""
        return self.observer.requests()

    def inject_fault(self, action="status", method=None, path=None, status=500, message=None, count=1, rate=1.0,
                     phase="before", **options):
        """See POST /_sim/faults; returns the fault id. `options` are kept for the simulator's
        own fault actions (`fault_options`, pvesim: lockid)."""
        unknown = sorted(set(options) - set(self.fault_options))
        if unknown:
            raise TypeError("unknown fault option(s): %s" % ", ".join(unknown))
        spec = dict(options, action=action, method=method, path=path, status=status, message=message,
                    count=count, rate=rate, phase=phase)
        return self.observer.add_fault(spec)

    def faults(self):
        """See GET /_sim/faults."""
        return self.observer.describe_faults()

    def clear_faults(self):
        """See DELETE /_sim/faults."""
        self.observer.clear_faults()

    def set_latency(self, ms):
        """See PUT /_sim/latency: delay every API request by `ms` milliseconds; returns the value set."""
        return self.observer.set_latency(ms)

    def reset(self):
        """See POST /_sim/reset: initial state, empty logs and counters, no faults, no latency."""
        self.state.reset()
        self.observer.reset()

    def dump_state(self):
        """See GET /_sim/state."""
        return self.state.dump()
