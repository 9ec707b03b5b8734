"""Helpers for tests that talk to a running cfsim over HTTPS with requests."""

from simcore.testing import SimSession

from cfsim.simulator import API_PREFIX, DEMO_TOKEN

__all__ = ["CfSession", "DEMO_TOKEN"]


class CfSession(SimSession):
    """A session under /client/v4 with `Authorization: Bearer <token>` (or none)."""

    api_prefix = API_PREFIX

    def __init__(self, sim, token=None):
        super().__init__(sim)
        self.account_id = sim.account_id
        if token is not None:
            self.headers["Authorization"] = "Bearer %s" % token

    @classmethod
    def admin(cls, sim):
        """The session of the simulator's first configured token (the demo token by default)."""
        return cls(sim, next(iter(sim.tokens)))

    def result(self, method, path, **kwargs):
        """Like api(), but raise for errors and return the envelope's `result`."""
        answer = self.api(method, path, **kwargs)
        answer.raise_for_status()
        return answer.json()["result"]

    def account_path(self, suffix):
        """/accounts/<the simulated account><suffix>."""
        return "/accounts/%s%s" % (self.account_id, suffix)
