"""The /api2 request pipeline, in PVE's order.

pve-http-server src/PVE/APIServer/AnyEvent.pm (authenticate_and_handle_request,
handle_api2_request, extract_params, decode_urlencoded, response) and pve-manager
PVE/HTTPServer.pm (auth_handler, rest_handler), pve-common src/PVE/RESTHandler.pm (handle):
 1. the path must be /api2/<format>/...                       else 501 "no such uri"
 2. authentication (ticket or API token), CSRF for writes     else 401, reason only, no body
 3. body: content only for POST/PUT                           else 501 "Unexpected content ..."
 4. find the method in the schema                             else 501 "Method '<M> <path>' not implemented"
 5. path params vs. body/query params must agree              else 400 "duplicate parameter ..."
 6. API tokens only where `allowtoken`                        else 403
 7. permissions                                               else 403 "Permission check failed"
 8. proxyto: the node must resolve                            else 500 "hostname lookup ..."
    and be reachable (an area may say it is down)              else 595, reason only
 9. parameter validation against the schema                   else 400 + errors
10. the handler (here: 501 "... not implemented by pvesim" when nobody simulates it yet)
Injected faults act after step 2 (phase "before") or replace the answer of step 10 (phase
"after": the work is done, the client never hears of it); latency acts before step 1.
"""

import json
import re
import time
from urllib.parse import unquote, urlsplit

from simcore.server import JSON_CONTENT_TYPE
from simcore.server import Response as CoreResponse

from pvesim import errors
from pvesim.errors import ApiError, AuthError, NotImplementedBySim, ParamError, die, not_in_schema
from pvesim.validate import coerce_returns, to_handler_values

API_BASE = "/api2"
WRITE_METHODS = ("POST", "PUT", "DELETE")
BODY_METHODS = ("POST", "PUT")
GETADDRINFO_NONAME = "Name or service not known"
# pveproxy proxying to a node that does not answer (pve-http-server src/PVE/APIServer/AnyEvent.pm
# proxy_request): AnyEvent::HTTP's pseudo-headers Status and Reason become the answer, and for
# a failed connect AnyEvent::HTTP reports status 595 ("errors during connection establishment")
# with the socket error as reason and no body - what users see as "595 No route to host".
PROXY_CONNECT_FAILED = 595
NO_ROUTE_TO_HOST = "No route to host"


