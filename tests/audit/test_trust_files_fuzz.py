"""The installation record, its pin and the sealed witness places are read from disk by every verifier:
arbitrary bytes in any of them give a one-line refusal, never a traceback."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.trust import paths
from audit.trust.installation import InstallationError, load_installation
from audit.trust.witness import Mark, SealedFileStore, WitnessError
from tests.trust_setup import installed

_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_json_like = st.one_of(
    st.binary(max_size=300),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
        max_leaves=12,
    ).map(lambda value: json.dumps(value).encode()),
)


@pytest.fixture
def base(data_dir):
    installed(data_dir)
    return data_dir


def _one_line(exc: Exception) -> None:
    assert str(exc) and "\n" not in str(exc)


@_FUZZ
@given(data=_json_like)
def test_any_installation_record_is_refused_in_one_line_or_loads(base, data):
    path = paths.installation_path(base)
    original = path.read_bytes()
    path.write_bytes(data)
    try:
        load_installation(base)
    except InstallationError as exc:
        _one_line(exc)
    finally:
        path.write_bytes(original)


@_FUZZ
@given(data=_json_like)
def test_any_installation_pin_is_refused_in_one_line_or_loads(base, data):
    pin = paths.witness_dir(base) / "installation.pin"
    original = pin.read_bytes()
    pin.write_bytes(data)
    try:
        load_installation(base)
    except InstallationError as exc:
        _one_line(exc)
    finally:
        pin.write_bytes(original)


@_FUZZ
@given(data=_json_like)
def test_any_witness_file_is_refused_in_one_line(tmp_path, data):
    store = SealedFileStore(tmp_path / "w.json", "place")
    (tmp_path / "w.json").unlink(missing_ok=True)
    store.put("k", Mark(1, "sha384:a"))
    (tmp_path / "w.json").write_bytes(data)
    with pytest.raises(WitnessError) as caught:
        store.get("k")
    _one_line(caught.value)
