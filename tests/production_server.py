"""The console as it runs in production - gunicorn with `oemconsole.gunicorn_conf`, DEBUG off, static files
from STATIC_ROOT through WhiteNoise - started as a subprocess on the test database and a chosen data dir.

The server sees only what a test has committed (transactional tests), exactly as a browser would.
"""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from django.conf import settings

from tests.workers import ROOT, database_url

_LISTENING = re.compile(rb"Listening at: http://127\.0\.0\.1:(\d+)")


def collect_static_once() -> Path:
    """Fill the run's STATIC_ROOT once; servers on other data dirs link to it."""
    from django.core.management import call_command

    root = Path(settings.STATIC_ROOT)
    if not (root / "css" / "console.css").is_file():
        call_command("collectstatic", interactive=False, verbosity=0)
    return root


class ProductionServer:
    def __init__(self, log_dir: Path, *, data_dir: Path | None = None, **env_overrides: str):
        data_dir = Path(data_dir or settings.OEM_DATA_DIR)
        static = collect_static_once()
        data_dir.mkdir(parents=True, exist_ok=True)
        if not (data_dir / "staticfiles").exists():
            (data_dir / "staticfiles").symlink_to(static, target_is_directory=True)
        env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
        env.update(
            DATABASE_URL=database_url(),
            CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
            OEM_DATA_DIR=str(data_dir),
            OEM_WEB_BIND="127.0.0.1:0",
            OEM_WEB_WORKERS="1",
            OEM_WEB_THREADS="4",
            **env_overrides,
        )
        self.log = log_dir / f"gunicorn-{uuid.uuid4().hex[:6]}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "python:oemconsole.gunicorn_conf"],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self._port()}"
        self._wait_ready()

    def _port(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log.read_bytes())
            if match:
                return int(match.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"gunicorn did not start\n{self.output()[-3000:]}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/login/", timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"gunicorn did not answer /login/\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")
