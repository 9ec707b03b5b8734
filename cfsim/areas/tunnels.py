"""Cloudflare Tunnels (cfd_tunnel) of the simulated account.

A tunnel answers the vendored schema's `tunnel_cfd_tunnel` fields. Its secret (`tunnel_secret`,
base64 of at least 32 bytes, the schema's description) is kept in the state and never answered:
only the tunnel token carries it, as the real API's token endpoint does. Without `tunnel_secret`
the simulator draws 32 random bytes, as the API does for tunnels created without one.
Names are unique among tunnels that are not deleted: a second one is 409 1013 (cloudflared
cfapi/tunnel.go maps 409 Conflict on create to "tunnel with name already exists"). DELETE is a
soft delete: `deleted_at` is set, the tunnel stays listed (filter `is_deleted=false`).
A tunnel is `inactive` until a connector runs; the side channel POST /_sim/tunnels/<id>/connect
plays that connector (status `healthy`, one connection), /disconnect takes it away (`down`).
"""

import base64
import binascii
import uuid

from simcore import route
from cfsim.errors import HTTP_CONFLICT, TUNNEL_NAME_TAKEN, TUNNEL_VALIDATION_CODE, CfError, not_found
from cfsim.simulator import CfArea, Page, timestamp, tunnel_token, without_secrets

TUNNEL_PATH = "/accounts/{account_id}/cfd_tunnel/{tunnel_id}"
DEFAULT_PER_PAGE = 20   # the schema gives no default; result_info's example says 20
MIN_SECRET_BYTES = 32


class Tunnels(CfArea):
    """cfd_tunnel: create, list, read, rename, soft delete, token."""

    name = "tunnels"
    permission = "tunnel"
    validation_code = TUNNEL_VALIDATION_CODE

    def initial_state(self):
        return {"tunnels": {}}

    def _secret(self, text):
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) < MIN_SECRET_BYTES:
            raise self.validation_error([("tunnel_secret", "must be base64 of at least %d bytes" % MIN_SECRET_BYTES)])
        return base64.b64encode(raw).decode("ascii")

    def _new_secret(self):
        rng = self.sim.observer.rng
        raw = bytes(rng.getrandbits(8) for dummy in range(MIN_SECRET_BYTES))
        return base64.b64encode(raw).decode("ascii")

    def _name(self, name, except_id=None):
        if not isinstance(name, str) or not name.strip():
            raise self.validation_error([("name", "must not be empty")])
        for tunnel in self.state["tunnels"].values():
            if tunnel["name"] == name and tunnel["deleted_at"] is None and tunnel["id"] != except_id:
                raise CfError(HTTP_CONFLICT, TUNNEL_NAME_TAKEN)
        return name

    def _live(self, request, deleted_ok=False):
        tunnel = self.state["tunnels"].get(request.path_params["tunnel_id"])
        if tunnel is None or (tunnel["deleted_at"] is not None and not deleted_ok):
            raise not_found()
        return tunnel

    @staticmethod
    def answer(tunnel):
        """The tunnel as the API answers it (no secret)."""
        return without_secrets(tunnel)

    @route("POST", "/accounts/{account_id}/cfd_tunnel")
    def create(self, request):
        """POST: name, config_src (local|cloudflare), tunnel_secret."""
        body = request.body
        name = self._name(body.get("name"))
        secret = self._secret(body["tunnel_secret"]) if body.get("tunnel_secret") else self._new_secret()
        tunnel_id = str(uuid.UUID(int=self.sim.observer.rng.getrandbits(128), version=4))
        tunnel = {"id": tunnel_id, "account_tag": self.sim.account_id, "name": name, "created_at": timestamp(),
                  "deleted_at": None, "connections": [], "conns_active_at": None, "conns_inactive_at": None,
                  "tun_type": "cfd_tunnel", "status": "inactive", "metadata": {},
                  "remote_config": (body.get("config_src") or "local") == "cloudflare", "secret": secret}
        self.state["tunnels"][tunnel_id] = tunnel
        return self.answer(tunnel)

    @route("GET", "/accounts/{account_id}/cfd_tunnel")
    def list_tunnels(self, request):
        """GET with the filters name, is_deleted, uuid, status, include_prefix, exclude_prefix."""
        query = request.query
        tunnels = sorted(self.state["tunnels"].values(), key=lambda item: (item["created_at"], item["id"]))
        if "name" in query:
            tunnels = [item for item in tunnels if item["name"] == query["name"]]
        if "is_deleted" in query:
            tunnels = [item for item in tunnels if (item["deleted_at"] is not None) == query["is_deleted"]]
        if "uuid" in query:
            tunnels = [item for item in tunnels if item["id"] == query["uuid"]]
        if "status" in query:
            tunnels = [item for item in tunnels if item["status"] == query["status"]]
        if "include_prefix" in query:
            tunnels = [item for item in tunnels if item["name"].startswith(query["include_prefix"])]
        if "exclude_prefix" in query:
            tunnels = [item for item in tunnels if not item["name"].startswith(query["exclude_prefix"])]
        return Page([self.answer(item) for item in tunnels], DEFAULT_PER_PAGE)

    @route("GET", TUNNEL_PATH)
    def get(self, request):
        """GET one (deleted ones too, with deleted_at)."""
        return self.answer(self._live(request, deleted_ok=True))

    @route("PATCH", TUNNEL_PATH)
    def update(self, request):
        """PATCH: name, tunnel_secret."""
        tunnel = self._live(request)
        if "name" in request.body:
            tunnel["name"] = self._name(request.body["name"], except_id=tunnel["id"])
        if request.body.get("tunnel_secret"):
            tunnel["secret"] = self._secret(request.body["tunnel_secret"])
        return self.answer(tunnel)

    @route("DELETE", TUNNEL_PATH)
    def delete(self, request):
        """Soft delete: deleted_at set, connections dropped."""
        tunnel = self._live(request)
        tunnel["deleted_at"] = timestamp()
        tunnel["connections"] = []
        return self.answer(tunnel)

    @route("GET", TUNNEL_PATH + "/token")
    def token(self, request):
        """The token cloudflared runs the tunnel with (it carries the secret)."""
        tunnel = self._live(request)
        return tunnel_token(self.sim.account_id, tunnel["id"], tunnel["secret"])

    def set_connected(self, tunnel_id, connected):
        """Side channel: a connector connects (healthy, one connection) or goes away (down)."""
        with self.sim.state.lock:
            tunnel = self.state["tunnels"][tunnel_id]
            now = timestamp()
            if connected:
                tunnel.update(status="healthy", conns_active_at=now, connections=[{
                    "id": str(uuid.UUID(int=self.sim.observer.rng.getrandbits(128), version=4)),
                    "colo_name": "sim01", "is_pending_reconnect": False, "client_version": "cfsim",
                    "opened_at": now, "origin_ip": "127.0.0.1"}])
            else:
                tunnel.update(status="down", conns_inactive_at=now, connections=[])
            self.sim.persist()
            return self.answer(tunnel)
