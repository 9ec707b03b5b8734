"""Zero Trust Access: the organization, self-hosted applications and reusable policies.

The organization's `auth_domain` is `<team>.cloudflareaccess.com` (the vendored schema's
`access_auth_domain`: "the unique subdomain assigned to your Zero Trust organization").
Applications: `type` self_hosted (other types answer a validation error: not simulated),
`domain` (one application per domain: 409 11010 access.api.error.application_already_exists,
errors.py), `name` (default: the domain), `session_duration` (a Go duration such as 24h, 2h45m,
300ms: units ns, us/µs, ms, s, m, h, the schema's description; default 24h), `policies`: reusable
policy ids, as strings or {id, precedence} (precedence defaults to the position, from 1, and
must be unique); app-scoped inline policies are not simulated. The answer lists the policies as
full policy objects with their precedence (`access_app_policy_response`), and `aud`, a 64-hex
audience tag drawn once at creation and kept by every update.
Reusable policies: `name`, `decision` (allow|deny|non_identity|bypass), `include` (required and
not empty), `exclude`, `require` (rules as the schema's `access_rule` shapes), `session_duration`.
A policy used by an application cannot be deleted (the simulator's 12131 access.api.error.policy_in_use).
"""

import re
import uuid

from simcore import route
from cfsim.errors import (ACCESS_APP_EXISTS, ACCESS_POLICY_IN_USE, ACCESS_VALIDATION_CODE, HTTP_BAD_REQUEST, HTTP_CONFLICT,
                          UNAUTHORIZED_RESOURCE, CfError, not_found)
from cfsim.simulator import CfArea, Page, timestamp

GO_DURATION_RE = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
DEFAULT_SESSION = "24h"
DEFAULT_PER_PAGE = 20
APP_PATH = "/accounts/{account_id}/access/apps/{app_id}"
POLICY_PATH = "/accounts/{account_id}/access/policies/{policy_id}"
POLICY_FIELDS = ("name", "decision", "include", "exclude", "require", "session_duration", "approval_required",
                 "approval_groups", "isolation_required", "purpose_justification_required", "purpose_justification_prompt")
APP_DEFAULTS = {"allowed_idps": [], "app_launcher_visible": True, "auto_redirect_to_identity": False, "tags": [],
                "enable_binding_cookie": False, "http_only_cookie_attribute": True, "options_preflight_bypass": False,
                "service_auth_401_redirect": False, "skip_interstitial": False}


def _domain_key(domain):
    return domain.strip().lower().rstrip("/")


