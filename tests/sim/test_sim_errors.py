"""Bad requests get PVE's exact status, reason phrase, message and `errors` map.

Sources of the expected values (pve-common at f665029, pve-manager at 14a22df,
pve-http-server at 5c9e4ea):
- validation messages: pve-common src/PVE/JSONSchema.pm check_prop/check_object/check_type,
  400 "Parameter verification failed.\\n" from src/PVE/Exception.pm raise_param_exc;
- SDN id rules: pve-network src/PVE/Network/SDN/Zones/Plugin.pm parse_sdn_zone_id (at 8f4f5d2,
  PVE 8.4), the schema format `pve-sdn-zone-id`, checked before the SDN lock, hence the
  `{"zone": "invalid format - ... 8 characters\\n"}` map;
- auth: pve-manager PVE/HTTPServer.pm auth_handler ("No ticket", "Authentication failed!"),
  pve-common src/PVE/Ticket.pm verify_csrf_prevention_token, pve-access-control
  src/PVE/API2/AccessControl.pm create_ticket ("authentication failure"), answered by
  pve-http-server AnyEvent.pm with status and reason only;
- routing: HTTPServer.pm rest_handler ("Method '<M> <path>' not implemented", duplicate
  parameter, allowtoken), RPCEnvironment.pm / Exception.pm raise_perm_exc.
Order (HTTPServer.pm): auth -> CSRF -> find handler -> permissions -> proxyto -> validation.
SDN is not simulated yet, so schema-valid SDN writes end in pvesim's own 501 — after PVE's
validation, which is where PVE validates too.
"""

import pytest

from pvesim.testing import assert_pve_error

pytestmark = pytest.mark.timeout(30)

PARAM_FAILED = ("Parameter verification failed.", "Parameter verification failed.\n")


@pytest.fixture
def api(sim, api_session):
    """Token-authenticated session (no CSRF needed)."""
    return api_session(sim)


def check_param_error(response, errors):
    assert_pve_error(response, 400, PARAM_FAILED[0], errors, PARAM_FAILED[1])


def test_unknown_parameter_jsonschema_check_object(api):
    check_param_error(api.api("GET", "/cluster/resources", params={"foo": "1"}),
                      {"foo": "property is not defined in schema and the schema does not allow additional properties"})


def test_bad_enum_jsonschema_check_prop_enum(api):
    check_param_error(api.api("GET", "/cluster/resources", params={"type": "bogus"}),
                      {"type": "value 'bogus' does not have a value in the enumeration 'vm, storage, node, sdn'"})


def test_too_long_zone_id_pve_network_parse_sdn_zone_id(api):
    # Schema validation runs before pve-network's lock_sdn_config: a proper 400 with the map
    check_param_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "toolongid", "type": "simple"}),
                      {"zone": "invalid format - zone ID 'toolongid' can't be more length than 8 characters\n"})


def test_zone_id_with_illegal_characters(api):
    check_param_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "tenant_a", "type": "simple"}),
                      {"zone": "invalid format - zone ID 'tenant_a' contains illegal characters\n"})


def test_missing_required_jsonschema_check_prop(api):
    check_param_error(api.api("POST", "/cluster/sdn/zones", data={"type": "simple"}),
                      {"zone": "property is missing and it is not optional"})


def test_wrong_type_integer_jsonschema_check_type(api):
    check_param_error(api.api("GET", "/nodes/pve1/tasks", params={"limit": "ten"}),
                      {"limit": "type check ('integer') failed - got 'ten'"})


def test_wrong_type_boolean_only_0_or_1_jsonschema_check_type(api):
    # check_type accepts exactly '1' and '0' for booleans in form data (JSON true/false too)
    check_param_error(api.api("GET", "/nodes/pve1/tasks", params={"errors": "yes"}),
                      {"errors": "type check ('boolean') failed - got 'yes'"})


def test_integer_below_minimum_jsonschema_check_prop(api):
    check_param_error(api.api("GET", "/nodes/pve1/tasks", params={"limit": "-1"}),
                      {"limit": "value must have a minimum value of 0"})


def test_integer_above_maximum_jsonschema_check_prop(api):
    check_param_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "z1", "type": "vxlan", "vxlan-port": "70000"}),
                      {"vxlan-port": "value must have a maximum value of 65536"})


def test_vmid_format_is_checked_before_range_jsonschema_check_prop_order(api):
    # format (pve-vmid) comes before minimum in check_prop, so 99 fails the format
    check_param_error(api.api("GET", "/cluster/nextid", params={"vmid": "99"}),
                      {"vmid": "invalid format - value does not look like a valid VM ID\n"})


def test_pattern_mismatch_jsonschema_check_prop_pattern(api):
    check_param_error(api.api("POST", "/cluster/sdn/ipams", data={"ipam": "ext", "type": "netbox", "fingerprint": "zz"}),
                      {"fingerprint": "value does not match the regex pattern"})


def test_line_feed_inside_an_id_fails_its_format(api):
    check_param_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "ab\ncd", "type": "simple"}),
                      {"zone": "invalid format - zone ID 'ab\ncd' contains illegal characters\n"})


def test_several_errors_in_one_map(api):
    check_param_error(api.api("POST", "/cluster/sdn/zones", data={"zone": "toolongid", "type": "nope", "bogus": "1"}), {
        "zone": "invalid format - zone ID 'toolongid' can't be more length than 8 characters\n",
        "type": "value 'nope' does not have a value in the enumeration 'evpn, faucet, qinq, simple, vlan, vxlan'",
        "bogus": "property is not defined in schema and the schema does not allow additional properties",
    })


