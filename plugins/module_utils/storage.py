# -*- coding: utf-8 -*-
# Copyright (c) homecloud.proxmox contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rules the storage and backup_job modules share, checked before any write.

- prune-backups: the property string of pve-storage ``src/PVE/Storage/Plugin.pm`` (format
  ``prune-backups``) and its validator ``validate_prune_backups``: keep-* options are integers
  of at least 0; when none is above 0 PVE means ``keep-all=1``; ``keep-all`` together with a
  positive option is refused.
- the PBS server fingerprint: pve-common ``JSONSchema.pm`` standard option ``fingerprint-sha256``
  (32 colon-separated hex pairs).
- calendar events (backup job schedules): proxmox-time ``calendar_event.rs`` (the parser PVE
  calls through pve-common ``CalendarEvent.pm``): ``[WEEKDAY] [[YEARS-]MONTHS-DAYS]
  [HOURS:MINUTES[:SECONDS]]`` or one of the special words.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.homecloud.proxmox.plugins.module_utils.client import ProxmoxError

PRUNE_KEYS = ("keep-all", "keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly")
FINGERPRINT_RE = re.compile(r"^(?:[A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}$")
# pve-storage Storage.pm: storage ids (pve-storage-id)
STORAGE_ID_RE = re.compile(r"^[a-z][a-z0-9\-_.]*[a-z0-9]$", re.IGNORECASE)


class StorageInputError(ProxmoxError):
    """A declared value PVE would refuse (or read differently), found before any call."""


def _prune_number(field, key, value):
    if isinstance(value, bool):
        return int(value)
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = -1
    if number < 0 or (key == "keep-all" and number > 1):
        raise StorageInputError("{0}.{1}: {2!r} is not {3}; nothing was changed".format(
            field, key.replace("-", "_"), value, "a boolean (0/1)" if key == "keep-all" else "an integer of at least 0"))
    return number


def prune_backups(value, field="prune_backups"):
    """The declared retention (a dict with keep_* or keep-* keys, or a property string) as PVE
    means it: {keep-*: positive int}, or {"keep-all": 1} when nothing positive is kept."""
    if isinstance(value, dict):
        items = value.items()
    else:
        items = []
        for part in str(value or "").split(","):
            if part.strip():
                key, sep, number = part.strip().partition("=")
                if not sep:
                    raise StorageInputError("{0}: {1!r} is not key=value; nothing was changed".format(field, part))
                items.append((key, number))
    parsed = {}
    for key, number in items:
        name = str(key).strip().replace("_", "-")
        if name not in PRUNE_KEYS:
            raise StorageInputError("{0}: unknown option {1!r} (known: {2}); nothing was changed".format(
                field, key, ", ".join(item.replace("-", "_") for item in PRUNE_KEYS)))
        if number is not None:
            parsed[name] = _prune_number(field, name, number)
    keep_all = parsed.pop("keep-all", 0)
    kept = dict((key, number) for key, number in parsed.items() if number > 0)
    if not kept:
        return {"keep-all": 1}
    if keep_all:
        # validate_prune_backups' words
        raise StorageInputError("{0}: keep-all cannot be set together with other options; nothing was changed".format(field))
    return kept


def prune_backups_text(normalised):
    """The property string sent to PVE, keys in PRUNE_KEYS order (the GUI's)."""
    return ",".join("{0}={1}".format(key, normalised[key]) for key in PRUNE_KEYS if key in normalised)


def check_fingerprint(value, field="fingerprint"):
    """A SHA-256 certificate fingerprint as PVE takes it, or StorageInputError naming the field."""
    if not FINGERPRINT_RE.match(value or ""):
        raise StorageInputError("{0}: {1!r} is not a SHA-256 fingerprint (32 colon-separated hex pairs, as "
                                "'openssl x509 -noout -fingerprint -sha256' prints it); nothing was changed".format(field, value))
    return value


def encryption_key_fingerprint(key_text, field="encryption_key"):
    """The fingerprint a PBS key file carries (None when it has none), after the check PBSPlugin.pm
    on_add_hook/on_update_hook makes: JSON with a ``data`` member. The key itself is never echoed."""
    try:
        decoded = json.loads(key_text)
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict) or "data" not in decoded:
        raise StorageInputError("{0}: not a JSON formatted encryption key (a PBS key file with a 'data' member), nor "
                                "'autogen'; nothing was changed".format(field))
    fingerprint = decoded.get("fingerprint")
    return str(fingerprint) if fingerprint else None


def check_storage_id(value, field="storage"):
    """pve-storage-id: at least 2 characters, letters first, then letters, digits, '-', '_', '.'."""
    if not STORAGE_ID_RE.match(value or ""):
        raise StorageInputError("{0}: {1!r} is not a valid storage id (a letter, then letters, digits, '-', '_' or '.', "
                                "at least 2 characters, not ending in '-', '_' or '.'); nothing was changed".format(field, value))
    return value


