"""Bounded commands: every call has a timeout; namespaces are entered with `ip netns exec`."""

import os
import signal
import subprocess
import time

COMMAND_TIMEOUT = 30


class CommandError(RuntimeError):
    pass


def run(argv, timeout=COMMAND_TIMEOUT, check=True, netns=None, input_text=None):
    """Run argv (inside `netns` if given); returns the CompletedProcess, raises CommandError naming the command."""
    argv = (["ip", "netns", "exec", netns] if netns else []) + [str(part) for part in argv]
    process = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input_text, check=False)
    if check and process.returncode != 0:
        raise CommandError("%s: exit %d: %s" % (" ".join(argv), process.returncode, (process.stderr or process.stdout).strip()))
    return process


def ip(netns, *args, check=True):
    return run(["ip", "-n", netns] + list(args) if netns else ["ip"] + list(args), check=check)


def batch(netns, lines):
    """`ip -batch -` inside netns: many link/addr commands in one process (the twin's setup stays < seconds)."""
    if lines:
        run(["ip", "-n", netns, "-batch", "-"] if netns else ["ip", "-batch", "-"], input_text="\n".join(lines) + "\n")


def sysctl(netns, key, value):
    """Only ever inside a namespace of the twin (never the host's)."""
    run(["sysctl", "-q", "-w", "%s=%s" % (key, value)], netns=netns)


def start(argv, pid_file, netns=None, log_file=None):
    """Start a background process (its own session) and write its PID to pid_file; `ip netns exec` execs the
    command, so the PID is the command's own."""
    argv = (["ip", "netns", "exec", netns] if netns else []) + [str(part) for part in argv]
    log = open(log_file or os.devnull, "ab")  # pylint: disable=consider-using-with
    try:
        process = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)  # pylint: disable=consider-using-with
    finally:
        log.close()
    with open(pid_file, "w", encoding="utf-8") as handle:
        handle.write("%d\n" % process.pid)
    return process.pid


def read_pid(pid_file):
    try:
        with open(pid_file, encoding="utf-8") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie child of ours counts as gone
        with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_pid_file(pid_file, grace=5.0):
    """TERM the process named by pid_file, KILL after `grace` seconds; remove the file. Safe to repeat."""
    pid = read_pid(pid_file)
    if pid and alive(pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
        deadline = time.monotonic() + grace
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.waitpid(pid, os.WNOHANG)
        except OSError:
            pass
    if os.path.exists(pid_file):
        os.unlink(pid_file)
    return pid


def wait_until(predicate, timeout, interval=0.2):
    """predicate() until truthy or timeout seconds; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def netns_list():
    return [line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines() if line.strip()]
