"""Pairing pages: the per-number page, the QR code as PNG/SVG/JSON, and the live event stream.

The QR payload links a device to a WhatsApp account, so it only leaves in the QR
responses (no-store) and never in the event stream or logs: the stream carries the QR's
sequence number and expiry, and the page fetches `qr.svg?seq=N` when it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from datetime import UTC, datetime
from typing import Any

import qrcode  # type: ignore[import-untyped]
import qrcode.image.svg  # type: ignore[import-untyped]
import structlog
from aiohttp import web

from bridge.daemon.sessions import (
    REASON_WORDS,
    STATE_WORDS,
    NotAvailableError,
    QrCode,
    SessionState,
    SessionView,
    UnknownNumberError,
    state_words,
)
from bridge.http.auth import (
    AUTH,
    AUTHENTICATED_BY,
    CLOSING,
    CONTROL,
    COOKIE_NAME,
    page_route,
    render,
)
from bridge.http.dashboard.numbers import numbers_screen
from bridge.http.language import session_json, wording
from bridge.i18n import N_, Wording

log = structlog.get_logger(__name__)

KEEPALIVE_SECONDS = 25.0  # below the idle timeouts of common proxies (nginx: 60 s)
DISCONNECT_POLL_SECONDS = 0.5  # how soon a closed browser tab frees its stream
NO_STORE = {"Cache-Control": "no-store"}

# Which block of the pairing page a state shows; pair.js keeps the same mapping.
SECTIONS: dict[SessionState, str] = {
    SessionState.SCAN_QR: "qr",
    SessionState.PAIRING_CODE: "code",
    SessionState.CONNECTED: "connected",
    SessionState.FAILED: "problem",
    SessionState.LOGGED_OUT: "problem",
    SessionState.STOPPED: "problem",
    SessionState.STARTING: "wait",
    SessionState.DISCONNECTED: "wait",
}


def phone_of_jid(jid: str | None) -> str | None:
    """Digits of a JID such as '6281100000001:12@s.whatsapp.net'."""
    if not jid:
        return None
    user = jid.split("@", 1)[0].split(":", 1)[0].split(".", 1)[0]
    return user if user.isdigit() else None


def current_qr(view: SessionView) -> QrCode | None:
    """The QR to show, only while the session waits for a scan (never a stale one)."""
    return view.qr if view.state is SessionState.SCAN_QR else None


def headline(view: SessionView, words: Wording) -> str:
    """The status line: the state in words, more specific for the failures owners can fix."""
    if view.state is SessionState.FAILED and view.reason == "wrong_number":
        return words.gettext("A different phone scanned the code")
    return words.gettext(state_words(view.state, view.reason))


def problem_text(view: SessionView, words: Wording) -> str:
    """What went wrong and what to do, for the page's problem block."""
    if view.state is SessionState.STOPPED:
        return words.gettext("This number is stopped. Press Restart pairing to start it.")
    if view.reason == "wrong_number":
        return ""  # the page explains it in full, with the phone that tried
    said = words.gettext(REASON_WORDS.get(view.reason or "") or state_words(view.state, view.reason))
    detail = f" ({view.detail})" if view.detail else ""
    return f"{said}{detail} " + words.gettext("Press Restart pairing to get a new code.")


def view_payload(view: SessionView, words: Wording, now: datetime | None = None) -> dict[str, Any]:
    """The page's view of a session: session_json() plus QR timing (not the payload)."""
    data = session_json(view, words)
    qr = current_qr(view)
    data["qr"] = (
        {"seq": qr.seq, "issued_at": words.iso(qr.issued_at), "expires_at": words.iso(qr.expires_at)}
        if qr else None
    )
    data["version"] = view.version
    data["attempted_phone"] = view.attempted_phone
    data["linked_phone"] = phone_of_jid(view.linked_jid)
    data["section"] = SECTIONS.get(view.state, "wait")
    data["headline"] = headline(view, words)
    data["problem_text"] = problem_text(view, words)
    # Lets the page count down correctly even when the laptop's clock is off.
    data["server_time"] = words.iso(now or datetime.now(UTC))
    return data


def _qr_for_request(request: web.Request) -> tuple[SessionView, QrCode]:
    """The session and its QR, or 404 (unknown number) / 409 (no QR now)."""
    view = request.app[CONTROL].session(request.match_info["number"])
    qr = current_qr(view)
    if qr is None:
        words = STATE_WORDS.get(view.state, view.state.value)
        raise NotAvailableError(f"there is no QR code while the session is {view.state.value} "
                                f"({words})")
    return view, qr


