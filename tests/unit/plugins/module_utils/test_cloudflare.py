# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Cloudflare client without a server: Bearer token, JSON bodies, the envelope's errors, pages, bounded
retries of reads (Retry-After honoured), writes never resent after an unknown outcome; and the input rules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json

import pytest

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxUncertainError
from ansible_collections.homecloud.proxmox.plugins.module_utils.cloudflare import (
    CloudflareApiError,
    CloudflareClient,
    CloudflareError,
    CloudflareInputError,
    CloudflareWrite,
    check_account_id,
    check_go_duration,
    check_hostname,
    rule_set,
    team_name_of,
)

API = "https://api.cloudflare.test/client/v4"


class Answer:
    def __init__(self, document):
        self.body = json.dumps(document).encode()

    def getcode(self):
        return 200

    def read(self):
        return self.body


def envelope(result, **info):
    document = dict(success=True, errors=[], messages=[], result=result)
    if info:
        document["result_info"] = info
    return Answer(document)


def failure(status, code=None, message=None, retry_after=None):
    errors = [dict(code=code, message=message)] if code else []
    body = io.BytesIO(json.dumps(dict(success=False, errors=errors, messages=[], result=None)).encode())
    return HTTPError(API, status, "error", {"Retry-After": retry_after} if retry_after is not None else {}, body)