def holds_planned(current, changes, delete, same):
    """For a Write's confirm: whether the entry read back (None: gone) holds each changed option (compared with
    ``same(key, current, desired)``) and none of the deleted ones."""
    return current is not None and all(same(key, current.get(key), value) for key, value in changes.items()) \
        and all(current.get(key) is None for key in delete)


# --- calendar events ---------------------------------------------------------------------------
SPECIAL_EVENTS = ("minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually", "quarterly",
                  "semiannually", "semi-annually")
WEEKDAYS = ("monday", "mon", "tuesday", "tue", "wednesday", "wed", "thursday", "thu", "friday", "fri",
            "saturday", "sat", "sunday", "sun")
_DIGITS = re.compile(r"\d+")
_LETTERS = re.compile(r"[A-Za-z]+")


def _number(text, pos, limit):
    """parse_time_comp: (end, value) of the digits at pos when value < limit, else None."""
    found = _DIGITS.match(text, pos)
    if not found or int(found.group()) >= limit:
        return None
    return found.end(), int(found.group())


def _component(text, pos, limit):
    """parse_date_time_comp: N, N..M, N/R or N..M/R; the end position or None."""
    first = _number(text, pos, limit)
    if first is None:
        return None
    pos, start = first
    if text.startswith("..", pos):
        last = _number(text, pos + 2, limit)
        if last is not None:
            if start > last[1]:
                return None  # "range start is bigger than end"
            pos = last[0]
    if text.startswith("/", pos):
        repeat = _number(text, pos + 1, limit)
        return None if repeat is None else repeat[0]
    return pos


def _component_list(text, pos, limit):
    """parse_date_time_comp_list: '*' (optionally '*/R' with R > 0) or components separated by ','."""
    if text.startswith("*", pos):
        if text.startswith("/", pos + 1):
            repeat = _number(text, pos + 2, limit)
            if repeat is None:
                return None
            if repeat[1] > 0:
                return repeat[0]
        return pos + 1
    end = _component(text, pos, limit)
    if end is None:
        return None
    while text.startswith(",", end):
        following = _component(text, end + 1, limit)
        if following is None:
            break
        end = following
    return end


def _date_spec(text, pos):
    """[YEARS-]MONTHS-DAYS; the end position or None."""
    for limits in ((2200, 13, 32), (13, 32)):
        end = pos
        for number, limit in enumerate(limits):
            if number:
                if not text.startswith("-", end):
                    end = None
                    break
                end += 1
            end = _component_list(text, end, limit)
            if end is None:
                break
        if end is not None:
            return end
    return None


def _time_spec(text, pos):
    """[HOURS:]MINUTES[:SECONDS]; the end position or None."""
    hours = _component_list(text, pos, 24)
    if hours is not None and text.startswith(":", hours):
        pos = hours + 1
    end = _component_list(text, pos, 60)
    if end is None:
        return None
    if text.startswith(":", end):
        seconds = _component_list(text, end + 1, 60)
        if seconds is not None:
            end = seconds
    return end


def _weekdays(text, pos):
    """A ',' list of weekdays or weekday..weekday ranges; the end position or None."""
    while True:
        word = _LETTERS.match(text, pos)
        if not word or word.group().lower() not in WEEKDAYS:
            return None
        pos = word.end()
        if text.startswith("..", pos):
            other = _LETTERS.match(text, pos + 2)
            if other and other.group().lower() in WEEKDAYS:
                pos = other.end()
        if not text.startswith(",", pos):
            return pos
        pos += 1


def _spaces(text, pos):
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos


def calendar_event_error(event):
    """Why PVE would refuse ``event`` as a calendar event (a short reason), or None when it parses."""
    text = (event or "").strip()
    if not text:
        return "event is empty"
    if text.endswith("UTC"):
        text = text[:-3].rstrip(" ")
    if text in SPECIAL_EVENTS:
        return None
    pos, found = 0, False
    if _LETTERS.match(text):
        pos = _weekdays(text, 0)
        if pos is None:
            return "expected a weekday (mon..sun), a special word ({0}) or a number".format(", ".join(SPECIAL_EVENTS))
        pos, found = _spaces(text, pos), True
    date_end = _date_spec(text, pos)
    if date_end is not None:
        pos, found = _spaces(text, date_end), True
    time_end = _time_spec(text, pos)
    if time_end is not None:
        pos, found = time_end, True
    if not found:
        return "no weekday, date or time specification"
    if pos != len(text):
        return "cannot parse {0!r}".format(text[pos:])
    return None


def check_calendar_event(event, field="schedule"):
    """The schedule as PVE would take it, or StorageInputError naming the field and the syntax."""
    reason = calendar_event_error(event)
    if reason:
        raise StorageInputError("{0}: invalid calendar event {1!r} - {2}; PVE's syntax is [WEEKDAY] [[YEARS-]MONTHS-DAYS] "
                                "[HOURS:MINUTES[:SECONDS]], e.g. 'mon..fri 02:30', 'sat 21:00', '*/15', 'daily'; "
                                "nothing was changed".format(field, event, reason))
    return event
