"""A request checked the way the real API does, in its order: the model, unknown fields, the schema (OpenAI's
OpenAPI description), then what the model can do (capabilities). Schema violations are worded as the API words
them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jsonschema

from bot.money.catalogue_records import Capabilities
from standins.images_api.bodies import Body, field_path, form_object
from standins.images_api.capabilities import check_capabilities
from standins.images_api.errors import (
    TYPE_WORDS,
    Reject,
    api_error,
    invalid_type,
    invalid_value,
    quote,
    unknown_parameter,
)
from standins.images_api.facts import (
    AZURE_UNKNOWN_PARAMS,
    DALLE_ONLY_PARAMS,
    DEFAULT_EDIT_MODEL,
    DEFAULT_GENERATION_MODEL,
    FILE_FIELDS,
)
from standins.images_api.jobs import Job
from standins.images_api.schema import (
    REF_PREFIX,
    items_of,
    properties_of,
    request_schema,
    schema_properties,
    schema_validator,
)

# The checks a model, once known, applies to a request: its capabilities (the catalogue's, on this flavour).
Served = Callable[[str, str], Capabilities]


def validate(body: Body, *, flavor: str, operation: str, deployment_model: str | None, served: Served,
             svg_model_required: bool) -> Job:
    """Check a request the way the real API does, in its order: the model (`served` raises the 404 of a shut-down
    model and the 400 of an unknown one), unknown fields, the schema (OpenAI's OpenAPI description), then what the
    model can do according to the catalogue and the combinations the API refuses. Raises Reject with OpenAI's
    error body."""
    schema_name = request_schema(operation, "multipart" if body.kind == "multipart" else "json")
    params = _params(body, schema_name)
    model = _model(params, operation, deployment_model)
    caps = served(model, flavor)
    _refuse_unknown_fields(params, schema_name, flavor)
    errors = list(schema_validator(schema_name).iter_errors(params))
    if errors:
        raise schema_reject(errors[0])
    return check_capabilities(params, body, caps, flavor=flavor, operation=operation, model=model,
                              svg_model_required=svg_model_required)


def _params(body: Body, schema_name: str) -> dict[str, Any]:
    """The request as the schema's object; a multipart form's stray files and fields refused first."""
    if body.kind != "multipart":
        assert body.json is not None
        return dict(body.json)
    for name in ("image", "image[]", "mask", "markup"):
        if name in body.fields:
            bare = name.removesuffix("[]")
            raise api_error(400, f"Invalid type for '{bare}': expected a file, but got a string instead.",
                            param=bare, code="invalid_type")
    for name in body.files:
        if name not in FILE_FIELDS:
            raise unknown_parameter(name)
    properties = schema_properties(schema_name)
    for name in body.fields:
        parsed = field_path(name)
        if parsed is None or parsed[0] not in properties:
            raise unknown_parameter(name)
    return form_object(body.fields, body.files, schema_name=schema_name)


def _model(params: dict[str, Any], operation: str, deployment_model: str | None) -> str:
    """The model decides what else is allowed. Azure takes it from the deployment and tolerates (ignores) a `model`
    field in the body."""
    if deployment_model is not None:
        return deployment_model
    model = params.get("model")
    if model is None:
        model = DEFAULT_GENERATION_MODEL if operation == "generations" else DEFAULT_EDIT_MODEL
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    return model


def _refuse_unknown_fields(params: dict[str, Any], schema_name: str, flavor: str) -> None:
    unknown = first_unknown(params, {"$ref": f"{REF_PREFIX}{schema_name}"}, [])
    if unknown is None:
        unknown = next((name for name in params if name in DALLE_ONLY_PARAMS), None)
    if unknown is None and flavor == "azure":
        unknown = next((name for name in params if name in AZURE_UNKNOWN_PARAMS), None)
    if unknown is not None:
        raise unknown_parameter(unknown)


def param_path(path: Iterable[Any]) -> str:
    """['images', 0, 'image_url'] → 'images[0].image_url'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _same_instance_type_error(error: jsonschema.ValidationError) -> bool:
    return error.validator == "type" and not error.relative_path


def schema_reject(error: jsonschema.ValidationError) -> Reject:
    """One schema violation as the API words it: the offending param and OpenAI's error codes."""
    while error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[jsonschema.ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = [errs for errs in branches.values() if not any(_same_instance_type_error(e) for e in errs)]
        if not fitting:  # the value is of no type any alternative takes
            return _of_no_type(error, branches.values())
        error = fitting[0][0]
    path = list(error.absolute_path)
    param, value, rule = param_path(path), error.instance, error.validator_value
    match error.validator:
        case "required":
            missing = next((k for k in rule if isinstance(value, dict) and k not in value), str(rule))
            name = param_path([*path, missing])
            return api_error(400, f"Missing required parameter: '{name}'.", param=name,
                             code="missing_required_parameter")
        case "type":
            wanted = rule if isinstance(rule, list) else [rule]
            return invalid_type(param, " or ".join(TYPE_WORDS.get(str(k), str(k)) for k in wanted), value)
        case "enum":
            return invalid_value(param, value, [str(v) for v in rule if v is not None])
        case "const":
            return invalid_value(param, value, [str(rule)])
        case "pattern" if path and path[-1] == "size":
            return api_error(400, f"Invalid value: {quote(value)}. Sizes must be 'auto' or WIDTHxHEIGHT, such as "
                                  "'1536x864'.", param=param, code="invalid_value")
        case "maximum" | "minimum" | "maxLength" | "minLength" | "maxItems" | "minItems":
            return _out_of_bounds(error.validator, param, value, rule)
        case "additionalProperties":
            extra = next((k for k in value if k not in error.schema.get("properties", {})), "")
            return unknown_parameter(param_path([*path, extra]))
        case "not" if isinstance(value, dict) and {"image_url", "file_id"} <= set(value):
            return api_error(400, f"Invalid '{param}': provide exactly one of 'image_url' or 'file_id'.", param=param,
                             code="invalid_value")
    return api_error(400, f"Invalid '{param or 'body'}': {error.message}.", param=param or None, code="invalid_value")


def _of_no_type(error: jsonschema.ValidationError, branches: Iterable[list[jsonschema.ValidationError]]) -> Reject:
    """A value of no type any alternative of an anyOf/oneOf takes: invalid_type, naming the types they take."""
    kinds: list[str] = []
    for errs in branches:
        for sub in errs:
            if _same_instance_type_error(sub):
                wanted = sub.validator_value if isinstance(sub.validator_value, list) else [sub.validator_value]
                kinds.extend(k for k in wanted if k != "null" and TYPE_WORDS.get(k) not in kinds)
    words = list(dict.fromkeys(TYPE_WORDS.get(k, k) for k in kinds)) or ["another type"]
    return invalid_type(param_path(error.absolute_path), " or ".join(words), error.instance)


def _out_of_bounds(validator: str, param: str, value: Any, rule: Any) -> Reject:
    """A number, string or array past the schema's bound, in the API's words and codes."""
    match validator:
        case "maximum":
            return api_error(400, f"Invalid '{param}': integer above maximum value. Expected a value <= {rule}, but "
                                  f"got {value} instead.", param=param, code="integer_above_max_value")
        case "minimum":
            return api_error(400, f"Invalid '{param}': integer below minimum value. Expected a value >= {rule}, but "
                                  f"got {value} instead.", param=param, code="integer_below_min_value")
        case "maxLength":
            return api_error(400, f"Invalid '{param}': string too long. Expected a string with maximum length "
                                  f"{rule}, but got a string with length {len(value)} instead.", param=param,
                             code="string_above_max_length")
        case "minLength" if value == "":
            return api_error(400, f"Invalid '{param}': empty string. Expected a string with minimum length {rule}, "
                                  "but got an empty string instead.", param=param, code="empty_string")
        case "minLength":
            return api_error(400, f"Invalid '{param}': string too short. Expected a string with minimum length "
                                  f"{rule}, but got a string with length {len(value)} instead.", param=param,
                             code="string_below_min_length")
        case "maxItems":
            return api_error(400, f"Invalid '{param}': array too long. Expected an array with maximum length {rule}, "
                                  f"but got an array with length {len(value)} instead.", param=param,
                             code="array_above_max_length")
        case "minItems" if not value:
            return api_error(400, f"Invalid '{param}': empty array. Expected an array with minimum length {rule}, "
                                  "but got an empty array instead.", param=param, code="empty_array")
    return api_error(400, f"Invalid '{param}': array too short. Expected an array with minimum length {rule}, but "
                          f"got an array with length {len(value)} instead.", param=param,
                     code="array_below_min_length")


def first_unknown(value: Any, node: Any, path: list[Any]) -> str | None:
    """The first field of `value` the schema `node` does not describe, as a param path (e.g. 'images[0].detail')."""
    if isinstance(value, dict):
        props = properties_of(node)
        if props is None:
            return None
        for key, sub in value.items():
            if key not in props:
                return param_path([*path, key])
            found = first_unknown(sub, props[key], [*path, key])
            if found:
                return found
    elif isinstance(value, list):
        items = items_of(node)
        if items is not None:
            for index, sub in enumerate(value):
                found = first_unknown(sub, items, [*path, index])
                if found:
                    return found
    return None
