"""What every license check builds and remembers: the remembered well-formed component mappings prove only
that (a changed mapping is checked again), and the results it hands back stay frozen values."""

from __future__ import annotations

import dataclasses

import pytest

from licensing.core import fingerprint as fingerprint_module
from licensing.core.fingerprint import (
    DEFAULT_POLICY,
    FingerprintError,
    MatchResult,
    check_components,
    check_record_shape,
)
from licensing.core.verify import LicenseStatus, verify_license
from tests.licensing.helpers import NOW, this_pin


@pytest.fixture(autouse=True)
def _cold_cache():
    fingerprint_module._well_formed.clear()
    yield
    fingerprint_module._well_formed.clear()


def test_a_record_checked_once_is_checked_again_after_any_change(record):
    check_record_shape(record)
    cpu = record["components"]["cpu"]
    assert len(fingerprint_module._well_formed) == 1
    record["components"]["cpu"] = "A" * 96  # upper case: not a SHA-384 hex digest
    with pytest.raises(FingerprintError, match="cpu is not a SHA-384 hex digest"):
        check_record_shape(record)
    record["components"]["cpu"] = "0" * 95
    with pytest.raises(FingerprintError, match="cpu is not a SHA-384 hex digest"):
        check_record_shape(record)
    record["components"]["cpu"] = cpu
    check_record_shape(record)
    record["components"]["gpu"] = "0" * 96
    with pytest.raises(FingerprintError, match="unknown fingerprint component"):
        check_components(record["components"])
    assert len(fingerprint_module._well_formed) == 1  # a refusal is never remembered


def test_a_changed_device_record_fails_the_license_check_every_time(lic, record):
    status = verify_license(lic.to_bytes(), fingerprint_record=record, now=NOW, trust_root=this_pin())
    assert status.valid, status.reasons
    record["components"]["machine_id"] = ["not", "a", "digest"]  # unhashable: checked, never remembered
    for _ in range(2):
        status = verify_license(lic.to_bytes(), fingerprint_record=record, now=NOW, trust_root=this_pin())
        assert status.reasons == ["fingerprint component machine_id is not a SHA-384 hex digest"]


def test_only_plain_strings_are_remembered():
    class Text(str):
        pass

    components = {"machine_id": Text("0" * 96)}
    check_components(components)  # well formed, as before
    assert len(fingerprint_module._well_formed) == 0
    check_components({"machine_id": "0" * 96})
    assert len(fingerprint_module._well_formed) == 1


def test_results_are_frozen_values_built_as_before(lic, record):
    status = verify_license(lic.to_bytes(), fingerprint_record=record, now=NOW, trust_root=this_pin())
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.valid = False  # type: ignore[misc]
    assert status == dataclasses.replace(status)
    assert LicenseStatus(False, ["x"]) == LicenseStatus(False, ["x"], None, (), (), {})
    assert LicenseStatus(False, ["x"]).environment is not LicenseStatus(False, ["x"]).environment
    assert [f.name for f in dataclasses.fields(LicenseStatus)] == [
        "valid",
        "reasons",
        "license",
        "matched",
        "changed",
        "environment",
    ]
    result = DEFAULT_POLICY.match(lic.components, record["components"])
    assert result == MatchResult(True, ("machine_id", "cpu", "mac", "disk", "tpm"), ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.ok = False  # type: ignore[misc]
    assert result.reason is None and "ok=True" in repr(result)
