# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/dns.py without a server: BIND key files, the name and value rules, the RRset engine (changes,
purge, record lines), TXT in zone file form, and the Technitium client (status errors at HTTP 200, the token only
in the Authorization header, writes as forms, reads retried)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import socket
from urllib.parse import parse_qsl, urlsplit

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from ansible.module_utils.six.moves.urllib.error import HTTPError

from ansible_collections.homecloud.proxmox.plugins.module_utils.dns import (
    APEX,
    DnsError,
    DnsInputError,
    Rfc2136Provider,
    RRset,
    TechnitiumClient,
    TechnitiumError,
    TechnitiumProvider,
    applied,
    canonical_value,
    check_cname_alone,
    declared_rrset,
    parse_key_file,
    purgeable,
    rdata_value,
    record_lines,
    relative_owner,
    rrset_changes,
    technitium_params,
    technitium_value,
    txt_zone_text,
)

SECRET = "gwppyW/SwDk2lKEv9ehfsvVWOjjyWUeUo63h2eaJrow="
ZONE = "acme.lab.internal"
API = "http://dns.test:5380"


# --- key files -----------------------------------------------------------------------------------


def test_a_tsig_keygen_file_gives_name_algorithm_and_secret():
    text = 'key "homecloud-update" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' % SECRET
    assert parse_key_file(text) == ("homecloud-update", "hmac-sha256", SECRET)


def test_comments_are_ignored_but_a_secret_holding_two_slashes_is_kept():
    secret = "ab//cd+/" + "A" * 36
    text = ('# written by tsig-keygen\n/* two keys */ key acme. { algorithm HMAC-SHA512; // the tenant\'s\n secret "%s"; };\n'
            'key "other" { algorithm hmac-sha256; secret "%s"; };' % (secret, SECRET))
    assert parse_key_file(text, "acme") == ("acme", "hmac-sha512", secret)
    with pytest.raises(DnsInputError, match="holds the keys acme, other; set tsig_key_name"):
        parse_key_file(text)
    with pytest.raises(DnsInputError, match="holds no key 'nope' \\(tsig_key_name\\); it holds acme, other"):
        parse_key_file(text, "nope")


@pytest.mark.parametrize("text, message", [
    ("options { };", "no key block"),
    ('key "k" { algorithm hmac-sha256; };', "key 'k' needs both an algorithm and a secret"),
    ('key "k" { algorithm hmac-sha999; secret "%s"; };' % SECRET, "'hmac-sha999': expected one of hmac-sha256"),
    ('key "k" { algorithm hmac-sha256; secret "not base64!"; };', "the secret of key 'k' is not base64"),
])
def test_a_broken_key_file_is_refused_naming_the_file_and_never_the_secret(text, message):
    with pytest.raises(DnsInputError, match=message) as raised:
        parse_key_file(text, source="tsig_key_file /etc/bind/k.key")
    assert str(raised.value).startswith("tsig_key_file /etc/bind/k.key") and "not base64!" not in str(raised.value)


# --- names and values ----------------------------------------------------------------------------


@pytest.mark.parametrize("name, owner", [
    ("@", APEX), ("", APEX), (ZONE, APEX), (ZONE + ".", APEX), ("web1", "web1"), ("WEB1.acme.lab.internal.", "web1"),
    ("_pg._tcp", "_pg._tcp"), ("*.apps", "*.apps"), ("a.b", "a.b"),
])
def test_names_are_relative_to_the_zone_or_fully_qualified_inside_it(name, owner):
    assert relative_owner(name, ZONE) == owner


@pytest.mark.parametrize("name", ["web1.globex.lab.internal", "web1.example.com.", "lab.internal"])
def test_a_name_of_another_zone_is_refused_naming_the_field(name):
    with pytest.raises(DnsInputError, match="^name {0!r} is not inside zone acme.lab.internal".format(name)):
        relative_owner(name, ZONE)


@pytest.mark.parametrize("name", ["web 1", "-web", "a..b", "x" * 64, "a.*"])
def test_an_invalid_name_is_refused(name):
    with pytest.raises(DnsInputError, match="expected a DNS name"):
        relative_owner(name, ZONE)


