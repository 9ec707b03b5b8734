"""The Cloudflare API simulator: the v4 API under /client/v4 behind one HTTP(S) listener (simcore).

    sim = CfSimulator()        # or: with CfSimulator() as sim:
    url = sim.start()          # https://127.0.0.1:<port>, the API under /client/v4
    sim.stop()

The request pipeline (what api.cloudflare.com answers, as public reports show it, errors.py):
 1. the path must be under /client/v4 and match a served operation    else 404 7003
 2. `Authorization: Bearer <token>`: none             400 9106, not a bearer token 400 6003/6111,
    an unknown token                                                        403 10000
 3. the token's permission for the area (`<area>:read` for GET, `<area>:edit` otherwise, edit
    implies read), and the account in the path must be the simulated one   403 10000 (9109 in Access)
 4. parameters and body validated against the vendored OpenAPI subset (validate.py)
                                                   400 with the area's validation code and the field
 5. the handler; its CfError keeps its status
Every answer is Cloudflare's envelope {"success", "errors", "messages", "result"}; lists add
`result_info` {page, per_page, count, total_count, total_pages}. Faults act after step 2, latency
before step 1.
"""

import base64
import hashlib
import json
import math
import os
import re
import time
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote, urlsplit

from simcore import Area, Response, SchemaTree, SimulatorBase, discover, load_tree
from cfsim.errors import (AUTHENTICATION_ERROR, HTTP_BAD_REQUEST, HTTP_FORBIDDEN, HTTP_NOT_FOUND, INVALID_AUTHORIZATION_FORMAT,
                          INVALID_HEADERS, MISSING_AUTH, NO_ROUTE, UNAUTHORIZED_RESOURCE, CfError)
from cfsim.validate import Validator, convert_query_value
from cfsim.vendor import DATA_DIR, SCHEMA_FILE

API_PREFIX = "/client/v4"
JSON_CONTENT_TYPE = "application/json"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
DEFAULT_ACCOUNT_ID = "5e1f0c2a9b7d4c3e8f6a1b2c3d4e5f60"
DEFAULT_ZONE = "homecloud.example"
DEFAULT_TEAM = "homecloud"
DEMO_TOKEN = "cfsim-demo-token-4c1f9e2b7a3d5e8f0a6b"
PERMISSION_AREAS = ("tunnel", "dns", "zone", "access")
ALL_PERMISSIONS = tuple("%s:edit" % area for area in PERMISSION_AREAS)
# API tokens are opaque strings of letters, digits, "-" and "_" (the dashboard's 40-character tokens)
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,}$")
SECRET_KEYS = ("secret",)


def parse_token_option(text):
    """'TOKEN=perm,perm' or 'TOKEN' (every permission) -> (token, [permissions])."""
    token, sep, permissions = text.partition("=")
    listed = [item.strip() for item in permissions.split(",") if item.strip()] if sep else list(ALL_PERMISSIONS)
    check_token(token, listed)
    return token, listed


def check_token(token, permissions):
    """ValueError for a token value or permission the simulator does not take."""
    if not TOKEN_RE.match(token or ""):
        raise ValueError("a token is at least 16 letters, digits, '-' or '_', got %r" % token)
    for permission in permissions:
        area, _sep, level = permission.partition(":")
        if area not in PERMISSION_AREAS or level not in ("read", "edit"):
            raise ValueError("unknown permission %r (known: <%s>:read|edit)" % (permission, "|".join(PERMISSION_AREAS)))


def token_record(token, permissions, name=None):
    """What the simulator keeps of a token: its id (not the value), name and permissions."""
    return {"id": hashlib.sha256(token.encode("utf-8")).hexdigest()[:32], "name": name or "token-%s" % token[:4],
            "permissions": sorted(set(permissions))}


def token_table(tokens):
    """{value: record} from None (the demo token), a dict {value: [permissions]} or an iterable of CLI texts."""
    if tokens is None:
        return {DEMO_TOKEN: token_record(DEMO_TOKEN, ALL_PERMISSIONS, "demo")}
    if isinstance(tokens, dict):
        table = {}
        for value, permissions in tokens.items():
            check_token(value, permissions)
            table[value] = token_record(value, permissions)
        return table
    return {value: token_record(value, permissions) for value, permissions in map(parse_token_option, tokens)}


