"""pve-calendar-event: parse a schedule and compute its next run.

    from pvesim.calendar_event import parse, next_after, CalendarEventError
    next_after("mon..fri 22:00", 1700000000)      # -> the next matching UNIX time (int), or None
    event = parse("*/15"); event.next_after(ts)    # parse once, evaluate often
    parse("25:00")                                 # raises CalendarEventError (str(): PVE's inner error)

The format (pve-docs calendar-events.adoc; parser: proxmox-rs proxmox-time calendar_event.rs,
which pve-common src/PVE/CalendarEvent.pm calls through PVE::RS::CalendarEvent):
`[WEEKDAY] [[YEARS-]MONTHS-DAYS] [HOURS:MINUTES[:SECONDS]]`.
 - weekdays `sun`..`sat` (or full names), lists with `,`, ranges with `..`;
 - each date/time component is a `,` list of `*`, a value, a range `a..b`, or a repetition
   `start/step` / `a..b/step` / `*/step`;
 - a time without `:` is the minutes (every hour): `*/15`, `30/10`; seconds default to 0;
 - without a time, the event runs at 00:00:00 of the matching days;
 - special words: minutely, hourly, daily, weekly, monthly, yearly|annually, quarterly,
   semiannually|semi-annually.
The simulated nodes run in UTC, so the event is evaluated in UTC.
The schema's `pve-calendar-event` format (formats.py) checks a value with `parse`.
"""

import calendar
import datetime
import re

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()
WEEKDAY_NAMES = {name: index for index, name in enumerate(WEEKDAYS)}
WEEKDAY_NAMES.update({full: index for index, full in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))})
# proxmox-time calendar_event.rs: the special words and the event each one stands for
SPECIAL_EVENTS = {
    "minutely": "*-*-* *:*:00",
    "hourly": "*-*-* *:00:00",
    "daily": "*-*-* 00:00:00",
    "weekly": "mon *-*-* 00:00:00",
    "monthly": "*-*-01 00:00:00",
    "yearly": "*-01-01 00:00:00",
    "annually": "*-01-01 00:00:00",
    "quarterly": "*-01,04,07,10-01 00:00:00",
    "semiannually": "*-01,07-01 00:00:00",
    "semi-annually": "*-01,07-01 00:00:00",
}
# (lowest, highest) value of each component; years are open-ended
LIMITS = {"hour": (0, 23), "minute": (0, 59), "second": (0, 59), "month": (1, 12), "day": (1, 31), "year": (1970, 9999)}
SEARCH_DAYS = 366 * 8  # long enough for a 29 February on a given weekday (a 28-year cycle is not needed for that)
DAY = 86400


class CalendarEventError(ValueError):
    """The error proxmox-time reports (without PVE's "invalid calendar event '<text>' - " prefix)."""


def _fail(detail):
    return CalendarEventError("unable to parse calendar event - %s" % detail)


def _number(text, component):
    if not re.match(r"^\d+$", text):
        raise _fail("invalid %s value '%s'" % (component, text))
    value = int(text)
    lowest, highest = LIMITS[component]
    if not lowest <= value <= highest:
        raise _fail("%s value '%s' out of range" % (component, text))
    return value


def _component(text, component):
    """A `,` list of `*`, `v`, `a..b`, `start/step`, `a..b/step`, `*/step` -> a predicate's spec:
    None (any value) or a list of (start, end, step) with end None = open (years)."""
    lowest, highest = LIMITS[component]
    items = []
    for part in text.split(","):
        if part == "":
            raise _fail("empty %s value in '%s'" % (component, text))
        base, _slash, step_text = part.partition("/")
        step = _number(step_text, component) if _slash else None
        if _slash and not step:
            raise _fail("%s repetition must be greater than zero in '%s'" % (component, part))
        if base == "*":
            if step is None:
                return None
            start, end = lowest, highest
        elif ".." in base:
            first, _dots, last = base.partition("..")
            start, end = _number(first, component), _number(last, component)
            if start > end:
                raise _fail("%s range '%s' goes backwards" % (component, base))
        else:
            start = _number(base, component)
            end = start if step is None else highest
        items.append((start, end, step or 1))
    return items


