import pytest
from rest_framework.test import APIClient

from tests.factories import DeploymentFactory, user_with_role
from tests.trust_setup import installed
from tests.workers import Worker


@pytest.fixture(scope="session", autouse=True)
def console_installation():
    """The run's console data dir is set up once (the explicit trust-root step), as seed_demo does."""
    from django.conf import settings

    return installed(settings.OEM_DATA_DIR)


@pytest.fixture
def deployment(db):
    return DeploymentFactory()


@pytest.fixture
def other_deployment(db):
    return DeploymentFactory()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def make_user(db):
    return user_with_role


@pytest.fixture
def workers(tmp_path):
    """Start real Celery worker subprocesses; all are stopped when the test ends.

    Messages left on the broker by earlier tests (jobs created through a server process) name rows of a
    database that has been flushed since; they are dropped first so a worker starts on this test's own."""
    from oemconsole.celery import app

    app.control.purge()
    started: list[Worker] = []

    def start(lease_seconds: int = 30) -> Worker:
        worker = Worker(tmp_path, lease_seconds)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
