"""Real Chromium (Debian's package) driven by pytest-playwright; `playwright install` is never needed.

The browser talks to the production server (`console`: gunicorn with the product's config, DEBUG off) on the
test database and the test's data dir. A test that must replace code inside the server (a stand-in verifier)
uses pytest-django's in-process `live_server` instead, and says so.
"""

import shutil
from pathlib import Path

import pytest

from tests.production_server import ProductionServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def console(transactional_db, settings, tmp_path):
    """Request it after the fixtures that choose the data dir: the server reads it when it starts."""
    server = ProductionServer(tmp_path, data_dir=Path(settings.OEM_DATA_DIR))
    yield server
    server.stop()
