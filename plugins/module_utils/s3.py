# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""S3 object storage administration for the s3_bucket, s3_user and s3_policy modules.

The modules run ON the storage host and speak to the server through its own admin
interface there, so no admin secret ever travels to the controller:

- SeaweedFS: ``weed shell -master=<address>``, commands sent on standard input (so a
  secret never shows in the host's process list). Facts from seaweedfs/seaweedfs
  (commit cc8364a03ebf5cf9f8eab3315ded2000cd07fff6): ``weed/shell/command_s3_configure.go``
  (``s3.configure`` without ``-user`` prints the identity configuration as JSON;
  ``-user -actions -buckets -access_key -secret_key [-delete] -apply`` changes one
  identity, each action scoped as ``Action:bucket``; actions are ``Read``, ``Write``,
  ``List``, ``Tagging``, ``Admin``), ``weed/shell/command_s3_bucket_create.go``,
  ``command_s3_bucket_delete.go`` and ``command_s3_bucket_list.go`` (one bucket per line,
  name first), ``weed/filer/s3iam_conf.go`` (the JSON keys). A failed command prints
  ``error: ...`` and the shell exits 1.
- MinIO: ``mc`` with an alias the role configured on the host (``mc mb``, ``mc rb``,
  ``mc admin user add|remove|info``, ``mc admin policy create|attach|detach|rm``; min.io
  docs). MinIO identifies a user by its access key.

Every module reads, compares and only then writes; check mode is the same plan without the
writes. Result keys: ``changed``, ``writes`` (each planned admin command, secrets masked),
``diff`` with ``--diff``, after a failure ``written`` (the commands made before it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import secrets
import string

from ansible.module_utils.basic import AnsibleModule, env_fallback

MASK = "********"
ENGINES = ("seaweedfs", "minio")
DEFAULT_MASTER = "127.0.0.1:9333"
DEFAULT_MC_ALIAS = "homecloud"

# What each access level grants on each of its buckets: SeaweedFS actions, and the S3 API
# actions of the MinIO policy that mirror them (no bucket creation, no admin).
ACCESS_ACTIONS = {
    "read": ("Read", "List"),
    "readwrite": ("Read", "Write", "List", "Tagging"),
}
MINIO_BUCKET_ACTIONS = {
    "read": ["s3:ListBucket", "s3:GetBucketLocation"],
    "readwrite": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
}
MINIO_OBJECT_ACTIONS = {
    "read": ["s3:GetObject", "s3:GetObjectTagging"],
    "readwrite": ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject",
                  "s3:DeleteObjectTagging", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
}
MINIO_POLICY_PREFIX = "homecloud-"

# AWS S3 bucket naming rules (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# User names and keys travel as words of a `weed shell` line or `mc` arguments: no spaces, no quotes.
USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
ACCESS_KEY_RE = re.compile(r"^[A-Za-z0-9]{3,128}$")
SECRET_KEY_RE = re.compile(r"^[A-Za-z0-9+/=_.-]{8,128}$")
ACCESS_KEY_LENGTH = 20  # as AWS access key ids
SECRET_KEY_BYTES = 30  # 40 URL-safe characters, as long as an AWS secret access key


class S3AdminError(Exception):
    """An admin command failed, or the server's answer could not be read."""


def bucket_name_problem(name):
    """Why ``name`` breaks the S3 bucket naming rules, or None when it follows them."""
    if not isinstance(name, str) or not 3 <= len(name) <= 63:
        return "must be 3 to 63 characters long"
    if not BUCKET_RE.match(name):
        return "may hold only lowercase letters, digits, dots and hyphens, and must start and end with a letter or digit"
    if ".." in name:
        return "must not hold two adjacent dots"
    if IPV4_RE.match(name):
        return "must not look like an IP address"
    for prefix in BUCKET_RESERVED_PREFIXES:
        if name.startswith(prefix):
            return "must not start with the reserved prefix {0!r}".format(prefix)
    for suffix in BUCKET_RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return "must not end with the reserved suffix {0!r}".format(suffix)
    return None


def generated_access_key():
    """A new access key: 20 uppercase letters and digits, like an AWS access key id."""
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for dummy in range(ACCESS_KEY_LENGTH))


def generated_secret_key():
    """A new secret key: 40 URL-safe characters from the host's CSPRNG."""
    return secrets.token_urlsafe(SECRET_KEY_BYTES)


def s3_argument_spec():
    """The options every S3 module shares (documented in the homecloud.proxmox.s3 doc fragment)."""
    return dict(
        engine=dict(type="str", default="seaweedfs", choices=list(ENGINES), fallback=(env_fallback, ["HOMECLOUD_S3_ENGINE"])),
        weed_path=dict(type="path", fallback=(env_fallback, ["HOMECLOUD_S3_WEED_PATH"])),
        master=dict(type="str", default=DEFAULT_MASTER, fallback=(env_fallback, ["HOMECLOUD_S3_MASTER"])),
        mc_path=dict(type="path", fallback=(env_fallback, ["HOMECLOUD_S3_MC_PATH"])),
        mc_alias=dict(type="str", default=DEFAULT_MC_ALIAS, fallback=(env_fallback, ["HOMECLOUD_S3_MC_ALIAS"])),
        admin_timeout=dict(type="int", default=60, fallback=(env_fallback, ["HOMECLOUD_S3_ADMIN_TIMEOUT"])),
    )


def create_module(argument_spec, **kwargs):
    """An AnsibleModule with the shared S3 options merged in."""
    spec = s3_argument_spec()
    spec.update(argument_spec)
    return AnsibleModule(argument_spec=spec, supports_check_mode=True, **kwargs)


def masked_text(text, secret_values):
    """``text`` with every secret value replaced by the mask."""
    for value in secret_values:
        if value:
            text = text.replace(value, MASK)
    return text


class AdminCommand:
    """One planned admin write: what it does (shown, secrets masked) and how it is sent."""

    def __init__(self, words, secret_values=(), stdin=None):
        self.words = list(words)
        self.secret_values = tuple(value for value in secret_values if value)
        self.stdin = stdin

    def __str__(self):
        return masked_text(" ".join(self.words), self.secret_values)


class SeaweedAdmin:
    """SeaweedFS through ``weed shell`` on the storage host."""

    engine = "seaweedfs"

    def __init__(self, runner, weed_path, master, timeout):
        self.runner = runner  # runner(argv, stdin) -> (rc, stdout, stderr)
        self.weed_path = weed_path
        self.master = master
        self.timeout = timeout
        self.configuration = None  # the identities read once per run; a write makes it stale

    def argv(self):
        return ["timeout", str(self.timeout), self.weed_path, "shell", "-master=" + self.master]

    def shell(self, line, secret_values=()):
        """Run one shell line; its standard output, or S3AdminError with the shell's error (secrets masked)."""
        rc, out, err = self.runner(self.argv(), line + "\n")
        if rc == 124:
            raise S3AdminError("weed shell gave no answer within {0} s (is the master at {1} up?) running: {2}".format(
                self.timeout, self.master, masked_text(line, secret_values)))
        if rc != 0:
            problem = " ".join(part.strip() for part in (err, out) if part and "error" in part) or (err or out or "").strip()
            raise S3AdminError("weed shell failed (rc {0}) running {1}: {2}".format(
                rc, masked_text(line, secret_values), masked_text(problem[-2000:], secret_values)))
        return out

    # --- reads
    def buckets(self):
        """Names of the buckets (``s3.bucket.list``: one line per bucket, the name first)."""
        out = self.shell("s3.bucket.list")
        return sorted(line.split()[0] for line in out.splitlines() if line.strip() and not line.startswith(("error", "master:")))

    def identities(self):
        """{name: identity} from ``s3.configure`` (JSON with ``identities``: name, credentials, actions, isStatic)."""
        if self.configuration is None:
            self.configuration = self.read_identities()
        return self.configuration

    def owner_of(self, access_key):
        """The name of the identity that holds ``access_key``, or None."""
        for name, identity in self.identities().items():
            if any(credential.get("accessKey") == access_key for credential in identity.get("credentials") or []):
                return name
        return None

    def read_identities(self):
        out = self.shell("s3.configure")
        start, end = out.find("{"), out.rfind("}")
        if start < 0 or end < start:
            raise S3AdminError("s3.configure printed no configuration")
        try:
            configuration = json.loads(out[start:end + 1])
        except ValueError:
            raise S3AdminError("s3.configure printed a configuration this module cannot read")
        return dict((identity["name"], identity) for identity in configuration.get("identities") or [])

    def user(self, name):
        """The user as the modules compare it, with its secret(s) kept apart: (view, {access key: secret}) or (None, {})."""
        identity = self.identities().get(name)
        if identity is None:
            return None, {}
        keys = dict((credential.get("accessKey"), credential.get("secretKey")) for credential in identity.get("credentials") or [])
        view = dict(name=name, access_keys=sorted(keys), actions=sorted(identity.get("actions") or []),
                    static=bool(identity.get("isStatic")))
        return view, keys

    # --- writes
    def create_bucket(self, name):
        return [AdminCommand(["s3.bucket.create", "-name", name])]

    def delete_bucket(self, name):
        return [AdminCommand(["s3.bucket.delete", "-name", name])]

    def add_credential(self, user, access_key, secret_key):
        return [AdminCommand(["s3.configure", "-user=" + user, "-access_key=" + access_key, "-secret_key=" + secret_key, "-apply"],
                             secret_values=[secret_key])]

    def remove_credential(self, user, access_key):
        return [AdminCommand(["s3.configure", "-user=" + user, "-access_key=" + access_key, "-delete", "-apply"])]

    def delete_user(self, user):
        return [AdminCommand(["s3.configure", "-user=" + user, "-delete", "-apply"])]

    def grant(self, user, actions):
        """Add actions (each ``Action`` or ``Action:bucket``); one command per bucket scope, as the shell scopes them."""
        return [AdminCommand(["s3.configure", "-user=" + user, "-actions=" + ",".join(names)] + (["-buckets=" + bucket] if bucket else [])
                             + ["-apply"]) for bucket, names in by_bucket(actions)]

    def revoke(self, user, actions):
        return [AdminCommand(["s3.configure", "-user=" + user, "-actions=" + ",".join(names)] + (["-buckets=" + bucket] if bucket else [])
                             + ["-delete", "-apply"]) for bucket, names in by_bucket(actions)]

    def send(self, command):
        self.configuration = None
        self.shell(" ".join(command.words), command.secret_values)


def by_bucket(actions):
    """[(bucket or "", [action names])] in a stable order, from ``Action:bucket`` strings."""
    grouped = {}
    for action in actions:
        name, dummy, bucket = action.partition(":")
        grouped.setdefault(bucket, []).append(name)
    return [(bucket, sorted(grouped[bucket])) for bucket in sorted(grouped)]


def seaweed_actions(buckets, access):
    """The exact SeaweedFS actions that let a user use ``buckets`` at ``access`` level and nothing else."""
    return sorted("{0}:{1}".format(action, bucket) for bucket in buckets for action in ACCESS_ACTIONS[access])


def minio_policy_document(buckets, access):
    """The MinIO (IAM) policy that grants ``access`` on exactly ``buckets``."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": MINIO_BUCKET_ACTIONS[access], "Resource": ["arn:aws:s3:::" + bucket for bucket in sorted(buckets)]},
        {"Effect": "Allow", "Action": MINIO_OBJECT_ACTIONS[access], "Resource": ["arn:aws:s3:::{0}/*".format(bucket) for bucket in sorted(buckets)]},
    ]}


def minio_policy_buckets(document):
    """(buckets, access) a policy document written by minio_policy_document grants, or (None, None)."""
    buckets, access = set(), None
    for statement in (document or {}).get("Statement") or []:
        actions = statement.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        for level, names in MINIO_OBJECT_ACTIONS.items():
            if sorted(actions) == sorted(names):
                access = level
        for resource in statement.get("Resource") or []:
            if resource.startswith("arn:aws:s3:::") and "/" not in resource:
                buckets.add(resource[len("arn:aws:s3:::"):])
    return (sorted(buckets), access) if access else (None, None)


class MinioAdmin:
    """MinIO through ``mc`` and the alias the role set on the storage host; the user is its access key."""

    engine = "minio"

    def __init__(self, runner, mc_path, alias, timeout):
        self.runner = runner
        self.mc_path = mc_path
        self.alias = alias
        self.timeout = timeout

    def mc(self, words, secret_values=(), stdin=None, missing_ok=False):
        """Run ``mc --json <words>``; the JSON lines it printed (None when ``missing_ok`` and mc says it does not exist)."""
        argv = ["timeout", str(self.timeout), self.mc_path, "--json"] + list(words)
        rc, out, err = self.runner(argv, stdin)
        lines = []
        for line in out.splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        if rc != 0:
            text = " ".join(str((line.get("error") or {}).get("message") or line) for line in lines if line.get("status") == "error") or err or out
            if missing_ok and re.search(r"does not exist|not found|NoSuch", text or "", re.I):
                return None
            raise S3AdminError("mc failed (rc {0}) running mc {1}: {2}".format(
                rc, masked_text(" ".join(words), secret_values), masked_text((text or "").strip()[-2000:], secret_values)))
        return lines

    def buckets(self):
        lines = self.mc(["ls", self.alias])
        return sorted(line["key"].rstrip("/") for line in lines if line.get("type") == "folder" and line.get("key"))

    def owner_of(self, access_key):
        """MinIO: the access key is the user's name."""
        return access_key if self.user(access_key)[0] else None

    def user(self, name):
        """(view, {access key: None}): MinIO never shows a secret, so a given secret is always sent (see s3_user)."""
        lines = self.mc(["admin", "user", "info", self.alias, name], missing_ok=True)
        if not lines:
            return None, {}
        info = lines[0]
        policies = [policy for policy in (info.get("policyName") or "").split(",") if policy]
        view = dict(name=name, access_keys=[name], policies=sorted(policies), static=False)
        return view, {name: None}

    def policy(self, name):
        lines = self.mc(["admin", "policy", "info", self.alias, name], missing_ok=True)
        if not lines:
            return None
        info = lines[0].get("policyInfo") or {}
        return info.get("Policy") or info.get("policy")

    def create_bucket(self, name):
        return [AdminCommand(["mb", "{0}/{1}".format(self.alias, name)])]

    def delete_bucket(self, name):
        return [AdminCommand(["rb", "{0}/{1}".format(self.alias, name)])]

    def add_credential(self, user, access_key, secret_key):
        # MinIO: `mc admin user add ALIAS ACCESSKEY SECRETKEY` creates the user or sets its secret
        return [AdminCommand(["admin", "user", "add", self.alias, access_key, secret_key], secret_values=[secret_key])]

    def delete_user(self, user):
        return [AdminCommand(["admin", "user", "remove", self.alias, user])]

    def create_policy(self, name, buckets, access):
        """Create (or overwrite: re-creating a policy replaces it) the policy; its document goes on standard input."""
        document = json.dumps(minio_policy_document(buckets, access), sort_keys=True)
        return [AdminCommand(["admin", "policy", "create", self.alias, name, "/dev/stdin"], stdin=document)]

    def attach_policy(self, user, name):
        return [AdminCommand(["admin", "policy", "attach", self.alias, name, "--user", user])]

    def detach_policy(self, user, name):
        return [AdminCommand(["admin", "policy", "detach", self.alias, name, "--user", user])]

    def remove_policy(self, name):
        return [AdminCommand(["admin", "policy", "rm", self.alias, name])]

    def send(self, command):
        self.mc(command.words, command.secret_values, stdin=command.stdin)


class S3Module:
    """The shared run of the S3 modules: validate, read, plan, then write unless in check mode."""

    result_key = None

    def __init__(self, module):
        self.module = module
        self.result = dict(changed=False, writes=[])
        self.admin = None  # made after validate(): bad input is refused before the host is even looked at

    def make_admin(self):
        params = self.module.params

        def runner(argv, stdin):
            return self.module.run_command(argv, data=stdin, binary_data=False)

        if params["engine"] == "seaweedfs":
            weed = params["weed_path"] or self.module.get_bin_path("weed", required=True, opt_dirs=["/usr/local/bin"])
            return SeaweedAdmin(runner, weed, params["master"], params["admin_timeout"])
        mc = params["mc_path"] or self.module.get_bin_path("mc", required=True, opt_dirs=["/usr/local/bin"])
        return MinioAdmin(runner, mc, params["mc_alias"], params["admin_timeout"])

    def validate(self):
        """Refuse bad input before anything is read or written (raise S3AdminError naming the field)."""

    def plan(self):
        """(commands, before, after)."""
        raise NotImplementedError

    def finish(self):
        """Hook after the writes (or the plan, in check mode)."""

    def run(self):
        self.validate()
        self.admin = self.make_admin()
        commands, before, after = self.plan()
        self.result["writes"] = [str(command) for command in commands]
        self.result["changed"] = bool(commands)
        if self.module._diff:  # pylint: disable=protected-access
            self.result["diff"] = dict(before=before or {}, after=after or {})
        if self.result_key:
            self.result[self.result_key] = after
        if commands and not self.module.check_mode:
            for done, command in enumerate(commands):
                try:
                    self.admin.send(command)
                except S3AdminError:
                    self.result["written"] = self.result["writes"][:done]
                    raise
        self.finish()

    def execute(self):
        try:
            self.run()
        except S3AdminError as error:
            self.module.fail_json(msg=str(error), **self.result)
        self.module.exit_json(**self.result)
