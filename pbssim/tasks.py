"""Worker tasks with PBS UPIDs.

proxmox-schema src/upid.rs (proxmox-rs f330500): a UPID is
`UPID:<node>:<pid 08X>:<pstart 08X>:<task id 08X>:<starttime 08X>:<type>:<escaped id>:<auth id>:`;
the worker id is escaped like a systemd unit name ('/' -> '-', anything but [A-Za-z0-9_.] and a
leading '.' -> \\xNN). proxmox-backup src/api2/node/tasks.rs (v3.2.4): the status of a task is
answered to its owner (a user also for his tokens' tasks), to others only with Sys.Audit on
/system/tasks ("task access not allowed" otherwise, a 400); a finished task has `exitstatus`
"OK" or "Error: <message>"; a token's task names the user in `user` and the token in `tokenid`.
A simulated task runs for the task duration; its effect happens when it is created.
"""

import time

from pbssim.access import PRIV, owner_of
from pbssim.errors import bail

PID = 0x1A2B
PSTART = 0x2F3E4D


def escape_id(worker_id):
    """upid.rs escape_id."""
    escaped = []
    for index, byte in enumerate(worker_id.encode("utf-8")):
        char = chr(byte)
        if char == "/":
            escaped.append("-")
        elif (index == 0 and char == ".") or not (char in "_." or char.isascii() and char.isalnum()):
            escaped.append("\\x%02x" % byte)
        else:
            escaped.append(char)
    return "".join(escaped)


class TaskEngine:
    """The `tasks` state namespace: {"next_id": n, "tasks": {upid: record}}."""

    def __init__(self, state, node, duration):
        self.node = node
        self.duration = duration
        self.data = state.register("tasks", lambda: {"next_id": 1, "tasks": {}})

    def start(self, worker_type, worker_id, auth_id, exitstatus="OK", log=(), duration=None):
        """Create a task; returns its UPID. `exitstatus` is "OK" or "Error: ..." once it ends."""
        task_id = self.data["next_id"]
        self.data["next_id"] += 1
        starttime = int(time.time())
        upid = "UPID:%s:%08X:%08X:%08X:%08X:%s:%s:%s:" % (
            self.node, PID, PSTART, task_id, starttime, worker_type, escape_id(worker_id or ""), auth_id)
        self.data["tasks"][upid] = {
            "node": self.node, "pid": PID, "pstart": PSTART, "starttime": starttime, "type": worker_type,
            "id": worker_id, "authid": auth_id, "exitstatus": exitstatus, "log": list(log),
            "endtime": time.time() + (self.duration if duration is None else duration),
        }
        return upid

    def get(self, upid):
        """The record of a UPID (the same 400 text as PBS for an unknown one)."""
        record = self.data["tasks"].get(upid)
        if record is None:
            raise bail("unable to parse UPID '%s'" % upid if not upid.startswith("UPID:") else "task '%s' not found" % upid)
        return record

    @staticmethod
    def running(record):
        """True while the simulated worker still runs."""
        return time.time() < record["endtime"]

    def check_access(self, directory, auth_id, record):
        """tasks.rs check_task_access (the job-privilege fallback is not simulated)."""
        owner = record["authid"]
        if auth_id == owner or ("!" in owner and owner_of(owner) == auth_id):
            return
        if directory.lookup_privs(auth_id, ["system", "tasks"]) & PRIV["Sys.Audit"]:
            return
        raise bail("task access not allowed")

    def status(self, upid, record):
        """get_task_status's answer."""
        owner = record["authid"]
        answer = {"upid": upid, "node": record["node"], "pid": record["pid"], "pstart": record["pstart"],
                  "starttime": record["starttime"], "type": record["type"], "id": record["id"], "user": owner_of(owner)}
        if "!" in owner:
            answer["tokenid"] = owner.split("!", 1)[1]
        if self.running(record):
            answer["status"] = "running"
        else:
            answer["status"] = "stopped"
            answer["exitstatus"] = record["exitstatus"]
        return answer

    def log_lines(self, record):
        """The task log as PBS writes it: the worker's lines, then TASK OK / TASK ERROR: <msg> when done."""
        lines = list(record["log"])
        if not self.running(record):
            status = record["exitstatus"]
            lines.append("TASK OK" if status == "OK" else "TASK ERROR: %s" % status[len("Error: "):])
        return lines