def zone_id(name):
    """A zone's id: 32 hex characters, stable for its name (Cloudflare ids are 32 hex)."""
    return hashlib.md5(("zone:" + name).encode("utf-8")).hexdigest()  # nosec - an id, not a digest of a secret


def timestamp():
    """Now as Cloudflare writes it: RFC 3339 UTC with microseconds."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%06dZ" % int((now % 1) * 1e6)


def without_secrets(value):
    """A copy of a JSON value without the keys that hold secrets (tunnel secrets)."""
    if isinstance(value, dict):
        return {key: without_secrets(item) for key, item in value.items() if key not in SECRET_KEYS}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value


def openapi_tree(paths):
    """The OpenAPI `paths` as the api-viewer tree simcore's SchemaTree reads (methods upper-case)."""
    root = {"path": "/", "text": "", "children": []}
    nodes = {"/": root}
    for path in sorted(paths):
        parts = [part for part in path.split("/") if part]
        for depth in range(1, len(parts) + 1):
            node_path = "/" + "/".join(parts[:depth])
            if node_path not in nodes:
                node = {"path": node_path, "text": parts[depth - 1], "children": []}
                parent = nodes["/" + "/".join(parts[:depth - 1])] if depth > 1 else root
                parent["children"].append(node)
                nodes[node_path] = node
        nodes[path]["info"] = {method.upper(): operation for method, operation in paths[path].items()
                               if method in ("get", "post", "put", "patch", "delete")}
    return root["children"]


class CfArea(Area):
    """An area of the Cloudflare API (handlers receive a CfRequest, return a result or a Page)."""

    permission = None                      # the token permission area ("tunnel", ...); None: any valid token
    forbidden = AUTHENTICATION_ERROR       # code and message of a missing permission
    validation_code = None                 # code of a schema error (DNS: 1004 with a chain)

    def validation_error(self, errors):
        """The CfError of schema errors [(field, message)]."""
        text = "; ".join("%s: %s" % (field or "body", message) for field, message in errors)
        return CfError(HTTP_BAD_REQUEST, (self.validation_code, text))


class Page:  # pylint: disable=too-few-public-methods
    """A list answer before pagination: the items and the default page size of the operation."""

    def __init__(self, items, default_per_page):
        self.items = list(items)
        self.default_per_page = default_per_page


class CfRequest:  # pylint: disable=too-few-public-methods,too-many-instance-attributes
    """What a handler sees: path params, typed query, JSON body, the token record."""

    def __init__(self, sim, method, schema_path, path_params, query, body, token):
        self.sim = sim
        self.method = method
        self.schema_path = schema_path
        self.path_params = path_params
        self.query = query
        self.body = body
        self.token = token


