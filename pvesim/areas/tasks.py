"""Task calls under /nodes/{node}/tasks, on top of the shared task engine (pvesim/tasks.py).

Also GET /cluster/tasks (pve-manager PVE/API2/Cluster.pm tasks: the cluster-wide list of
recent tasks, from pmxcfs's task list, newest first).

Source: pve-manager PVE/API2/Tasks.pm (node_tasks, upid_index, stop_task, read_task_log,
read_task_status), pve-common src/PVE/Tools.pm dump_logfile.

Privileges (Tasks.pm $check_task_user / $convert_token_task and Cluster.pm tasks, pve-manager
14a22df3; the same checks in 8.4.0 at ec58e45e): a task started by a token `user@realm!name` is
answered as `user: user@realm` plus `tokenid: name`. Its owner is the user and that token (a
token sees its own tasks only, its user also the token's); others need Sys.Audit on /nodes/<node>
to list or read a task and Sys.Modify there to stop one. GET /cluster/tasks lists everything
with Sys.Audit on `/`, otherwise the tasks whose user (the token name cut off) is the caller: a
token sees none of its own there.
"""

from pvesim.areas import Area, route
from pvesim.errors import ParamError
from pvesim.formats import split_list
from pvesim.permissions import split_tokenid
from pvesim.tasks import UPID_RE, status_type


def upid_user(upid):
    """The <user> field of a UPID (UPID.pm upid_decode), the last one before the closing ':'."""
    return upid.rsplit(":", 2)[1]


def owns_task(task_user, authid):
    """Tasks.pm $check_task_user: the task's user or (for a token's task) the token itself."""
    owner, token = split_tokenid(task_user)
    return authid in (owner, task_user) if token else authid == owner


def task_entry(engine, task):
    """The engine's description with Tasks.pm $convert_token_task applied (user and tokenid apart)."""
    entry = engine.describe(task)
    entry["user"], token = split_tokenid(task["user"])
    if token:
        entry["tokenid"] = token
    return entry


class TasksArea(Area):
    """Lists, inspects and stops tasks of the task engine."""

    def _task(self, request, privilege, must_exist=True):
        """Tasks.pm: unparsable -> "unable to parse worker upid"; no log file -> "no such task" (read_task_log
        answers that later); then $check_task_user on the UPID's own user field, else `privilege` on
        /nodes/<node of the path>."""
        upid = request.params["upid"]
        if not UPID_RE.match(upid):
            raise ParamError({"upid": "unable to parse worker upid"})
        task = self.sim.tasks.find(upid)
        if task is not None and task["node"] != request.params["node"]:
            task = None  # the log file lives on the task's node only
        if task is None and must_exist:
            raise ParamError({"upid": "no such task"})
        if not owns_task(upid_user(upid), request.userid):
            self.sim.permissions.control.check(request.userid, "/nodes/%s" % request.params["node"], [privilege])
        return task

    @route("GET", "/nodes/{node}/tasks")
    def node_tasks(self, request):
        """Tasks.pm node_tasks: active tasks (source active/all) then the archive, newest first; the caller's
        own tasks, or all with Sys.Audit on /nodes/<node>."""
        params = request.params
        auditor = self.sim.permissions.control.has(request.userid, "/nodes/%s" % params["node"], ["Sys.Audit"])
        source = params.get("source", "archive")
        wanted = {"ok", "warning", "error", "unknown"}
        if params.get("statusfilter") is not None and not params.get("errors"):
            wanted = {item.lower() for item in split_list(params["statusfilter"])}
        elif params.get("errors"):
            wanted.discard("ok")
        engine = self.sim.tasks
        candidates = [task for task in engine.tasks() if task["node"] == params["node"]]
        active = [task for task in candidates if engine.running(task)]
        archived = [task for task in candidates if not engine.running(task)]
        selected = (active if source in ("active", "all") else []) + (archived if source != "active" else [])
        start, limit = params.get("start", 0), params.get("limit", 50)
        result, count = [], 0
        for task in selected:
            running = engine.running(task)
            # a running task has no status yet, which normalize_status_type calls 'unknown'
            if not (auditor or owns_task(task["user"], request.userid)):
                continue
            if not self._listed(task, params) or status_type("" if running else engine.exitstatus(task)) not in wanted:
                continue
            count += 1
            if count <= start or len(result) >= limit:
                continue
            entry = task_entry(engine, task)
            entry["status"] = "RUNNING" if running else engine.exitstatus(task)
            if not running:
                entry["endtime"] = int(engine.end_time(task))
            result.append(entry)
        request.set_result_attrib("total", count)
        return result

    @route("GET", "/cluster/tasks")
    def cluster_tasks(self, request):
        """Cluster.pm tasks: every node's recent tasks; running ones have no status and no endtime. Without
        Sys.Audit on / only those whose user (the token name split off) is the caller."""
        engine = self.sim.tasks
        see_all = self.sim.permissions.control.has(request.userid, "/", ["Sys.Audit"])
        result = []
        for task in engine.tasks():
            entry = task_entry(engine, task)
            if not see_all and entry["user"] != request.userid:
                continue
            if not engine.running(task):
                entry.update(status=engine.exitstatus(task), endtime=int(engine.end_time(task)))
            result.append(entry)
        return result

    @staticmethod
    def _listed(task, params):
        """The user (without the token name), type, vmid and time filters of node_tasks."""
        if params.get("userfilter") and params["userfilter"].lower() not in split_tokenid(task["user"])[0].lower():
            return False
        if params.get("typefilter") and task["type"] != params["typefilter"]:
            return False
        if params.get("vmid") and task["id"] != str(params["vmid"]):
            return False
        if params.get("since") is not None and task["starttime"] < int(params["since"]):
            return False
        return params.get("until") is None or task["starttime"] <= int(params["until"])

    @route("GET", "/nodes/{node}/tasks/{upid}")
    def upid_index(self, _request):
        """Tasks.pm upid_index."""
        return [{"name": "log"}, {"name": "status"}]

    @route("DELETE", "/nodes/{node}/tasks/{upid}")
    def stop_task(self, request):
        """Tasks.pm stop_task: kill the worker if it still runs."""
        self.sim.tasks.stop(self._task(request, "Sys.Modify"))

    @route("GET", "/nodes/{node}/tasks/{upid}/status")
    def read_task_status(self, request):
        """Tasks.pm read_task_status: running/stopped, exitstatus once stopped."""
        task = self._task(request, "Sys.Audit")
        engine = self.sim.tasks
        status = task_entry(engine, task)
        status["status"] = "running" if engine.running(task) else "stopped"
        if status["status"] == "stopped":
            status["exitstatus"] = engine.exitstatus(task)
        return status

    @route("GET", "/nodes/{node}/tasks/{upid}/log")
    def read_task_log(self, request):
        """Tasks.pm read_task_log + Tools.pm dump_logfile: lines numbered from 1, limit 0 = all."""
        task = self._task(request, "Sys.Audit", must_exist=False)
        if task is None:
            request.set_result_attrib("total", 1)
            return [{"n": 1, "t": "unable to open file - No such file or directory"}]
        lines = self.sim.tasks.log_lines(task)
        start, limit = request.params.get("start", 0), request.params.get("limit", 50)
        selected = lines[start:] if limit == 0 else lines[start:start + limit]
        result = [{"n": start + offset + 1, "t": text} for offset, text in enumerate(selected)]
        if not lines:
            request.set_result_attrib("total", 1)
            return [{"n": 1, "t": "no content"}]
        request.set_result_attrib("total", len(lines))
        return result