class NodeUnreachable(Exception):
    """The proxyto node is down (an area's node_unreachable said so)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Response(CoreResponse):
    """simcore's Response with the shapes of pveproxy's answers."""

    @classmethod
    def for_message(cls, status, message, body=b"", content_type=None):
        """AnyEvent.pm response: reason = first line; a CR in it turns the answer into a bare 400."""
        reason = message.split("\n", 1)[0] if message else ""
        if "\r" in reason:
            return cls(errors.HTTP_BAD_REQUEST, "Bad Request")
        return cls(status, reason, body, content_type)

    @classmethod
    def json(cls, status, message, document):
        """A JSON-formatted answer (success or ApiError)."""
        return cls.for_message(status, message, json.dumps(document).encode("utf-8"), JSON_CONTENT_TYPE)

    @classmethod
    def api_error(cls, error):
        """An ApiError through the JSON formatter."""
        return cls.json(error.status, error.message, error.body())

    @classmethod
    def plain_error(cls, status, message):
        """AnyEvent.pm error(): the message is also the (text) body."""
        return cls.for_message(status, message, message.encode("utf-8"), "text/plain;charset=UTF-8")


class Request:
    """What a handler sees."""

    def __init__(self, sim, method, rel_uri, schema_path, params, auth):
        self.sim = sim
        self.method = method
        self.rel_uri = rel_uri
        self.schema_path = schema_path
        self.params = params
        self.userid = auth["userid"]
        self.api_token = auth["api_token"]
        self.result_attributes = {}

    def set_result_attrib(self, name, value):
        """RPCEnvironment set_result_attrib: 'total' and 'changes' go next to 'data'."""
        self.result_attributes[name] = value


def decode_urlencoded(text):
    """AnyEvent.pm decode_urlencoded: split on & or ;, '+' is a space, repeated keys make lists."""
    result = {}
    for pair in re.split(r"[&;]", text or ""):
        if not pair:
            continue
        parts = pair.split("=")
        key = unquote(parts[0].replace("+", " "))
        value = unquote(parts[1].replace("+", " ")) if len(parts) > 1 else None
        if value is not None and key in result and result[key] is not None:
            old = result[key]
            value = (old if isinstance(old, list) else [old]) + [value]
        result[key] = value
    return result


class Dispatcher:
    """Turns one HTTP request into one Response; holds no per-request state."""

    def __init__(self, sim):
        self.sim = sim
        self.handlers = {}

    def register(self, method, schema_path, handler):
        """Serve `method` on `schema_path` with `handler` (if the schema has it)."""
        if self.sim.schema.has(method, schema_path):
            self.handlers[(method, schema_path)] = handler

    def handle(self, method, raw_path, headers, body):
        """Answer an /api2 request; records it in the request log."""
        started = time.monotonic()
        self.sim.observer.sleep_latency()
        url = urlsplit(raw_path)
        path = unquote(url.path)
        match = re.match(r"^%s/+([a-z][a-z0-9]+)(/.*)?$" % API_BASE, path)
        rel_uri = (match.group(2) or "/") if match else path
        trace = {"route": None, "params": {}, "auth": {"userid": None, "api_token": None}}
        try:
            if not match:
                response = Response.plain_error(errors.HTTP_NOT_IMPLEMENTED, "no such uri")
            else:
                response = self._handle_api(method, match.group(1), rel_uri, url.query, headers, body, trace)
        except AuthError as error:
            response = Response.for_message(error.status, error.message)
        self.sim.observer.log_request(method, rel_uri, response, started, route=trace["route"], params=trace["params"],
                                      userid=trace["auth"]["userid"],
                                      is_write=method in WRITE_METHODS and rel_uri != "/access/ticket",
                                      fault=trace.get("fault"), handled_status=trace.get("handled_status"))
        return response

    def _handle_api(self, method, fmt, rel_uri, query, headers, body, trace):
        auth = self.sim.directory.authenticate(method, rel_uri, headers)
        trace["auth"] = auth
        return self.sim.observer.answer_with_faults(
            method, rel_uri, trace, lambda: self._handle_api_call(method, fmt, rel_uri, query, headers, body, auth, trace),
            lambda status, message: Response.api_error(ApiError(status, message, plain=True)))

    def _handle_api_call(self, method, fmt, rel_uri, query, headers, body, auth, trace):
        """Steps 3-10 of the pipeline for an authenticated request."""
        if fmt != "json":
            return Response.plain_error(errors.HTTP_NOT_IMPLEMENTED, "no formatter for uri %s, %s" % (rel_uri, fmt))
        if body and method not in BODY_METHODS:
            return Response.plain_error(errors.HTTP_NOT_IMPLEMENTED, "Unexpected content for method '%s'" % method)
        try:
            params = self._extract_params(method, query, headers, body)
        except ValueError as error:
            return Response.plain_error(errors.HTTP_INTERNAL_SERVER_ERROR, "%s\n" % error)
        trace["params"] = params
        try:
            return self._rest_handler(method, rel_uri, params, auth, trace)
        except ApiError as error:
            return Response.api_error(error)
        except NodeUnreachable as error:
            return Response.for_message(PROXY_CONNECT_FAILED, error.reason)

    @staticmethod
    def _extract_params(method, query, headers, body):
        """AnyEvent.pm extract_params: body (JSON or form), then query params override."""
        params = {}
        if method in BODY_METHODS and body:
            content_type = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            if content_type == "application/json":
                params = json.loads(body.decode("utf-8"))
                if not isinstance(params, dict):
                    raise ValueError("JSON body must be an object")
            else:
                params = decode_urlencoded(body.decode("utf-8"))
        params.update(decode_urlencoded(query))
        params.pop("_dc", None)  # ExtJS cache buster
        return params

    def _rest_handler(self, method, rel_uri, params, auth, trace):
        """HTTPServer.pm rest_handler plus RESTHandler.pm handle."""
        found = self.sim.schema.match(rel_uri)
        info = self.sim.schema.method(found[0], method) if found else None
        if info is None:
            raise not_in_schema(method, rel_uri)
        schema_path, uri_params = found
        trace["route"] = schema_path
        for key in sorted(params):
            if key in uri_params and uri_params[key] != params[key]:
                raise ParamError({key: "duplicate parameter (already defined in URI) with conflicting values!"})
        uri_params.update(params)
        if auth["api_token"] and not info.get("allowtoken", 1):
            raise errors.PermissionDenied("URI '%s' not available with API token, need proper ticket.\n" % rel_uri)
        self.sim.permissions.check(info.get("permissions"), auth["userid"], uri_params)
        if info.get("proxyto"):
            self._resolve_proxyto(info["proxyto"], uri_params)
        schema = info.get("parameters") or {}
        self.sim.validator.validate(uri_params, schema)
        handler = self.handlers.get((method, schema_path))
        if handler is None:
            raise NotImplementedBySim(method, rel_uri)
        request = Request(self.sim, method, rel_uri, schema_path, to_handler_values(uri_params, schema), auth)
        with self.sim.state.lock:
            try:
                data = handler(request)
            except ApiError:
                raise
            except Exception as error:  # a bug or a plain die in a handler: PVE answers 500 with the text
                raise die("%s\n" % error) from error
            if method in WRITE_METHODS:
                self.sim.persist()
        document = {"data": coerce_returns(data, info.get("returns"))}
        # HTTPServer.pm / Standard.pm only add 'total' and 'changes' when they are true
        document.update((key, value) for key, value in request.result_attributes.items() if value)
        return Response.json(200, "OK", document)

    def _resolve_proxyto(self, proxyto, uri_params):
        """API2Tools.pm resolve_proxyto + Cluster.pm remote_node_ip for an unknown node; then
        pveproxy's proxy_request to a cluster node that may be down (pve-manager PVE/HTTPServer.pm
        rest_handler proxies after the permission check, before parameter verification, which
        the target node does)."""
        node = uri_params.get(proxyto)
        if not node:
            raise ParamError({proxyto: "proxyto parameter does not exist"})
        if isinstance(node, str) and node not in self.sim.nodes and node != "localhost":
            # Network.pm get_ip_from_hostname / Tools.pm getaddrinfo_all, glibc EAI_NONAME text
            raise die("hostname lookup '%s' failed - failed to get address info for: %s: %s\n" % (node, node, GETADDRINFO_NONAME))
        if isinstance(node, str) and node in self.sim.nodes:
            down = self.sim.node_unreachable(node)
            if down is not None and down is not False:
                raise NodeUnreachable(down if isinstance(down, str) else NO_ROUTE_TO_HOST)
