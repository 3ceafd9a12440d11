"""What the bundle ships imports only what the bundle ships: a new package the daemon starts using cannot be
left out of the customer's copy unnoticed."""

from __future__ import annotations

import ast
from pathlib import Path

from deploy.packaging.contents import APP_PATHS, OPTIONAL_APP_PATHS

REPO = Path(__file__).resolve().parents[3]
# Imports that may stay out, each with its reason.
NOT_SHIPPED_ON_PURPOSE = {
    # The devkit writes development evidence on a development checkout only; the builder (and with it the
    # development release key) never ships.
    ("execution/daemon/devkit_evidence.py", "deploy.packaging.builder"),
}
FIRST_PARTY = ("audit", "licensing", "execution", "risklab", "deploy", "desktop_qml", "oemconsole", "jobs")


def _shipped_files() -> list[Path]:
    files: list[Path] = []
    for entry in APP_PATHS + OPTIONAL_APP_PATHS:
        path = REPO / entry
        if path.is_file() and path.suffix == ".py":
            files.append(path)
        elif path.is_dir():
            files.extend(p for p in path.rglob("*.py") if "tests" not in p.parts)
    return files


def _is_shipped(module: str) -> bool:
    """A module is shipped when its file is: a whole directory ships its subpackages, a single file (a
    package's `__init__.py` included) only itself."""
    parts = module.split(".")
    for entry in APP_PATHS + OPTIONAL_APP_PATHS:
        if entry.endswith(".py"):
            if parts == entry.removesuffix(".py").removesuffix("/__init__").split("/"):
                return True
        elif parts[: len(entry.split("/"))] == entry.split("/"):
            return True
    return False


def _first_party_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] in FIRST_PARTY)
    return found


def test_every_first_party_import_of_the_shipped_code_is_shipped_too():
    missing = {
        f"{path.relative_to(REPO)} imports {module}"
        for path in _shipped_files()
        for module in _first_party_imports(path)
        if not _is_shipped(module) and (str(path.relative_to(REPO)), module) not in NOT_SHIPPED_ON_PURPOSE
    }
    assert not missing, sorted(missing)


def test_the_daemon_and_its_strategy_host_are_shipped():
    assert _is_shipped("execution.daemon.server")
    assert _is_shipped("execution.strategy.host") and _is_shipped("execution.feeds.replay")
