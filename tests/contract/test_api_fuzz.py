"""The committed OpenAPI document against the production server, for every role (schemathesis).

Each operation gets a fixed, derandomised budget of generated requests - valid ones and deliberately invalid
ones - sent over HTTP to gunicorn on the test database. Every answer must be no 5xx, a status the document
lists for that operation, and a body that matches the documented schema. Only the step-signing operation is
left out: its wrong passwords would lock the seeded signer (the lockout has its own tests).
"""

import json
import urllib.request
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.factories import PASSWORD, DeploymentFactory, user_with_role
from tests.production_server import ProductionServer

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.yaml"
ROLES = ["admin", "compliance", "operator", "auditor", "anonymous"]
EXAMPLES_PER_OPERATION = 5
LOCKS_A_SEEDED_USER = {"POST /api/v1/deployments/{id}/checklists/{checklist_id}/steps/{step_id}/sign/"}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def console_server(django_db_setup, django_db_blocker, tmp_path_factory):
    # The fuzzer posts to the token endpoint too: at the shipped 20/min a fast machine throttles the next
    # role's own token request. The throttle has its own tests; here it would only make the run flaky.
    server = ProductionServer(tmp_path_factory.mktemp("contract-server"), OEM_AUTH_RATE="10000/min")
    yield server
    server.stop()


def api_token(server: ProductionServer, username: str) -> str:
    body = json.dumps({"username": username, "password": PASSWORD}).encode()
    request = urllib.request.Request(  # noqa: S310 - the loopback test server
        f"{server.url}/api/v1/auth/token/", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())["token"]


def operations():
    schema = schemathesis.openapi.from_path(SCHEMA)
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label not in LOCKS_A_SEEDED_USER:
            yield operation


def cases_of(operation):
    modes = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    return st.one_of(modes)


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented_for_every_role(console_server, role):
    headers = {}
    if role != "anonymous":
        deployment = DeploymentFactory(name=f"contract-{role}")
        user = user_with_role(role, deployments=[deployment])
        headers["Authorization"] = f"Token {api_token(console_server, user.username)}"
    failures: list[str] = []
    sent = 0
    for operation in operations():
        label = operation.label

        @given(case=cases_of(operation))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            nonlocal sent
            sent += 1
            try:
                case.call_and_validate(
                    base_url=console_server.url, headers=headers, checks=CHECKS, timeout=30
                )
            except (Exception, FailureGroup) as exc:  # record it; keep exploring the other operations
                failures.append(f"{label}: {exc}")  # noqa: B023 - called before the loop moves on

        check()
    assert sent > 0
    assert not failures, f"{len(failures)} of {sent} requests broke the contract:\n" + "\n\n".join(
        failures[:10]
    )
