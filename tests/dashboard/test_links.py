"""The Links screen (/links): rotator links to copy, visitors with UTM, the attribution log, partner hooks.

The page runs on the real attribution and partner services over an in-memory store; a click goes
through the public /r/{slug} route and the message with its code through the real Processor, so
what the page shows is what the JSON API says.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from aiohttp.test_utils import TestClient

from bridge.daemon.sessions import STATE_WORDS, SessionState
from bridge.http.dashboard.links import LOG_REASONS, PARTNER_STATES
from engine.model import parse_message
from store.inbox import ingest
from tests.attribution.services import CLOUD_SECRET, Services, make_services
from tests.conftest import message
from tests.http.conftest import BEARER, TOKEN, Serve, login
from tests.http.fake_control import ADMIN, OTHER_ADMIN, FakeControl

HUMAN = "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
CUSTOMER = "6281234567890"
UTM = {"utm_source": "facebook", "utm_medium": "cpc", "utm_campaign": "promo-desember"}


def attach_services(control: FakeControl, **overrides: object) -> Services:
    """Real attribution services whose 'connected' follows the fake's sessions (before the app is built)."""
    def connected(phone: str) -> bool:
        return any(v.number == phone and v.state is SessionState.CONNECTED for v in control.sessions())

    services = make_services(overrides=dict(overrides), connected=connected)
    control.attribution, control.partners = services.attribution, services.partners
    return services


def row(html: str, attribute: str, value: str) -> str:
    """The text of the first table row carrying attribute="value" (tags stripped, spaces squeezed)."""
    match = re.search(rf'<tr [^>]*{attribute}="{re.escape(value)}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row with {attribute}={value}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


async def click(client: TestClient, slug: str = "default") -> str:
    """A person clicks the rotator link; returns the visitor code in the pre-filled WhatsApp text."""
    response = await client.get(f"/r/{slug}", params=UTM, headers={"User-Agent": HUMAN}, allow_redirects=False)
    assert response.status == 302, await response.text()
    code = re.search(r"\[(K-[0-9A-Z]{4})\]", unquote(response.headers["Location"]))
    assert code, response.headers["Location"]
    return code.group(1)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token"}])
async def test_links_sends_strangers_to_login(client: TestClient, headers: dict[str, str]) -> None:
    response = await client.get("/links", headers=headers, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/login?next=/links"
    assert (await client.get("/api/rotators", headers=headers)).status == 401  # its JSON needs the token too


async def test_links_page_with_the_token(client: TestClient) -> None:
    response = await client.get("/links", headers=BEARER)
    assert response.status == 200 and 'aria-current="page">Links' in await response.text()
    response = await client.post("/login", data={"token": TOKEN, "next": "/links"}, allow_redirects=False)
    assert response.headers["Location"] == "/links"


async def test_links_shows_a_rotator_its_visitors_attribution_and_partners(serve: Serve) -> None:
    control = FakeControl()
    services = attach_services(control)
    client = await serve(control)
    control.connect(ADMIN)
    await login(client)

    code = await click(client)
    ingest(services.db, parse_message(message(id="M-links-1", session=ADMIN, text=f"Halo kak, saya mau tanya [{code}]",
                                              sender=f"{CUSTOMER}@s.whatsapp.net", chat=f"{CUSTOMER}@s.whatsapp.net")),
           services.clock())
    assert services.process() == 1
    refused = await client.post("/hooks/whatsapp_cloud/1234", data=b"{}",
                                headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert refused.status == 401

    html = await (await client.get("/links")).text()
    base = str(client.make_url("")).rstrip("/")
    rotators = await (await client.get("/api/rotators")).json()
    default = next(r for r in rotators if r["rotator"] == "default")

    # The rotator: its public link to copy, its numbers with their session state, the click counts.
    section = html.split('id="rotator-default"', 1)[1].split("</section>", 1)[0]
    assert f'value="{base}/r/default"' in section and 'data-copy="' in section
    assert f'<strong class="clicks">{default["clicks"]}</strong>' in section and default["clicks"] == 1
    assert STATE_WORDS[SessionState.CONNECTED] in row(section, "data-number", ADMIN)
    assert "CS Budi" in row(section, "data-number", ADMIN)
    assert STATE_WORDS[control.session(OTHER_ADMIN).state] in row(section, "data-number", OTHER_ADMIN)
    assert "No number of this rotator is connected" not in section
    ads = html.split('id="rotator-ads"', 1)[1].split("</section>", 1)[0]
    assert "No number of this rotator is connected" in ads  # its only number is not connected

    # The visitor, with its UTM fields and the lead it became.
    (visitor,) = await (await client.get("/api/visitors")).json()
    visitor_row = row(html, "data-code", code)  # the visitors table comes first
    assert visitor["code"] == code and visitor["state"] == "upgraded"
    assert "facebook / cpc / promo-desember" in visitor_row and f"+{CUSTOMER}" in visitor_row
    assert "became a lead" in visitor_row

    # The attribution log: which lead got which source.
    log_table = html.split('class="dash-table attribution-log"', 1)[1]
    entry = row(log_table, "data-code", code)
    assert f"+{CUSTOMER}" in entry and "facebook / cpc / promo-desember" in entry and "attributed" in entry
    assert f'href="/leads/{CUSTOMER}"' in log_table

    # Partner hooks: configured sources with their hook address and state; the refused Cloud API request counts.
    cloud = row(html, "data-source", "whatsapp_cloud")
    assert f"{base}/hooks/whatsapp_cloud/1234" in cloud and PARTNER_STATES["refused"] in cloud and "1 refused" in cloud
    qontak = row(html, "data-source", "qontak")
    assert f"{base}/hooks/qontak/&lt;channel&gt;" in qontak or f"{base}/hooks/qontak/<channel>" in qontak
    assert PARTNER_STATES["waiting"] in qontak
    assert CLOUD_SECRET not in html  # secrets never reach the page


async def test_links_ignored_code_is_logged_with_its_reason(serve: Serve) -> None:
    control = FakeControl()
    services = attach_services(control)
    client = await serve(control)
    await login(client)
    ingest(services.db, parse_message(message(id="M-links-2", session=ADMIN, text="kode saya [K-2222]",
                                              sender=f"{CUSTOMER}@s.whatsapp.net", chat=f"{CUSTOMER}@s.whatsapp.net")),
           services.clock())
    services.process()
    (entry,) = await (await client.get("/api/attribution/log")).json()
    html = await (await client.get("/links")).text()
    text = row(html, "data-code", entry["code"])
    assert "ignored" in text and LOG_REASONS[entry["reason"]] in text


async def test_links_empty_states_explain_what_to_do(serve: Serve) -> None:
    control = FakeControl()
    attach_services(control, numbers=[], rotators={}, partners={})
    client = await serve(control)
    await login(client)
    html = await (await client.get("/links")).text()
    assert "No rotator links yet" in html and "[[numbers]]" in html and "[rotators.default]" in html
    assert "No visitors yet" in html and "utm_source=" in html
    assert "Nothing attributed yet" in html
    assert "No partner channels" in html and "[partners.whatsapp_cloud]" in html and "/hooks/SOURCE/CHANNEL" in html


async def test_links_without_the_services(serve: Serve) -> None:
    control = FakeControl()
    control.attribution = control.partners = None  # type: ignore[assignment]
    client = await serve(control)
    await login(client)
    response = await client.get("/links")
    html = await response.text()
    assert response.status == 200
    assert "Rotator links are not available" in html and "Partner channels are not available" in html
