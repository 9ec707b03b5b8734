"""The Technitium DNS Server simulator: the HTTP API (port 5380 upstream) and a DNS service.

    sim = TechnitiumSimulator(port=0, dns_port=0)   # or: with TechnitiumSimulator() as sim:
    sim.start()                                      # sim.url http://127.0.0.1:<port>, sim.dns_port
    sim.stop()

The request pipeline (DnsServerCore/DnsWebService.cs WebServiceApiMiddleware and the calls of
DnsServerCore/WebServiceZonesApi.cs, see data/PROVENANCE.md):
 1. parameters from the query string, then the urlencoded form of a POST (query first)
 2. outside /api/: 404, empty body
 3. the token: `Authorization: Bearer <token>`, else the `token` parameter; none or unknown:
    HTTP 200 {"status": "invalid-token", "errorMessage": "Invalid token or session expired."}
 4. a path the simulator does not serve: 404, empty body (the server's `apiFallback`)
 5. faults (simcore), then the call: a section permission is checked first ("Access was
    denied."), the handler reads its parameters by the rules of rules.py and checks the zone
    permission of record calls once it found the zone
Every answer of a call is HTTP 200 JSON: {"response", "server", "status": "ok"} or the error shape
of errors.py. Latency applies before step 1.
"""

import json
import re
import time
from urllib.parse import parse_qsl, unquote, urlsplit

from simcore import Response, SimulatorBase, discover
from simcore.cli import write_atomically
from technitiumsim import errors
from technitiumsim.areas import TechnitiumArea
from technitiumsim.dnsserver import DnsService
from technitiumsim.errors import InvalidToken, TechnitiumError
from technitiumsim.rules import ALL_PERMISSIONS, CALLS, call_for_path
from technitiumsim.validate import Params, normalize_domain

DEFAULT_PORT = 5380
DEFAULT_SERVER_DOMAIN = "dns1.technitiumsim.internal"
# An API token as the server makes them (Create API Token answers 64 hex characters); fixed so
# that tests, the README and the CLI share it.
DEMO_TOKEN = "7e1d5c3a9b2f4e6d8c0a1b3f5e7d9c2a4b6e8f0d1c3a5b7e9f2d4c6a8b0e1f3d"
DEMO_TOKEN_NAME = "demo"
DEMO_USER = "admin"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,}$")
# the server's answers are never cached (WebServiceApiMiddleware)
NO_CACHE_HEADERS = (("Cache-Control", "no-cache, no-store, must-revalidate"), ("Pragma", "no-cache"), ("Expires", "0"))


def check_token(token, permissions):
    """ValueError for a token value or a permission the simulator does not take."""
    if not TOKEN_RE.match(token or ""):
        raise ValueError("a token is at least 16 letters, digits, '-' or '_', got %r" % token)
    for permission in permissions:
        if permission not in ALL_PERMISSIONS:
            raise ValueError("unknown permission %r (known: %s)" % (permission, ", ".join(ALL_PERMISSIONS)))


def token_record(token, permissions, name=None, user=DEMO_USER):
    """What the simulator keeps of a token: its name, user and permissions (the value is the key)."""
    check_token(token, permissions)
    return {"name": name or "token-%s" % token[:4], "user": user, "permissions": sorted(set(permissions))}


def parse_token_option(text):
    """'TOKEN=Zones:View,Zones:Modify' or 'TOKEN' (every permission) -> (token, [permissions])."""
    token, sep, permissions = text.partition("=")
    return token, [item.strip() for item in permissions.split(",") if item.strip()] if sep else list(ALL_PERMISSIONS)


def token_table(tokens):
    """{value: record} from None (the demo token), {value: [permissions]} or CLI texts."""
    if tokens is None:
        return {DEMO_TOKEN: token_record(DEMO_TOKEN, ALL_PERMISSIONS, DEMO_TOKEN_NAME)}
    pairs = tokens.items() if isinstance(tokens, dict) else map(parse_token_option, tokens)
    return {value: token_record(value, permissions) for value, permissions in pairs}


