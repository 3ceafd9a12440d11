"""Set up an installation (the explicit trust-root step) for a test's data dir. Idempotent per data dir."""

from __future__ import annotations

from pathlib import Path

from audit.trust.installation import Installation, init_installation, installation_exists, load_installation

# The same as the seed tests' OEM_DEMO_PASSWORD, so seeding the run's console data dir can enrol signers.
ADMIN_PASSWORD = "demo-password-for-tests"  # noqa: S105 - a test fixture's password


def installed(data_dir: Path | str, *, admin_password: str = ADMIN_PASSWORD) -> Installation:
    data_dir = Path(data_dir)
    if installation_exists(data_dir):
        return load_installation(data_dir)
    return init_installation(data_dir, admin_password)