def _qr_matrix(code: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(code)
    qr.make(fit=True)
    return qr


def render_png(code: str) -> bytes:
    """The QR code as a PNG image."""
    buffer = io.BytesIO()
    _qr_matrix(code).make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()


def render_svg(code: str) -> bytes:
    """The QR code as an SVG image with a white background (scannable in dark mode too)."""
    image = _qr_matrix(code).make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    return image.to_string(encoding="UTF-8")  # type: ignore[no-any-return]


async def qr_png(request: web.Request) -> web.StreamResponse:
    """GET /pair/{number}/qr.png"""
    _, qr = _qr_for_request(request)
    return web.Response(body=render_png(qr.code), content_type="image/png", headers=NO_STORE)


async def qr_svg(request: web.Request) -> web.StreamResponse:
    """GET /pair/{number}/qr.svg"""
    _, qr = _qr_for_request(request)
    return web.Response(body=render_svg(qr.code), content_type="image/svg+xml", headers=NO_STORE)


async def qr_json(request: web.Request) -> web.StreamResponse:
    """GET /pair/{number}/qr.json: the raw payload for apps that draw their own QR."""
    view, qr = _qr_for_request(request)
    words = wording(request)
    body = {"state": view.state.value, "qr": qr.code, "seq": qr.seq,
            "issued_at": words.iso(qr.issued_at), "expires_at": words.iso(qr.expires_at)}
    return web.json_response(body, headers=NO_STORE)


def _sse_data(payload: dict[str, Any]) -> bytes:
    return f"id: {payload['version']}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _still_logged_in(request: web.Request) -> bool:
    """A stream opened with the cookie ends when that cookie is logged out elsewhere."""
    if request.get(AUTHENTICATED_BY) != "cookie":
        return True
    cookie = request.cookies.get(COOKIE_NAME, "")
    return request.app[AUTH].cookie_ok(cookie)


async def events(request: web.Request) -> web.StreamResponse:
    """GET /pair/{number}/events: server-sent events, one per session change."""
    control = request.app[CONTROL]
    number = request.match_info["number"]
    view = control.session(number)  # unknown number: 404 before the stream starts
    words = wording(request)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",  # nginx would otherwise hold events back
    })
    await response.prepare(request)
    closing = request.app[CLOSING]
    closing_wait = asyncio.create_task(closing.wait())
    change: asyncio.Task[SessionView] | None = None
    log.debug("pair_events_open", number=number)
    try:
        await response.write(b"retry: 3000\n\n" + _sse_data(view_payload(view, words)))
        while not closing.is_set():
            if change is None:
                change = asyncio.create_task(
                    control.wait_for_change(number, view.version, KEEPALIVE_SECONDS))
            done, _ = await asyncio.wait({change, closing_wait}, timeout=DISCONNECT_POLL_SECONDS,
                                         return_when=asyncio.FIRST_COMPLETED)
            if _client_gone(request) or not _still_logged_in(request):
                break
            if change not in done:
                continue
            new, change = change.result(), None
            if new.version > view.version:
                view = new
                await response.write(_sse_data(view_payload(view, words)))
            else:
                await response.write(b": keep-alive\n\n")
    except ConnectionResetError:
        pass  # the browser went away between our check and the write
    except UnknownNumberError:
        log.info("pair_events_number_removed", number=number)
    except Exception:
        # Headers are already sent: the error middleware cannot answer, so end the stream.
        log.exception("pair_events_failed", number=number)
    finally:
        for task in (change, closing_wait):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    log.debug("pair_events_closed", number=number)
    return response


@page_route
async def pair_page(request: web.Request) -> web.StreamResponse:
    """GET /pair/{number}: the page an owner follows to link a phone."""
    control = request.app[CONTROL]
    number = request.match_info["number"]
    try:
        view = control.session(number)
    except UnknownNumberError:
        return numbers_screen(request, status=404, error=N_("The number %(number)s is not in config.toml."),
                              error_values={"number": number})
    payload = view_payload(view, wording(request))
    return render(
        request, "pair.html", view=view, payload=payload, section=payload["section"],
        state_words=STATE_WORDS,
        pair_code=view.pair_code if view.state is SessionState.PAIRING_CODE else None,
        qr=current_qr(view),
    )


def add_routes(app: web.Application) -> None:
    """Register the pairing page, QR images and the event stream (`/` is the dashboard's Numbers screen)."""
    app.router.add_get("/pair/{number}", pair_page)
    app.router.add_get("/pair/{number}/qr.png", qr_png)
    app.router.add_get("/pair/{number}/qr.svg", qr_svg)
    app.router.add_get("/pair/{number}/qr.json", qr_json)
    app.router.add_get("/pair/{number}/events", events)