class Opener:
    """Answers requests in order from a list (an exception is raised); records each request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, url, data=None, headers=None, method=None, **options):
        self.requests.append(dict(url=url, body=json.loads(data.decode()) if data else None, headers=headers, method=method,
                                  options=options))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(opener, sleeps=None):
    return CloudflareClient("token-123", api_url=API + "/", opener=opener, ca_path="/ca.pem",
                            sleep=(sleeps.append if sleeps is not None else lambda seconds: None))


def test_a_request_carries_the_bearer_token_and_a_json_body():
    opener = Opener(envelope(dict(id="t1")), envelope([]))
    api = client(opener)
    assert api.call("POST", "/accounts/a/cfd_tunnel", dict(name="x", config_src="local", comment=None))["data"] == dict(id="t1")
    api.call("GET", "/zones", dict(name="example.com", is_deleted=False))
    post, get = opener.requests
    assert post["headers"]["Authorization"] == "Bearer token-123" and post["headers"]["Content-Type"] == "application/json"
    assert post["body"] == dict(name="x", config_src="local") and post["url"] == API + "/accounts/a/cfd_tunnel"
    assert get["url"] == API + "/zones?is_deleted=false&name=example.com" and get["body"] is None
    assert post["options"]["ca_path"] == "/ca.pem" and post["options"]["validate_certs"] is True


def test_an_error_names_the_call_and_cloudflares_code_and_message():
    api = client(Opener(failure(409, 1013, "You already have a tunnel with this name")))
    with pytest.raises(CloudflareApiError) as raised:
        api.call("POST", "/accounts/a/cfd_tunnel", dict(name="x"))
    assert str(raised.value) == "POST /accounts/a/cfd_tunnel failed: HTTP 409 - 1013: You already have a tunnel with this name"
    assert raised.value.failure == dict(method="POST", path="/accounts/a/cfd_tunnel", status=409,
                                        reason="1013: You already have a tunnel with this name",
                                        errors={"1013": "You already have a tunnel with this name"})


def test_a_200_with_success_false_is_an_error():
    api = client(Opener(Answer(dict(success=False, errors=[dict(code=10000, message="Authentication error")], result=None))))
    with pytest.raises(CloudflareApiError, match="10000: Authentication error"):
        api.get("/user/tokens/verify")


def test_reads_are_retried_on_429_and_5xx_honouring_retry_after_and_bounded():
    sleeps = []
    api = client(Opener(failure(429, 10429, "rate limited", retry_after="3"), failure(503), envelope(["ok"])), sleeps)
    assert api.get("/zones") == ["ok"]
    assert sleeps == [3.0, 2.0]  # Retry-After, then the backoff of the second attempt
    api = client(Opener(*[failure(502)] * 4))
    with pytest.raises(CloudflareApiError, match="HTTP 502"):
        api.get("/zones")
    api = client(Opener(failure(429, 10429, "rate limited", retry_after="3600")))
    with pytest.raises(CloudflareError, match="asks to wait 3600 s"):
        api.get("/zones")


def test_a_write_is_not_resent_after_an_unknown_outcome():
    opener = Opener(failure(502))
    with pytest.raises(ProxmoxUncertainError, match="may or may not have made this change"):
        client(opener).call("POST", "/accounts/a/access/apps", dict(name="x"))
    assert len(opener.requests) == 1
    opener = Opener(URLError(ConnectionResetError("reset")))
    with pytest.raises(ProxmoxUncertainError):
        client(opener).call("POST", "/accounts/a/access/apps", dict(name="x"))
    # the re-read says it is in place: done; says it is not: sent again
    opener = Opener(failure(504))
    assert client(opener).call("DELETE", "/x/1", {}, confirm=lambda: True)["data"] is None and len(opener.requests) == 1
    opener = Opener(failure(504), envelope(dict(id="1")))
    assert client(opener).call("PUT", "/x/1", dict(a=1), confirm=lambda: False)["data"] == dict(id="1")


def test_a_write_is_resent_after_429_and_a_refused_connection():
    opener = Opener(failure(429, 10429, "rate limited", retry_after="1"), URLError(ConnectionRefusedError("refused")),
                    envelope(dict(id="p1")))
    assert client(opener).call("POST", "/accounts/a/access/policies", dict(name="x"))["data"] == dict(id="p1")
    assert len(opener.requests) == 3


def test_lists_follow_the_pages():
    opener = Opener(envelope([1, 2], page=1, per_page=2, total_pages=3, total_count=5),
                    envelope([3, 4], page=2, per_page=2, total_pages=3, total_count=5),
                    envelope([5], page=3, per_page=2, total_pages=3, total_count=5))
    assert client(opener).list("/accounts/a/access/apps") == [1, 2, 3, 4, 5]
    assert [request["url"].split("?")[1] for request in opener.requests] == [
        "page=1&per_page=50", "page=2&per_page=50", "page=3&per_page=50"]


def test_a_write_shows_nested_values_as_json_and_masks_secrets():
    params = dict(name="x", include=[{"email": {"email": "a@b.c"}}], proxied=True, secret="s3", comment=None)
    write = CloudflareWrite("POST", "/p", params, secret_keys=("secret",))
    assert str(write) == 'POST /p include=[{"email":{"email":"a@b.c"}}] name=x proxied=true secret=********'


@pytest.mark.parametrize("duration", ["24h", "30m", "2h45m", "300ms", "1.5h", "10s", "5\u00b5s", "5us"])
def test_go_durations(duration):
    assert check_go_duration(duration, "session_duration") == duration


@pytest.mark.parametrize("duration", ["24", "1 day", "h", "1d", "-5m", ""])
def test_not_go_durations(duration):
    with pytest.raises(CloudflareInputError, match="session_duration"):
        check_go_duration(duration, "session_duration")


def test_input_rules():
    assert check_hostname("App.Example.COM.", "hostname", "example.com") == "app.example.com"
    assert check_hostname("example.com", "hostname", "example.com") == "example.com"
    for bad in ("app.example.org", "bad_name.example.com", "-a.example.com", "a..example.com"):
        with pytest.raises(CloudflareInputError, match="hostname"):
            check_hostname(bad, "hostname", "example.com")
    assert check_account_id("0123456789ABCDEF0123456789abcdef") == "0123456789abcdef0123456789abcdef"
    with pytest.raises(CloudflareInputError, match="CLOUDFLARE_ACCOUNT_ID"):
        check_account_id(None)
    assert team_name_of("homecloud.cloudflareaccess.com") == "homecloud"
    in_one_order = [{"email": {"email": "a"}}, {"group": {"id": "g", "x": None}}]
    assert rule_set(in_one_order) == rule_set([{"group": {"id": "g"}}, {"email": {"email": "a"}}])
