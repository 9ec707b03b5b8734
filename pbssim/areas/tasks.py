"""Task status and log (/nodes/{node}/tasks/{upid}/...).

proxmox-backup v3.2.4 (4940514) src/api2/node/tasks.rs get_task_status, read_task_log,
check_task_access (see pbssim.tasks).
"""

from simcore import route
from pbssim.simulator import PbsArea


class TasksArea(PbsArea):
    """Reads of the simulator's TaskEngine."""

    def _record(self, request):
        record = self.sim.tasks.get(request.params["upid"])
        self.sim.tasks.check_access(self.sim.directory, request.auth_id, record)
        return record

    @route("GET", "/nodes/{node}/tasks/{upid}/status")
    def task_status(self, request):
        """tasks.rs get_task_status."""
        return self.sim.tasks.status(request.params["upid"], self._record(request))

    @route("GET", "/nodes/{node}/tasks/{upid}/log")
    def task_log(self, request):
        """tasks.rs read_task_log: lines {n, t} from line `start`, at most `limit` (0: all), next to
        `total` and `success: 1`; `test-status` adds `active`."""
        record = self._record(request)
        lines = self.sim.tasks.log_lines(record)
        start, limit = request.params.get("start", 0), request.params.get("limit", 50)
        first = max(start, 1) - 1   # line numbers start at 1; `start` 0 and 1 both begin there
        chosen = lines[first:] if limit == 0 else lines[first:first + limit]
        request.result_attributes.update(total=len(lines), success=1)
        if request.params.get("test-status"):
            request.result_attributes["active"] = self.sim.tasks.running(record)
        return [{"n": first + index + 1, "t": text} for index, text in enumerate(chosen)]
