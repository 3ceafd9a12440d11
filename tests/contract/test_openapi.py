from pathlib import Path

from django.core.management import call_command

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.yaml"


def test_committed_openapi_schema_matches_the_code(tmp_path):
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(generated), "--validate", "--fail-on-warn")
    assert generated.read_text() == COMMITTED.read_text(), (
        "docs/api/openapi.yaml drifted from the API; run `make schema` and commit the result"
    )


def test_schema_endpoint_needs_a_login(client, make_user):
    assert client.get("/api/schema/").status_code in {401, 403}
    client.force_login(make_user("operator"))
    assert client.get("/api/schema/").status_code == 200
