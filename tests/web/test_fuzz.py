"""Fuzz every API operation from the app's own OpenAPI document (schemathesis).

No generated input may produce a 5xx; every 4xx is a JSON ``{"error": "..."}``
one-liner. Examples per operation are bounded so the whole run stays well
under a minute.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis")

from ipfs_kit_py.kit import Kit  # noqa: E402
from ipfs_kit_py.web import create_app  # noqa: E402

EXAMPLES_PER_OPERATION = 20


def test_no_generated_input_causes_a_server_error(home, tokens):
    kit = Kit(home, interface="web")
    kit.add(b"fuzz seed content")  # something for content endpoints to find
    app = create_app(kit)
    headers = {"Authorization": f"Bearer {tokens.admin}"}
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    seen: dict[str, dict[int, int]] = {}
    started = time.monotonic()

    def fuzz(operation) -> None:
        label = f"{operation.method.upper()} {operation.path}"
        codes = seen.setdefault(label, {})

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call(headers=headers)
            codes[response.status_code] = codes.get(response.status_code, 0) + 1
            assert response.status_code < 500, f"{label}: {response.status_code} {response.text[:300]}"
            if response.status_code >= 400:
                body = response.json()
                assert isinstance(body.get("error"), str) and "\n" not in body["error"], (label, body)

        check()

    for operation in operations:
        fuzz(operation)
    kit.close()
    assert time.monotonic() - started < 60
    # The fuzzer did reach the handlers, not only the validation layer.
    assert any(200 in codes for codes in seen.values())