def test_reverse_zone_names():
    reverse = "17.128.10.in-addr.arpa"
    assert relative_owner("10", reverse) == "10" and relative_owner("10.17.128.10.in-addr.arpa", reverse) == "10"
    with pytest.raises(DnsInputError, match="not inside zone"):
        relative_owner("10.18.128.10.in-addr.arpa", reverse)


@pytest.mark.parametrize("rtype, value, canonical", [
    ("A", " 10.128.17.10 ", "10.128.17.10"),
    ("AAAA", "2001:DB8:0:0::1", "2001:db8::1"),
    ("CNAME", "Web1.Acme.Lab.Internal", "web1.acme.lab.internal."),
    ("PTR", "web1.acme.lab.internal.", "web1.acme.lab.internal."),
    ("MX", "010  mail.acme.lab.internal", "10 mail.acme.lab.internal."),
    ("SRV", "0 5 5432 db1.acme.lab.internal", "0 5 5432 db1.acme.lab.internal."),
    ("TXT", 'v=spf1 "quoted" -all', 'v=spf1 "quoted" -all'),
])
def test_values_take_one_canonical_form(rtype, value, canonical):
    assert canonical_value(rtype, value, "values[0]") == canonical


@pytest.mark.parametrize("rtype, value, message", [
    ("A", "10.128.17.300", "values\\[0\\] '10.128.17.300': not an IPv4 address"),
    ("AAAA", "10.0.0.1", "not an IPv6 address"),
    ("MX", "mail.example.com", "an MX value is <preference> <exchange>"),
    ("SRV", "0 5 70000 db1.x", "an SRV value is <priority> <weight> <port> <target>"),
    ("CNAME", "not a name", "expected a DNS name"),
])
def test_a_wrong_value_is_refused_naming_the_field(rtype, value, message):
    with pytest.raises(DnsInputError, match=message):
        canonical_value(rtype, value, "values[0]")


def test_a_declared_record_is_checked_field_by_field():
    rrset = declared_rrset(ZONE, dict(name="web1", type="a", values=["10.128.17.11", "10.128.17.10", "10.128.17.10"], ttl=None))
    assert (rrset.key, rrset.ttl, rrset.values) == (("web1", "A"), 3600, ("10.128.17.10", "10.128.17.11"))
    with pytest.raises(DnsInputError, match="^records\\[2\\].values: a non-empty list"):
        declared_rrset(ZONE, dict(name="web1", type="A", values=[]), "records[2].")
    with pytest.raises(DnsInputError, match="^records\\[0\\].type 'NS': expected one of A, AAAA"):
        declared_rrset(ZONE, dict(name="@", type="NS", values=["ns.lab.internal"]), "records[0].")
    with pytest.raises(DnsInputError, match="a CNAME has one value, got 2"):
        declared_rrset(ZONE, dict(name="www", type="CNAME", values=["a.lab.internal", "b.lab.internal"]))
    with pytest.raises(DnsInputError, match="^ttl -1: expected seconds"):
        declared_rrset(ZONE, dict(name="www", type="A", values=["10.0.0.1"], ttl=-1))
    with pytest.raises(DnsInputError, match="www has a CNAME and A, TXT; a CNAME cannot share its name"):
        check_cname_alone([RRset("www", "CNAME", 60, ["web1.acme.lab.internal."]), RRset("www", "TXT", 60, ["x"]),
                           RRset("www", "A", 60, ["10.0.0.1"])], "records")


# --- the engine ----------------------------------------------------------------------------------


def zone_state(*rrsets):
    return dict((rrset.key, rrset) for rrset in rrsets)


