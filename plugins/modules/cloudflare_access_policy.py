#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cloudflare_access_policy
short_description: Manage a reusable Cloudflare Access policy
version_added: 0.1.0
description:
  - Creates, updates or removes one reusable Access policy of an account (C(/accounts/{account_id}/access/policies)),
    found by its O(name). Access applications (M(homecloud.proxmox.cloudflare_access_app)) refer to it by name.
  - Who the policy matches is given with the simple forms O(emails), O(email_domains), O(access_groups) and
    O(idp_groups), or with raw Cloudflare rule objects in O(include), O(exclude) and O(require) for every other rule
    type; the simple forms and O(include) are added together.
  - Rules are compared as sets in Cloudflare's wire shape, so their order does not matter.
  - An C(allow) policy needs at least one include rule. A rule that matches everyone (C(everyone)) is refused in an
    C(allow) or C(bypass) policy unless O(allow_everyone=true), because a tunnel is a path, not an authorization.
  - Options left unset are left alone when the policy exists.
  - Check mode and diff mode show the planned API calls and the policy before and after.
options:
  name:
    description: Name of the policy, unique in the account.
    type: str
    required: true
  decision:
    description: What the policy does for the requests it matches.
    type: str
    choices: [allow, deny, bypass, non_identity]
  emails:
    description: E-mail addresses to include (rule C(email)).
    type: list
    elements: str
  email_domains:
    description: E-mail domains to include, for example V(example.com) (rule C(email_domain)).
    type: list
    elements: str
  access_groups:
    description: Ids of Access groups to include (rule C(group)).
    type: list
    elements: str
  idp_groups:
    description: Groups of an identity provider to include.
    type: list
    elements: dict
    suboptions:
      identity_provider_id:
        description: Id of the identity provider configured in Access.
        type: str
        required: true
      type:
        description:
          - The provider's kind, which decides the rule. V(okta) needs O(idp_groups[].name) (the group name), V(azure)
            O(idp_groups[].id) (the group id), V(saml) O(idp_groups[].attribute_name) and O(idp_groups[].attribute_value),
            V(github) O(idp_groups[].name) (the organisation, optionally O(idp_groups[].team)), V(gsuite)
            O(idp_groups[].email) (the group's address).
        type: str
        required: true
        choices: [okta, azure, saml, github, gsuite]
      name:
        description: Okta group name, or GitHub organisation.
        type: str
      id:
        description: Azure AD group id.
        type: str
      email:
        description: Google Workspace group e-mail address.
        type: str
      team:
        description: GitHub team within the organisation.
        type: str
      attribute_name:
        description: SAML attribute name, for example V(groups).
        type: str
      attribute_value:
        description: SAML attribute value to match.
        type: str
  include:
    description:
      - 'Further include rules, as Cloudflare rule objects, for example C({"ip": {"ip": "192.0.2.0/24"}}).'
    type: list
    elements: dict
  exclude:
    description: Exclude rules, as Cloudflare rule objects. An empty list removes all.
    type: list
    elements: dict
  require:
    description: Require rules, as Cloudflare rule objects. An empty list removes all.
    type: list
    elements: dict
  session_duration:
    description: How long a session this policy admits lasts, as a Go duration such as V(24h) or V(30m).
    type: str
  allow_everyone:
    description: Accept a rule that matches everyone in an C(allow) or C(bypass) policy.
    type: bool
    default: false
  state:
    description: Whether the policy must exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - homecloud.proxmox.cloudflare
  - homecloud.proxmox.cloudflare.ACTIONGROUP
  - homecloud.proxmox.attributes
author:
  - homecloud.proxmox contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The tenant's staff, by address and by IdP group
  homecloud.proxmox.cloudflare_access_policy:
    name: acme-staff
    decision: allow
    emails: [admin@acme.example]
    email_domains: [acme.example]
    idp_groups:
      - identity_provider_id: ea85612a-29c8-46c2-bacb-669d65136971
        type: okta
        name: acme-admins
    session_duration: 12h
"""

RETURN = r"""
policy:
  description: The policy after the task (as planned in check mode); empty when absent.
  returned: always
  type: dict
  sample: {id: f174e90a-fafe-4643-bbbc-4a0ed4fc8415, name: acme-staff, decision: allow,
           include: [{email: {email: admin@acme.example}}], exclude: [], require: [], session_duration: 12h}
writes:
  description: The API calls the task made (or, in check mode, would make), in order.
  returned: always
  type: list
  elements: str
written:
  description: After a failure, the calls of RV(writes) that were made before it (they are not undone).
  returned: on failure
  type: list
  elements: str
failure:
  description: The failed API call (method, path, status, reason, errors), for C(failed_when).
  returned: on failure
  type: dict
"""

from ansible_collections.homecloud.proxmox.plugins.module_utils.cloudflare import (
    CloudflareInputError,
    CloudflareObjectModule,
    CloudflareWrite,
    canonical,
    check_go_duration,
    create_cloudflare_module,
    find_named,
    path_segment,
    rule_set,
)

POLICY_KEYS = ("id", "name", "decision", "include", "exclude", "require", "session_duration")
RULE_LISTS = ("include", "exclude", "require")
# The rule each kind of identity provider group becomes, and the fields it needs (Cloudflare's Access rule
# schemas: okta {name}, azureAD {id}, saml {attribute_name, attribute_value}, github-organization {name, team},
# gsuite {email}; each with identity_provider_id).
IDP_RULES = {
    "okta": ("okta", ("name",), ()),
    "azure": ("azureAD", ("id",), ()),
    "saml": ("saml", ("attribute_name", "attribute_value"), ()),
    "github": ("github-organization", ("name",), ("team",)),
    "gsuite": ("gsuite", ("email",), ()),
}


def simple_rules(params):
    """The include rules of the simple forms, in Cloudflare's shape; None when none of them is set."""
    forms = ("emails", "email_domains", "access_groups", "idp_groups", "include")
    if all(params.get(form) is None for form in forms):
        return None
    rules = [{"email": {"email": email}} for email in params.get("emails") or []]
    rules += [{"email_domain": {"domain": domain}} for domain in params.get("email_domains") or []]
    rules += [{"group": {"id": group}} for group in params.get("access_groups") or []]
    for number, group in enumerate(params.get("idp_groups") or []):
        rule, needed, optional = IDP_RULES[group["type"]]
        missing = [field for field in needed if not group.get(field)]
        if missing:
            raise CloudflareInputError("idp_groups[{0}]: a {1} group needs {2}; nothing was changed".format(
                number, group["type"], " and ".join(missing)))
        body = dict((field, group[field]) for field in needed + optional if group.get(field))
        body["identity_provider_id"] = group["identity_provider_id"]
        rules.append({rule: body})
    return rules + [canonical(rule) for rule in params.get("include") or []]


def check_rules(rules, option):
    for number, rule in enumerate(rules or []):
        if not isinstance(rule, dict) or len(rule) != 1:
            raise CloudflareInputError("{0}[{1}]: a rule is an object with one key, its type, for example "
                                       "{{\"email\": {{\"email\": \"a@example.com\"}}}}; got {2!r}; nothing was changed".format(
                                           option, number, rule))


def matches_everyone(rules):
    return any("everyone" in rule for rule in rules or [])


class CloudflareAccessPolicy(CloudflareObjectModule):
    result_key = "policy"

    def __init__(self, module, client=None):
        super(CloudflareAccessPolicy, self).__init__(module, client)
        self.declared = None
        self.policy_path = None
        self.exists = False

    def plan(self):
        self.declared = self.check_input()
        self.policy_path = self.account_path("access", "policies")
        return super(CloudflareAccessPolicy, self).plan()

    def check_input(self):
        """The declared keys (unset ones left out), after the options' rules; before any request."""
        params = self.module.params
        if not str(params["name"] or "").strip():
            raise CloudflareInputError("name: a policy needs a name; nothing was changed")
        declared = dict(name=params["name"], decision=params["decision"],
                        session_duration=check_go_duration(params["session_duration"], "session_duration"))
        include = simple_rules(params)
        for option, rules in (("include", include), ("exclude", params["exclude"]), ("require", params["require"])):
            check_rules(rules, option)
            if rules is not None:
                declared[option] = [canonical(rule) for rule in rules]
        declared = dict((key, value) for key, value in declared.items() if value is not None)
        if params["state"] == "present":
            if include is not None and not include and (params["decision"] or "allow") == "allow":
                raise CloudflareInputError("include: an allow policy needs at least one include rule (emails, email_domains, "
                                           "access_groups, idp_groups or include); nothing was changed")
            if matches_everyone(include) and (params["decision"] or "allow") in ("allow", "bypass") and not params["allow_everyone"]:
                raise CloudflareInputError("include: the rule 'everyone' lets anyone through this policy; set allow_everyone=true "
                                           "if that is meant (a tunnel is a path, not an authorization); nothing was changed")
        return declared

    def read(self):
        self.working_on = "Access policy {0}".format(self.module.params["name"])
        found = find_named(self.client.list(self.policy_path), self.module.params["name"], "Access policy")
        self.exists = found is not None
        if found is None:
            return None
        policy = dict((key, found.get(key)) for key in POLICY_KEYS)
        for key in RULE_LISTS:
            policy[key] = [canonical(rule) for rule in policy[key] or []]
        return policy

    def desired(self):
        desired = dict(self.declared)
        if not self.exists:
            desired.setdefault("decision", "allow")  # Cloudflare's default; an existing policy keeps its own
        return desired

    def compare(self, current, desired):
        changes = {}
        for key, value in desired.items():
            if key in RULE_LISTS:
                if rule_set(current.get(key)) != rule_set(value):
                    changes[key] = value
            elif current.get(key) != value:
                changes[key] = value
        return changes

    def create_writes(self, desired):
        if not desired.get("include"):
            raise CloudflareInputError("include: a new policy needs at least one include rule (emails, email_domains, "
                                       "access_groups, idp_groups or include); nothing was changed")
        if matches_everyone(desired["include"]) and desired["decision"] in ("allow", "bypass") and not self.module.params["allow_everyone"]:
            raise CloudflareInputError("include: the rule 'everyone' lets anyone through; set allow_everyone=true if that is "
                                       "meant; nothing was changed")
        return [CloudflareWrite("POST", self.policy_path, desired, confirm=lambda: self.holds(desired))]

    def update_writes(self, current, changes):
        # PUT replaces the policy: send what it holds with the changes on top, so unset options stay as they are
        body = dict((key, value) for key, value in current.items() if key != "id" and value is not None)
        body.update(changes)
        if matches_everyone(body.get("include")) and body.get("decision") in ("allow", "bypass") and not self.module.params["allow_everyone"]:
            raise CloudflareInputError("the policy would let everyone through (rule 'everyone' with decision {0}); set "
                                       "allow_everyone=true if that is meant; nothing was changed".format(body.get("decision")))
        return [CloudflareWrite("PUT", "{0}/{1}".format(self.policy_path, path_segment(current["id"])), body,
                                confirm=lambda: self.holds(body))]

    def delete_writes(self, current):
        return [CloudflareWrite("DELETE", "{0}/{1}".format(self.policy_path, path_segment(current["id"])),
                                confirm=lambda: self.holds(None))]

    def after_write(self, write, answer):
        if write.method in ("POST", "PUT") and isinstance(answer, dict):
            self.result["policy"] = dict((key, answer.get(key)) for key in POLICY_KEYS)

    def finish(self, writes):
        if self.result.get("policy") is None:
            self.result["policy"] = {}


RULE_LIST = dict(type="list", elements="dict")
ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    decision=dict(type="str", choices=["allow", "deny", "bypass", "non_identity"]),
    emails=dict(type="list", elements="str"),
    email_domains=dict(type="list", elements="str"),
    access_groups=dict(type="list", elements="str"),
    idp_groups=dict(type="list", elements="dict", options=dict(
        identity_provider_id=dict(type="str", required=True),
        type=dict(type="str", required=True, choices=sorted(IDP_RULES)),
        name=dict(type="str"),
        id=dict(type="str"),
        email=dict(type="str"),
        team=dict(type="str"),
        attribute_name=dict(type="str"),
        attribute_value=dict(type="str"),
    )),
    include=dict(RULE_LIST),
    exclude=dict(RULE_LIST),
    require=dict(RULE_LIST),
    session_duration=dict(type="str"),
    allow_everyone=dict(type="bool", default=False),
    state=dict(type="str", default="present", choices=["present", "absent"]),
)


def main():
    module = create_cloudflare_module(ARGUMENT_SPEC, supports_check_mode=True)
    CloudflareAccessPolicy(module).execute()


if __name__ == "__main__":
    main()
