"""Parameter validation with PVE's rules, order and messages.

Follows pve-common src/PVE/JSONSchema.pm (check_prop, check_object, check_type, check_format,
parse_property_string) and src/PVE/RESTHandler.pm (handle: legacy format normalisation before
validate). Per value the checks stop at the first failure: type, format, pattern, maxLength,
minLength, maximum, minimum, enum. Messages are PVE's, including the trailing "\\n" that the
`invalid format - ...` texts carry because they embed a Perl `die` message.

Values arrive as Python objects: str (form encoding), list (a repeated form key), or any JSON
type. Perl would see strings, numbers, array/hash refs and JSON::PP::Boolean objects; perl_str
and ref_name give the Perl view where a message or a comparison needs it.
"""

import re

from pvesim import formats
from pvesim.errors import ParamError, die

INDEXED_KEY_RE = re.compile(r"^([a-z]+)(\d+)$")


def perl_str(value):
    """How Perl stringifies a scalar decoded from JSON or a form."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return format(value, ".15g")
    return str(value)


def ref_name(value):
    """Perl's ref() of a decoded JSON value ('' for plain scalars)."""
    if isinstance(value, bool):
        return "JSON::PP::Boolean"
    if isinstance(value, list):
        return "ARRAY"
    if isinstance(value, dict):
        return "HASH"
    return ""


def is_number(text):
    """JSONSchema.pm is_number (perlretut's number regex)."""
    return re.match(r"^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$", text) is not None


def is_integer(text):
    """JSONSchema.pm is_integer."""
    return re.match(r"^[+-]?\d+$", text) is not None


def perl_true(value):
    """Perl truthiness of a scalar: undef, '' and '0' are false."""
    return value is not None and perl_str(value) not in ("", "0")


def perl_pattern(pattern):
    """Translate Perl's stringified qr// flags `(?^i:...)` into Python's `(?i:...)`."""
    return pattern.replace("(?^", "(?")


def add_error(errors, path, message):
    """JSONSchema.pm add_error: a second error on a path is joined with a literal backslash-n."""
    path = path or "_root"
    if path in errors:
        errors[path] = errors[path] + "\\n" + message
    else:
        errors[path] = message


class PropertyStringError(Exception):
    """parse_property_string failures; str() is what check_prop puts after 'invalid format - '."""


