"""Release verifying keys compiled into the bootstrap. Never read from configuration or the environment.

kid -> (algorithm, base64 raw public key, "development" | "production"). The algorithm is pinned here; a
`manifest.sig` naming any other algorithm fails. Development keys are refused when OEM_ENV=production.
"""

from __future__ import annotations

from typing import Final

KEY_DEVELOPMENT: Final = "development"
KEY_PRODUCTION: Final = "production"

# The private half is deploy/packaging/dev_release_key/release_dev_ed25519.pem: DEVELOPMENT ONLY.
DEV_RELEASE_KID: Final = "release-dev-1"

TRUSTED_RELEASE_KEYS: Final[dict[str, tuple[str, str, str]]] = {
    DEV_RELEASE_KID: ("ed25519", "Td9M161Jvjqw9mVNCkHEDmxCPe3cTFThBNX52g3Hr6I=", KEY_DEVELOPMENT),
}