def test_equal_sets_make_no_change_and_a_ttl_or_value_change_replaces_the_set():
    web1 = RRset("web1", "A", 300, ["10.128.17.10"])
    current = zone_state(web1, RRset("gw", "A", 300, ["10.128.17.2"]))
    assert rrset_changes(current, [RRset("web1", "A", 300, ["10.128.17.10"])]) == []
    changes = rrset_changes(current, [RRset("web1", "A", 600, ["10.128.17.10"]), RRset("db1", "A", 300, ["10.128.18.11"])])
    assert [str(change) for change in changes] == ["replace db1 300 A 10.128.18.11", "replace web1 600 A 10.128.17.10"]
    assert changes[0].before is None and changes[1].before == web1
    assert record_lines(applied(current, changes).values()) == [
        "db1 300 A 10.128.18.11", "gw 300 A 10.128.17.2", "web1 600 A 10.128.17.10"]


def test_purge_removes_what_is_not_declared_but_spares_the_name_servers_addresses():
    current = zone_state(RRset("web1", "A", 300, ["10.128.17.10"]), RRset("gw", "A", 300, ["10.128.17.2"]),
                         RRset("ns1", "A", 3600, ["10.128.1.10"]), RRset("_owner", "TXT", 60, ["acme"]))
    removable = purgeable(current, ZONE, {"ns1.acme.lab.internal.", "ns.elsewhere.example."})
    assert sorted(removable) == [("_owner", "TXT"), ("gw", "A"), ("web1", "A")]
    changes = rrset_changes(current, [RRset("web1", "A", 300, ["10.128.17.10"])], removable)
    assert [str(change) for change in changes] == ["delete _owner TXT", "delete gw A"]
    assert record_lines(applied(current, changes).values()) == ["ns1 3600 A 10.128.1.10", "web1 300 A 10.128.17.10"]


def test_txt_values_travel_as_character_strings_of_at_most_255_octets():
    long_text = "k=" + "x" * 300 + ' "quoted" \\ ü'
    text = txt_zone_text(long_text)
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text)
    assert [len(part) for part in rdata.strings] == [255, len(long_text.encode("utf-8")) - 255]
    assert rdata_value("TXT", rdata) == long_text
    assert RRset("_o", "TXT", 60, ['a "b"']).lines() == ['_o 60 TXT "a \\"b\\""']


def test_technitium_record_data_maps_both_ways():
    assert technitium_params("SRV", "0 5 5432 db1.acme.lab.internal.") == dict(priority="0", weight="5", port="5432",
                                                                               target="db1.acme.lab.internal")
    assert technitium_params("TXT", "a. b.") == dict(text="a. b.")
    assert technitium_value("MX", dict(preference=10, exchange="mail.acme.lab.internal")) == "10 mail.acme.lab.internal."
    assert technitium_value("PTR", dict(ptrName="web1.acme.lab.internal")) == "web1.acme.lab.internal."


# --- the Technitium client -----------------------------------------------------------------------


class Answer:
    def __init__(self, document):
        self.body = json.dumps(document).encode()

    def getcode(self):
        return 200

    def read(self):
        return self.body