class Validator:
    """Validates values against schema fragments; unknown named formats are reported, not failed."""

    def __init__(self, on_unknown_format=None):
        self.on_unknown_format = on_unknown_format or (lambda name: None)

    # -- formats ---------------------------------------------------------------------------
    def check_format(self, fmt, value, path):
        """JSONSchema.pm check_format; raises FormatError or PropertyStringError."""
        if isinstance(fmt, dict):
            self.parse_property_string(fmt, value, path)
            return
        if fmt == "regex":
            return
        name, kind = re.match(r"^(.*?)(?:-(list|opt))?$", fmt, re.S).groups()
        verifier = formats.FORMATS.get(name)
        if verifier is None:
            self.on_unknown_format(fmt)
            return
        if kind == "list":
            for item in formats.split_list(value):
                verifier(item)
        elif kind == "opt":
            if perl_true(value):
                verifier(value)
        else:
            verifier(value)

    def parse_property_string(self, fmt, data, path):
        """JSONSchema.pm parse_property_string for an inline (hash) format."""
        parsed = {}
        default_key = None
        for part in data.split(","):
            if re.match(r"^\s*$", part):
                continue
            pair = re.match(r"^([^=]+)=(.+)$", part)
            if pair:
                key, value = pair.groups()
                if key in parsed:
                    raise PropertyStringError("duplicate key in comma-separated list property: %s\n" % key)
                schema = fmt.get(key)
                if schema and schema.get("alias"):
                    # "virtio=BC:24:11:..." is model=virtio plus macaddr=BC:24:11:... (keyAlias)
                    key_alias = schema.get("keyAlias")
                    if key_alias:
                        if key_alias in parsed:
                            raise PropertyStringError("key alias '%s' is already defined\n" % key_alias)
                        parsed[key_alias] = key
                    key = schema["alias"]
                    schema = fmt.get(key)
                if not schema:
                    raise PropertyStringError("invalid key in comma-separated list property: %s\n" % key)
                parsed[key] = parse_boolean(value) if schema.get("type") == "boolean" else value
            elif "=" not in part:
                if default_key:
                    raise PropertyStringError("duplicate key in comma-separated list property: %s\n" % default_key)
                default_key = next((key for key, schema in fmt.items() if schema.get("default_key")), None)
                if default_key is None:
                    raise PropertyStringError("value without key, but schema does not define a default key\n")
                if parsed.get(default_key):
                    raise PropertyStringError("duplicate key in comma-separated list property: %s\n" % default_key)
                parsed[default_key] = parse_boolean(part) if fmt[default_key].get("type") == "boolean" else part
            else:
                raise PropertyStringError("missing key in comma-separated list property\n")
        errors = {}
        self.check_object(path, fmt, parsed, 0, errors)
        if errors:
            # raise "format error\n", errors => ... (no code), stringified by check_prop's "$@"
            raise PropertyStringError("format error\n" + "".join("%s: %s\n" % item for item in errors.items()))
        return parsed

    # -- types -----------------------------------------------------------------------------
    def check_type(self, path, schema_type, value, errors):
        """JSONSchema.pm check_type; returns True when the value has the type."""
        if not schema_type or schema_type == "any":
            return True
        if isinstance(schema_type, list):
            for alternative in schema_type:
                if self.check_type(path, alternative, value, {}):
                    return True
            add_error(errors, path, "type check ('%s') failed" % "|".join(schema_type))
            return False
        if schema_type == "null":
            add_error(errors, path, "type check ('null') failed - value is not null")
            return False
        ref = ref_name(value)
        if schema_type in ("array", "object"):
            if ref != {"array": "ARRAY", "object": "HASH"}[schema_type]:
                add_error(errors, path, "type check ('%s') failed" % schema_type)
                return False
            return True
        if ref:
            if schema_type == "boolean" and isinstance(value, bool):
                return True
            add_error(errors, path, "type check ('%s') failed - got %s" % (schema_type, ref))
            return False
        text = perl_str(value)
        valid = {
            "boolean": lambda: text in ("0", "1"),
            "integer": lambda: is_integer(text),
            "number": lambda: is_number(text),
        }.get(schema_type, lambda: True)()
        if not valid:
            add_error(errors, path, "type check ('%s') failed - got '%s'" % (schema_type, text))
        return valid

    # -- properties ------------------------------------------------------------------------
    def check_prop(self, value, schema, path, errors, instance_type=None):
        """JSONSchema.pm check_prop."""
        optional_for_type = False
        if schema.get("oneOf") and not schema.get("type-property-schema"):
            if schema.get("type-property"):
                optional_for_type = True
                for alternative in schema["oneOf"] if instance_type else []:
                    if instance_type in alternative.get("instance-types", []):
                        optional_for_type = perl_true(alternative.get("optional"))
                        self.check_prop(value, alternative, path, errors)
            elif not self._one_of_matches(value, schema["oneOf"], path, errors):
                return
        elif instance_type and instance_type not in schema.get("instance-types", [instance_type]):
            # a property that does not apply to this instance type may be absent
            optional_for_type = True

        if schema.get("alias"):
            return
        if value is None:
            if schema.get("type") != "null" and not (perl_true(schema.get("optional")) or schema.get("group") or optional_for_type):
                add_error(errors, path, "property is missing and it is not optional")
            return
        if not self.check_type(path, schema.get("type"), value, errors):
            return
        if isinstance(value, list):
            items = schema.get("items")
            for index, element in enumerate(value if isinstance(items, dict) else []):
                self.check_prop(element, items, "%s[%d]" % (path, index), errors)
        elif isinstance(value, dict):
            if "properties" in schema or schema.get("additionalProperties"):
                self.check_object(path, schema.get("properties", {}), value, schema.get("additionalProperties"), errors)
        elif not isinstance(value, bool):
            self._check_scalar(perl_str(value), schema, path, errors)

    def _one_of_matches(self, value, alternatives, path, errors):
        collected = {}
        for index, alternative in enumerate(alternatives):
            inner = {}
            self.check_prop(value, alternative, "%s.oneOf[%d]" % (path, index), inner)
            if not inner:
                return True
            for inner_path, message in inner.items():
                add_error(collected, inner_path, message)
        for inner_path, message in collected.items():
            add_error(errors, inner_path, message)
        return False

    def _check_scalar(self, text, schema, path, errors):
        """The scalar checks of check_prop, in PVE's order; stops at the first failure."""
        if schema.get("allOf") or (schema.get("oneOf") and schema.get("type-property-schema")):
            add_error(errors, path, "value must be an object")
            return
        if schema.get("format"):
            try:
                self.check_format(schema["format"], text, path)
            except (formats.FormatError, PropertyStringError) as error:
                message = str(error)
                add_error(errors, path, "invalid format - %s" % (message if message.endswith("\n") else message + "\n"))
                return
        pattern = schema.get("pattern")
        if pattern and not re.match("^%s$" % perl_pattern(pattern), text):
            add_error(errors, path, "value does not match the regex pattern")
            return
        for key, failed, message in (
            ("maxLength", lambda limit: len(text) > limit, "value may only be %s characters long"),
            ("minLength", lambda limit: len(text) < limit, "value must be at least %s characters long"),
        ):
            if schema.get(key) is not None and failed(int(schema[key])):
                add_error(errors, path, message % perl_str(schema[key]))
                return
        if is_number(text):
            for key, failed, message in (
                ("maximum", lambda limit: float(text) > limit, "value must have a maximum value of %s"),
                ("minimum", lambda limit: float(text) < limit, "value must have a minimum value of %s"),
            ):
                if schema.get(key) is not None and failed(float(schema[key])):
                    add_error(errors, path, message % perl_str(schema[key]))
                    return
        enum = schema.get("enum")
        if enum and text not in [perl_str(choice) for choice in enum]:
            add_error(errors, path, "value '%s' does not have a value in the enumeration '%s'" % (text, ", ".join(perl_str(c) for c in enum)))

    def check_object(self, path, properties, value, additional_properties, errors):
        """JSONSchema.pm check_object: schema keys first, then the keys of the value."""
        if not isinstance(value, dict):
            add_error(errors, path, "an object is required")
            return
        properties = expand_indexed(properties, value)
        for key, subschema in properties.items():
            alias = subschema.get("alias")
            if alias and key in value:
                if value.get(alias) is not None:
                    add_error(errors, join_path(path, key), "cannot set both '%s' and its alias target '%s'" % (key, alias))
                else:
                    value[alias] = value.pop(key)
        for key, subschema in properties.items():
            instance_type = value.get(subschema["type-property"]) if subschema.get("type-property") else None
            self.check_prop(value.get(key), subschema, join_path(path, key), errors, perl_str(instance_type) if instance_type else None)
        for key in list(value):
            subschema = properties.get(key)
            if subschema is not None:
                requires = subschema.get("requires")
                if isinstance(requires, dict):
                    self.check_prop(value, requires, path, errors)
                elif requires and value.get(requires) is None:
                    add_error(errors, join_path(path, requires), "missing property required by '%s'" % join_path(path, key))
                if self._type_matches(subschema, value):
                    continue
            if additional_properties is not None and not additional_properties:
                add_error(errors, join_path(path, key), "property is not defined in schema and the schema does not allow additional properties")
            elif isinstance(additional_properties, dict):
                self.check_prop(value[key], additional_properties, join_path(path, key), errors)

    @staticmethod
    def _type_matches(subschema, value):
        """A oneOf property only exists for the instance types its alternatives name."""
        if not subschema.get("oneOf"):
            return True
        instance_type = perl_str(value.get(subschema.get("type-property"), ""))
        return any(instance_type in alternative.get("instance-types", [instance_type]) for alternative in subschema["oneOf"])

    def validate(self, params, schema):
        """RESTHandler.pm handle: normalise legacy formats, then validate; raises ParamError."""
        normalize_legacy_param_formats(params, schema)
        errors = {}
        self.check_object("", schema.get("properties", {}), params, schema.get("additionalProperties"), errors)
        if errors:
            raise ParamError(errors)
        return params


