"""GET /user/tokens/verify: any valid token may ask about itself."""

from simcore import route
from cfsim.simulator import CfArea


class Tokens(CfArea):
    """The caller's own token."""

    @route("GET", "/user/tokens/verify")
    def verify(self, request):
        """{id, status}; the message is the one api.cloudflare.com sends (libdns/cloudflare issue 12)."""
        request.messages = [{"code": 10000, "message": "This API Token is valid and active", "type": None}]
        return {"id": request.token["id"], "status": "active"}
