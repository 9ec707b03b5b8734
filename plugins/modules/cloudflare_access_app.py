#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cloudflare_access_app
short_description: Manage a self-hosted Cloudflare Access application in front of a published hostname
version_added: 0.1.0
description:
  - Creates, updates or removes one Access application of an account (C(/accounts/{account_id}/access/apps)), found by
    its O(name) and O(domain), that puts a hostname behind Cloudflare Access.
  - O(policies) names reusable Access policies (M(homecloud.proxmox.cloudflare_access_policy)) in precedence order;
    a name that does not exist fails the task before any write, naming it (in check mode it is a warning, as an
    earlier task may create the policy). An empty list is refused, and a new
    application needs at least one policy, because every published hostname sits behind an Access policy.
  - A domain belongs to one application; when another application holds O(domain), the task fails before any write,
    naming it.
  - Returns the application's audience tag RV(aud) and the Access team name RV(team_name), the two values C(cloudflared)
    checks each request against (C(originRequest.access.audTag) and C(teamName)).
  - Options left unset are left alone when the application exists.
  - Check mode and diff mode show the planned API calls and the application before and after.
options:
  name:
    description: Name of the application.
    type: str
    required: true
  domain:
    description: The hostname the application protects (optionally with a path), for example V(app.example.com).
    type: str
    required: true
  type:
    description: The application type; this module manages self-hosted applications.
    type: str
    choices: [self_hosted]
    default: self_hosted
  session_duration:
    description: How long a session lasts before the user must log in again, as a Go duration such as V(24h) or V(30m).
    type: str
    default: 24h
  policies:
    description: Names of reusable Access policies, first = highest precedence.
    type: list
    elements: str
  app_launcher_visible:
    description: Whether the application is shown in the App Launcher.
    type: bool
  auto_redirect_to_identity:
    description: Whether users skip the identity provider selection (with exactly one identity provider in O(allowed_idps)).
    type: bool
  allowed_idps:
    description: Ids of the identity providers users may log in with; all configured ones when never set.
    type: list
    elements: str
  state:
    description: Whether the application must exist.
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
- name: app.example.com only for the tenant's staff
  homecloud.proxmox.cloudflare_access_app:
    name: acme app
    domain: app.example.com
    session_duration: 12h
    policies: [acme-staff]
  register: access_app

- name: cloudflared checks the Access token of each request
  ansible.builtin.set_fact:
    published:
      - hostname: app.example.com
        aud_tag: "{{ access_app.aud }}"
        team_name: "{{ access_app.team_name }}"
"""

RETURN = r"""
app:
  description: The application after the task (as planned in check mode; no C(id) or C(aud) yet for a new one); empty when absent.
  returned: always
  type: dict
  contains:
    id:
      description: The application's id.
      type: str
    aud:
      description: The application's audience tag.
      type: str
    domain:
      description: The protected hostname.
      type: str
    name:
      description: The application's name.
      type: str
    policies:
      description: Names of its reusable policies in precedence order (ids for policies that have no name here).
      type: list
      elements: str
aud:
  description: The application's audience (AUD) tag, for C(cloudflared)'s C(originRequest.access.audTag); null while unknown (check mode).
  returned: when state is present
  type: str
  sample: 737646a56ab1df6ec9bddc7e5ca84eaf3b0768850f3ffb5d74f1534911fe3893
team_name:
  description: The Access team name (C(<team>.cloudflareaccess.com)), for C(cloudflared)'s C(originRequest.access.teamName).
  returned: when state is present
  type: str
  sample: homecloud
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
    check_go_duration,
    check_hostname,
    create_cloudflare_module,
    path_segment,
    team_name_of,
)

SETTINGS = ("type", "session_duration", "app_launcher_visible", "auto_redirect_to_identity", "allowed_idps")
NO_POLICY = "every published hostname sits behind an Access policy"


def normalize_domain(value):
    """'App.Example.com./admin' -> 'app.example.com/admin': the host part is a DNS name (case-insensitive)."""
    host, sep, path = str(value or "").strip().partition("/")
    return check_hostname(host, "domain") + (sep + path if path else "")


def policy_ids_in_order(app):
    """The ids of an application's policies by precedence (the API answers objects {id, precedence, ...})."""
    entries = []
    for position, policy in enumerate(app.get("policies") or []):
        if isinstance(policy, dict):
            entries.append((policy.get("precedence") or position + 1, policy.get("id")))
        else:
            entries.append((position + 1, policy))
    return [policy_id for _precedence, policy_id in sorted(entries, key=lambda entry: entry[0])]