class Access(CfArea):
    """/accounts/{account_id}/access/{organizations,apps,policies}."""

    name = "access"
    permission = "access"
    forbidden = UNAUTHORIZED_RESOURCE
    validation_code = ACCESS_VALIDATION_CODE

    def initial_state(self):
        now = timestamp()
        return {"apps": {}, "policies": {},
                "organization": {"name": self.sim.team, "auth_domain": "%s.cloudflareaccess.com" % self.sim.team,
                                 "created_at": now, "updated_at": now, "session_duration": DEFAULT_SESSION,
                                 "auto_redirect_to_identity": False, "is_ui_read_only": False,
                                 "allow_authenticate_via_warp": False}}

    def _new_id(self):
        return str(uuid.UUID(int=self.sim.observer.rng.getrandbits(128), version=4))

    def _duration(self, value, field="session_duration"):
        if value is None:
            return DEFAULT_SESSION
        if not GO_DURATION_RE.match(value):
            raise self.validation_error([(field, "must be a duration such as 300ms or 2h45m (units ns, us, ms, s, m, h)")])
        return value

    # -- organization ----------------------------------------------------------------------------
    @route("GET", "/accounts/{account_id}/access/organizations")
    def organization(self, request):  # pylint: disable=unused-argument
        """The Zero Trust organization (auth_domain <team>.cloudflareaccess.com)."""
        return dict(self.state["organization"])

    # -- policies --------------------------------------------------------------------------------
    def _policy(self, request):
        policy = self.state["policies"].get(request.path_params["policy_id"])
        if policy is None:
            raise not_found()
        return policy

    def _policy_fields(self, body):
        if not body.get("include"):
            raise self.validation_error([("include", "must have at least 1 rule")])
        fields = {key: body[key] for key in POLICY_FIELDS if key in body}
        fields.setdefault("exclude", [])
        fields.setdefault("require", [])
        fields["session_duration"] = self._duration(body.get("session_duration"))
        return fields

    def _apps_using(self, policy_id):
        return [app for app in self.state["apps"].values() if any(link["id"] == policy_id for link in app["policy_links"])]

    def policy_answer(self, policy):
        """A reusable policy with the number of applications using it."""
        return dict(policy, reusable=True, app_count=len(self._apps_using(policy["id"])))

    @route("GET", "/accounts/{account_id}/access/policies")
    def list_policies(self, request):  # pylint: disable=unused-argument
        """Reusable policies, oldest first."""
        policies = sorted(self.state["policies"].values(), key=lambda item: (item["created_at"], item["id"]))
        return Page([self.policy_answer(policy) for policy in policies], DEFAULT_PER_PAGE)

    @route("POST", "/accounts/{account_id}/access/policies")
    def create_policy(self, request):
        """POST a reusable policy."""
        now = timestamp()
        policy = dict(self._policy_fields(request.body), id=self._new_id(), created_at=now, updated_at=now)
        self.state["policies"][policy["id"]] = policy
        return self.policy_answer(policy)

    @route("GET", POLICY_PATH)
    def get_policy(self, request):
        """One reusable policy."""
        return self.policy_answer(self._policy(request))

    @route("PUT", POLICY_PATH)
    def update_policy(self, request):
        """PUT: the policy becomes the body (id and created_at kept)."""
        policy = self._policy(request)
        kept = {key: policy[key] for key in ("id", "created_at")}
        policy.clear()
        policy.update(self._policy_fields(request.body), updated_at=timestamp(), **kept)
        return self.policy_answer(policy)

    @route("DELETE", POLICY_PATH)
    def delete_policy(self, request):
        """DELETE: refused while an application uses the policy."""
        policy = self._policy(request)
        if self._apps_using(policy["id"]):
            raise CfError(HTTP_BAD_REQUEST, ACCESS_POLICY_IN_USE)
        del self.state["policies"][policy["id"]]
        return {"id": policy["id"]}

    # -- applications ----------------------------------------------------------------------------
    def _app(self, request):
        app = self.state["apps"].get(request.path_params["app_id"])
        if app is None:
            raise not_found()
        return app

    def _links(self, policies):
        links = []
        for index, item in enumerate(policies or []):
            field = "policies.%d" % index
            if isinstance(item, dict) and set(item) - {"id", "precedence"}:
                raise self.validation_error([(field, "app-scoped (inline) policies are not simulated; link a reusable policy by id")])
            policy_id = item.get("id") if isinstance(item, dict) else item
            if policy_id not in self.state["policies"]:
                raise self.validation_error([(field, "no reusable policy with id %s" % policy_id)])
            precedence = item.get("precedence") if isinstance(item, dict) else None
            links.append({"id": policy_id, "precedence": index + 1 if precedence is None else precedence})
        precedences = [link["precedence"] for link in links]
        if len(set(precedences)) != len(precedences):
            raise self.validation_error([("policies", "precedence must be unique for each policy within an app")])
        return links

    def _app_fields(self, body, except_id=None):
        if body.get("type") != "self_hosted":
            raise self.validation_error([("type", "only self_hosted applications are simulated")])
        domain = body.get("domain")
        if not isinstance(domain, str) or not domain.strip():
            raise self.validation_error([("domain", "is required")])
        for app in self.state["apps"].values():
            if app["id"] != except_id and _domain_key(app["domain"]) == _domain_key(domain):
                raise CfError(HTTP_CONFLICT, ACCESS_APP_EXISTS)
        fields = dict(APP_DEFAULTS)
        fields.update({key: value for key, value in body.items() if key != "policies"})
        fields["name"] = body.get("name") or domain
        fields["session_duration"] = self._duration(body.get("session_duration"))
        fields["self_hosted_domains"] = [domain]
        fields["policy_links"] = self._links(body.get("policies"))
        return fields

    def app_answer(self, app):
        """An application with its policies in full, by precedence."""
        answer = {key: value for key, value in app.items() if key != "policy_links"}
        links = sorted(app["policy_links"], key=lambda link: link["precedence"])
        answer["policies"] = [dict(self.state["policies"][link["id"]], precedence=link["precedence"]) for link in links]
        return answer

    @route("GET", "/accounts/{account_id}/access/apps")
    def list_apps(self, request):  # pylint: disable=unused-argument
        """Applications, oldest first."""
        apps = sorted(self.state["apps"].values(), key=lambda item: (item["created_at"], item["id"]))
        return Page([self.app_answer(app) for app in apps], DEFAULT_PER_PAGE)

    @route("POST", "/accounts/{account_id}/access/apps")
    def create_app(self, request):
        """POST a self-hosted application; aud is drawn here, once."""
        now = timestamp()
        app = self._app_fields(request.body)
        app.update(id=self._new_id(), aud="%064x" % self.sim.observer.rng.getrandbits(256), created_at=now, updated_at=now)
        self.state["apps"][app["id"]] = app
        return self.app_answer(app)

    @route("GET", APP_PATH)
    def get_app(self, request):
        """One application."""
        return self.app_answer(self._app(request))

    @route("PUT", APP_PATH)
    def update_app(self, request):
        """PUT: the application becomes the body (id, aud, created_at kept)."""
        app = self._app(request)
        kept = {key: app[key] for key in ("id", "aud", "created_at")}
        fields = self._app_fields(request.body, except_id=app["id"])
        app.clear()
        app.update(fields, updated_at=timestamp(), **kept)
        return self.app_answer(app)

    @route("DELETE", APP_PATH)
    def delete_app(self, request):
        """DELETE: answers {id}."""
        app = self._app(request)
        del self.state["apps"][app["id"]]
        return {"id": app["id"]}