def join_path(path, key):
    """`$path ? "$path.$k" : $k`."""
    return "%s.%s" % (path, key) if path else key


def expand_indexed(properties, value):
    """The schema dump folds net0, net1, ... into `net[n]` (RESTHandler.pm api_clone_schema).

    Unfold it for the keys present in the value. The dump does not say the highest index, so
    any index is accepted.
    """
    if not any(key.endswith("[n]") for key in properties):
        return properties
    expanded = {key: schema for key, schema in properties.items() if not key.endswith("[n]")}
    for key in value:
        match = INDEXED_KEY_RE.match(key)
        if match and key not in expanded and "%s[n]" % match.group(1) in properties:
            expanded[key] = properties["%s[n]" % match.group(1)]
    return expanded


def parse_boolean(text):
    """JSONSchema.pm parse_boolean; returns the text unchanged when it is not a boolean word."""
    if re.match(r"^(1|on|yes|true)$", text, re.I):
        return 1
    if re.match(r"^(0|off|no|false)$", text, re.I):
        return 0
    return text


def normalize_legacy_param_formats(params, schema):
    """RESTHandler.pm: arrays become comma lists for '-list' string formats, scalars become arrays."""
    properties = expand_indexed(schema.get("properties", {}), params)
    for key, value in list(params.items()):
        prop = properties.get(key)
        if prop is None or not perl_true(value) and not isinstance(value, list):
            continue
        fmt = prop.get("format")
        if isinstance(value, list) and prop.get("type") == "string" and isinstance(fmt, str) and fmt.endswith("-list"):
            params[key] = ",".join(perl_str(item) for item in value)
        elif not isinstance(value, list) and prop.get("type") == "array":
            params[key] = [value]


