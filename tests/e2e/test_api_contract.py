"""The live daemon keeps docs/openapi.yaml's contract under fuzzing (schemathesis).

A real `wabridge run --simulate` on a loopback port, one test per documented operation,
a fixed Hypothesis seed and a bounded number of examples per operation. Every response
must be documented for its operation (status code and content type), match its schema,
and never be a 5xx. The TOML import body is described as a rules document, so the fuzzer
sends real TOML (serialised below) as well as junk; a chat export sent as application/zip is
a real zip holding the generated text as its chat. Logout and restart change the session the
other operations use, so they are fuzzed on a daemon of their own.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
tomli_w = pytest.importorskip("tomli_w")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ROOT  # noqa: E402
from tests.e2e.daemon import NUMBERS, RunningDaemon  # noqa: E402

SPEC = ROOT / "docs" / "openapi.yaml"
NUMBER, CUSTOMER = NUMBERS[0], "6281234567890"
EXAMPLES = 20  # per operation; the suite's budget is a few minutes for every operation together
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _toml_body(ctx: Any, value: Any) -> bytes:
    """A generated rules document as TOML (TOML has no null: an empty text, as `rules export` does)."""
    if isinstance(value, str | bytes):
        return value.encode() if isinstance(value, str) else value

    def without_nulls(item: Any) -> Any:
        if isinstance(item, dict):
            return {str(k): without_nulls(v) for k, v in item.items() if v is not None}
        if isinstance(item, list):
            return [without_nulls(v) if v is not None else "" for v in item]
        return item

    try:
        return tomli_w.dumps(without_nulls(value) if isinstance(value, dict) else {"rules": value}).encode()
    except (TypeError, ValueError):
        return repr(value).encode()  # not representable as TOML: send it as junk (the server answers 400)


schemathesis.serializer("application/toml")(_toml_body)


def _zip_body(ctx: Any, value: Any) -> bytes:
    """A generated chat export as the .zip WhatsApp makes: the text as its _chat.txt."""
    text = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("_chat.txt", text)
    return buffer.getvalue()


schemathesis.serializer("application/zip")(_zip_body)

schema = schemathesis.openapi.from_path(str(SPEC))
schema.config.generation.update(max_examples=EXAMPLES, deterministic=True)
schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])


SESSION_CHANGES = "^/api/sessions/\\{number\\}/(logout|restart)$"


@contextmanager
def _paired_daemon(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[RunningDaemon]:
    """A real daemon with a paired number; it must end without an unhandled HTTP error."""
    running = RunningDaemon(Path(tmp_path_factory.mktemp(name))).start()
    running.pair(NUMBER)
    yield running
    running.stop()
    assert "http_unhandled_error" not in running.logs(), running.logs()[-5000:]


def _check_case(case: Any, running: RunningDaemon) -> None:
    case.call_and_validate(base_url=f"http://127.0.0.1:{running.port}",
                           headers={"Authorization": f"Bearer {running.token}"}, checks=CHECKS, timeout=30)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    with _paired_daemon(tmp_path_factory, "contract") as running:
        # Real data to answer with: a lead and an installed rule.
        assert running.request("POST", "/api/rules/templates/install", {"slugs": ["identify-hot-lead"]})[0] == 201
        assert running.send(NUMBER, sender=CUSTOMER, text="halo, mau order")[0] == 201
        running.wait(lambda: bool(running.leads()), what="the first lead")
        yield running


@pytest.mark.timeout(300)
@schema.exclude(method="POST", path_regex=SESSION_CHANGES).parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_daemon_keeps_its_documented_contract(case: Any, daemon: RunningDaemon) -> None:
    _check_case(case, daemon)


@pytest.fixture(scope="module")
def session_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    with _paired_daemon(tmp_path_factory, "contract-sessions") as running:
        yield running


@pytest.mark.timeout(120)
@schema.include(method="POST", path_regex=SESSION_CHANGES).parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_logout_and_restart_keep_their_documented_contract(case: Any, session_daemon: RunningDaemon) -> None:
    _check_case(case, session_daemon)


@pytest.mark.parametrize("path", ["/api/rules/export.toml", "/api/rules/validate", "/api/rules/order",
                                  "/api/rules/templates", "/api/rules/import", "/api/rules/reload",
                                  "/api/rules/vocabulary", "/api/rules/test", "/api/rules/suggest"])
def test_other_methods_on_rule_routes_are_405_with_allow(daemon: RunningDaemon, path: str) -> None:
    for method in ("PUT", "DELETE"):
        status, body = daemon.request(method, path, {"name": "x"})
        assert status == 405, (method, path, body)
        assert body["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(("query", "field"), [("updated_since=abc", "updated_since"), ("status=maybe", "status"),
                                              ("updated_since=2026-13-45", "updated_since"),
                                              ("offset=9223372036854775808", "offset")])
def test_lead_filters_are_checked_like_the_csv_route(daemon: RunningDaemon, query: str, field: str) -> None:
    for path in ("/api/leads", "/api/leads.csv"):
        status, body = daemon.request("GET", f"{path}?{query}")
        if path.endswith(".csv") and field == "offset":
            continue  # the CSV has no offset (it pages by phone)
        assert status == 400 and body["error"]["field"] == field, (path, query, body)


def test_updated_since_compares_instants_not_text(daemon: RunningDaemon) -> None:
    stamp = daemon.leads(phone=CUSTOMER)[0]["updated_at"]
    assert daemon.leads(updated_since="2000-01-01") and daemon.leads(updated_since="2000-01-01T07:00:00%2B07:00")
    assert not daemon.leads(updated_since="2999-01-01T00:00:00Z")
    assert daemon.leads(updated_since=stamp.replace("+", "%2B"))  # the lead's own time: included
    local = datetime.fromisoformat(stamp).astimezone(timezone(timedelta(hours=7))).isoformat()
    assert daemon.leads(updated_since=local.replace("+", "%2B"))  # the same instant in WIB: included too


def test_a_rules_session_answers_as_the_schemas_say(daemon: RunningDaemon) -> None:
    """The successful answers the fuzzer seldom reaches (a valid rule created, replaced, ordered,
    tested, suggested, imported and deleted), each validated against its documented schema."""
    auth = {"Authorization": f"Bearer {daemon.token}"}
    rule = {"name": "Contract hot", "conditions": [{"field": "message.text", "op": "contains", "value": "order"}],
            "actions": [{"type": "set_status", "status": "hot"}, {"type": "add_tag", "tag": "contract"}]}

    def call(method: str, path: str, status: int, **kwargs: Any) -> Any:
        return _checked(daemon, method, path, status, **kwargs)

    created = call("POST", "/api/rules", 201, json=rule)
    rule_id = created["rule"]["id"]
    assert created["reloaded"]["rules"] == len(created["rules"])
    call("PUT", f"/api/rules/{rule_id}", 200, json={**rule, "enabled": False})
    ids = [r["id"] for r in call("GET", "/api/rules", 200)["rules"]]
    call("POST", "/api/rules/order", 200, json={"ids": list(reversed(ids))})
    assert call("POST", "/api/rules/validate", 200, json=rule)["ok"] is True
    tested = call("POST", "/api/rules/test", 200, json={"rule": rule, "text": "mau order kak", "status": "new"})
    assert tested["rules"][0]["fired"] is True and tested["lead_after"]["status"] == "hot"
    drafted = call("POST", "/api/rules/suggest", 200, json={"text": "kalau bilang harga, tambah tag tanya-harga"})
    assert drafted["ok"] is True and drafted["understood"]
    call("POST", "/api/rules/suggest", 200, json={"text": "bikinkan bagus"})  # no draft: the notice fields
    call("POST", "/api/rules/templates/install", 201, json={"slugs": ["auto-closing"]})
    call("POST", "/api/rules/import", 200, data=tomli_w.dumps({"rules": [rule]}).encode(),
         headers={**auth, "Content-Type": "application/toml"})
    call("POST", "/api/rules/reload", 200)
    call("DELETE", f"/api/rules/{rule_id}", 200)


def _checked(daemon: RunningDaemon, method: str, path: str, status: int, **kwargs: Any) -> Any:
    """Call the daemon (with the token unless `headers` say otherwise), expect `status`, and
    validate the answer against its documented operation; the JSON body (None when empty)."""
    import requests

    kwargs.setdefault("headers", {"Authorization": f"Bearer {daemon.token}"})
    response = requests.request(method, f"http://127.0.0.1:{daemon.port}{path}", timeout=30, **kwargs)
    assert response.status_code == status, response.text
    _operation(path, method).validate_response(response)
    return response.json() if response.content else None


def _operation(path: str, method: str) -> Any:
    """The documented operation a concrete path belongs to (/api/rules/7 → /api/rules/{id})."""
    import re

    path = path.split("?", 1)[0]
    documented = [p for p in schema.raw_schema["paths"] if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", p), path)]
    exact = [p for p in documented if "{" not in p]
    return schema[(exact or documented)[0]][method]


def test_a_lead_session_answers_as_the_schemas_say(daemon: RunningDaemon) -> None:
    """A lead created, changed, imported (dry run and real) and read, each answer validated."""
    auth = {"Authorization": f"Bearer {daemon.token}"}

    def call(method: str, path: str, status: int, **kwargs: Any) -> Any:
        return _checked(daemon, method, path, status, **kwargs)

    phone = "6281399990000"
    created = call("POST", "/api/leads", 201, json={"phone": phone, "name": "Kontrak", "tags": ["walk-in"]})
    assert created["lead"]["phone"] == phone and created["change"]["rules"] is not None
    call("PATCH", f"/api/leads/{phone}", 200, json={"status": "hot", "value_potential": "Rp 2.500.000"})
    call("GET", f"/api/leads/{phone}", 200)
    csv = f"phone,nama,kota\n{phone},Kontrak,Bandung\n6281399990001,Baru,Medan\n".encode()
    headers = {**auth, "Content-Type": "text/csv"}
    preview = call("POST", "/api/leads/import?dry_run=true", 200, data=csv, headers=headers)
    assert (preview["created"], preview["updated"], preview["dry_run"]) == (1, 1, True)
    done = call("POST", "/api/leads/import", 200, data=csv, headers=headers)
    assert (done["created"], done["updated"]) == (1, 1)
    call("POST", "/api/leads", 400, json={"phone": "12"})
    call("DELETE", "/api/leads/6281399990001", 204)
