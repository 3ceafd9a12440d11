"""A fingerprint component is exactly a SHA-384 hex digest: a trailing newline makes it another value."""

from __future__ import annotations

import pytest

from licensing.core.fingerprint import COMPONENT_MACHINE_ID, FingerprintError, check_components


def test_a_component_with_a_trailing_newline_is_refused():
    check_components({COMPONENT_MACHINE_ID: "a" * 96})
    with pytest.raises(FingerprintError, match="SHA-384"):
        check_components({COMPONENT_MACHINE_ID: "a" * 96 + "\n"})
