"""docs/openapi.yaml documents every /api route the app registers (and nothing that is gone),
and is a valid OpenAPI document (openapi-spec-validator). That the daemon answers as it says
is tests/e2e/test_api_contract.py (schemathesis against the live daemon).
"""

from __future__ import annotations

import re

import pytest

from bridge.http import create_app
from tests.conftest import ROOT
from tests.http.fake_control import FakeControl

SPEC = ROOT / "docs" / "openapi.yaml"
METHODS = ("get", "post", "put", "delete", "patch")


def _api_routes() -> set[tuple[str, str]]:
    app = create_app(FakeControl(simulate=True), token="t" * 32, workspace_name="x")
    routes = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = str(info.get("path") or info.get("formatter") or "")
        if route.method != "HEAD" and path.startswith("/api/"):
            routes.add((route.method.lower(), re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)))
    return routes


def _operations() -> dict[tuple[str, str], str]:
    """(method, path) → the operation's text, from the `paths:` section."""
    text = SPEC.read_text(encoding="utf-8")
    assert text.startswith("openapi: 3.")
    section = text.split("\npaths:\n", 1)[1]
    operations: dict[tuple[str, str], str] = {}
    path = method = None
    for line in section.splitlines():
        if match := re.match(r"^  (/\S+):\s*$", line):
            path, method = match.group(1), None
        elif match := re.match(rf"^    ({'|'.join(METHODS)}):\s*$", line):
            method = match.group(1)
            assert path is not None
            operations[(method, path)] = ""
        elif path and method and line.startswith("      "):
            operations[(method, path)] += line + "\n"
    return operations


def test_every_api_route_is_documented() -> None:
    missing = _api_routes() - set(_operations())
    assert not missing, f"add these to docs/openapi.yaml: {sorted(missing)}"


def test_nothing_documented_that_the_app_lacks() -> None:
    assert set(_operations()) - _api_routes() == set()


def test_every_operation_has_a_summary_and_its_401() -> None:
    for key, body in _operations().items():
        assert "summary:" in body and '"401":' in body, key


def test_the_file_is_valid_yaml_where_a_parser_is_installed() -> None:
    yaml = pytest.importorskip("yaml")
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    assert {(m, p) for p, item in spec["paths"].items() for m in item} == set(_operations())


def test_the_spec_is_a_valid_openapi_document() -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename

    spec, _ = read_from_filename(str(SPEC))
    validate(spec)
