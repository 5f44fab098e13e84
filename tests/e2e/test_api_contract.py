"""The live daemon keeps docs/openapi.yaml's contract under fuzzing (schemathesis).

A real `wabridge run --simulate` on a loopback port, one test per documented operation,
a fixed Hypothesis seed and a bounded number of examples per operation. Every response
must be documented for its operation (status code and content type), match its schema,
and never be a 5xx. The TOML import body is described as a rules document, so the fuzzer
sends real TOML (serialised below) as well as junk.
"""

from __future__ import annotations

from collections.abc import Iterator
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

schema = schemathesis.openapi.from_path(str(SPEC))
schema.config.generation.update(max_examples=EXAMPLES, deterministic=True)
schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    running = RunningDaemon(Path(tmp_path_factory.mktemp("contract"))).start()
    # Real data to answer with: a paired number, a lead, an installed rule.
    running.pair(NUMBER)
    assert running.request("POST", "/api/rules/templates/install", {"slugs": ["identify-hot-lead"]})[0] == 201
    assert running.send(NUMBER, sender=CUSTOMER, text="halo, mau order")[0] == 201
    running.wait(lambda: bool(running.leads()), what="the first lead")
    yield running
    running.stop()
    assert "http_unhandled_error" not in running.logs(), running.logs()[-5000:]


@pytest.mark.timeout(300)
@schema.exclude(method="POST", path_regex="^/api/sessions/\\{number\\}/(logout|restart)$").parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_daemon_keeps_its_documented_contract(case: Any, daemon: RunningDaemon) -> None:
    case.call_and_validate(base_url=f"http://127.0.0.1:{daemon.port}",
                           headers={"Authorization": f"Bearer {daemon.token}"}, checks=CHECKS, timeout=30)


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
