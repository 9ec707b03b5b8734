# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The PBS client's wire differences (token header, ticket cookie, text error bodies, fingerprint
pinning) and PBS's name rules, without a server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxClient
from ansible_collections.homecloud.proxmox.plugins.module_utils.pbs import (
    FingerprintAdapter,
    PbsClient,
    PbsInputError,
    datastore_acl_path,
    namespace_components,
    normalize_acl_path,
    normalize_fingerprint,
    pbs_api_error,
    split_authid,
)

FINGERPRINT = ":".join(["0A", "1B", "2C", "3D"] * 8)


def test_a_token_is_sent_as_pbsapitoken_with_a_colon_before_the_secret():
    client = PbsClient("pbs.invalid", token_id="root@pam!homecloud", token_secret="s3cret")
    session = client.session()
    assert session.headers["Authorization"] == "PBSAPIToken=root@pam!homecloud:s3cret"
    assert client.userid == "root@pam!homecloud" and client.endpoint == "https://pbs.invalid:8007"


def test_pve_keeps_its_own_header_and_cookie():
    client = ProxmoxClient("pve.invalid", "root@pam", token_id="ci", token_secret="s3cret")
    assert client.session().headers["Authorization"] == "PVEAPIToken=root@pam!ci=s3cret"
    assert ProxmoxClient.ticket_cookie == "PVEAuthCookie" and PbsClient.ticket_cookie == "PBSAuthCookie"


@pytest.mark.parametrize("token_id", ["root@pam", "homecloud", "root!x@pam", "a b@pbs!t"])
def test_the_token_id_must_be_the_full_user_at_realm_bang_name(token_id):
    with pytest.raises(PbsInputError, match="user@realm!name"):
        PbsClient("pbs.invalid", token_id=token_id, token_secret="s")


def test_a_fingerprint_pins_the_certificate_instead_of_the_ca():
    client = PbsClient("pbs.invalid", token_id="root@pam!t", token_secret="s", fingerprint=FINGERPRINT.lower(), ca_path="/x.pem")
    assert client.verify is False and client.fingerprint == "0a1b2c3d" * 8
    adapter = client.session().get_adapter("https://pbs.invalid:8007/api2/json/version")
    assert isinstance(adapter, FingerprintAdapter)
    assert adapter.poolmanager.connection_pool_kw["assert_fingerprint"] == "0a1b2c3d" * 8
    unpinned = PbsClient("pbs.invalid", token_id="root@pam!t", token_secret="s", ca_path="/x.pem")
    assert unpinned.verify == "/x.pem" and not isinstance(unpinned.session().get_adapter("https://pbs.invalid"), FingerprintAdapter)


@pytest.mark.parametrize("text", ["0A:1B", "zz" * 32, "", "0A-1B-" * 16])
def test_a_fingerprint_is_32_hex_bytes(text):
    with pytest.raises(PbsInputError, match="SHA-256 fingerprint"):
        normalize_fingerprint(text)


def test_a_plain_error_body_is_the_reason():
    error = pbs_api_error("DELETE", "/config/datastore/x", 404, "Not Found", "datastore 'x' does not exist.")
    assert str(error) == "DELETE /config/datastore/x failed: HTTP 404 datastore 'x' does not exist."
    assert error.failure == dict(method="DELETE", path="/config/datastore/x", status=404, reason="datastore 'x' does not exist.", errors={})


def test_parameter_errors_become_fields():
    one = pbs_api_error("POST", "/config/datastore", 400, "Bad Request",
                        "parameter verification failed - 'name': value must be at least 3 characters long")
    assert one.reason == "parameter verification failed" and one.errors == {"name": "value must be at least 3 characters long"}
    several = pbs_api_error("POST", "/access/acl", 400, "Bad Request",
                            "parameter verification failed:\n- 'path': value does not match the regex pattern\n- 'role': is not a valid role")
    assert several.errors == {"path": "value does not match the regex pattern", "role": "is not a valid role"}
    assert str(several) == ("POST /access/acl failed: HTTP 400 parameter verification failed - path: value does not match the regex "
                            "pattern; role: is not a valid role")


def test_an_empty_body_keeps_the_status_reason():
    assert str(pbs_api_error("GET", "/version", 502, "Bad Gateway", "")) == "GET /version failed: HTTP 502 Bad Gateway"
    assert pbs_api_error("GET", "/version", 502, "Bad Gateway", "").transient


@pytest.mark.parametrize("namespace, components", [
    ("acme", ["acme"]), ("tenants/acme/", ["tenants", "acme"]), ("", []), ("a/b/c/d/e/f/g", list("abcdefg")),
])
def test_namespace_components(namespace, components):
    assert namespace_components(namespace) == components


@pytest.mark.parametrize("namespace, message", [
    ("a/b/c/d/e/f/g/h", "8 levels deep; PBS allows at most 7"),
    ("acme/-x", "namespace component '-x'"),
    ("acme/a b", "namespace component 'a b'"),
    ("x" * 33, "1 to 32"),
    ("/".join(["x" * 32] * 7) + "xx", "1 to 32"),
])
def test_namespace_names_pbs_refuses(namespace, message):
    with pytest.raises(PbsInputError, match=message):
        namespace_components(namespace)


def test_acl_paths():
    assert datastore_acl_path("tenants", "acme/prod") == "/datastore/tenants/acme/prod"
    assert normalize_acl_path("/datastore/tenants/acme/") == "/datastore/tenants/acme"
    assert normalize_acl_path("/") == "/"
    with pytest.raises(PbsInputError, match="at most 7 namespace levels"):
        normalize_acl_path("/datastore/s/1/2/3/4/5/6/7/8")


@pytest.mark.parametrize("auth_id, parts", [
    ("homecloud-acme@pbs", ("homecloud-acme@pbs", None)),
    ("homecloud-acme@pbs!backup", ("homecloud-acme@pbs", "backup")),
])
def test_auth_ids(auth_id, parts):
    assert split_authid(auth_id) == parts


@pytest.mark.parametrize("auth_id", ["acme", "acme@pbs!", "acme@pbs!-x", "ac me@pbs", "a" * 60 + "@pbs!token"])
def test_auth_ids_pbs_refuses(auth_id):
    with pytest.raises(PbsInputError):
        split_authid(auth_id)
