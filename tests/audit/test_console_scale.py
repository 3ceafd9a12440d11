"""The console's evidence pages after an append verify only the appended entry, and their database queries
do not grow with the log."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import Deployment
from audit.trust import verifier
from tests.audit.helpers import append, write_long_log
from tests.factories import user_with_role
from tests.trust_setup import installed


@pytest.fixture
def deployment(db, settings, data_dir, keyring):
    settings.OEM_DATA_DIR = data_dir
    installed(data_dir)
    return Deployment.objects.create(
        name="local-install", customer="ACME", local=True
    )  # evidence in data_dir itself


@pytest.fixture
def compliance(client, deployment):
    client.force_login(user_with_role("compliance", deployments=[deployment]))
    return client


@pytest.fixture
def checks(monkeypatch):
    counted = {"n": 0}
    real = verifier.verify_parsed

    def counting(*args, **kwargs):
        counted["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(verifier, "verify_parsed", counting)
    # Counted inline: a large log's checks would otherwise run in worker processes (parallel_verify).
    monkeypatch.setenv("OEM_VERIFY_WORKERS", "1")
    return counted


@pytest.mark.parametrize("page", ["gates/demo_exit/", "decisions/"])
def test_after_an_append_the_page_verifies_only_the_new_entry(
    compliance, deployment, keyring, data_dir, checks, page
):
    write_long_log(keyring, data_dir, 1_000)
    url = f"/deployments/{deployment.pk}/{page}"
    assert compliance.get(url).status_code == 200
    assert checks["n"] >= 2_000

    append(keyring, data_dir, "demo", "demo_ready", note="appended")
    checks["n"] = 0
    body = compliance.get(url).content.decode()

    assert checks["n"] == 4  # the entry's two signatures and the checkpoint's two co-signatures
    if page == "decisions/":
        assert "Verified: the strict verifier passed on 1001 entries" in body


def test_evidence_page_queries_do_not_grow_with_the_log(client, deployment, keyring, data_dir):
    longer = Deployment.objects.create(name="longer", customer="ACME")
    client.force_login(user_with_role("compliance", deployments=[deployment, longer]))
    write_long_log(keyring, data_dir, 10)
    write_long_log(keyring, longer.evidence_dir, 300)

    def queries(url):
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    for page in ("decisions/", "gates/demo_exit/"):
        assert queries(f"/deployments/{deployment.pk}/{page}") == queries(f"/deployments/{longer.pk}/{page}")
