"""What a simulator lets tests and benchmarks observe and disturb: the request log, counters,
injected faults and added latency. None of this exists in the simulated system; it is served
under the side channel (/_sim/).

Fault actions every simulator has: `status` (answer `status` with `message`, in the simulated
system's error shape) and `reset` (drop the TCP connection without an answer). A simulator adds
its own actions with their message texts through `fault_messages` {action: fn(fault, path) -> text}
(pvesim: `lock-timeout`, `no-worker`).
"""

import collections
import itertools
import random
import re
import threading
import time

from simcore.server import Response

REQUEST_LOG_SIZE = 10000
REDACTED = "***"
# keys whose values a request log never shows (PBS storage keys: pve-storage PBSPlugin.pm sensitive-properties)
SECRET_PARAM_RE = re.compile(r"pass|secret|token|otp|tfa|encryption-key|master-pubkey", re.I)
CORE_FAULT_ACTIONS = ("status", "reset")
# "before": the request never reaches its handler (nothing was done); "after": the handler
# ran and its answer is lost on the way back (a proxy timing out, a connection dropped
# after the work was done) - the case where a client cannot know what happened.
FAULT_PHASES = ("before", "after")
DEFAULT_FAULT_MESSAGE = "%s injected fault\n"


def redact(params):
    """A copy of request parameters with passwords, secrets and tickets hidden."""
    return {key: REDACTED if SECRET_PARAM_RE.search(key) else value for key, value in params.items()}


class Fault:  # pylint: disable=too-many-instance-attributes
    """One injected fault; fires at most `count` times, each time with probability `rate`.

    `spec` keeps every key of the request, so simulator-specific actions can read their own
    options (pvesim's lock-timeout reads `lockid`).
    """

    def __init__(self, fault_id, spec, rng, actions=CORE_FAULT_ACTIONS):
        action = spec.get("action") or "status"
        if action not in actions:
            raise ValueError("unknown fault action %r (known: %s)" % (action, ", ".join(actions)))
        phase = spec.get("phase") or "before"
        if phase not in FAULT_PHASES:
            raise ValueError("unknown fault phase %r (known: %s)" % (phase, ", ".join(FAULT_PHASES)))
        self.fault_id = fault_id
        self.spec = dict(spec)
        self.action = action
        self.phase = phase
        self.method = spec.get("method")
        self.path = re.compile(spec["path"]) if spec.get("path") else None
        self.status = int(spec.get("status") or 500)
        self.message = spec.get("message")
        self.remaining = int(spec.get("count", 1))
        self.rate = float(spec.get("rate", 1.0))
        self.fired = 0
        self.rng = rng

    def matches(self, method, path, phase):
        """True if this request should get the fault in this phase (consumes one firing)."""
        if self.phase != phase or self.remaining <= 0 or (self.method and self.method.upper() != method):
            return False
        if self.path and not self.path.search(path):
            return False
        if self.rate < 1.0 and self.rng.random() >= self.rate:
            return False
        self.remaining -= 1
        self.fired += 1
        return True

    def describe(self):
        """JSON view for GET /_sim/faults."""
        return {"id": self.fault_id, "action": self.action, "phase": self.phase, "method": self.method,
                "path": self.path.pattern if self.path else None, "status": self.status,
                "remaining": self.remaining, "fired": self.fired, "rate": self.rate}


