"""Run by tests/test_server_schemathesis.py in a process of its own (schemathesis and
hypothesis change process-wide state): fuzz every operation of a server's OpenAPI
document; print one JSON object, {"ran": N, "failures": [...]}."""

import json
import sys

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

#: The live stream never ends, so a generated request would only wait.
SKIPPED = {("GET", "/api/v1/events/stream")}
CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.status_code_conformance,
    checks.content_type_conformance,
]


def main(base_url: str, examples: int) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        ran += 1

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
        @given(case=operation.as_strategy())
        def test(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, timeout=20)
            case.validate_response(response, checks=CHECKS)

        try:
            test()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:3000])
    print(json.dumps({"ran": ran, "failures": failures}))


main(sys.argv[1], int(sys.argv[2]))
