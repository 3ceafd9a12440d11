"""The installed license as a pin source of the installation's trust root (audit.trust.installation).

The vendor-signed license in `<data_dir>/licenses/license.json` carries the root fingerprint the device's
license request was made with. A key ring re-created by someone without the vendor (new root) no longer
matches it, so loading the installation refuses in one line. Only a license whose vendor signature verifies
counts as a pin: an edited file pins nothing (and is refused by the license check itself).
"""

from __future__ import annotations

from audit.trust.fsutil import read_regular_file
from audit.trust.installation import Installation, register_pin_source
from licensing.core.license_file import MAX_LICENSE_BYTES, parse_license
from licensing.core.vendor_trust import verify_vendor_bytes

SOURCE_NAME = "the installed license"


def installed_license_pin(installation: Installation) -> str | None:
    path = installation.data_dir / "licenses" / "license.json"
    try:
        lic = parse_license(read_regular_file(path, max_bytes=MAX_LICENSE_BYTES, what="installed license"))
        verify_vendor_bytes(lic.signature, lic.signed_message())
    except FileNotFoundError:
        return None  # no license installed yet: nothing pinned
    except (OSError, ValueError):  # unreadable, malformed or not vendor-signed: pins nothing
        return None
    return lic.trust_root.root_fingerprint


register_pin_source(SOURCE_NAME, installed_license_pin)
