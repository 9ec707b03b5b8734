# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What cloud_image and vm_template share: checksums, the verified file name, import volumes, task writes.

The file name carries the checksum: ``<stem>-<first 12 hex digits>.<ext>``. PVE's download task
(pve-storage src/PVE/API2/Storage/Status.pm download_url, pve-common src/PVE/Tools.pm
download_file_from_url) downloads to a temporary file, compares its checksum and only then renames it
to the requested name; on a mismatch it removes the temporary file. So a file of that name on the
storage is one whose checksum PVE has verified, and a run that finds it has nothing to download.

No Ansible import here: the rules are unit tested on their own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError
from ansible_collections.homecloud.proxmox.plugins.module_utils.objects import Write

# Checksums this collection accepts (PVE's download-url takes md5 ... sha512; only the SHA-2 ones
# worth trusting an image to), with the length of their hex digest.
CHECKSUM_HEX_LENGTHS = {"sha256": 64, "sha512": 128}
CHECKSUM_RE = re.compile(r"^(sha256|sha512):([0-9a-fA-F]+)$")
CHECKSUM_NAME_DIGITS = 12

# pve-storage src/PVE/Storage.pm: download_url accepts for content `import` a name matching
# $SAFE_CHAR_CLASS_RE+ $UPLOAD_IMPORT_EXT_RE_1, i.e. [a-zA-Z0-9-.+=_]+ ending in .ova, .qcow2, .raw
# or .vmdk. Of those only disk images can be a VM disk's import-from source; an .ova is an appliance
# archive (its disks are addressed inside it), so this collection takes the three disk formats.
IMPORT_DISK_EXTENSIONS = ("qcow2", "raw", "vmdk")
PVE_IMPORT_EXTENSIONS = ("ova",) + IMPORT_DISK_EXTENSIONS
SAFE_NAME_RE = re.compile(r"^[a-zA-Z0-9\-.+=_]+$")
# pve-storage src/PVE/Storage.pm normalize_content_filename: path dropped, other characters to "_".
UNSAFE_CHARACTER_RE = re.compile(r"[^a-zA-Z0-9_.-]")
# pve-storage src/PVE/Storage.pm: a storage id is [a-z][a-z0-9\-\_\.]*[a-z0-9].
STORAGE_ID_PATTERN = r"[a-z][a-z0-9\-_.]*[a-z0-9]"
IMPORT_VOLID_RE = re.compile(r"^({0}):import/([a-zA-Z0-9\-.+=_]+\.({1}))$".format(
    STORAGE_ID_PATTERN, "|".join(IMPORT_DISK_EXTENSIONS)))

# Sizes as qemu-server's resize takes them (src/PVE/API2/Qemu.pm resize_vm: \+?\d+(\.\d+)?[KMGT]?,
# binary units, no unit = bytes).
SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)$")
SIZE_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}


class ImageInputError(ProxmoxError):
    """A declared value the module refuses before any API call."""


def parse_checksum(text, option="checksum"):
    """("sha256"|"sha512", lower-case hex) from "sha256:<hex>"; ImageInputError naming ``option``."""
    if not text:
        raise ImageInputError("{0} is required: PVE's download task verifies the image against it, as "
                              "sha256:<64 hex digits> or sha512:<128 hex digits>; nothing was changed".format(option))
    match = CHECKSUM_RE.match(str(text).strip())
    if not match or len(match.group(2)) != CHECKSUM_HEX_LENGTHS[match.group(1)]:
        raise ImageInputError("{0}: {1!r} is not sha256:<64 hex digits> or sha512:<128 hex digits>; "
                              "nothing was changed".format(option, text))
    return match.group(1), match.group(2).lower()


def normalize_filename(name):
    """The name PVE stores for a requested file name (normalize_content_filename)."""
    name = str(name).strip()
    name = re.split(r"[/\\]", name)[-1]
    return UNSAFE_CHARACTER_RE.sub("_", name)


def url_filename(url):
    """The file name part of a URL's path (no query, no fragment); empty for a URL without one."""
    return posixpath.basename(urlsplit(str(url)).path)


def verified_filename(url, checksum_hex, filename=None):
    """The stored name: ``filename`` (or the URL's) with the checksum's first 12 hex digits before the extension.

    A name that already carries those digits there (the one an earlier run returned) is kept as it is.
    Refuses, before any call, a name PVE's import content refuses and the .ova archives.
    """
    option = "filename" if filename else "url"
    name = normalize_filename(filename if filename else url_filename(url))
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or extension not in PVE_IMPORT_EXTENSIONS:
        hint = ""
        if extension.lower() == "img":
            hint = " (Ubuntu's .img cloud images are qcow2: set filename to a name ending in .qcow2)"
        raise ImageInputError("{0}: {1!r} does not end in .qcow2, .raw or .vmdk, which PVE's import content needs{2}; "
                              "nothing was changed".format(option, name or url, hint))
    if extension not in IMPORT_DISK_EXTENSIONS:
        raise ImageInputError("{0}: {1!r} is an OVA appliance archive, not a disk image a VM disk can be imported "
                              "from; use the .qcow2, .raw or .vmdk image; nothing was changed".format(option, name))
    digits = checksum_hex[:CHECKSUM_NAME_DIGITS]
    if not stem.endswith("-" + digits):
        stem = "{0}-{1}".format(stem, digits)
    name = "{0}.{1}".format(stem, extension)
    if len(name) > 255 or not SAFE_NAME_RE.match(name):
        raise ImageInputError("{0}: {1!r} is not a file name PVE accepts (at most 255 of a-z A-Z 0-9 - . _); "
                              "nothing was changed".format(option, name))
    return name


def import_volid(storage, filename):
    return "{0}:import/{1}".format(storage, filename)


def parse_import_volid(volid, option="image"):
    """(storage, file name, extension) of an import volume id such as local:import/debian-12-<hex>.qcow2."""
    match = IMPORT_VOLID_RE.match(str(volid or ""))
    if not match:
        raise ImageInputError("{0}: {1!r} is not an import volume id such as local:import/debian-12-<12 hex>.qcow2 "
                              "(the volid cloud_image returns); nothing was changed".format(option, volid))
    return match.group(1), match.group(2), match.group(3)


def import_volumes(client, node, storage):
    """{volid: entry} of the import content of a storage on a node (GET .../content?content=import)."""
    entries = client.get("/nodes/{0}/storage/{1}/content".format(node, storage), content="import") or []
    return dict((entry["volid"], entry) for entry in entries)


def size_bytes(text, option="disk_size"):
    """Bytes of a size as qemu-server takes it (20G, 512M, 10240); ImageInputError otherwise."""
    match = SIZE_RE.match(str(text).strip())
    if not match:
        raise ImageInputError("{0}: {1!r} is not a size such as 20G, 512M or 10240 (bytes); nothing was changed".format(
            option, text))
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2)])


def gib(size):
    return "{0:.2f} GiB".format(size / float(SIZE_UNITS["G"]))


class TaskWrite(Write):
    """A write PVE answers with a task id (UPID): sent, then waited for until it ends.

    Its answer is the task's final status. A lost answer leaves the task unknown, so these writes
    carry no ``confirm``: the client reports the outcome as uncertain instead of sending them again.
    """

    def __init__(self, method, path, params=None, timeout=600, what=None):
        Write.__init__(self, method, path, params, what=what)
        self.timeout = timeout

    def send(self, client):
        upid = Write.send(self, client)
        return client.wait_task(upid, timeout=self.timeout, what=self.what or "{0} {1}".format(self.method, self.path))
