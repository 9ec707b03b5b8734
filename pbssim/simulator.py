"""The PBS simulator: one Proxmox Backup Server API behind one HTTP(S) listener (simcore).

    sim = PbsSimulator()      # or: with PbsSimulator() as sim:
    url = sim.start()         # https://127.0.0.1:<port>, the API under /api2/json
    sim.stop()

The request pipeline follows proxmox-rs proxmox-rest-server src/rest.rs (ApiConfig/handle_request,
f330500):
 1. the path must be /api2/<format>/...; only the `json` format is simulated
    (`extjs` answers 400 "Unsupported output format 'extjs'.", PBS's text for an unknown one)
 2. the method is looked up in the (vendored) schema; unless its permission is World the caller
    must authenticate (ticket cookie + CSRFPreventionToken for writes, or an API token)
                                                       else 401 "authentication failed"
 3. no such method                                     else 404 "Path '<full path>' not found."
 4. the schema's permission (proxmox-router check_api_permission)  else 403 "permission check failed"
 5. parameters parsed and verified (validate.py)      else 400 "parameter verification failed ..."
 6. the handler; its errors keep their status (http_bail!) or are 400 (bail!)
Errors are the message as the body with status code and standard reason phrase (errors.py).
Injected faults act after step 2; latency before step 1. PBS delays a 401 by 3 s and a 403 by
0.5 s; the simulator does not.
"""

import hashlib
import json
import os
import re
import time
from urllib.parse import unquote, urlsplit

from simcore import Area, Response, SchemaTree, SimulatorBase, discover, load_tree
from pbssim.access import Directory, AUTHID_RE
from pbssim.errors import HTTP_NOT_FOUND, HTTP_FORBIDDEN, ApiError, bail, reason_phrase
from pbssim.tasks import TaskEngine
from pbssim.validate import request_parameters
from pbssim.vendor import DATA_DIR, SCHEMA_FILE

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
WRITE_METHODS = ("POST", "PUT", "DELETE")
DEFAULT_NODE = "pbs"
DEFAULT_ROOT_PASSWORD = "pbssim"
DEFAULT_TOKEN = "root@pam!homecloud"
DEMO_TOKEN_SECRET = "7c1e5d2a-4b3f-4e8a-9d6c-0b5e5c0ffee1"
DEFAULT_TASK_DURATION = 0.5
PBS_VERSION = "4.0"   # the major.minor of the schema's release line (the vendored schema has s3 backends: 4.x)


def parse_token_option(text):
    """'USER@REALM!NAME=SECRET' (as the CLI takes it) -> (tokenid, secret)."""
    tokenid, sep, secret = text.partition("=")
    match = AUTHID_RE.match(tokenid)
    if not sep or not secret or not match or not match.group(2):
        raise ValueError("a token is USER@REALM!NAME=SECRET, got %r" % text)
    return tokenid, secret


def token_table(tokens):
    """{id: secret}, an iterable of "USER@REALM!NAME=SECRET", or None (the demo token)."""
    if tokens is None:
        return {DEFAULT_TOKEN: DEMO_TOKEN_SECRET}
    if isinstance(tokens, dict):
        return dict(parse_token_option("%s=%s" % item) for item in tokens.items())
    return dict(parse_token_option(text) for text in tokens)


def config_digest(text):
    """The digest PBS answers and checks: sha256 (hex) of the config file's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_digest(digest, text):
    """tools detect_modified_configuration_file: a stale digest is a plain error (400)."""
    if digest is not None and digest != config_digest(text):
        raise bail("detected modified configuration - file changed by other user? Try again.")


class PbsArea(Area):
    """An area of the PBS API (handlers receive a PbsRequest)."""


class PbsRequest:  # pylint: disable=too-few-public-methods
    """What a handler sees: typed params, the caller's auth id, result attributes (digest)."""

    def __init__(self, sim, method, rel_uri, schema_path, params, auth_id):
        self.sim = sim
        self.method = method
        self.rel_uri = rel_uri
        self.schema_path = schema_path
        self.params = params
        self.auth_id = auth_id
        self.result_attributes = {}

    def set_digest(self, text):
        """rpcenv["digest"]: the sha256 of the config file text the answer was read from."""
        self.result_attributes["digest"] = config_digest(text)


