"""One error body for every API answer that is not a success, and a schema that lists them all.

Every refusal is `{"detail": "one line a person can act on"}`; a request that
does not match the schema (422) adds `"errors"`, one entry per field. The
schema of each operation names every code it can answer with: 401 (and 403,
a session without its CSRF token) wherever a credential is needed, 400 and
422 wherever there is input to refuse, and what a route declares itself
(404 for a name that does not exist, 409, …) — so a client, or a schema
fuzzer, never meets an answer the documentation did not promise.

One answer is not the API's: a request line over 4094 bytes (long query
parameters) is refused by the web server (gunicorn) before any Python code
reads it, with 414 and a short HTML page. The schema says so where there are
parameters to make a URL long.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.main import Exc
from ninja.openapi.schema import OpenAPISchema
from ninja.parser import Parser

from postroom.api.openapi import forms_without_null
from postroom.errors import Conflict, NotAllowed, NotFound, PostroomError, TooMany
from postroom.http import holds_nul, nul_refusal


class ErrorOut(Schema):
    """Why the request was refused; nothing was changed."""

    detail: str
    errors: list[dict[str, Any]] | None = None


# How each status reads in the schema.
DESCRIPTIONS = {
    400: "Refused: the input is wrong (the detail says how); nothing was changed",
    401: "No credential, or a wrong one: send `Authorization: Bearer TOKEN` "
    "(or HTTP Basic with the token as the password)",
    403: "A browser session without its CSRF token",
    404: "What the path names does not exist",
    409: "Conflicts with the current state",
    413: "Too large",
    422: "The request does not match the schema (`errors` names each field)",
    414: "The URL is longer than the web server reads (4094 bytes): it answers this, in HTML",
    429: "Too many requests: wait and try again",
    503: "Not available now",
}


URI_TOO_LONG = 414


def errors(*codes: int) -> dict[int, type[ErrorOut]]:
    """Error answers a route declares beyond the automatic ones: `**errors(404)`."""
    return dict.fromkeys(codes, ErrorOut)


def status_for(exc: PostroomError) -> int:
    """The HTTP status of a domain error: 404, 403, 409, 429, else 400."""
    for kind, status in ((NotFound, 404), (NotAllowed, 403), (Conflict, 409), (TooMany, 429)):
        if isinstance(exc, kind):
            return status
    return 400


def _body(detail: str, field_errors: list | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail}
    if field_errors is not None:
        body["errors"] = field_errors
    return body


def _field_summary(field_errors: list[dict[str, Any]]) -> str:
    first = field_errors[0] if field_errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "data"))
    # pydantic's own text (first["msg"]) stays as it is: only postroom's words are translated.
    values = {
        "where": where or gettext("request"),
        "problem": first["msg"] if "msg" in first else gettext("invalid"),
        "count": len(field_errors) - 1,
    }
    if values["count"]:
        return gettext("%(where)s: %(problem)s (and %(count)s more)") % values
    return gettext("%(where)s: %(problem)s") % values


# What ninja says when the parser refuses a body; said again as what to send instead.
UNPARSED = "Cannot parse request body"


class ObjectParser(Parser):
    """Every request body of the API is a JSON object. Anything else is refused here:
    ninja's schemas read attributes (from_attributes), so `[null]` would otherwise pass
    as an object whose keys are all left out. Text anywhere in a request (body, query,
    form, a file's name) may not hold NUL: PostgreSQL can neither store nor compare it."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if holds_nul(data):
            raise ValueError(nul_refusal())
        return data

    def parse_querydict(
        self, data: MultiValueDict, list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        for key, values in data.lists():
            if holds_nul([key, *(getattr(v, "name", v) for v in values)]):
                raise HttpError(400, nul_refusal())
        return super().parse_querydict(data, list_fields, request)


class PostroomAPI(NinjaAPI):
    """NinjaAPI with the one error shape and every error code in the schema."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, parser=ObjectParser(), **kwargs)
        self.add_exception_handler(PostroomError, self._domain_error)
        self.add_exception_handler(ValidationError, self._validation_error)
        self.add_exception_handler(HttpError, self._http_error)

    def _domain_error(self, request: HttpRequest, exc: Exc[PostroomError]) -> HttpResponse:
        assert isinstance(exc, PostroomError)
        return self.create_response(request, _body(str(exc)), status=status_for(exc))

    def _validation_error(self, request: HttpRequest, exc: Exc[ValidationError]) -> HttpResponse:
        assert isinstance(exc, ValidationError)
        field_errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
            for e in exc.errors
        ]
        return self.create_response(
            request, _body(_field_summary(field_errors), field_errors), status=422
        )

    def _http_error(self, request: HttpRequest, exc: Exc[HttpError]) -> HttpResponse:
        assert isinstance(exc, HttpError)
        detail = str(exc)
        if isinstance(exc, AuthenticationError):
            detail = gettext("a valid API token is needed (Authorization: Bearer TOKEN)")
        elif detail.startswith(UNPARSED):
            detail = gettext(
                "the body must be a JSON object, with no NUL character (\\u0000) in its text"
            )
        response = self.create_response(request, _body(detail), status=exc.status_code)
        if exc.status_code == 401:
            response["WWW-Authenticate"] = 'Bearer realm="postroom", Basic realm="postroom"'
        return response

    def get_openapi_schema(self, *args, **kwargs) -> OpenAPISchema:
        schema = super().get_openapi_schema(*args, **kwargs)
        forms_without_null(schema)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorOut"] = ErrorOut.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        reference = {"$ref": "#/components/schemas/ErrorOut"}
        for operations in schema["paths"].values():
            for operation in operations.values():
                codes = set()
                if operation.get("security"):
                    codes |= {401, 403}
                if operation.get("parameters") or operation.get("requestBody"):
                    codes |= {400, 422}
                if operation.get("parameters"):
                    codes.add(URI_TOO_LONG)
                responses = operation["responses"]
                for code in sorted(codes):
                    responses.setdefault(code, {})
                for code, answer in responses.items():
                    if int(code) >= 400:
                        answer["description"] = DESCRIPTIONS.get(int(code), "Refused")
                        answer["content"] = {"application/json": {"schema": reference}}
                        if int(code) == URI_TOO_LONG:
                            answer["content"] = {"text/html": {"schema": {"type": "string"}}}
        return schema
