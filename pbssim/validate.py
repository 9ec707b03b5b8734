"""Parameter parsing and verification as PBS does it (proxmox-schema src/schema.rs, proxmox-rs f330500).

PBS reads parameters in one of two ways (proxmox-rest-server src/rest.rs get_request_parameters):
- form-encoded body, query string and path parameters, all strings (parse_parameter_strings):
  each value is parsed by its schema; messages end with a period ("parameter is missing and it
  is not optional."); a repeated non-array key is "duplicate parameter."; the required-check runs
  only when nothing else failed. A path parameter also given in the body is a duplicate.
- a JSON body (Content-Type application/json): the query string is not read, path parameters
  overwrite the body's, and the object is verified as JSON (verify_json): values must have the
  JSON type ("Expected integer value."), messages have no final period, nested errors are named
  "<param>/<key>" or "<param>/[<index>]".
Every error of the request is collected into one ParameterError (errors.ParamError).

Patterns come from the api-viewer dump in Perl syntax (`/^...$/`); they are turned into Python
regexes here. `[:cntrl:]` is ASCII's control range, `$` matches only at the very end (Rust's
regex has no "before a final newline").
"""

import json
import re
from urllib.parse import parse_qsl

from pbssim.errors import ParamError, bail

CNTRL = "\\x00-\\x1f\\x7f"
_PATTERN_CACHE = {}


def compile_pattern(pattern):
    """A Python regex for a schema pattern written as /.../ (or bare)."""
    compiled = _PATTERN_CACHE.get(pattern)
    if compiled is None:
        body = pattern[1:-1] if len(pattern) >= 2 and pattern.startswith("/") and pattern.endswith("/") else pattern
        body = body.replace("[[:^cntrl:]]", "[^%s]" % CNTRL).replace("[:cntrl:]", CNTRL)
        if "[:" in body:
            raise ValueError("unsupported POSIX class in schema pattern %r" % pattern)
        if body.endswith("$") and not body.endswith("\\$"):
            body = body[:-1] + "\\Z"
        compiled = _PATTERN_CACHE[pattern] = re.compile(body)
    return compiled


class _Failed(Exception):
    """One value failed its schema; `errors` are (name suffix, message) pairs or a message."""

    def __init__(self, message=None, errors=None):
        super().__init__(message)
        self.message = message
        self.errors = errors


def _string_constraints(schema, value):
    """StringSchema::check_constraints: length (in characters), then pattern, enum or property string."""
    if "minLength" in schema and len(value) < schema["minLength"]:
        raise _Failed("value must be at least %d characters long" % schema["minLength"])
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise _Failed("value may only be %d characters long" % schema["maxLength"])
    if "pattern" in schema and not compile_pattern(schema["pattern"]).search(value):
        raise _Failed("value does not match the regex pattern")
    if "enum" in schema and value not in schema["enum"]:
        raise _Failed("value '%s' is not defined in the enumeration." % value)
    if isinstance(schema.get("format"), dict):
        errors = verify_property_string(schema["format"], value)
        if errors:
            raise _Failed(errors=errors)


def _integer_constraints(schema, value):
    if "minimum" in schema and value < schema["minimum"]:
        raise _Failed("value must have a minimum value of %s (got %s)" % (schema["minimum"], value))
    if "maximum" in schema and value > schema["maximum"]:
        raise _Failed("value must have a maximum value of %s (got %s)" % (schema["maximum"], value))


def _parse_int(text):
    """Rust's i64::from_str with its error texts."""
    if text == "":
        raise _Failed("cannot parse integer from empty string")
    if not re.match(r"^[+-]?[0-9]+\Z", text):
        raise _Failed("invalid digit found in string")
    number = int(text)
    if not -2 ** 63 <= number < 2 ** 63:
        raise _Failed("number too %s to fit in target type" % ("large" if number > 0 else "small"))
    return number


def parse_simple_value(schema, text):
    """Schema::parse_simple_value: a string to the schema's type, constraints checked."""
    kind = schema.get("type", "string")
    if kind == "boolean":
        lowered = text.lower()
        if lowered in ("1", "on", "yes", "true"):
            return True
        if lowered in ("0", "off", "no", "false"):
            return False
        raise _Failed("Unable to parse boolean option.")
    if kind == "integer":
        number = _parse_int(text)
        _integer_constraints(schema, number)
        return number
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise _Failed("invalid float literal") from None
        _integer_constraints(schema, number)
        return number
    if kind == "string":
        _string_constraints(schema, text)
        return text
    raise _Failed("unable to parse complex (sub) objects.")