class Opener:
    """Answers in order (an exception is raised); records each request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, url, data=None, headers=None, method=None, **options):
        parts = urlsplit(url)
        self.requests.append(dict(path=parts.path, query=dict(parse_qsl(parts.query)), method=method, headers=headers,
                                  form=dict(parse_qsl(data.decode())) if data else None))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def technitium(opener):
    return TechnitiumClient("secret-token", api_url=API + "/", opener=opener, sleep=lambda seconds: None)


def test_reads_are_gets_writes_are_forms_and_the_token_is_only_in_the_header():
    opener = Opener(Answer(dict(status="ok", response=dict(zones=[]))), Answer(dict(status="ok", response=dict(domain="x"))))
    api = technitium(opener)
    assert api.get("/api/zones/list") == dict(zones=[])
    assert api.call("POST", "/api/zones/create", dict(zone="x", type="Primary", catalog=None))["data"] == dict(domain="x")
    read, write = opener.requests
    assert read["method"] == "GET" and read["path"] == "/api/zones/list" and read["form"] is None
    assert write["query"] == {} and write["form"] == dict(zone="x", type="Primary")
    assert write["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    for request in opener.requests:
        assert request["headers"]["Authorization"] == "Bearer secret-token"
        assert "secret-token" not in json.dumps([request["path"], request["query"], request["form"]])


def test_an_error_at_http_200_fails_quoting_the_error_message():
    opener = Opener(Answer(dict(status="error", errorMessage="No such zone was found: nope.x", stackTrace="at ...")))
    with pytest.raises(TechnitiumError) as raised:
        technitium(opener).get("/api/zones/records/get", domain="nope.x", zone="nope.x")
    assert str(raised.value) == ("GET /api/zones/records/get failed: Technitium answered status 'error': "
                                 "No such zone was found: nope.x")
    assert raised.value.failure["reason"] == "No such zone was found: nope.x" and raised.value.failure["status"] == 200
    assert len(opener.requests) == 1, "an error answer is not retried"


def test_an_invalid_token_says_so():
    opener = Opener(Answer(dict(status="invalid-token", errorMessage="Invalid token or session expired.")))
    with pytest.raises(TechnitiumError, match="the API token was refused \\(invalid-token\\)"):
        technitium(opener).get("/api/zones/list")


def test_a_read_is_retried_after_a_5xx_and_a_body_that_is_not_json_is_an_error():
    failure = HTTPError(API, 502, "Bad Gateway", {}, io.BytesIO(b"<html>"))
    opener = Opener(failure, Answer(dict(status="ok", response=dict(zones=[dict(name="acme.lab.internal", type="Primary")]))))
    provider = TechnitiumProvider(dict(api_token="secret-token", api_url=API), client=technitium(opener))
    assert provider.find_zone("acme.lab.internal") == dict(name="acme.lab.internal", type="Primary")
    assert len(opener.requests) == 2

    class Text(Answer):
        def __init__(self):
            self.body = b"<html>proxy</html>"
    with pytest.raises(TechnitiumError, match="with a body that is not Technitium's JSON"):
        technitium(Opener(Text())).get("/api/zones/list")


def test_technitium_needs_a_token_before_any_request():
    with pytest.raises(DnsInputError, match="^api_token: required with provider=technitium"):
        TechnitiumProvider(dict(api_token=None, api_url=API))


# --- the RFC 2136 provider without a server ---------------------------------------------------------


def rfc2136(**params):
    return Rfc2136Provider(dict(dict(server="127.0.0.1", port=53, timeout=2, tsig_algorithm="hmac-sha256"), **params))


def test_the_key_comes_from_the_options_or_from_a_key_file_and_is_hidden(tmp_path):
    provider = rfc2136(tsig_key_name="homecloud-update", tsig_secret=SECRET)
    assert (provider.key_name, provider.key.algorithm.to_text(), provider.secrets) == ("homecloud-update", "hmac-sha256.", [SECRET])
    key_file = tmp_path / "update.key"
    key_file.write_text('key "acme" { algorithm hmac-sha512; secret "%s"; };' % SECRET)
    provider = rfc2136(tsig_key_file=str(key_file))
    assert (provider.key_name, provider.key.algorithm.to_text(), provider.secrets) == ("acme", "hmac-sha512.", [SECRET])
    with pytest.raises(DnsInputError, match="^tsig_key_file .*missing.key: cannot be read"):
        rfc2136(tsig_key_file=str(tmp_path / "missing.key"))
    with pytest.raises(DnsInputError, match="^tsig_key_file, or tsig_key_name with tsig_secret"):
        rfc2136(tsig_key_name="homecloud-update")


def test_a_server_name_is_looked_up_and_an_unreachable_server_is_named():
    assert rfc2136(server="localhost", tsig_key_name="k", tsig_secret=SECRET).address() in ("127.0.0.1", "::1")
    with pytest.raises(DnsError, match="server 'no-such-host.invalid': cannot look up its address"):
        rfc2136(server="no-such-host.invalid", tsig_key_name="k", tsig_secret=SECRET).address()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(DnsError, match="^SOA query for acme.lab.internal at the DNS server 127.0.0.1 port {0}: cannot connect".format(port)):
            rfc2136(port=port, tsig_key_name="k", tsig_secret=SECRET).find_zone(ZONE)