class PbsSimulator(SimulatorBase):  # pylint: disable=too-many-instance-attributes
    """A simulated Proxmox Backup Server (one node)."""

    name = "pbssim"
    server_name = "proxmox-backup-api"
    close_after_error = False

    def __init__(self, tls=True, bind="127.0.0.1", port=0, node=DEFAULT_NODE, root_password=None, tokens=None,
                 state_file=None, task_duration=DEFAULT_TASK_DURATION, seed=None):
        super().__init__(tls=tls, bind=bind, port=port, state_file=state_file, seed=seed)
        schema_path = os.path.join(DATA_DIR, SCHEMA_FILE)
        self.schema = SchemaTree(load_tree(schema_path))
        with open(schema_path, "rb") as handle:
            self.repoid = hashlib.sha256(handle.read()).hexdigest()[:8]
        self.node = node
        self.root_password = root_password or os.environ.get("PBSSIM_ROOT_PASSWORD") or DEFAULT_ROOT_PASSWORD
        self.tokens = token_table(tokens)
        self.directory = Directory(self.state, self.root_password, self.tokens)
        self.tasks = TaskEngine(self.state, node, task_duration)
        self.handlers = {}
        self.install_areas(discover("pbssim.areas", PbsArea))
        self.load_state_file()

    def register_route(self, method, schema_path, handler):
        if not self.schema.has(method, schema_path):
            raise ValueError("%s %s is not in the vendored schema" % (method, schema_path))
        self.handlers[(method, schema_path)] = handler

    def cert_names(self):
        return self.node, ["localhost", self.node], ["127.0.0.1", "::1"]

    def side_routes(self):
        return {("POST", self.side_prefix + "/tasks"): lambda sim, body: {"upid": sim.add_task(**body)}}

    def add_task(self, type, id="", user="root@pam", exitstatus="OK", log=(), duration=None):  # pylint: disable=redefined-builtin
        """See POST /_sim/tasks: a task as if a PBS worker ran; returns its UPID."""
        with self.state.lock:
            upid = self.tasks.start(type, id, user, exitstatus=exitstatus, log=log, duration=duration)
            self.persist()
        return upid

    # -- the pipeline ------------------------------------------------------------------------
    @staticmethod
    def _error_response(error):
        return Response(error.status, reason_phrase(error.status), error.message.encode("utf-8"), JSON_CONTENT_TYPE)

    def handle_api(self, method, raw_path, headers, body):
        started = time.monotonic()
        self.observer.sleep_latency()
        url = urlsplit(raw_path)
        full_path = unquote(url.path)
        match = re.match(r"^/api2/([^/]+)(/.*)?$", full_path)
        rel_uri = (match.group(2) or "/") if match else full_path
        trace = {"route": None, "params": {}, "auth_id": None, "fault": None, "handled_status": None}
        try:
            response = self._answer(method, full_path, match, rel_uri, url.query, headers, body, trace)
        except ApiError as error:
            response = self._error_response(error)
        self.observer.log_request(method, rel_uri, response, started, route=trace["route"], params=trace["params"],
                                  userid=trace["auth_id"], is_write=method in WRITE_METHODS and rel_uri != "/access/ticket",
                                  fault=trace["fault"], handled_status=trace["handled_status"])
        return response

    def _answer(self, method, full_path, match, rel_uri, query, headers, body, trace):  # pylint: disable=too-many-arguments
        if not match:
            raise ApiError(HTTP_NOT_FOUND, "Path '%s' not found." % full_path)
        if match.group(1) != "json":
            raise bail("Unsupported output format '%s'." % match.group(1))
        found = self.schema.match(rel_uri)
        info = self.schema.method(found[0], method) if found else None
        permission = (info or {}).get("permissions") or {}
        if permission.get("user") != "world":
            trace["auth_id"] = self.directory.authenticate(method, headers)

        def call():
            try:
                return self._call(method, full_path, rel_uri, found, info, query, headers, body, trace)
            except ApiError as error:
                return self._error_response(error)

        return self.observer.answer_with_faults(method, rel_uri, trace, call,
                                                lambda status, message: self._error_response(ApiError(status, message)))

    def _call(self, method, full_path, rel_uri, found, info, query, headers, body, trace):  # pylint: disable=too-many-arguments
        if info is None:
            raise ApiError(HTTP_NOT_FOUND, "Path '%s' not found." % full_path)
        schema_path, uri_params = found
        trace["route"] = schema_path
        if not self.directory.permission_allows(info.get("permissions"), trace["auth_id"], uri_params):
            raise ApiError(HTTP_FORBIDDEN, "permission check failed")
        params = request_parameters(info.get("parameters") or {}, headers.get("Content-Type"), body, query, uri_params)
        trace["params"] = params
        request = PbsRequest(self, method, rel_uri, schema_path, params, trace["auth_id"])
        with self.state.lock:
            data = self.handlers[(method, schema_path)](request)
            if method in WRITE_METHODS:
                self.persist()
        document = {"data": data}
        document.update(request.result_attributes)
        return Response(200, "OK", json.dumps(document).encode("utf-8"), JSON_CONTENT_TYPE)