def _matches(items, value):
    if items is None:
        return True
    return any(start <= value <= end and (value - start) % step == 0 for start, end, step in items)


def _expand(items, component):
    lowest, highest = LIMITS[component]
    return [value for value in range(lowest, highest + 1) if _matches(items, value)]


def _weekdays(text):
    days = set()
    for part in text.split(","):
        first, dots, last = part.partition("..")
        if first not in WEEKDAY_NAMES or (dots and last not in WEEKDAY_NAMES):
            raise _fail("invalid weekday '%s'" % part)
        start, end = WEEKDAY_NAMES[first], WEEKDAY_NAMES[last] if dots else WEEKDAY_NAMES[first]
        index = start
        days.add(index)
        while index != end:  # a range may wrap over the end of the week (sat..mon)
            index = (index + 1) % 7
            days.add(index)
    return days


class CalendarEvent:
    """A parsed calendar event; `next_after(timestamp)` gives its next run."""

    def __init__(self, text):
        self.text = text
        self.weekdays = None
        self.years = self.months = self.days = None
        self.hours = self.minutes = self.seconds = None
        self._parse(text)

    def _parse(self, text):
        words = text.strip().lower().split()
        if not words:
            raise _fail("event is empty")
        if len(words) == 1 and words[0] in SPECIAL_EVENTS:
            words = SPECIAL_EVENTS[words[0]].split()
        if words and re.match(r"^[a-z]", words[0]):
            self.weekdays = _weekdays(words.pop(0))
        if words and "-" in words[0] and ":" not in words[0]:
            self._parse_date(words.pop(0))
        if words:
            self._parse_time(words.pop(0))
        elif self.weekdays is not None or self.days is not None or self.months is not None or self.years is not None:
            self.hours = self.minutes = self.seconds = [(0, 0, 1)]
        else:
            raise _fail("event is empty")
        if words:
            raise _fail("unexpected '%s'" % " ".join(words))

    def _parse_date(self, word):
        parts = word.split("-")
        if len(parts) == 2:
            parts = ["*"] + parts
        if len(parts) != 3:
            raise _fail("invalid date specification '%s'" % word)
        self.years = _component(parts[0], "year")
        self.months = _component(parts[1], "month")
        self.days = _component(parts[2], "day")

    def _parse_time(self, word):
        parts = word.split(":")
        if len(parts) == 1:  # only minutes: every hour
            self.hours, self.minutes, self.seconds = None, _component(parts[0], "minute"), [(0, 0, 1)]
        elif len(parts) in (2, 3):
            self.hours = _component(parts[0], "hour")
            self.minutes = _component(parts[1], "minute")
            self.seconds = _component(parts[2], "second") if len(parts) == 3 else [(0, 0, 1)]
        else:
            raise _fail("invalid time specification '%s'" % word)

    def _day_matches(self, date):
        return ((self.weekdays is None or date.weekday() in self.weekdays) and _matches(self.years, date.year)
                and _matches(self.months, date.month) and _matches(self.days, date.day))

    def next_after(self, timestamp):
        """The first matching UNIX time strictly after `timestamp` (UTC), or None if there is none."""
        start = int(timestamp) + 1
        start_day = datetime.datetime.fromtimestamp(start, datetime.timezone.utc).date()
        times = [hour * 3600 + minute * 60 + second
                 for hour in _expand(self.hours, "hour")
                 for minute in _expand(self.minutes, "minute")
                 for second in _expand(self.seconds, "second")]
        if not times:
            return None
        day_start = calendar.timegm(start_day.timetuple())
        for offset in range(SEARCH_DAYS):
            date = start_day + datetime.timedelta(days=offset)
            if not self._day_matches(date):
                continue
            base = day_start + offset * DAY
            for seconds in times:
                if base + seconds >= start:
                    return base + seconds
        return None


def parse(text):
    """A CalendarEvent; raises CalendarEventError with proxmox-time's message."""
    return CalendarEvent(text)


def next_after(event, timestamp):
    """The next run of `event` (text or CalendarEvent) after `timestamp` (UNIX seconds), or None."""
    if not isinstance(event, CalendarEvent):
        event = parse(event)
    return event.next_after(timestamp)