def verify_json_value(schema, value):
    """Schema::verify_json for one value (raises _Failed)."""
    kind = schema.get("type", "string")
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _Failed("Expected boolean value.")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Failed("Expected integer value.")
        _integer_constraints(schema, value)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Failed("Expected number value.")
        _integer_constraints(schema, value)
    elif kind == "string":
        if not isinstance(value, str):
            raise _Failed("Expected string value.")
        _string_constraints(schema, value)
    elif kind == "array":
        if not isinstance(value, list):
            raise _Failed("Expected array - got %s." % ("object" if isinstance(value, dict) else "scalar value"))
        errors = []
        for index, item in enumerate(value):
            try:
                verify_json_value(schema.get("items", {}), item)
            except _Failed as failed:
                errors.extend(_nested("[%d]" % index, failed))
        if errors:
            raise _Failed(errors=errors)


def _nested(prefix, failed):
    """ParameterError::add_errors: nested errors are renamed '<prefix>/<key>'."""
    if failed.errors:
        return [("%s/%s" % (prefix, name), message) for name, message in failed.errors]
    return [(prefix, failed.message)]


def _display(failed):
    """An error as the text one entry of an outer ParameterError shows (form-encoded path)."""
    if failed.errors:
        return str(ParamError(failed.errors))
    return failed.message


def verify_property_string(schema, text):
    """proxmox-schema de::verify of a property string: [(key, message)], empty when valid."""
    properties = schema.get("properties", {})
    default_key = schema.get("default_key")
    seen, errors = {}, []
    for part in [piece for piece in text.split(",") if piece != ""]:
        key, has_value, value = part.partition("=")
        if not has_value:
            if default_key is None:
                errors.append((key, "schema does not allow additional properties"))
                continue
            key, value = default_key, part
        if key in seen:
            errors.append((key, "duplicate key"))
            continue
        if key not in properties:
            errors.append((key, "schema does not allow additional properties"))
            continue
        seen[key] = value
        try:
            parse_simple_value(properties[key], value)
        except _Failed as failed:
            errors.append((key, _display(failed)))
    for key, sub_schema in properties.items():
        if not sub_schema.get("optional") and key not in seen:
            errors.append((key, "property is missing and it is not optional"))
    return errors


def parse_parameter_strings(parameters, pairs):
    """parse_parameter_strings(schema, [(key, value)], test_required=true) -> typed dict."""
    properties = parameters.get("properties", {})
    additional = parameters.get("additionalProperties", False)
    params, errors = {}, []
    for key, text in pairs:
        schema = properties.get(key)
        if schema is None:
            if additional:
                old = params.get(key)
                params[key] = text if old is None else (old if isinstance(old, list) else [old]) + [text]
            else:
                errors.append((key, "schema does not allow additional properties."))
            continue
        try:
            if schema.get("type") == "array":
                params.setdefault(key, []).append(parse_simple_value(schema.get("items", {}), text))
            elif key in params:
                errors.append((key, "duplicate parameter."))
            else:
                params[key] = parse_simple_value(schema, text)
        except _Failed as failed:
            errors.append((key, _display(failed)))
    if not errors:
        errors = [(name, "parameter is missing and it is not optional.") for name, schema in properties.items()
                  if not schema.get("optional") and name not in params]
    if errors:
        raise ParamError(errors)
    return params


def verify_json_object(parameters, document):
    """ObjectSchema::verify_json of the whole parameter object."""
    if not isinstance(document, dict):
        raise bail("Expected object - got %s." % ("array" if isinstance(document, list) else "scalar value"))
    properties = parameters.get("properties", {})
    errors = []
    for key, value in sorted(document.items()):   # serde_json's Map is ordered by key
        schema = properties.get(key)
        if schema is None:
            if not parameters.get("additionalProperties", False):
                errors.append((key, "schema does not allow additional properties"))
            continue
        try:
            verify_json_value(schema, value)
        except _Failed as failed:
            errors.extend(_nested(key, failed))
    errors.extend((name, "property is missing and it is not optional") for name, schema in properties.items()
                  if not schema.get("optional") and document.get(name) is None)
    if errors:
        raise ParamError(errors)
    return document


def request_parameters(parameters, content_type, body, query, uri_params):
    """get_request_parameters: the typed parameters of one request (raises ApiError)."""
    media_type = content_type.split(";", 1)[0].strip() if content_type else None
    if media_type not in (None, "application/x-www-form-urlencoded", "application/json"):
        raise bail('unsupported content type Ok("%s")' % content_type)
    if media_type == "application/json":
        try:
            document = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, ValueError) as error:
            raise bail(str(error)) from None
        if isinstance(document, dict):
            for key, text in uri_params.items():
                if key in parameters.get("properties", {}):
                    try:
                        document[key] = parse_simple_value(parameters["properties"][key], text)
                    except _Failed as failed:
                        raise bail(_display(failed)) from None
        return verify_json_object(parameters, document)
    pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True) if body else []
    pairs += [(key, value) for key, value in parse_qsl(query or "", keep_blank_values=True) if key != "_dc"]
    pairs += sorted(uri_params.items())
    return parse_parameter_strings(parameters, pairs)