class CfSimulator(SimulatorBase):  # pylint: disable=too-many-instance-attributes
    """A simulated Cloudflare account: tunnels, zones with DNS records, Zero Trust Access."""

    name = "cfsim"
    server_name = "cloudflare"
    api_methods = ("GET", "POST", "PUT", "PATCH", "DELETE")
    close_after_error = False

    def __init__(self, tls=True, bind="127.0.0.1", port=0, account_id=DEFAULT_ACCOUNT_ID, zones=(DEFAULT_ZONE,),
                 team=DEFAULT_TEAM, tokens=None, state_file=None, seed=None):
        super().__init__(tls=tls, bind=bind, port=port, state_file=state_file, seed=seed)
        self.document = load_tree(os.path.join(DATA_DIR, SCHEMA_FILE))
        self.schema = SchemaTree(openapi_tree(self.document["paths"]))
        self.validator = Validator(self.document, self.observer.unknown_format)
        if not re.match(r"^[0-9a-f]{32}$", account_id):
            raise ValueError("an account id is 32 lower-case hex characters, got %r" % account_id)
        self.account_id = account_id
        self.zones = {zone_id(zone.lower().rstrip(".")): zone.lower().rstrip(".") for zone in zones}
        if not re.match(r"^[a-z0-9][a-z0-9-]*$", team):
            raise ValueError("a team name is lower-case letters, digits and '-', got %r" % team)
        self.team = team
        self.tokens = token_table(tokens)
        self.install_areas(discover("cfsim.areas", CfArea))
        self.load_state_file()

    def register_route(self, method, schema_path, handler):
        if method.lower() not in self.document["paths"].get(schema_path, {}):
            raise ValueError("%s %s is not in the vendored schema" % (method, schema_path))
        self.routes[(method, schema_path)] = handler

    # -- tokens and the side channel -----------------------------------------------------------
    def add_token(self, token, permissions=ALL_PERMISSIONS, name=None):
        """Configure an API token (see POST /_sim/tokens); returns its record (no value)."""
        check_token(token, permissions)
        self.tokens[token] = token_record(token, permissions, name)
        return dict(self.tokens[token])

    def remove_token(self, token):
        """Forget an API token (see DELETE /_sim/tokens); KeyError if unknown."""
        return self.tokens.pop(token)

    def side_routes(self):
        prefix = self.side_prefix
        return {
            ("GET", prefix + "/tokens"): lambda sim, body: list(sim.tokens.values()),
            ("POST", prefix + "/tokens"): lambda sim, body: sim.add_token(body["token"], body.get("permissions", ALL_PERMISSIONS),
                                                                          body.get("name")),
            ("DELETE", prefix + "/tokens"): lambda sim, body: sim.remove_token(body["token"]),
        }

    def handle_side_channel(self, method, raw_path, body):
        """Adds the calls with an id in the path: POST /_sim/tunnels/<id>/connect|disconnect."""
        match = re.match(r"^%s/tunnels/([^/]+)/(connect|disconnect)/?$" % re.escape(self.side_prefix), urlsplit(raw_path).path)
        if match and method == "POST":
            tunnels = self.areas["Tunnels"]
            try:
                return 200, {"data": tunnels.set_connected(match.group(1), match.group(2) == "connect")}
            except KeyError:
                return 404, {"error": "no such tunnel: %s" % match.group(1)}
        return super().handle_side_channel(method, raw_path, body)

    def dump_state(self):
        """See GET /_sim/state: the state without tunnel secrets (the state file keeps them)."""
        return without_secrets(super().dump_state())

    # -- the pipeline ----------------------------------------------------------------------------
    @staticmethod
    def envelope_response(status, result=None, errors=(), messages=(), result_info=None):
        """One answer in Cloudflare's envelope."""
        document = {"result": result, "success": not errors, "errors": list(errors), "messages": list(messages)}
        if result_info is not None:
            document["result_info"] = result_info
        return Response(status, "OK" if status < 400 else _reason(status), json.dumps(document).encode("utf-8"), JSON_CONTENT_TYPE)

    def error_response(self, error):
        """The envelope of a CfError."""
        return self.envelope_response(error.status, errors=error.errors())

    def handle_api(self, method, raw_path, headers, body):
        started = time.monotonic()
        self.observer.sleep_latency()
        url = urlsplit(raw_path)
        path = unquote(url.path)
        rel_path = path[len(API_PREFIX):] if path.startswith(API_PREFIX + "/") else path
        trace = {"route": None, "params": {}, "token": None, "fault": None, "handled_status": None}
        try:
            response = self._answer(method, path, rel_path, url.query, headers, body, trace)
        except CfError as error:
            response = self.error_response(error)
        token = trace["token"]
        self.observer.log_request(method, rel_path, response, started, route=trace["route"], params=trace["params"],
                                  userid="cfsim!%s" % token["name"] if token else None, is_write=method in WRITE_METHODS,
                                  fault=trace["fault"], handled_status=trace["handled_status"])
        return response

    def authenticate(self, headers):
        """The token record of `Authorization: Bearer <token>` (CfError otherwise)."""
        header = headers.get("Authorization")
        if not header:
            raise CfError(HTTP_BAD_REQUEST, MISSING_AUTH)
        scheme, _sep, value = header.partition(" ")
        if scheme != "Bearer" or not TOKEN_RE.match(value.strip()):
            raise CfError(HTTP_BAD_REQUEST, INVALID_HEADERS, chain=[INVALID_AUTHORIZATION_FORMAT])
        token = self.tokens.get(value.strip())
        if token is None:
            raise CfError(HTTP_FORBIDDEN, AUTHENTICATION_ERROR)
        return token

    def _answer(self, method, path, rel_path, query, headers, body, trace):  # pylint: disable=too-many-arguments
        if not path.startswith(API_PREFIX + "/"):
            raise CfError(HTTP_NOT_FOUND, NO_ROUTE)
        trace["token"] = self.authenticate(headers)

        def call():
            try:
                return self._call(method, rel_path, query, body, trace)
            except CfError as error:
                return self.error_response(error)

        return self.observer.answer_with_faults(method, rel_path, trace, call,
                                                lambda status, message: self.error_response(CfError(status, (status, message))))

    def _call(self, method, rel_path, query, body, trace):
        found = self.schema.match(rel_path)
        handler = self.routes.get((method, found[0])) if found else None
        if handler is None:
            raise CfError(HTTP_NOT_FOUND, NO_ROUTE)
        schema_path, path_params = found
        trace["route"] = schema_path
        area = handler.__self__
        self._authorize(area, method, trace["token"], path_params)
        operation = self.document["paths"][schema_path][method.lower()]
        typed_query, request_body = self._parameters(area, operation, method, path_params, query, body)
        trace["params"] = dict(typed_query, **request_body) if isinstance(request_body, dict) else dict(typed_query)
        request = CfRequest(self, method, schema_path, path_params, typed_query, request_body, trace["token"])
        with self.state.lock:
            result = handler(request)
            if method in WRITE_METHODS:
                self.persist()
        if isinstance(result, Page):
            return self._page_response(result, typed_query)
        return self.envelope_response(200, result=result, messages=getattr(request, "messages", ()))

    def _authorize(self, area, method, token, path_params):
        if area.permission is not None:
            edit = "%s:edit" % area.permission
            wanted = {edit} if method in WRITE_METHODS else {"%s:read" % area.permission, edit}
            if not wanted & set(token["permissions"]):
                raise CfError(HTTP_FORBIDDEN, area.forbidden)
        if "account_id" in path_params and path_params["account_id"] != self.account_id:
            raise CfError(HTTP_FORBIDDEN, UNAUTHORIZED_RESOURCE)

    def _parameters(self, area, operation, method, path_params, query, body):  # pylint: disable=too-many-arguments
        errors = []
        typed_query = {}
        given = dict(parse_qsl(query, keep_blank_values=True))
        for parameter in operation.get("parameters", ()):
            parameter = self.validator.resolve(parameter)
            name, schema = parameter["name"], parameter.get("schema", {})
            if parameter["in"] == "path":
                errors.extend(self.validator.errors(schema, path_params.get(name), name))
            elif parameter["in"] == "query" and name in given:
                typed_query[name] = convert_query_value(self.validator, schema, given[name])
                errors.extend(self.validator.errors(schema, typed_query[name], name))
        for name in ("page", "per_page"):  # list operations of the schema without them still page (Page)
            if name in given and name not in typed_query:
                typed_query[name] = convert_query_value(self.validator, {"type": "number"}, given[name])
                errors.extend(self.validator.errors({"type": "integer", "minimum": 1}, typed_query[name], name))
        request_body = {}
        schema = ((operation.get("requestBody") or {}).get("content", {}).get("application/json") or {}).get("schema")
        if body and method in WRITE_METHODS:
            try:
                request_body = json.loads(body.decode("utf-8"))
            except ValueError:
                raise area.validation_error([("body", "is not valid JSON")]) from None
        if schema is not None and method in ("POST", "PUT", "PATCH"):
            errors.extend(self.validator.errors(schema, request_body, "", "patch" if method == "PATCH" else "request"))
        if errors:
            raise area.validation_error([error.pair() for error in errors])
        return typed_query, request_body

    @staticmethod
    def _page_response(page, query):
        per_page = int(query.get("per_page") or page.default_per_page)
        number = int(query.get("page") or 1)
        total = len(page.items)
        chunk = page.items[(number - 1) * per_page:number * per_page]
        info = {"page": number, "per_page": per_page, "count": len(chunk), "total_count": total,
                "total_pages": max(1, math.ceil(total / per_page))}
        return CfSimulator.envelope_response(200, result=chunk, result_info=info)


def _reason(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def tunnel_token(account_id, tunnel_id, secret_b64):
    """The token cloudflared runs a tunnel with: base64 of {"a": account, "t": tunnel id, "s": secret}
    (cloudflared connection TunnelToken: AccountTag `a`, TunnelSecret `s` ([]byte, so base64 in JSON), TunnelID `t`)."""
    document = json.dumps({"a": account_id, "t": tunnel_id, "s": secret_b64}, separators=(",", ":"))
    return base64.b64encode(document.encode("utf-8")).decode("ascii")
