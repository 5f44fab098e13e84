"""Pairing page, QR images (decoded, not just fetched) and the server-sent event stream."""

from __future__ import annotations

import asyncio
import io
import json
import re
from typing import Any

import aiohttp
import pytest
import qrcode  # type: ignore[import-untyped]
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from PIL import Image

from bridge.daemon.sessions import SessionState
from bridge.http import create_app, pairing
from tests.conftest import JAKARTA
from tests.http.conftest import BEARER, TOKEN, Serve, login
from tests.http.fake_control import ADMIN, FakeControl

QR_ROUTES = ["qr.png", "qr.svg", "qr.json"]


def dark_modules(code: str) -> set[tuple[int, int]]:
    """(x, y) of every dark module, quiet zone included, as any QR reader would see them."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(code)
    qr.make(fit=True)
    return {(x, y) for y, row in enumerate(qr.get_matrix()) for x, dark in enumerate(row) if dark}


async def read_block(response: ClientResponse, timeout: float = 1.0) -> list[str]:
    """One SSE block (lines up to the blank line); EOFError when the stream ended."""
    lines: list[str] = []
    async with asyncio.timeout(timeout):
        while True:
            raw = await response.content.readline()
            if not raw:
                raise EOFError
            line = raw.decode().rstrip("\n")
            if line:
                lines.append(line)
            elif lines:
                return lines


async def next_event(response: ClientResponse, timeout: float = 1.0) -> dict[str, Any]:
    """The next `data:` event, skipping retry hints and keep-alive comments."""
    async with asyncio.timeout(timeout):
        while True:
            block = await read_block(response, timeout)
            data = [line[5:].strip() for line in block if line.startswith("data:")]
            if data:
                return json.loads("\n".join(data))  # type: ignore[no-any-return]


@pytest.mark.parametrize("route", [*QR_ROUTES, "events"])
async def test_unknown_number_is_404(client: TestClient, route: str) -> None:
    response = await client.get(f"/pair/6289999999999/{route}", headers=BEARER)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "unknown_number"


async def test_unknown_number_page_lists_the_configured_ones(client: TestClient) -> None:
    await login(client)
    response = await client.get("/pair/6289999999999")
    assert response.status == 404
    html = await response.text()
    assert "not in config.toml" in html and f"/pair/{ADMIN}" in html


@pytest.mark.parametrize("route", QR_ROUTES)
@pytest.mark.parametrize("state", [SessionState.STARTING, SessionState.CONNECTED,
                                   SessionState.FAILED])
async def test_no_qr_in_this_state_is_409(client: TestClient, control: FakeControl,
                                          route: str, state: SessionState) -> None:
    control.set(ADMIN, state)
    response = await client.get(f"/pair/{ADMIN}/{route}", headers=BEARER)
    assert response.status == 409
    body = await response.json()
    assert body["error"]["code"] == "not_available" and state.value in body["error"]["message"]


async def test_qr_png_is_a_real_png_of_the_code(client: TestClient, control: FakeControl) -> None:
    qr = control.show_qr(ADMIN)
    response = await client.get(f"/pair/{ADMIN}/qr.png", headers=BEARER)
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Cache-Control"] == "no-store"
    image = Image.open(io.BytesIO(await response.read()))
    image.load()
    assert image.format == "PNG"
    gray = image.convert("L")
    expected = dark_modules(qr.code)
    size = gray.width // 10
    assert gray.width == gray.height == size * 10
    pixels = gray.tobytes()  # one byte per pixel, row by row; sample each module's centre
    seen = {(x, y) for y in range(size) for x in range(size)
            if pixels[(y * 10 + 5) * gray.width + x * 10 + 5] < 128}
    assert seen == expected


async def test_qr_svg_draws_the_code_modules(client: TestClient, control: FakeControl) -> None:
    qr = control.show_qr(ADMIN)
    response = await client.get(f"/pair/{ADMIN}/qr.svg?seq={qr.seq}", headers=BEARER)
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/svg+xml"
    assert response.headers["Cache-Control"] == "no-store"
    svg = await response.text()
    assert svg.startswith("<svg") and "viewBox" in svg
    modules = {(int(x), int(y)) for x, y in re.findall(r"M(\d+),(\d+)H", svg)}
    assert modules == dark_modules(qr.code)


async def test_qr_json_fields(client: TestClient, control: FakeControl) -> None:
    control.show_qr(ADMIN)
    qr = control.show_qr(ADMIN)  # rotated once
    response = await client.get(f"/pair/{ADMIN}/qr.json", headers=BEARER)
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    # Times in ISO 8601 with the workspace's offset (Asia/Jakarta by default), the same moments.
    assert body == {"state": "SCAN_QR", "qr": qr.code, "seq": 2,
                    "expires_at": qr.expires_at.astimezone(JAKARTA).isoformat(),
                    "issued_at": qr.issued_at.astimezone(JAKARTA).isoformat()}
    assert body["expires_at"].endswith("+07:00")


async def test_events_push_rotations_and_state_without_the_payload(
    client: TestClient, control: FakeControl
) -> None:
    first = control.show_qr(ADMIN)
    async with client.get(f"/pair/{ADMIN}/events", headers=BEARER) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-store"
        event = await next_event(response)
        assert event["state"] == "SCAN_QR" and event["number"] == ADMIN
        assert event["qr"]["seq"] == 1 and event["qr"]["expires_at"] == first.expires_at.astimezone(JAKARTA).isoformat()
        assert {"label", "reason", "linked_jid", "last_message_at", "state_words"} <= set(event)

        second = control.show_qr(ADMIN)
        event = await next_event(response, timeout=1.0)
        assert event["qr"]["seq"] == 2

        control.connect(ADMIN, push_name="Budi")
        event = await next_event(response, timeout=1.0)
        assert event["state"] == "CONNECTED" and event["qr"] is None
        assert event["push_name"] == "Budi" and event["linked_phone"] == ADMIN
        raw = json.dumps(event)
        assert first.code not in raw and second.code not in raw


async def test_events_send_keepalive_comments(client: TestClient, control: FakeControl,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pairing, "KEEPALIVE_SECONDS", 0.2)
    async with client.get(f"/pair/{ADMIN}/events", headers=BEARER) as response:
        await next_event(response)
        assert await read_block(response, timeout=2.0) == [": keep-alive"]


async def test_events_stop_when_the_client_disconnects(client: TestClient,
                                                       control: FakeControl) -> None:
    response = await client.get(f"/pair/{ADMIN}/events", headers=BEARER)
    await next_event(response)
    await asyncio.sleep(0.1)
    assert control.active_waiters == 1
    response.close()
    async with asyncio.timeout(2.0):
        while control.active_waiters:
            await asyncio.sleep(0.05)


async def test_events_end_when_the_server_shuts_down(control: FakeControl) -> None:
    app = create_app(control, token=TOKEN, workspace_name="Toko Budi")
    runner = web.AppRunner(app, shutdown_timeout=30)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as session:
        response = await session.get(f"http://127.0.0.1:{port}/pair/{ADMIN}/events",
                                     headers=BEARER)
        await next_event(response)
        async with asyncio.timeout(3.0):  # far below shutdown_timeout: the stream ended itself
            await runner.cleanup()
        with pytest.raises(EOFError):
            await read_block(response, timeout=1.0)
    assert control.active_waiters == 0


async def test_pair_page_shows_state_steps_and_buttons(client: TestClient,
                                                       control: FakeControl) -> None:
    qr = control.show_qr(ADMIN)
    await login(client)
    response = await client.get(f"/pair/{ADMIN}")
    html = await response.text()
    assert "Content-Security-Policy" in response.headers
    assert "Waiting for you to scan the QR code" in html
    assert "Linked devices" in html and "Link a device" in html and "Tautkan perangkat" not in html  # one language
    assert f"/pair/{ADMIN}/qr.svg?seq={qr.seq}" in html
    assert "Use a phone number code instead" in html and "Restart pairing" in html
    assert qr.code not in html  # the page fetches the image; the payload is not inlined


async def test_pair_page_connected_and_wrong_number(client: TestClient,
                                                    control: FakeControl) -> None:
    await login(client)
    control.connect(ADMIN, push_name="Budi HP")
    html = await (await client.get(f"/pair/{ADMIN}")).text()
    assert "Connected" in html and "Budi HP" in html and f"+{ADMIN}" in html

    control.set(ADMIN, SessionState.FAILED, "wrong_number", attempted_phone="6281299999999")
    html = await (await client.get(f"/pair/{ADMIN}")).text()
    assert "+6281299999999" in html and "scanned the code, but this page links" in html


async def test_pair_page_escapes_labels(serve: Serve) -> None:
    control = FakeControl(numbers={ADMIN: "<script>alert(1)</script>"})
    client = await serve(control)
    await login(client)
    html = await (await client.get(f"/pair/{ADMIN}")).text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


async def test_index_lists_numbers(client: TestClient) -> None:
    await login(client)
    html = await (await client.get("/")).text()
    assert "CS Budi" in html and "CS Sari" in html and f'href="/pair/{ADMIN}"' in html


@pytest.mark.parametrize(("state", "reason", "words"), [
    (SessionState.FAILED, "qr_exhausted", "Nobody scanned the QR code in time."),
    (SessionState.LOGGED_OUT, "logged_out", "The phone removed this linked device."),
    (SessionState.FAILED, "too_many_failures", "It kept failing"),
])
async def test_pair_page_offers_restart_when_a_round_ended(
    client: TestClient, control: FakeControl, state: SessionState, reason: str, words: str
) -> None:
    control.set(ADMIN, state, reason)
    await login(client)
    html = await (await client.get(f"/pair/{ADMIN}")).text()
    problem = re.search(r'<section id="section-problem"[^>]*>', html)
    assert problem and "hidden" not in problem.group(0)
    assert words in html and 'id="restart"' in html


def test_every_state_has_a_page_section() -> None:
    assert set(pairing.SECTIONS) == set(SessionState)
    assert set(pairing.SECTIONS.values()) == {"qr", "code", "connected", "problem", "wait"}
