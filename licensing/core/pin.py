"""The installation's trust-root pin carried by a license request and so by the vendor-signed license.

A file-level attacker who deletes `keys/` and lets a new root be created cannot rewrite a vendor-signed
license: a license whose pinned (installation id, root fingerprint) differs from the installation's refuses.
The installation identity comes from the trust core (`audit.trust.installation.load_installation`).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_INSTALLATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")
_ROOT_FINGERPRINT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_+/=.-]{7,199}\Z")


class PinError(ValueError):
    """A pin is malformed, or the installation has no trust root to pin. One line."""


@dataclass(frozen=True)
class TrustRootPin:
    installation_id: str
    root_fingerprint: str

    def to_json(self) -> dict[str, str]:
        return {"installation_id": self.installation_id, "root_fingerprint": self.root_fingerprint}

    def short(self) -> str:
        return f"installation {self.installation_id} root {self.root_fingerprint[:23]}"


def parse_pin(value: Any) -> TrustRootPin:
    if not isinstance(value, dict) or set(value) != {"installation_id", "root_fingerprint"}:
        raise PinError("trust_root must hold installation_id and root_fingerprint")
    installation_id, root = value["installation_id"], value["root_fingerprint"]
    if not isinstance(installation_id, str) or not _INSTALLATION_ID.match(installation_id):
        raise PinError("trust_root installation_id is malformed")
    if not isinstance(root, str) or not _ROOT_FINGERPRINT.match(root):
        raise PinError("trust_root root_fingerprint is malformed")
    return TrustRootPin(installation_id, root)


def installation_pin(data_dir: Path) -> TrustRootPin:
    """This installation's pin; an installation never set up is a one-line PinError."""
    from audit.trust.installation import load_installation

    try:
        installation = load_installation(Path(data_dir))
    except ValueError as exc:  # InstallationError and any malformed-file error: one line
        raise PinError(f"installation: {exc}") from None
    return parse_pin(
        {"installation_id": installation.installation_id, "root_fingerprint": installation.root_fingerprint}
    )


def check_pin(licensed: TrustRootPin, actual: TrustRootPin | None) -> str | None:
    """None when the license's pin is this installation's, else the one-line refusal."""
    if actual is None:
        return "no installation trust root to check the license's pin against"
    same_root = hmac.compare_digest(licensed.root_fingerprint.encode(), actual.root_fingerprint.encode())
    if not same_root or licensed.installation_id != actual.installation_id:
        return (
            f"license is pinned to {licensed.short()}... but this is {actual.short()}... "
            "(key ring recreated, or a license for another installation)"
        )
    return None
