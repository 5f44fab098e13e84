"""One JSON error shape for every HTTP failure, and the middleware that produces it.

Every error body is `{"error": {"code": "...", "message": "..."}}` (plus `field` when
one input is to blame), so scripts can branch on `code` and people can read `message`.
Errors a page shows next to an input also carry `message_text`: the message in the page's
language (`message` stays English for scripts and logs).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import Any

import structlog
from aiohttp import web

from bridge.daemon.sessions import NotAvailableError, UnknownNumberError
from engine.model import MessageFormatError

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Codes for aiohttp's own HTTP exceptions (unmatched routes, wrong methods, huge bodies).
_STATUS_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "not_available",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An error a handler raises on purpose; the middleware turns it into JSON."""

    def __init__(
        self, status: int, code: str, message: str, *, field: str | None = None,
        headers: Mapping[str, str] | None = None, close: bool = False, message_text: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.message_text = message_text  # the message in the page's language, when a page shows it
        self.field = field
        self.headers = dict(headers or {})
        self.close = close  # close the connection after answering (the body was not read to its end)


def _json_default(value: object) -> Any:
    """Make datetimes and other simple values JSON-able (lead rows may carry them)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: object) -> str:
    """JSON text for responses (UTF-8, no ASCII escaping: Indonesian names stay readable)."""
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def json_response(value: object, *, status: int = 200, headers: Mapping[str, str] | None = None
                  ) -> web.Response:
    """A JSON response using the module's serialiser."""
    return web.json_response(value, status=status, headers=headers, dumps=dumps)


def error_response(status: int, code: str, message: str, *, field: str | None = None,
                   headers: Mapping[str, str] | None = None, message_text: str | None = None) -> web.Response:
    """The one error body shape."""
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    if message_text is not None:
        body["message_text"] = message_text
    return json_response({"error": body}, status=status, headers=headers)


async def read_json_object(request: web.Request, *, required: bool) -> dict[str, Any]:
    """Parse the request body as a JSON object; an empty body is `{}` unless required."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise ApiError(400, "bad_request", "the request body must be a JSON object",
                           field="(body)")
        return {}
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "bad_request", f"the request body is not valid JSON: {exc}",
                       field="(body)") from None
    except RecursionError:
        raise ApiError(400, "bad_request", "the request body is nested too deeply (JSON bodies nest at "
                       "most a few hundred levels; rules at most 32 groups)", field="(body)") from None
    if not isinstance(value, dict):
        raise ApiError(400, "bad_request", "the request body must be a JSON object",
                       field="(body)")
    try:  # one C pass: a text must be Unicode (I-JSON, RFC 7493) to be stored and sent on
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ApiError(400, "bad_request", f"the request body holds a lone UTF-16 surrogate "
                       f"(\\u{ord(exc.object[exc.start]):04x}), which is not text; send the character itself "
                       "or a \\uD83D\\uDE00-style pair", field="(body)") from None
    except RecursionError:
        raise ApiError(400, "bad_request", "the request body is nested too deeply", field="(body)") from None
    return value


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map exceptions to JSON errors; log the unexpected ones with their traceback."""
    try:
        return await handler(request)
    except ApiError as exc:
        response = error_response(exc.status, exc.code, exc.message, field=exc.field, headers=exc.headers,
                                  message_text=exc.message_text)
        if exc.close:
            response.force_close()
        return response
    except UnknownNumberError as exc:
        return error_response(404, "unknown_number",
                              _message(exc, "this number is not in config.toml"))
    except NotAvailableError as exc:
        return error_response(409, "not_available", _message(exc, "not possible in this state"))
    except MessageFormatError as exc:
        return error_response(400, "bad_request", f"{exc.field}: {exc.problem}", field=exc.field)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and other non-errors pass through untouched
        code = _STATUS_CODES.get(exc.status, "error")
        headers = {k: v for k, v in exc.headers.items()
                   if k.lower() in ("allow", "www-authenticate")}
        return error_response(exc.status, code, exc.reason, headers=headers)
    except Exception:
        # Path only: query strings and headers may carry things that must not reach logs.
        log.exception("http_unhandled_error", method=request.method, path=request.path)
        return error_response(500, "internal", "something went wrong; the server log has details")


def _message(exc: Exception, fallback: str) -> str:
    """The exception's text, or a fallback when it has none."""
    text = str(exc).strip().strip("'\"")
    return text or fallback
