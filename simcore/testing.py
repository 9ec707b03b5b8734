"""Helpers for tests that talk to a running simulator over HTTP(S) with requests."""

import requests

REQUEST_TIMEOUT = 10


class SimSession(requests.Session):
    """A requests.Session bound to one simulator: API calls under `api_prefix`, side-channel calls.

    `trust_env` is off: requests lets REQUESTS_CA_BUNDLE override a session's `verify`, which
    would make the simulator's own certificate untrusted on machines that set it. Subclasses add
    the simulated system's authentication.
    """

    api_prefix = ""

    def __init__(self, sim):
        super().__init__()
        self.trust_env = False
        self.verify = sim.cert_path if sim.cert_path else True
        self.base_url = sim.url
        self.side_prefix = sim.side_prefix

    def api(self, method, path, **kwargs):
        """Send `method` to <api_prefix><path>; returns the requests.Response."""
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return self.request(method, self.base_url + self.api_prefix + path, **kwargs)

    def data(self, method, path, **kwargs):
        """Like api(), but raise for errors and return the response's `data`."""
        answer = self.api(method, path, **kwargs)
        answer.raise_for_status()
        return answer.json()["data"]

    def sim(self, method, path, **kwargs):
        """Call the side channel (`path` relative to it); returns the requests.Response."""
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return self.request(method, self.base_url + self.side_prefix + "/" + path.lstrip("/"), **kwargs)