class CloudflareAccessApp(CloudflareObjectModule):
    result_key = "app"

    def __init__(self, module, client=None):
        super(CloudflareAccessApp, self).__init__(module, client)
        self.domain = None
        self.apps_path = None
        self.policy_ids = {}    # policy name -> id
        self.policy_names = {}  # policy id -> name
        self.team_name = None

    def plan(self):
        params = self.module.params
        if not str(params["name"] or "").strip():
            raise CloudflareInputError("name: an Access application needs a name; nothing was changed")
        self.domain = normalize_domain(params["domain"])
        check_go_duration(params["session_duration"], "session_duration")
        if params["state"] == "present" and params["policies"] is not None and not params["policies"]:
            raise CloudflareInputError("policies: an empty list is refused: {0}; nothing was changed".format(NO_POLICY))
        self.apps_path = self.account_path("access", "apps")
        self.working_on = "Access application {0} ({1})".format(params["name"], self.domain)
        if params["state"] == "present":
            self.read_policies()
            organization = self.client.get(self.account_path("access", "organizations")) or {}
            self.team_name = team_name_of(organization.get("auth_domain"))
        return super(CloudflareAccessApp, self).plan()

    def read_policies(self):
        listed = self.client.list(self.account_path("access", "policies"))
        self.policy_names = dict((policy.get("id"), policy.get("name")) for policy in listed)
        self.policy_ids = dict((policy.get("name"), policy.get("id")) for policy in listed)
        missing = [name for name in self.module.params["policies"] or [] if name not in self.policy_ids]
        if missing and self.module.check_mode:
            # an earlier task of the play (cloudflare_access_policy) may create them; check mode only planned that
            self.module.warn("no reusable Access policy named {0} (unless an earlier task creates it)".format(
                ", ".join(repr(name) for name in missing)))
        elif missing:
            raise CloudflareInputError("policies: no reusable Access policy named {0} (create it with cloudflare_access_policy "
                                       "first); nothing was changed".format(", ".join(repr(name) for name in missing)))

    def read(self):
        name = self.module.params["name"]
        apps = self.client.list(self.apps_path)
        holders = [app for app in apps if app.get("domain") and normalize_domain(app["domain"]) == self.domain]
        others = [app for app in holders if app.get("name") != name]
        if others and self.module.params["state"] == "present":
            raise CloudflareInputError("domain {0} belongs to Access application {1!r} (id {2}); a domain has one application; "
                                       "nothing was changed".format(self.domain, others[0].get("name"), others[0].get("id")))
        found = [app for app in holders if app.get("name") == name]
        if not found:
            return None
        app = found[0]
        current = dict(id=app.get("id"), aud=app.get("aud"), name=app.get("name"), domain=normalize_domain(app["domain"]),
                       policies=[self.policy_names.get(policy_id, policy_id) for policy_id in policy_ids_in_order(app)])
        current.update((key, app.get(key)) for key in SETTINGS)
        return current

    def desired(self):
        params = self.module.params
        desired = dict(name=params["name"], domain=self.domain, policies=params["policies"])
        desired.update((key, params[key]) for key in SETTINGS)
        return dict((key, value) for key, value in desired.items() if value is not None)

    def compare(self, current, desired):
        changes = {}
        for key, value in desired.items():
            held = current.get(key)
            if key == "allowed_idps":
                same = sorted(held or []) == sorted(value)
            else:
                same = held == value
            if not same:
                changes[key] = value
        return changes

    def body(self, state):
        """The request body of a state: policy names become {id, precedence} in the order given."""
        body = dict((key, value) for key, value in state.items() if key not in ("id", "aud") and value is not None)
        if "policies" in body:
            body["policies"] = [dict(id=self.policy_ids.get(name, "<id of {0}>".format(name)), precedence=position + 1)
                                for position, name in enumerate(body["policies"])]
        return body

    def create_writes(self, desired):
        if not desired.get("policies"):
            raise CloudflareInputError("policies: a new Access application needs at least one policy: {0}; nothing was "
                                       "changed".format(NO_POLICY))
        return [CloudflareWrite("POST", self.apps_path, self.body(desired), confirm=lambda: self.holds(desired))]

    def update_writes(self, current, changes):
        # PUT replaces the application: what it holds, with the changes on top (unset options stay)
        state = dict(current)
        state.update(changes)
        return [CloudflareWrite("PUT", "{0}/{1}".format(self.apps_path, path_segment(current["id"])), self.body(state),
                                confirm=lambda: self.holds(state))]

    def delete_writes(self, current):
        return [CloudflareWrite("DELETE", "{0}/{1}".format(self.apps_path, path_segment(current["id"])),
                                confirm=lambda: self.holds(None))]

    def after_write(self, write, answer):
        if write.method in ("POST", "PUT") and isinstance(answer, dict):
            shown = dict(self.result.get("app") or {})
            shown.update(id=answer.get("id"), aud=answer.get("aud"))
            self.result["app"] = shown

    def finish(self, writes):
        app = self.result.get("app")
        if not app:
            self.result["app"] = {}
            return
        self.result["app"] = dict((key, app.get(key)) for key in ("id", "aud", "domain", "name", "policies"))
        self.result.update(aud=app.get("aud"), team_name=self.team_name)


ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    domain=dict(type="str", required=True),
    type=dict(type="str", default="self_hosted", choices=["self_hosted"]),
    session_duration=dict(type="str", default="24h"),
    policies=dict(type="list", elements="str"),
    app_launcher_visible=dict(type="bool"),
    auto_redirect_to_identity=dict(type="bool"),
    allowed_idps=dict(type="list", elements="str"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
)


def main():
    module = create_cloudflare_module(ARGUMENT_SPEC, supports_check_mode=True)
    CloudflareAccessApp(module).execute()


if __name__ == "__main__":
    main()