def to_handler_values(params, schema):
    """Validated params as handlers want them: booleans and integers as int, numbers as float.

    Perl code uses the strings in numeric context; Python handlers get the numbers directly.
    Parameters sent as null (undef in Perl) are dropped.
    """
    properties = expand_indexed(schema.get("properties", {}), params)
    converted = {}
    for key, value in params.items():
        if value is None:
            continue
        kind = properties.get(key, {}).get("type")
        if isinstance(value, bool) or (kind in ("boolean", "integer") and not isinstance(value, (list, dict))):
            value = int(perl_str(value))
        elif kind == "number" and not isinstance(value, (list, dict)):
            value = float(perl_str(value))
        converted[key] = value
    return converted


def reject_line_feeds(params):
    """SectionConfig.pm check_value: "property contains a line feed" (a plain die, HTTP 500).

    For SectionConfig-backed areas (zones, vnets, storage, jobs, ...), called after schema
    validation and before writing the section config.
    """
    for value in params.values():
        if isinstance(value, str) and re.search(r"[\n\r]", value):
            raise die("property contains a line feed\n")


def coerce_returns(data, schema):
    """Give the response the JSON types its `returns` schema declares (PVE adds 0 to numbers)."""
    if data is None or not isinstance(schema, dict):
        return data
    kind = schema.get("type")
    if isinstance(data, list):
        items = schema.get("items")
        return [coerce_returns(item, items) for item in data] if isinstance(items, dict) else data
    if isinstance(data, dict):
        properties = schema.get("properties") or {}
        return {key: coerce_returns(value, properties.get(key)) for key, value in data.items()}
    return _coerce_scalar(data, kind)


# Values a boolean return is normalized from; anything else (the pending view's "deleted" of
# a removed boolean option, pve-network SDN.pm pending_config) is passed on as PVE sends it.
BOOLEAN_WORDS = ("0", "1", "", "true", "false")


def _coerce_scalar(value, kind):
    text = perl_str(value)
    if kind == "boolean":
        if isinstance(value, str) and text.lower() not in BOOLEAN_WORDS:
            return value
        return 1 if perl_true(value) else 0
    if kind == "integer" and is_integer(text):
        return int(text)
    if kind == "number" and isinstance(value, str) and is_number(text):
        return int(text) if is_integer(text) else float(text)
    if kind == "string" and not isinstance(value, str):
        return text
    return value
