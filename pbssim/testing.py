"""Helpers for tests that talk to a running pbssim over HTTPS with requests."""

from simcore.testing import SimSession


class PbsSession(SimSession):
    """A session under /api2/json, authenticated with an API token (`PBSAPIToken=<id>:<secret>`) or none."""

    api_prefix = "/api2/json"

    def __init__(self, sim, tokenid=None, secret=None):
        super().__init__(sim)
        if tokenid is not None:
            self.headers["Authorization"] = "PBSAPIToken=%s:%s" % (tokenid, secret)

    @classmethod
    def admin(cls, sim):
        """The session of the simulator's first configured token (the demo token by default)."""
        tokenid, secret = next(iter(sim.tokens.items()))
        return cls(sim, tokenid, secret)
