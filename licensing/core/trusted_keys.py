"""License verifying keys compiled into the product. Never read from configuration or the environment.

kid -> (algorithm, base64 raw public key, "development" | "production").

The algorithm is pinned here: a license whose signature text names another algorithm fails. Keys marked
"development" are refused when the verifier runs with `allow_development_keys=False` (production mode, set by
the Django side from OEM_ENV). To ship a production key, add its public key here with "production" and sign
with its private key via OEM_LICENSE_SIGNING_KEY_FILE (see docs/licensing.md).
"""

from __future__ import annotations

from typing import Final

KEY_DEVELOPMENT: Final = "development"
KEY_PRODUCTION: Final = "production"

# The private half of "license-dev-1" is licensing/dev_vendor_key/license_dev_ed25519.pem: DEVELOPMENT ONLY.
DEV_KID: Final = "license-dev-1"

TRUSTED: Final[dict[str, tuple[str, str, str]]] = {
    DEV_KID: ("ed25519", "RmlnYOL3UOC/p7kl7YcjwpaOP5iYFOEPgUFZU8ZvLaY=", KEY_DEVELOPMENT),
}
