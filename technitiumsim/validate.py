"""Reading a call's parameters by the rules of rules.py, with the server's error texts.

Technitium reads every parameter from the query string first, then from the urlencoded form
(DnsServerCore/Extensions.cs QueryOrForm); an empty value counts as absent (GetQueryOrForm uses
string.IsNullOrEmpty). Parameters a call does not know are ignored, as the server does.
"""

import ipaddress
import re

from technitiumsim import errors
from technitiumsim.rules import TTL_MAX

LABEL_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
NUMBER_RE = re.compile(r"^\s*[+-]?\d+\s*$")
REQUEST_IP_ADDRESS = "request-ip-address"
# .NET integer type names in the range error, by the rule's upper bound
NUMBER_TYPE_NAMES = {65535: "UInt16", TTL_MAX: "UInt32"}


def normalize_domain(text):
    """A domain name as the server keeps it: no leading/trailing dots, lower case; TechnitiumError
    when a label is not letters, digits, '-' or '_' of 1..63 characters or the name is over 253."""
    name = text.strip().strip(".").lower()
    if len(name) > 253 or not all(LABEL_RE.match(label) for label in name.split(".")):
        raise errors.TechnitiumError(errors.INVALID_DOMAIN % text)
    return name


def parse_bool(text):
    """bool.Parse: 'true'/'false' in any case, surrounding blanks allowed."""
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise errors.TechnitiumError(errors.BAD_BOOLEAN % text)
    return value == "true"


def parse_number(text, rule):
    """An integer within the rule's range (int.Parse / ushort.Parse / uint parse)."""
    if not NUMBER_RE.match(text):
        raise errors.TechnitiumError(errors.BAD_NUMBER % text)
    value = int(text)
    if not rule.get("min", 0) <= value <= rule.get("max", 2147483647):
        raise errors.TechnitiumError(errors.NUMBER_RANGE % NUMBER_TYPE_NAMES.get(rule.get("max"), "Int32"))
    return value


TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
UINT_RE = re.compile(r"^\s*\+?\d+\s*$")


def parse_ttl(text):
    """A TTL as TechnitiumLibrary ZoneFile.TryParseTtl reads it: an unsigned 32-bit number, or
    numbers each followed by a unit s, m, h, d or w (any case, "1w2d1h30m"), a last bare number
    counting seconds; the sum wraps at 2^32 as the C# arithmetic does."""
    if UINT_RE.match(text) and int(text) <= TTL_MAX:
        return int(text)
    total, digits = 0, ""
    for char in text:
        if char.isascii() and char.isdigit():
            digits += char
        elif char.isascii() and char.lower() in TTL_UNITS and digits and int(digits) <= TTL_MAX:
            total += int(digits) * TTL_UNITS[char.lower()]
            digits = ""
        else:
            raise errors.TechnitiumError(errors.BAD_TTL % text)
    if digits:
        if int(digits) > TTL_MAX:
            raise errors.TechnitiumError(errors.BAD_TTL % text)
        total += int(digits)
    return total % (TTL_MAX + 1)


def ttl_string(ttl):
    """A TTL as ZoneFile.GetTtlString writes it: "1w2d1h30m5s", "0s" for zero."""
    parts = []
    for unit in ("w", "d", "h", "m"):
        size = TTL_UNITS[unit]
        if ttl >= size:
            parts.append("%d%s" % (ttl // size, unit))
            ttl %= size
    if ttl or not parts:
        parts.append("%ds" % ttl)
    return "".join(parts)


def parse_ip(text):
    """IPAddress.Parse: an IPv4 or IPv6 address, answered in its canonical text."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise errors.TechnitiumError(errors.BAD_IP_ADDRESS) from None


def parse_enum(text, rule):
    """Enum.Parse(value, ignoreCase: true): the canonical spelling of a listed value."""
    for value in rule["values"]:
        if value.lower() == text.strip().lower():
            return value
    raise errors.TechnitiumError(errors.ENUM_NOT_FOUND % text)


class Params:
    """The parameters of one call, read by name with its rule (rules.CALLS[path]["params"])."""

    def __init__(self, values, rules, client_ip=None):
        self.values = values
        self.rules = rules
        self.client_ip = client_ip

    def raw(self, name):
        """The text of a parameter or its alternate; None when absent or empty."""
        rule = self.rules.get(name, {})
        for key in (name, rule.get("alternate")):
            if key and self.values.get(key):
                return self.values[key]
        return None

    def has(self, name):
        """True when the parameter (or its alternate) was given non-empty."""
        return self.raw(name) is not None

    def get(self, name, required=None, default=None):
        """The parsed value; `required` overrides the rule (a type-specific requirement)."""
        rule = self.rules[name]
        text = self.raw(name)
        if text is None:
            if required if required is not None else rule.get("required"):
                raise errors.TechnitiumError(errors.PARAMETER_MISSING % name)
            return default if default is not None else rule.get("default")
        return self.parse(rule, text)

    def parse(self, rule, text):
        """One value by its rule's kind."""
        kind = rule["kind"]
        if kind == "domain":
            return normalize_domain(text)
        if kind == "bool":
            return parse_bool(text)
        if kind == "int":
            return parse_number(text, rule)
        if kind == "ttl":
            return parse_ttl(text)
        if kind == "ip":
            # "A special value of `request-ip-address` can be used ..." (Add Record, ipAddress)
            if text == REQUEST_IP_ADDRESS and self.client_ip:
                return self.client_ip
            return parse_ip(text)
        if kind == "enum":
            return parse_enum(text, rule)
        return text
