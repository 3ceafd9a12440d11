"""Setting up the installation from the console: the trust root once, pinned in the database."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction

from audit.trust.installation import Installation, init_installation, unlock_root

from .stores import pin_installation


@transaction.atomic
def installation_init(*, admin_password: str, actor=None) -> Installation:
    """Create this console's installation and trust root (refused when one exists) and pin its root."""
    from audit.services import audit_event_record

    installation = init_installation(Path(settings.OEM_DATA_DIR), admin_password)
    pin_installation(installation)
    audit_event_record(
        action="installation.init",
        actor=actor,
        object_type="installation",
        object_id=installation.installation_id[:80],
        detail={
            "root_fingerprint": installation.root_fingerprint,
            "deployment_id": installation.deployment_id,
        },
    )
    return installation


@transaction.atomic
def installation_pin_existing(*, admin_password: str, actor=None) -> Installation:
    """Pin an installation set up without the console (pure CLI): the administrator password proves it is
    this installation's root, not one re-created by someone else."""
    from audit.services import audit_event_record

    root = unlock_root(Path(settings.OEM_DATA_DIR), admin_password)
    from audit.trust.installation import load_installation

    installation = load_installation(Path(settings.OEM_DATA_DIR))
    del root  # unlocked only to prove the password; nothing is signed
    pin_installation(installation)
    audit_event_record(
        action="installation.pin",
        actor=actor,
        object_type="installation",
        object_id=installation.installation_id[:80],
        detail={"root_fingerprint": installation.root_fingerprint},
    )
    return installation