class Observer:  # pylint: disable=too-many-instance-attributes
    """Request log, counters, faults and latency; thread-safe.

    `name` goes into the default fault message; `fault_messages` adds simulator-specific fault
    actions {action: fn(fault, path) -> message}; `custom_counters` are counters that areas bump
    with increment() and that show (as 0) from the start.
    """

    def __init__(self, seed=None, name="simcore", fault_messages=None, custom_counters=()):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.name = name
        self.fault_messages = dict(fault_messages or {})
        self.fault_actions = CORE_FAULT_ACTIONS + tuple(self.fault_messages)
        self.latency_ms = 0
        self.faults = []
        self.custom = {counter: 0 for counter in custom_counters}
        self._fault_ids = itertools.count(1)
        self._seq = itertools.count(1)
        self.log = collections.deque(maxlen=REQUEST_LOG_SIZE)
        self.total = 0
        self.writes = 0
        self.by_route = collections.Counter()
        self.by_path = collections.Counter()
        self.by_status = collections.Counter()
        self.unknown_formats = set()

    def reset(self):
        """Forget logs, counters, faults and latency."""
        with self.lock:
            self.latency_ms = 0
            self.faults = []
            self.custom = {name: 0 for name in self.custom}
            self.log.clear()
            self.total = self.writes = 0
            for counter in (self.by_route, self.by_path, self.by_status):
                counter.clear()
            self.unknown_formats.clear()

    def increment(self, name, amount=1):
        """Bump a named counter that areas maintain (e.g. pvesim's sdn_applies)."""
        with self.lock:
            self.custom[name] = self.custom.get(name, 0) + amount

    def unknown_format(self, name):
        """Remember a named format the simulator cannot verify."""
        with self.lock:
            self.unknown_formats.add(name)

    # -- faults ------------------------------------------------------------------------------
    def add_fault(self, spec):
        """Register a fault from its JSON spec; returns its id (ValueError for a bad spec)."""
        with self.lock:
            fault = Fault(next(self._fault_ids), spec, self.rng, self.fault_actions)
            self.faults.append(fault)
            return fault.fault_id

    def describe_faults(self):
        """The faults with what they did so far (GET /_sim/faults)."""
        with self.lock:
            return [fault.describe() for fault in self.faults]

    def clear_faults(self):
        """Remove every fault."""
        with self.lock:
            self.faults = []

    def take_fault(self, method, path, phase="before"):
        """The first fault that fires for this request in this phase, or None."""
        with self.lock:
            return next((fault for fault in self.faults if fault.matches(method, path, phase)), None)

    def fault_message(self, fault, path):
        """The message of a fault that answers (every action but `reset`) for a request on `path`."""
        if fault.action in self.fault_messages:
            return self.fault_messages[fault.action](fault, path)
        return fault.message if fault.message is not None else DEFAULT_FAULT_MESSAGE % self.name

    def answer_with_faults(self, method, path, trace, answer, error_response):  # pylint: disable=too-many-arguments
        """The request's answer between the two fault phases: a `before` fault answers instead of
        `answer()` (never called then), an `after` fault replaces the answer it returned. A fault that
        fires sets trace["fault"] (its id), an `after` one also trace["handled_status"] (the status
        that was lost); `reset` drops the connection, every other action answers through the
        simulator's own error shape, error_response(status, message)."""
        fault = self.take_fault(method, path)
        if fault is None:
            response = answer()
            fault = self.take_fault(method, path, phase="after")
            if fault is None:
                return response
            trace["handled_status"] = response.status
        trace["fault"] = fault.fault_id
        if fault.action == "reset":
            return Response.connection_reset()
        return error_response(fault.status, self.fault_message(fault, path))

    # -- the request log ---------------------------------------------------------------------
    def record(self, entry, route, is_write):
        """Log one API request (a dict with at least method, path, status) and count it."""
        with self.lock:
            entry["seq"] = next(self._seq)
            self.log.append(entry)
            self.total += 1
            self.writes += 1 if is_write else 0
            if route:
                self.by_route["%s %s" % (entry["method"], route)] += 1
            self.by_path["%s %s" % (entry["method"], entry["path"])] += 1
            self.by_status[str(entry["status"])] += 1

    def log_request(self, method, path, response, started, route=None, params=None, userid=None, is_write=False,
                    **extra):  # pylint: disable=too-many-arguments
        """Build the standard log entry of one API request and record() it.

        `response` is the simcore.server.Response sent (status None for a reset), `started` the
        time.monotonic() at arrival, `params` are redacted here, `userid` "user@realm" or
        "user@realm!tokenname" (user and token are logged apart); `extra` keys are added as given
        (pvesim: fault, handled_status)."""
        entry = {
            "time": time.time(), "method": method, "path": path, "route": route, "params": redact(params or {}),
            "status": None if response.reset else response.status, "reason": response.reason,
            "user": userid.split("!", 1)[0] if userid else None,
            "token": userid if userid and "!" in userid else None,
            "latency_ms": round((time.monotonic() - started) * 1000.0, 3),
        }
        entry.update(extra)
        self.record(entry, route, is_write)
        return entry

    def counters(self):
        """The GET /_sim/counters document."""
        with self.lock:
            document = {
                "total": self.total, "writes": self.writes,
                "by_route": dict(self.by_route), "by_path": dict(self.by_path), "by_status": dict(self.by_status),
                "unknown_formats": sorted(self.unknown_formats),
            }
            document.update(self.custom)
            return document

    def requests(self):
        """The request log, oldest first."""
        with self.lock:
            return list(self.log)

    def set_latency(self, ms):
        """Delay every API request by `ms` milliseconds from now on (negative = 0)."""
        self.latency_ms = max(0, int(ms))
        return self.latency_ms

    def sleep_latency(self):
        """Delay a request by the configured latency."""
        delay = self.latency_ms
        if delay > 0:
            time.sleep(delay / 1000.0)
