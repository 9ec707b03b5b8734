"""Request validation against the vendored OpenAPI schema (a JSON Schema subset, OpenAPI 3.0).

What is checked: `type` (with `nullable`), `enum`, `minLength`/`maxLength`, `pattern`, `format`
(uuid, email, ipv4, ipv6, date-time; others are counted as unknown formats), `minimum`/`maximum`,
`required`, `properties`, `items`, `minItems`/`maxItems`, `allOf`, `anyOf`, `oneOf`, `$ref`
(local). Unknown body keys are accepted, as the schema does not close its objects; null is
taken as "not set" (a required key that is null is missing).

Two readings that the schema needs:
- the same component often describes a request and an answer (the DNS record is one): a
  `required` list naming a `readOnly` property is the answer's and is not enforced on a request;
- for `anyOf`/`oneOf` a value must match at least one branch; when none matches, the errors of
  the branch that came closest are reported: a branch that failed on a single-value `enum` or on a
  missing required key at its own level (a discriminator: the DNS record `type`, the Access rule
  key) is farther than one that failed deeper.

Errors are (field, message) pairs; the field is dotted (`include.0.email.email`).
"""

import ipaddress
import re
import uuid

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DATE_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
JSON_TYPES = {
    "string": (str,), "boolean": (bool,), "object": (dict,), "array": (list,),
    "number": (int, float), "integer": (int,),
}


class SchemaError:  # pylint: disable=too-few-public-methods
    """One failure: the field (dotted path), the message, and whether it is a discriminator miss."""

    __slots__ = ("field", "message", "discriminator")

    def __init__(self, field, message, discriminator=False):
        self.field = field
        self.message = message
        self.discriminator = discriminator

    def pair(self):
        """(field, message)."""
        return self.field, self.message


def _is_uuid(text):
    if not UUID_RE.match(text):
        return False
    uuid.UUID(text)
    return True


def _is_ip(text, version):
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


FORMATS = {
    "uuid": _is_uuid,
    "email": lambda text: bool(EMAIL_RE.match(text)),
    "ipv4": lambda text: _is_ip(text, 4),
    "ipv6": lambda text: _is_ip(text, 6),
    "date-time": lambda text: bool(DATE_TIME_RE.match(text)),
}


def _type_ok(value, expected):
    if expected in ("number", "integer") and isinstance(value, bool):
        return False
    if expected == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, JSON_TYPES.get(expected, (object,)))


class Validator:
    """Validates values against schemas of one OpenAPI document."""

    def __init__(self, document, unknown_format=None):
        self.document = document
        self.unknown_format = unknown_format or (lambda name: None)

    def resolve(self, schema):
        """Follow `$ref`s to the schema they name."""
        while isinstance(schema, dict) and "$ref" in schema:
            value = self.document
            for key in schema["$ref"][2:].split("/"):
                value = value[key.replace("~1", "/").replace("~0", "~")]
            schema = value
        return schema

    def _read_only(self, schema, name):
        """True when property `name` is readOnly somewhere in the (composed) schema."""
        schema = self.resolve(schema)
        prop = schema.get("properties", {}).get(name)
        if prop is not None and self.resolve(prop).get("readOnly"):
            return True
        return any(self._read_only(part, name) for key in ("allOf", "anyOf", "oneOf") for part in schema.get(key, ()))

    def errors(self, schema, value, field="", mode="request"):
        """Every SchemaError of `value` against `schema`; `mode` is "request", "patch" (a partial
        body: no `required` is enforced) or "answer"."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict):
            return []
        if value is None:
            return []  # null is taken as "not set" (a required key set to null is reported by _object)
        found = []
        for part in schema.get("allOf", ()):
            found.extend(self.errors(part, value, field, mode))
        for key in ("anyOf", "oneOf"):
            if key in schema:
                found.extend(self._alternatives(schema[key], value, field, mode))
        expected = schema.get("type")
        if expected and not _type_ok(value, expected):
            return found + [SchemaError(field, "must be of type %s" % expected)]
        found.extend(self._constraints(schema, value, field))
        if isinstance(value, dict):
            found.extend(self._object(schema, value, field, mode))
        elif isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                found.extend(self.errors(schema["items"], item, _join(field, index), mode))
        return found

    def _alternatives(self, branches, value, field, mode):
        best = None
        for branch in branches:
            branch_errors = self.errors(branch, value, field, mode)
            if not branch_errors:
                return []
            score = (any(error.discriminator and _at_level(error.field, field) for error in branch_errors), len(branch_errors))
            if best is None or score < best[0]:
                best = (score, branch_errors)
        return best[1] if best else []

    def _constraints(self, schema, value, field):
        found = []
        if "enum" in schema and value not in schema["enum"]:
            found.append(SchemaError(field, "must be one of: %s" % ", ".join(str(item) for item in schema["enum"]),
                                     discriminator=len(schema["enum"]) == 1))
        if isinstance(value, str):
            if "minLength" in schema and len(value) < schema["minLength"]:
                found.append(SchemaError(field, "must be at least %d characters long" % schema["minLength"]))
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                found.append(SchemaError(field, "must be at most %d characters long" % schema["maxLength"]))
            if "pattern" in schema and not re.search(schema["pattern"], value):
                found.append(SchemaError(field, "must match the pattern %s" % schema["pattern"]))
            name = schema.get("format")
            if name in FORMATS:
                if not FORMATS[name](value):
                    found.append(SchemaError(field, "must be a valid %s" % name))
            elif name:
                self.unknown_format(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                found.append(SchemaError(field, "must be at least %s" % schema["minimum"]))
            if "maximum" in schema and value > schema["maximum"]:
                found.append(SchemaError(field, "must be at most %s" % schema["maximum"]))
        if isinstance(value, list):
            if "minItems" in schema and len(value) < schema["minItems"]:
                found.append(SchemaError(field, "must have at least %d items" % schema["minItems"]))
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                found.append(SchemaError(field, "must have at most %d items" % schema["maxItems"]))
        return found

    def _object(self, schema, value, field, mode):
        found = []
        required = schema.get("required", ())
        if mode == "patch" or (mode == "request" and any(self._read_only(schema, name) for name in required)):
            required = ()
        if required:
            for name in required:
                if value.get(name) is None:
                    found.append(SchemaError(_join(field, name), "is required", discriminator=True))
        for name, prop in schema.get("properties", {}).items():
            if name in value:
                found.extend(self.errors(prop, value[name], _join(field, name), mode))
        return found


def _at_level(error_field, field):
    """True for an error on `field` itself or on one of its direct keys."""
    return error_field == field or error_field.rpartition(".")[0] == field


def _join(field, key):
    return "%s.%s" % (field, key) if field else str(key)


def convert_query_value(validator, schema, text):
    """A query-string value in the type its schema says (numbers, booleans); text if it does not parse."""
    schema = validator.resolve(schema)
    kind = schema.get("type")
    if kind in ("number", "integer"):
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() else number
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text
