"""The API's error responses, written into the OpenAPI document once for every operation.

Views declare their success responses; which errors an operation can answer follows from its shape (a body,
path parameters, a login), so it is derived here rather than repeated on each view. All of them share the one
error body of `oemconsole.errors`.
"""

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable machine-readable reason."},
                "message": {"type": "string", "description": "One line for a person."},
                "fields": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "Per-field messages of a validation error.",
                },
            },
            "required": ["code", "message"],
            "additionalProperties": True,
        }
    },
    "required": ["error"],
}
DESCRIPTIONS = {
    "400": "The request is malformed or a value is out of range.",
    "401": "No valid credentials.",
    "403": "The caller's role or state does not allow this.",
    "404": "No such object, or the caller may not see it.",
    "413": "The request body is larger than the server accepts.",
    "415": "The request body's media type is not accepted.",
    "429": "Too many requests; retry after the time in Retry-After.",
}
METHODS = {"get", "put", "patch", "post", "delete", "head", "options"}


def _anonymous_operations(generator) -> set[tuple[str, str]]:
    anonymous = set()
    for path, _regex, method, callback in generator.endpoints or ():
        view_class = getattr(callback, "cls", None)
        if view_class is not None and not list(getattr(view_class, "permission_classes", [])):
            anonymous.add((path, method.lower()))
    return anonymous


def _error_statuses(path: str, operation: dict, *, anonymous: bool) -> list[str]:
    statuses = {"429"}
    if operation.get("requestBody") or operation.get("parameters"):
        statuses.add("400")
    if operation.get("requestBody"):
        statuses |= {"413", "415"}
    # A body names objects by id too (a customer, a deployment): an unknown or hidden one is a 404.
    if "{" in path or operation.get("requestBody"):
        statuses.add("404")
    if not anonymous:
        statuses |= {"401", "403"}
    return sorted(statuses)


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    anonymous = _anonymous_operations(generator)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code in _error_statuses(path, operation, anonymous=(path, method) in anonymous):
                body = {"application/json": {"schema": reference}}
                responses.setdefault(code, {"content": body, "description": DESCRIPTIONS[code]})
    return result
