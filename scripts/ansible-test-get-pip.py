"""Write the offline stand-in for pypa's get-pip bootstrap that ansible-test asks for.

ansible-test's ``--venv`` mode bootstraps pip into each fresh sanity virtual environment
with ``get-pip-<version>.py`` downloaded from ci-files.testing.ansible.com, a host that is
not reachable here. It uses ``~/.ansible/test/cache/get_pip_<version with _>.py`` instead
when that file exists (ansible_test/_util/target/setup/requirements.py, bootstrap()).

The stand-in (1) bootstraps pip with the interpreter's own ``ensurepip``, (2) drops
``PIP_CONFIG_FILE`` from the environment (ensurepip points it at /dev/null, which would hide
the machine's pip configuration: index, find-links, CA bundle), then (3) runs
``python -m pip install`` with ansible-test's arguments minus ``--no-setuptools`` and
``--no-wheel`` (get-pip options that pip itself does not know).

Usage: ansible-test-get-pip.py [PYTHON]  -- PYTHON is the interpreter that has ansible-test
installed (default: this one). Idempotent: rewrites the file only when its content differs.
"""
import os
import re
import subprocess
import sys

STAND_IN = '''\
"""Offline stand-in for get-pip.py, written by homecloud.proxmox scripts/ansible-test-get-pip.py."""
import ensurepip
import os
import subprocess
import sys


def main():
    ensurepip.bootstrap()
    os.environ.pop("PIP_CONFIG_FILE", None)
    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))


if __name__ == "__main__":
    main()
'''


def pip_version(python):
    """Return the pip version ansible-test bootstraps (get_venv_packages() in python_requirements.py)."""
    path = subprocess.check_output(
        [python, "-c", "import ansible_test, os; print(os.path.dirname(ansible_test.__file__))"],
        text=True,
    ).strip()
    source_path = os.path.join(path, "_internal", "python_requirements.py")
    with open(source_path, encoding="utf-8") as source:
        text = source.read()
    match = re.search(r"default_packages\s*=\s*dict\(\s*pip='([0-9.]+)'", text)
    if not match:
        sys.exit(f"ansible-test-get-pip: cannot find the pip version in {source_path}")
    return match.group(1)


def main():
    python = sys.argv[1] if len(sys.argv) > 1 else sys.executable
    version = pip_version(python)
    cache_path = os.path.expanduser(f"~/.ansible/test/cache/get_pip_{version.replace('.', '_')}.py")
    try:
        with open(cache_path, encoding="utf-8") as existing:
            if existing.read() == STAND_IN:
                return
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(cache_path), exist_ok=True)
    with open(cache_path + ".tmp", "w", encoding="utf-8") as new:
        new.write(STAND_IN)
    os.replace(cache_path + ".tmp", cache_path)
    print(f"ansible-test-get-pip: wrote {cache_path} (pip {version})")


if __name__ == "__main__":
    main()
