"""The validator and format verifiers in isolation (pve-common src/PVE/JSONSchema.pm rules)."""

import pytest

from pvesim import formats, schema
from pvesim.errors import ApiError, ParamError
from pvesim.validate import Validator, coerce_returns, reject_line_feeds

pytestmark = pytest.mark.timeout(30)


def errors_of(params, properties, unknown=None):
    """Validate and return the errors map ({} when valid)."""
    validator = Validator(unknown.add if unknown is not None else None)
    try:
        validator.validate(dict(params), {"additionalProperties": 0, "properties": properties})
    except ParamError as error:
        return error.errors
    return {}


@pytest.mark.parametrize("value, valid", [("1", True), ("0", True), (True, True), (False, True), (1, True),
                                          ("true", False), ("yes", False), (2, False)])
def test_boolean_check_type_accepts_only_0_1_and_json_booleans(value, valid):
    assert (errors_of({"flag": value}, {"flag": {"type": "boolean"}}) == {}) is valid


@pytest.mark.parametrize("value, valid", [("12", True), ("+3", True), ("-7", True), (5, True), ("1.5", False), (1.5, False), ("x", False)])
def test_integer_check_type_is_integer(value, valid):
    assert (errors_of({"n": value}, {"n": {"type": "integer"}}) == {}) is valid


@pytest.mark.parametrize("value, valid", [("1.5", True), (".5", True), ("1e3", True), ("5.", True), ("e3", False)])
def test_number_check_type_is_number(value, valid):
    assert (errors_of({"n": value}, {"n": {"type": "number"}}) == {}) is valid


def test_json_types_are_named_like_perl_refs():
    assert errors_of({"s": ["a"], "t": {"a": 1}, "u": True}, {"s": {"type": "string"}, "t": {"type": "integer"}, "u": {"type": "string"}}) == {
        "s": "type check ('string') failed - got ARRAY",
        "t": "type check ('integer') failed - got HASH",
        "u": "type check ('string') failed - got JSON::PP::Boolean",
    }


def test_json_null_counts_as_missing():
    assert errors_of({"name": None}, {"name": {"type": "string"}}) == {"name": "property is missing and it is not optional"}


def test_check_order_format_before_length():
    schema = {"id": {"type": "string", "format": "pve-configid", "maxLength": 4}}
    assert errors_of({"id": "1abcdef"}, schema) == {"id": "invalid format - invalid configuration ID '1abcdef'\n"}
    assert errors_of({"id": "abcdef"}, schema) == {"id": "value may only be 4 characters long"}


def test_min_length_and_requires():
    schema = {"path": {"type": "string", "optional": 1, "requires": "privs", "minLength": 2}, "privs": {"type": "string", "optional": 1}}
    assert errors_of({"path": "/"}, schema) == {"path": "value must be at least 2 characters long", "privs": "missing property required by 'path'"}


def test_pattern_is_anchored_and_perl_flags_are_translated():
    schema = {"alias": {"type": "string", "pattern": r"(?^i:[a-z]+)"}}
    assert errors_of({"alias": "ABC"}, schema) == {}
    assert errors_of({"alias": "ABC1"}, schema) == {"alias": "value does not match the regex pattern"}


def test_list_formats_split_on_comma_semicolon_and_space():
    schema = {"nodes": {"type": "string", "format": "pve-node-list"}}
    assert errors_of({"nodes": "pve1,pve2;pve3 pve4"}, schema) == {}
    assert errors_of({"nodes": "pve1,pve_2"}, schema) == {"nodes": "invalid format - value does not look like a valid node name\n"}


def test_array_for_a_list_format_is_joined_restHandler_normalize_legacy_param_formats():
    assert errors_of({"nodes": ["pve1", "pve2"]}, {"nodes": {"type": "string", "format": "pve-node-list"}}) == {}


def test_indexed_parameters_match_their_n_schema():
    schema = {"net[n]": {"type": "string", "optional": 1, "maxLength": 5}}
    assert errors_of({"net0": "abc", "net12": "abcdefg"}, schema) == {"net12": "value may only be 5 characters long"}
    assert errors_of({"netx": "a"}, schema) == {"netx": "property is not defined in schema and the schema does not allow additional properties"}


def test_unknown_named_formats_are_accepted_and_reported():
    seen = set()
    assert errors_of({"x": "anything"}, {"x": {"type": "string", "format": "pve-made-up"}}, seen) == {}
    assert seen == {"pve-made-up"}


PROPERTY_STRING = {"type": "string", "format": {
    "rate": {"type": "number", "default_key": 1, "minimum": 1},
    "burst": {"type": "integer", "optional": 1},
    "enable": {"type": "boolean", "optional": 1},
}}


@pytest.mark.parametrize("value, error", [
    ("10,burst=5,enable=yes", None),
    ("rate=3", None),
    ("burst=5", "invalid format - format error\nlimit.rate: property is missing and it is not optional\n"),
    ("10,burst=x", "invalid format - format error\nlimit.burst: type check ('integer') failed - got 'x'\n"),
    ("10,speed=1", "invalid format - invalid key in comma-separated list property: speed\n"),
    ("10,11", "invalid format - duplicate key in comma-separated list property: rate\n"),
    ("rate=1,rate=2", "invalid format - duplicate key in comma-separated list property: rate\n"),
    ("10,=5", "invalid format - missing key in comma-separated list property\n"),
])
def test_property_strings_jsonschema_parse_property_string(value, error):
    expected = {"limit": error} if error else {}
    assert errors_of({"limit": value}, {"limit": PROPERTY_STRING}) == expected