def test_valid_call_not_simulated_yet_says_so(api):
    # node-side SDN status (Zones/Status) is not simulated by the SDN area
    response = api.api("GET", "/nodes/pve1/sdn/zones")
    assert_pve_error(response, 501, "Method 'GET /nodes/pve1/sdn/zones' not implemented by pvesim", None,
                     "Method 'GET /nodes/pve1/sdn/zones' not implemented by pvesim\n")


def test_path_not_in_schema_httpserver_rest_handler(api):
    assert_pve_error(api.api("GET", "/foo"), 501, "Method 'GET /foo' not implemented", None, "Method 'GET /foo' not implemented")


def test_method_not_in_schema_httpserver_rest_handler(api):
    assert_pve_error(api.api("PUT", "/version"), 501, "Method 'PUT /version' not implemented", None,
                     "Method 'PUT /version' not implemented")


def test_not_implemented_comes_after_auth_httpserver_order(sim, api_session):
    assert_pve_error(api_session(sim, auth=None).api("GET", "/foo"), 401, "No ticket", message="")


def test_duplicate_path_parameter_httpserver_rest_handler(api):
    check_param_error(api.api("GET", "/nodes/pve1/status", params={"node": "pve2"}),
                      {"node": "duplicate parameter (already defined in URI) with conflicting values!"})


def test_unknown_node_on_proxied_call_network_get_ip_from_hostname(api):
    message = "hostname lookup 'pve9' failed - failed to get address info for: pve9: Name or service not known\n"
    assert_pve_error(api.api("GET", "/nodes/pve9/status"), 500, message.rstrip("\n"), None, message)


def test_no_ticket_httpserver_auth_handler(sim, api_session):
    assert_pve_error(api_session(sim, auth=None).api("GET", "/version"), 401, "No ticket", message="")


def test_bad_api_token_httpserver_auth_handler(sim, api_session):
    session = api_session(sim, auth=None)
    response = session.api("GET", "/version", headers={"Authorization": "PVEAPIToken=root@pam!homecloud=wrong-secret"})
    assert_pve_error(response, 401, "Authentication failed!", message="")


def test_unknown_api_token_httpserver_auth_handler(sim, api_session):
    session = api_session(sim, auth=None)
    response = session.api("GET", "/version", headers={"Authorization": "PVEAPIToken=root@pam!nosuch=x"})
    assert_pve_error(response, 401, "Authentication failed!", message="")


def test_bad_ticket_httpserver_auth_handler(sim, api_session):
    session = api_session(sim, auth=None)
    response = session.api("GET", "/version", headers={"Cookie": "PVEAuthCookie=PVE:root@pam:00000000::forged"})
    assert_pve_error(response, 401, "Authentication failed!", message="")


def test_wrong_password_access_control_create_ticket(sim, api_session):
    response = api_session(sim, auth=None).api("POST", "/access/ticket", data={"username": "root@pam", "password": "wrong"})
    assert_pve_error(response, 401, "authentication failure", None, "authentication failure\n")


def test_unknown_user_gets_the_same_answer_access_control_create_ticket(sim, api_session):
    response = api_session(sim, auth=None).api("POST", "/access/ticket", data={"username": "nobody@pve", "password": "x"})
    assert_pve_error(response, 401, "authentication failure", None, "authentication failure\n")


def test_write_without_csrf_token_ticket_verify_csrf_prevention_token(sim, api_session):
    session = api_session(sim, auth="ticket")
    del session.headers["CSRFPreventionToken"]
    response = session.api("POST", "/cluster/sdn/zones", data={"zone": "z1", "type": "simple"})
    assert_pve_error(response, 401, "Permission denied - invalid csrf token", message="")


def test_write_with_a_wrong_csrf_token(sim, api_session):
    session = api_session(sim, auth="ticket")
    session.headers["CSRFPreventionToken"] = "6789ABCD:not-the-signature"
    response = session.api("DELETE", "/nodes/pve1/tasks/UPID:pve1:00000001:00000001:00000001:x::root@pam:")
    assert_pve_error(response, 401, "Permission denied - invalid csrf token", message="")


def test_csrf_is_checked_before_the_schema_lookup(sim, api_session):
    session = api_session(sim, auth="ticket")
    del session.headers["CSRFPreventionToken"]
    assert_pve_error(session.api("POST", "/nothing/here"), 401, "Permission denied - invalid csrf token", message="")


def test_ticket_login_is_not_for_api_tokens_httpserver_allowtoken(sim, api):
    response = api.api("POST", "/access/ticket", data={"username": "root@pam", "password": sim.root_password})
    reason = "Permission check failed (URI '/access/ticket' not available with API token, need proper ticket."
    assert_pve_error(response, 403, reason, None, reason + "\n)\n")


def test_body_on_a_get_anyevent_unexpected_content(api):
    response = api.api("GET", "/version", data="a=b", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (response.status_code, response.reason, response.text) == (501, "Unexpected content for method 'GET'",
                                                                      "Unexpected content for method 'GET'")


def test_unknown_http_method_anyevent_process_header(api):
    response = api.api("PATCH", "/version")
    assert (response.status_code, response.reason) == (501, "method 'PATCH' not available")


def test_path_outside_api2_anyevent_no_such_uri(api):
    response = api.request("GET", api.base_url + "/api2", timeout=10)
    assert (response.status_code, response.reason, response.text) == (501, "no such uri", "no such uri")


def test_cr_in_the_reason_line_turns_into_a_bare_400_anyevent_response(sim, api):
    sim.inject_fault(method="GET", path="^/version$", status=500, message="broken\r line\nsecond line")
    response = api.api("GET", "/version")
    assert (response.status_code, response.reason, response.content) == (400, "Bad Request", b"")
