"""Prune and verify jobs (/config/prune, /config/verify).

proxmox-backup v3.2.4 (4940514) src/api2/config/prune.rs and verify.rs; the job's ACL path is its
datastore's, or its namespace's when `ns` is set (pbs-api-types jobs.rs acl_path). Privilege
failures inside the handlers are CachedUserInfo::check_privs errors, answered as 400 by PBS.
The GC schedule is a datastore option (`gc-schedule`, /config/datastore).
"""

import uuid

from simcore import route
from pbssim.access import PRIV
from pbssim.areas.datastores import ns_acl_path
from pbssim.errors import HTTP_NOT_FOUND, http_error, param_bail, bail
from pbssim.simulator import PbsArea, check_digest

# kind -> (privileges a listing/read needs any of, privileges a write needs, partial write check)
JOB_KINDS = {
    "prune": (PRIV["Datastore.Audit"] | PRIV["Datastore.Modify"], PRIV["Datastore.Modify"]),
    "verify": (PRIV["Datastore.Audit"] | PRIV["Datastore.Verify"], PRIV["Datastore.Verify"]),
}


class JobsArea(PbsArea):
    """prune.cfg and verification.cfg."""

    name = "jobs"

    def initial_state(self):
        return {"prune": {}, "verify": {}}

    def config_text(self, kind):
        """The job file's text (its sha256 is the digest)."""
        return "".join("%s: %s %s\n" % (kind, job_id, sorted(job.items())) for job_id, job in sorted(self.state[kind].items()))

    def _acl_path(self, job):
        return ns_acl_path(job["store"], job.get("ns", ""))

    def _lookup(self, kind, job_id):
        job = self.state[kind].get(job_id)
        if job is None:
            raise bail("no such %s '%s'" % (kind, job_id))   # SectionConfigData::lookup
        return job

    # -- what the datastore area calls ------------------------------------------------------------
    def create_default_prune_job(self, store, schedule, keep):
        """config/datastore.rs create_datastore: the store's prune-schedule and keep options as a job."""
        job_id = ("default-%s-%s" % (store, uuid.uuid4()))[:32]
        self.state["prune"][job_id] = dict({"id": job_id, "store": store, "schedule": schedule}, **keep)
        return job_id

    def delete_jobs_of(self, store):
        """delete_datastore: the store's verify and prune jobs go with it."""
        for kind in JOB_KINDS:
            for job_id in [job_id for job_id, job in self.state[kind].items() if job["store"] == store]:
                del self.state[kind][job_id]

    # -- the handlers, the same for both kinds -------------------------------------------------------
    def _list(self, kind, request):
        wanted = JOB_KINDS[kind][0]
        request.set_digest(self.config_text(kind))
        return [dict(job) for _job_id, job in sorted(self.state[kind].items())
                if self.sim.directory.lookup_privs(request.auth_id, self._acl_path(job)) & wanted]

    def _create(self, kind, request):
        params = dict(request.params)
        required = JOB_KINDS[kind][1]
        # prune.rs checks Datastore.Modify partially, verify.rs Datastore.Verify fully: one privilege each
        self.sim.directory.check_privs(request.auth_id, self._acl_path(params), required, kind == "prune")
        if params["id"] in self.state[kind]:
            raise param_bail("id", "job '%s' already exists." % params["id"])
        self.state[kind][params["id"]] = params
        return None

    def _read(self, kind, request):
        job = self._lookup(kind, request.params["id"])
        self.sim.directory.check_privs(request.auth_id, self._acl_path(job), JOB_KINDS[kind][0], True)
        request.set_digest(self.config_text(kind))
        return dict(job)

    def _update(self, kind, request):
        params = request.params
        check_digest(params.get("digest"), self.config_text(kind))
        job = self._lookup(kind, params["id"])
        required = JOB_KINDS[kind][1]
        self.sim.directory.check_privs(request.auth_id, self._acl_path(job), required, True)
        updated = dict(job)
        for key in params.get("delete") or []:
            updated.pop(key, None)
        updated.update((key, value) for key, value in params.items() if key not in ("id", "delete", "digest"))
        if "comment" in params and not params["comment"].strip():
            updated.pop("comment")
        if updated["store"] != job["store"] or updated.get("ns") != job.get("ns"):
            self.sim.directory.check_privs(request.auth_id, self._acl_path(updated), required, True)
        self.state[kind][params["id"]] = updated
        return None

    def _delete(self, kind, request):
        params = request.params
        check_digest(params.get("digest"), self.config_text(kind))
        job = self.state[kind].get(params["id"])
        if job is None:
            raise http_error(HTTP_NOT_FOUND, "job '%s' does not exist." % params["id"])
        self.sim.directory.check_privs(request.auth_id, self._acl_path(job), JOB_KINDS[kind][1], True)
        del self.state[kind][params["id"]]
        return None

    @route("GET", "/config/prune")
    def list_prune_jobs(self, request):
        """prune.rs list_prune_jobs: jobs with Datastore.Audit or Datastore.Modify on their path."""
        return self._list("prune", request)

    @route("POST", "/config/prune")
    def create_prune_job(self, request):
        """prune.rs create_prune_job: Datastore.Modify on the job's path; a duplicate id is a parameter error."""
        return self._create("prune", request)

    @route("GET", "/config/prune/{id}")
    def read_prune_job(self, request):
        """prune.rs read_prune_job."""
        return self._read("prune", request)

    @route("PUT", "/config/prune/{id}")
    def update_prune_job(self, request):
        """prune.rs update_prune_job: checked on the old path, and again on a new store or namespace."""
        return self._update("prune", request)

    @route("DELETE", "/config/prune/{id}")
    def delete_prune_job(self, request):
        """prune.rs delete_prune_job: 404 when unknown."""
        return self._delete("prune", request)

    @route("GET", "/config/verify")
    def list_verify_jobs(self, request):
        """verify.rs list_verification_jobs: jobs with Datastore.Audit or Datastore.Verify on their path."""
        return self._list("verify", request)

    @route("POST", "/config/verify")
    def create_verify_job(self, request):
        """verify.rs create_verification_job: Datastore.Verify on the job's path."""
        return self._create("verify", request)

    @route("GET", "/config/verify/{id}")
    def read_verify_job(self, request):
        """verify.rs read_verification_job."""
        return self._read("verify", request)

    @route("PUT", "/config/verify/{id}")
    def update_verify_job(self, request):
        """verify.rs update_verification_job."""
        return self._update("verify", request)

    @route("DELETE", "/config/verify/{id}")
    def delete_verify_job(self, request):
        """verify.rs delete_verification_job: 404 when unknown."""
        return self._delete("verify", request)