@pytest.mark.parametrize("value, error", [
    ("virtio=BC:24:11:00:00:01,bridge=vmbr0", None),
    ("model=virtio,macaddr=BC:24:11:00:00:01,bridge=vmbr0", None),
    ("bridge=vmbr0", "invalid format - format error\nnet0.model: property is missing and it is not optional\n"),
    ("virtio=BC:24:11:00:00:01,e1000=BC:24:11:00:00:02", "invalid format - key alias 'model' is already defined\n"),
])
def test_key_aliases_of_the_qemu_nic_format(value, error):
    """JSONSchema.pm parse_property_string: a key with `alias` and `keyAlias` sets both (net0 'virtio=<mac>'),
    as the schema of PUT /nodes/{node}/qemu/{vmid}/config has it."""
    method = schema.load("9.1").method("/nodes/{node}/qemu/{vmid}/config", "PUT")
    expected = {"net0": error} if error else {}
    assert errors_of({"net0": value}, {"net0": method["parameters"]["properties"]["net[n]"]}) == expected


@pytest.mark.parametrize("name, value, message", [
    ("pve-node", "pve-1", None),
    ("pve-node", "-pve", "value does not look like a valid node name"),
    ("pve-configid", "a", "invalid configuration ID 'a'"),
    ("pve-vmid", "100", None),
    ("pve-vmid", "1000000000", "value does not look like a valid VM ID"),
    ("pve-storage-id", "l", "storage ID 'l' cannot be shorter than 2 characters"),
    ("pve-storage-id", "local lvm", "storage ID 'local lvm' contains illegal characters"),
    ("pve-sdn-zone-id", "Tenant1", None),
    ("pve-sdn-vnet-id", "vnet-1", "vnet ID 'vnet-1' contains illegal characters"),
    ("pve-sdn-controller-id", "evpn_ctl-1", None),
    ("pve-sdn-controller-id", "c" * 65, "controller ID '%s' can't be more length than 64 characters" % ("c" * 65)),
    ("pve-sdn-ipam-id", "netbox2", None),
    ("pve-sdn-dns-id", "power-dns", "dns ID 'power-dns' contains illegal characters"),
    ("pve-sdn-subnet-id", "tenant-10.0.0.0-24", None),
    ("pve-sdn-subnet-id", "10.0.0.0/24", None),
    ("pve-sdn-subnet-id", "tenant-10.0.0.0-33", "value does not look like a valid CIDR network"),
    ("ip", "2001:db8::1", None),
    ("ipv4", "10.0.0.256", "value does not look like a valid IPv4 address"),
    ("ipv6", "2001:db8::g", "value does not look like a valid IPv6 address"),
    ("CIDR", "10.0.0.0/7", "value does not look like a valid CIDR network"),
    ("CIDRv6", "fd00::/64", None),
    ("mac-addr", "bc:24:11:00:00:01", None),
    ("mac-addr", "01:24:11:00:00:01", "value does not look like a valid unicast MAC address"),
    ("dns-name", "lab.internal", None),
    ("dns-name", "lab..internal", "value does not look like a valid DNS name"),
    ("pve-userid", "ab", "user name 'ab' is too short"),
    ("pve-userid", "alice@pve", None),
    ("pve-userid", "alice", "value 'alice' does not look like a valid user name"),
    ("pve-tokenid", "alice@pve!ci", None),
    ("pve-tokenid", "alice@pve", "value 'alice@pve' does not look like a valid token ID"),
    ("pve-poolid", "tenants/a/b", None),
    ("pve-poolid", "a/b/c/d", "pool name 'a/b/c/d' nested too deeply (max levels = 3)"),
    ("pve-groupid", "ops team", "group name 'ops team' contains invalid characters"),
    ("pve-roleid", "Tenant.Admin", None),
    ("email", "admin@lab.internal", None),
    ("urlencoded", "a%20b", None),
    ("pve-tag", "web+prod", None),
    ("pve-calendar-event", "mon..fri 02:00", None),
    ("pve-calendar-event", " ", "invalid calendar event ' ' - unable to parse calendar event - event is empty\n"),
])
def test_format_verifiers_with_pve_messages(name, value, message):
    if message is None:
        formats.FORMATS[name](value)
    else:
        with pytest.raises(formats.FormatError) as caught:
            formats.FORMATS[name](value)
        assert str(caught.value) == message


def test_line_feeds_are_rejected_like_sectionconfig_check_value():
    with pytest.raises(ApiError) as caught:
        reject_line_feeds({"comment": "one\ntwo"})
    assert (caught.value.status, caught.value.message, caught.value.errors) == (500, "property contains a line feed\n", {})
    reject_line_feeds({"comment": "one line"})


def test_returns_get_the_schema_types():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "on": {"type": "boolean"}, "f": {"type": "number"},
                                               "items": {"type": "array", "items": {"type": "integer"}}}}
    assert coerce_returns({"n": "5", "on": True, "f": "0.5", "items": ["1", 2], "extra": "x"}, schema) == \
        {"n": 5, "on": 1, "f": 0.5, "items": [1, 2], "extra": "x"}