class TechnitiumRequest:  # pylint: disable=too-few-public-methods
    """What a handler sees: the parameters, the token record, the call's rules."""

    def __init__(self, params, token, call):
        self.params = params
        self.token = token
        self.call = call

    def require_zone_permission(self):
        """The zone permission of a record call ("Zone: Modify"), from the token's section flags."""
        if self.call["zone_permission"] not in self.token["permissions"]:
            raise TechnitiumError(errors.ACCESS_DENIED)


class TechnitiumSimulator(SimulatorBase):  # pylint: disable=too-many-instance-attributes
    """A simulated Technitium DNS Server: Primary zones over its HTTP API, answered over DNS."""

    name = "technitiumsim"
    server_name = "Kestrel"
    api_methods = ("GET", "POST")
    close_after_error = False
    custom_counters = ("dns_queries",)

    def __init__(self, port=0, dns_port=0, tls=False, tokens=None, state_file=None, bind="127.0.0.1",
                 server_domain=DEFAULT_SERVER_DOMAIN, query_acl=None, dns_port_file=None, seed=None):  # pylint: disable=too-many-arguments
        super().__init__(tls=tls, bind=bind, port=port, state_file=state_file, seed=seed)
        self.server_domain = normalize_domain(server_domain)
        self.tokens = token_table(tokens)
        self.dns = DnsService(self, bind=bind, port=dns_port, query_acl=query_acl)
        self.dns_port = None
        self.dns_port_file = dns_port_file
        self.install_areas(discover("technitiumsim.areas", TechnitiumArea))
        self.load_state_file()

    def register_route(self, method, schema_path, handler):
        """Calls are keyed by path alone: every call takes GET and POST (APIDOCS "API Request")."""
        if schema_path not in CALLS:
            raise ValueError("%s is not a served call of rules.CALLS" % schema_path)
        self.routes[schema_path] = handler

    # -- lifecycle: the DNS service with the HTTP listener ---------------------------------------------
    def start(self):
        """Start the HTTP listener, then the DNS service; with `dns_port_file` its port is written
        there before start() returns (before the CLI writes the API port file a caller waits for)."""
        url = super().start()
        try:
            self.dns_port = self.dns.start()
        except OSError:
            super().stop()
            raise
        if self.dns_port_file:
            write_atomically(self.dns_port_file, str(self.dns_port).encode("ascii"))
        return url

    def stop(self):
        self.dns.stop()
        super().stop()

    # -- tokens, query ACL and the side channel --------------------------------------------------------
    def add_token(self, token, permissions=ALL_PERMISSIONS, name=None, user=DEMO_USER):
        """Configure an API token (POST /_sim/tokens); returns its record (no value)."""
        self.tokens[token] = token_record(token, permissions, name, user)
        return dict(self.tokens[token])

    def remove_token(self, token):
        """Forget an API token (DELETE /_sim/tokens); KeyError if unknown."""
        return self.tokens.pop(token)

    def set_query_acl(self, networks):
        """Networks allowed to query the DNS service (None: every client); returns them as text."""
        self.dns.set_query_acl(networks)
        return None if self.dns.query_acl is None else [str(network) for network in self.dns.query_acl]

    def dns_queries(self):
        """The DNS queries answered: client, name, type, rcode, answers (GET /_sim/dns/queries)."""
        return self.dns.query_log()

    def reset(self):
        super().reset()
        self.dns.reset()

    def side_routes(self):
        prefix = self.side_prefix
        return {
            ("GET", prefix + "/tokens"): lambda sim, body: list(sim.tokens.values()),
            ("POST", prefix + "/tokens"): lambda sim, body: sim.add_token(body["token"], body.get("permissions", ALL_PERMISSIONS),
                                                                          body.get("name"), body.get("user", DEMO_USER)),
            ("DELETE", prefix + "/tokens"): lambda sim, body: sim.remove_token(body["token"]),
            ("PUT", prefix + "/dns/query-acl"): lambda sim, body: sim.set_query_acl(body.get("networks")),
            ("GET", prefix + "/dns/queries"): lambda sim, body: sim.dns_queries(),
        }

    # -- the pipeline ------------------------------------------------------------------------------------
    def json_response(self, document, status=200):
        """An answer with the server's headers; `server` is added as the server does."""
        document = dict(document, server=self.server_domain)
        return Response(status, "OK" if status == 200 else "Error", json.dumps(document).encode("utf-8"), JSON_CONTENT_TYPE,
                        headers=NO_CACHE_HEADERS)

    def error_response(self, message, path, inner=None, status=200):
        """The `status: error` answer."""
        document = {"status": "error", "errorMessage": message,
                    "stackTrace": "   at technitiumsim %s" % path}
        if inner is not None:
            document["innerErrorMessage"] = inner
        return self.json_response(document, status)

    def unknown_method_response(self, method):
        """Calls are mapped for GET and POST only (DnsServerCore/Extensions.cs HTTP_METHODS); ASP.NET
        Core routing answers another method on a mapped path 405 with an Allow header."""
        return Response(405, "Method Not Allowed", b"", None, headers=(("Allow", "GET, POST"),))

    @staticmethod
    def not_found():
        """What the server answers outside its calls: 404 without a body."""
        return Response(404, "Not Found", b"", None, headers=NO_CACHE_HEADERS)

    @staticmethod
    def request_parameters(method, query, headers, body):
        """Query parameters, then form fields the query does not have (QueryOrForm)."""
        params = dict(parse_qsl(query, keep_blank_values=True))
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if method == "POST" and body and content_type == FORM_CONTENT_TYPE:
            for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                params.setdefault(key, value)
        return params

    def authenticate(self, headers, params):
        """The token record of the bearer header or the `token` parameter; InvalidToken otherwise."""
        value = None
        for entry in headers.get_all("Authorization") or ():
            if entry[:7].lower() == "bearer ":
                value = entry[7:].strip()
                break
        if value is None:
            value = params.get("token")
        token = self.tokens.get(value) if value else None
        if token is None:
            raise InvalidToken(errors.INVALID_TOKEN)
        return token

    def handle_api(self, method, raw_path, headers, body):
        started = time.monotonic()
        self.observer.sleep_latency()
        url = urlsplit(raw_path)
        path = unquote(url.path)
        params = self.request_parameters(method, url.query, headers, body)
        trace = {"route": None, "token": None, "fault": None, "handled_status": None, "write": False}
        response = self._answer(method, path, params, headers, trace)
        token = trace["token"]
        self.observer.log_request(method, path, response, started, route=trace["route"], params=params,
                                  userid="%s!%s" % (token["user"], token["name"]) if token else None, is_write=trace["write"],
                                  fault=trace["fault"], handled_status=trace["handled_status"],
                                  api_status=api_status_of(response))
        return response

    def _answer(self, method, path, params, headers, trace):  # pylint: disable=too-many-arguments
        if not path.startswith("/api/"):
            return self.not_found()
        try:
            trace["token"] = self.authenticate(headers, params)
        except InvalidToken as error:
            return self.json_response({"status": "invalid-token", "errorMessage": str(error)})
        route, call = call_for_path(path)
        if route is None:
            return self.not_found()
        trace["route"], trace["write"] = route, call["write"]
        request = TechnitiumRequest(Params(params, call["params"]), trace["token"], call)
        return self.observer.answer_with_faults(method, path, trace, lambda: self._call(route, call, request),
                                                lambda status, message: self.error_response(message, path, status=status))

    def _call(self, route, call, request):
        try:
            if call.get("permission") and call["permission"] not in request.token["permissions"]:
                raise TechnitiumError(errors.ACCESS_DENIED)
            with self.state.lock:
                snapshot = json.dumps(self.state.namespaces) if call["write"] else None
                try:
                    result = self.routes[route](request)
                except TechnitiumError:
                    if snapshot is not None:  # a refused write leaves nothing half done
                        self.state.load({"namespaces": json.loads(snapshot)})
                    raise
                if call["write"]:
                    self.persist()
        except TechnitiumError as error:
            return self.error_response(error.message, route, error.inner)
        return self.json_response({"response": result, "status": "ok"})


def api_status_of(response):
    """The `status` of a JSON answer (ok, error, invalid-token) for the request log; None otherwise."""
    if response.reset or not response.body:
        return None
    try:
        return json.loads(response.body.decode("utf-8")).get("status")
    except ValueError:
        return None
