"""The readable API page at ``/api/v1/``: rendered on the server from the OpenAPI document, so it
needs no JavaScript, no CDN and no internet, and can never drift from ``openapi.json``."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, render_template
from markupsafe import Markup, escape

METHODS = ("get", "post", "put", "patch", "delete")
CONSTRAINTS = ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern", "default")


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_label(schema: Any) -> Markup:
    """A short, linked description of a JSON schema: ``array of <a>RiskRecord</a>``."""
    if not isinstance(schema, dict) or not schema:
        return Markup("any")
    if "$ref" in schema:
        name = escape(ref_name(schema["$ref"]))
        return Markup(f'<a href="#schema-{name}">{name}</a>')
    for keyword, joiner in (("oneOf", " | "), ("anyOf", " or "), ("allOf", " and ")):
        if keyword in schema:
            return Markup(joiner).join(type_label(sub) for sub in schema[keyword])
    kind = schema.get("type", "any")
    if kind == "array":
        label = Markup("array of ") + type_label(schema.get("items"))
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        label = Markup("map of ") + type_label(schema["additionalProperties"])
    else:
        label = escape(kind)
    if "format" in schema:
        label += Markup(f" <small>({escape(schema['format'])})</small>")
    if "enum" in schema:
        label += Markup(": ") + Markup(", ").join(Markup(f"<code>{escape(v)}</code>") for v in schema["enum"])
    if schema.get("nullable"):
        label += Markup(" or null")
    return label


def constraints(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    return ", ".join(f"{key} {json.dumps(schema[key])}" for key in CONSTRAINTS if key in schema)


def operations(spec: dict) -> list[dict]:
    """Every operation, in path order, with the bits the page shows."""
    out = []
    for path, item in sorted(spec.get("paths", {}).items()):
        shared = item.get("parameters", [])
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            out.append(
                {
                    "id": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "secured": bool(op.get("security")),
                    "parameters": shared + op.get("parameters", []),
                    "body": body.get("schema"),
                    "body_description": op.get("requestBody", {}).get("description", ""),
                    "responses": sorted(op.get("responses", {}).items(), key=lambda kv: str(kv[0])),
                }
            )
    return out


def response_schema(response: dict, spec: dict) -> Any:
    if "$ref" in response:
        response = spec.get("components", {}).get("responses", {}).get(ref_name(response["$ref"]), {})
    return response.get("content", {}).get("application/json", {}).get("schema"), response.get(
        "description", ""
    )


def register(app: Flask, api: Any) -> None:
    # its style sheet is a file: the CSP (statsservice.api.security) refuses inline styles
    bp = Blueprint(
        "api_docs",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/api/v1/static",
    )

    @bp.get("/api/v1/")
    def reference():
        spec = api.spec.to_dict()
        return render_template(
            "api/reference.html",
            spec=spec,
            operations=operations(spec),
            schemas=sorted(spec.get("components", {}).get("schemas", {}).items()),
            type_label=type_label,
            constraints=constraints,
            response_schema=lambda response: response_schema(response, spec),
        )

    app.register_blueprint(bp)
