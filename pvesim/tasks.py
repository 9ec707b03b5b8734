"""The task engine: workers with real UPIDs that run for a while, then stop with an exit status.

Facts (pve-common src/PVE/UPID.pm, src/PVE/RESTEnvironment.pm, src/PVE/Tools.pm):
- UPID = "UPID:<node>:<pid %08X>:<pstart %08X>:<starttime %08X>:<type>:<id>:<user>:";
- the task log ends with "TASK OK", "TASK WARNINGS: <n>" or "TASK ERROR: <msg>", and the exit
  status read back is "OK", "WARNINGS: <n>" or "<msg>";
- a stopped worker (DELETE .../tasks/{upid}) dies with "received interrupt".
Tasks live in the state namespace 'tasks'; their status is computed from the clock, so a
client has to poll like against PVE.
"""

import re
import time

from pvesim.formats import NODE_NAME_RE

CLOCK_TICKS = 100  # pstart is in clock ticks since boot (HZ=100 on PVE kernels)
SIMULATED_UPTIME = 86400  # nodes "booted" a day before the simulator started
UPID_RE = re.compile(r"^UPID:(%s):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$" % NODE_NAME_RE)
FINAL_LINE_RE = re.compile(r"^TASK (OK|ERROR: .+|WARNINGS: \d+)$")
INTERRUPTED = "received interrupt"


def final_line(exitstatus):
    """The last log line that makes UPID.pm read_status return `exitstatus`."""
    if exitstatus == "OK" or re.match(r"^WARNINGS: \d+$", exitstatus):
        return "TASK %s" % exitstatus
    return "TASK ERROR: %s" % exitstatus


def status_type(exitstatus):
    """UPID.pm normalize_status_type: ok, warning, error or unknown."""
    if not exitstatus or exitstatus == "unexpected status":
        return "unknown"
    if exitstatus == "OK":
        return "ok"
    return "warning" if re.match(r"^WARNINGS: \d+$", exitstatus) else "error"


class TaskEngine:
    """Creates tasks and answers what PVE would say about them at the current time."""

    def __init__(self, state, default_duration, clock=time.time):
        self.clock = clock
        self.default_duration = default_duration
        self.boot_time = clock() - SIMULATED_UPTIME
        self.state = state.register("tasks", lambda: {"tasks": [], "next_pid": 4096})

    def start(self, node, task_type, task_id, user, exitstatus="OK", log=(), duration=None):
        """Start a worker; returns its UPID. `log` lines appear as the task log."""
        now = self.clock()
        pid = self.state["next_pid"]
        self.state["next_pid"] += 1
        pstart = int((now - self.boot_time) * CLOCK_TICKS)
        upid = "UPID:%s:%08X:%08X:%08X:%s:%s:%s:" % (node, pid, pstart, int(now), task_type, task_id or "", user)
        self.state["tasks"].append({
            "upid": upid, "node": node, "pid": pid, "pstart": pstart, "starttime": int(now), "started": now,
            "type": task_type, "id": task_id or "", "user": user,
            "duration": self.default_duration if duration is None else float(duration),
            "exitstatus": exitstatus, "log": [str(line) for line in log], "stopped": None,
        })
        return upid

    def find(self, upid):
        """The task record of a UPID, or None."""
        return next((task for task in self.state["tasks"] if task["upid"] == upid), None)

    def end_time(self, task):
        """When the task stopped or will stop (epoch seconds, float)."""
        return task["stopped"] if task["stopped"] is not None else task["started"] + task["duration"]

    def running(self, task):
        """True while the worker runs."""
        return self.clock() < self.end_time(task)

    def exitstatus(self, task):
        """The exit status of a stopped task (a stopped-by-user task was interrupted)."""
        return task["exitstatus"] if task["stopped"] is None else INTERRUPTED

    def log_lines(self, task):
        """Task log as PVE shows it now: the final TASK line only once the task stopped."""
        lines = list(task["log"])
        has_final = bool(lines) and FINAL_LINE_RE.match(lines[-1])
        if self.running(task):
            return lines[:-1] if has_final else lines
        if task["stopped"] is not None:
            return (lines[:-1] if has_final else lines) + [final_line(INTERRUPTED)]
        return lines if has_final else lines + [final_line(task["exitstatus"])]

    def stop(self, task):
        """Kill a running worker (RESTEnvironment.pm check_worker with killit)."""
        if self.running(task):
            task["stopped"] = self.clock()

    def describe(self, task):
        """The fields of a task in the task list and status calls."""
        return {key: task[key] for key in ("upid", "node", "pid", "pstart", "starttime", "type", "id", "user")}

    def tasks(self):
        """All tasks, newest first."""
        return sorted(self.state["tasks"], key=lambda task: task["started"], reverse=True)
