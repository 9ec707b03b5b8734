# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""module_utils/storage.py: prune-backups as PVE normalises it, fingerprints, PBS key files, storage ids
and calendar events, each refused before any call with the option named."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.homecloud.proxmox.plugins.module_utils.storage import (
    StorageInputError,
    calendar_event_error,
    check_calendar_event,
    check_fingerprint,
    check_storage_id,
    encryption_key_fingerprint,
    holds_planned,
    prune_backups,
    prune_backups_text,
)

FINGERPRINT = ":".join(["ab"] * 32)


def test_prune_backups_keeps_positive_options_and_means_keep_all_otherwise():
    assert prune_backups(dict(keep_last=3, keep_daily=7, keep_weekly=0)) == {"keep-last": 3, "keep-daily": 7}
    assert prune_backups({"keep-daily": "7", "keep-all": 0}) == {"keep-daily": 7}
    assert prune_backups({}) == {"keep-all": 1}
    assert prune_backups(dict(keep_last=0)) == {"keep-all": 1}
    assert prune_backups(dict(keep_all=False)) == {"keep-all": 1}
    # PVE's answer: a property string (storage) or an object (backup job); both read the same
    assert prune_backups("keep-last=3,keep-daily=7") == prune_backups({"keep-daily": 7, "keep-last": 3})
    assert prune_backups("keep-all=1") == {"keep-all": 1}


def test_prune_backups_refuses_what_pve_refuses_naming_the_option():
    with pytest.raises(StorageInputError, match="^prune_backups: keep-all cannot be set together with other options"):
        prune_backups(dict(keep_all=True, keep_last=2))
    with pytest.raises(StorageInputError, match=r"^prune_backups\.keep_last: -1 is not an integer of at least 0"):
        prune_backups(dict(keep_last=-1))
    with pytest.raises(StorageInputError, match=r"^prune_backups\.keep_daily: 'many' is not"):
        prune_backups(dict(keep_daily="many"))
    with pytest.raises(StorageInputError, match="^prune_backups: unknown option 'keep_forever'"):
        prune_backups(dict(keep_forever=1))


def test_prune_backups_text_is_in_pves_order():
    assert prune_backups_text({"keep-yearly": 1, "keep-last": 3, "keep-daily": 7}) == "keep-last=3,keep-daily=7,keep-yearly=1"
    assert prune_backups_text({"keep-all": 1}) == "keep-all=1"


def test_fingerprint_must_be_32_hex_pairs_and_the_error_names_the_field():
    assert check_fingerprint(FINGERPRINT.upper()) == FINGERPRINT.upper()
    for bad in (None, "", ":".join(["ab"] * 31), FINGERPRINT + ":ab", FINGERPRINT.replace("ab", "zz", 1), FINGERPRINT.replace(":", "")):
        with pytest.raises(StorageInputError, match="^fingerprint: .* is not a SHA-256 fingerprint"):
            check_fingerprint(bad)


def test_encryption_keys_are_pbs_key_files_and_never_echoed():
    key = json.dumps(dict(kdf=None, created="2025-01-01T00:00:00Z", data="c2VjcmV0LWtleS1ieXRlcw==", fingerprint="12:34"))
    assert encryption_key_fingerprint(key) == "12:34"
    assert encryption_key_fingerprint(json.dumps(dict(data="x"))) is None
    for bad in ("not json at all SECRET", json.dumps(dict(fingerprint="12:34", secret="SECRET")), json.dumps(["SECRET"])):
        with pytest.raises(StorageInputError, match="^encryption_key: not a JSON formatted encryption key") as raised:
            encryption_key_fingerprint(bad)
        assert "SECRET" not in str(raised.value)


def test_storage_ids_follow_pve_storage_id():
    for good in ("pbs1", "local-zfs", "a.b_c", "Backup2"):
        assert check_storage_id(good) == good
    for bad in ("a", "1pbs", "pbs-", "pb s", "pbs/1", ""):
        with pytest.raises(StorageInputError, match="^storage: .* is not a valid storage id"):
            check_storage_id(bad)


@pytest.mark.parametrize("event", [
    "daily", "weekly", "semi-annually", "hourly UTC", "*/15", "30/10", "mon..fri 22", "sat *-1..7 15:00", "2015-10-21",
    "12,14,16,18,20,22:5", "mon..fri 8..17,22:0/15", "mon,wed,fri 02:30", "Sunday 01:00", "fri..mon 21:00", "*-*-1 00:00",
    "02:30:15", "21:00 UTC", "sun 2025-*-01..07 03:00",
    # no hour 24 or 25: the parser then reads minute 24 (25), second 0, as proxmox-time does
    "24:00", "mon..fri 25:00",
])
def test_calendar_events_pve_accepts(event):
    assert calendar_event_error(event) is None
    assert check_calendar_event(event) == event


@pytest.mark.parametrize("event, reason", [
    ("", "event is empty"),
    ("   ", "event is empty"),
    ("every day", "expected a weekday"),
    ("mon..fri 25:61", "cannot parse ':61'"),
    ("02:60", "no weekday, date or time"),
    ("2025-13-01", "no weekday, date or time"),
    ("mon 2025-13-01", "cannot parse '2025-13-01'"),
    ("sat 21:00 extra", "cannot parse"),
    ("10..5:00", "no weekday, date or time"),
    ("*/x", "no weekday, date or time"),
])
def test_calendar_events_pve_refuses(event, reason):
    assert reason in calendar_event_error(event)
    with pytest.raises(StorageInputError, match="^schedule: invalid calendar event .*PVE's syntax is"):
        check_calendar_event(event)


def test_a_lost_write_answer_is_confirmed_by_reading_the_entry_back():
    def same(_key, current, desired):
        return str(current) == str(desired)
    changes, delete = {"disable": 1, "prune-backups": "keep-last=3"}, ["namespace"]
    assert holds_planned({"disable": "1", "prune-backups": "keep-last=3"}, changes, delete, same)
    assert not holds_planned({"disable": "0", "prune-backups": "keep-last=3"}, changes, delete, same)
    assert not holds_planned({"disable": "1", "prune-backups": "keep-last=3", "namespace": "x"}, changes, delete, same)
    assert not holds_planned(None, changes, delete, same)
