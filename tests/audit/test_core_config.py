"""config/core.yaml integrity: signature, schema, profile, and the two hash lines validate prints."""

from __future__ import annotations

import hashlib
import re
import shutil

import pytest

from audit.trust.canonical import DOMAIN_CONFIG
from audit.trust.cli import sign_config_main, validate_config_main
from audit.trust.core_config import ConfigError, sign_file, signature_path, validate_config
from audit.trust.keyring import KeyRing
from audit.trust.paths import DEFAULT_CONFIG_PATH
from audit.trust.signatures import HmacSigner
from tests.trust_setup import installed


@pytest.fixture
def config(tmp_path, data_dir):
    path = tmp_path / "core.yaml"
    shutil.copyfile(DEFAULT_CONFIG_PATH, path)
    return path


@pytest.fixture
def ring(data_dir):
    installed(data_dir)  # the explicit setup step; nothing creates a key ring on demand
    return KeyRing.load(data_dir)


def _resign(path, ring):
    sign_file(path, ring)


def test_shipped_config_validates_for_every_profile(config, ring):
    sign_file(config, ring)
    for profile in ("demo", "paper", "live"):
        result = validate_config(config, profile, keyring=ring)
        assert result.sha384 == hashlib.sha384(config.read_bytes()).hexdigest()
        assert result.sha256 == hashlib.sha256(config.read_bytes()).hexdigest()


def test_validate_prints_the_two_hash_lines(config, ring, capsys):
    assert sign_config_main(["--config", str(config)]) == 0
    assert validate_config_main(["--profile", "paper", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    data = config.read_bytes()
    assert f"sha256:{hashlib.sha256(data).hexdigest()}" in lines
    assert f"sha384:{hashlib.sha384(data).hexdigest()}" in lines
    assert any(re.fullmatch(r"sha256:[0-9a-f]{64}", line) for line in lines)
    assert any(re.fullmatch(r"sha384:[0-9a-f]{96}", line) for line in lines)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_tampered_byte_fails(config, ring, capsys):
    sign_file(config, ring)
    data = bytearray(config.read_bytes())
    data[data.index(b"leverage: 2.0")] ^= 0x01  # "leverage" -> "meverage"
    config.write_bytes(bytes(data))
    assert validate_config_main(["--profile", "demo", "--config", str(config)]) != 0
    assert "modified after signing" in _one_line_error(capsys)


def test_missing_signature_fails(config, ring, capsys):
    assert validate_config_main(["--profile", "demo", "--config", str(config)]) != 0
    assert "unsigned" in _one_line_error(capsys)


def test_signature_by_unknown_kid_fails(config, ring):
    sign_file(config, ring)
    rogue = HmacSigner("config-rogue", b"r" * 48)
    sig = signature_path(config)
    import json

    doc = json.loads(sig.read_text())
    doc["signature"] = rogue.sign(DOMAIN_CONFIG, {"file": doc["file"], "sha384": doc["sha384"]})
    sig.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="unknown key id config-rogue"):
        validate_config(config, "demo", keyring=ring)


def test_signature_by_a_key_of_another_purpose_fails(config, ring):
    import json

    sign_file(config, ring)
    sig = signature_path(config)
    doc = json.loads(sig.read_text())
    doc["signature"] = ring.hmac_signer("token").sign(
        DOMAIN_CONFIG, {"file": doc["file"], "sha384": doc["sha384"]}
    )
    sig.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="is a token key, not a config key"):
        validate_config(config, "demo", keyring=ring)


def test_rotated_config_key_still_verifies_old_signature(config, ring):
    sign_file(config, ring)
    ring.rotate_hmac_key("config")
    assert validate_config(config, "demo", keyring=KeyRing.load(ring.data_dir)).sha384


def test_schema_error_fails_with_one_line(config, ring, capsys):
    config.write_text(config.read_text().replace("leverage: 2.0", "leverage: lots"))
    _resign(config, ring)
    assert validate_config_main(["--profile", "demo", "--config", str(config)]) != 0
    assert "schema error at risk_profiles/aggressive/leverage" in _one_line_error(capsys)


def test_duplicate_yaml_key_fails(config, ring):
    config.write_text(config.read_text().replace("version: 1\n", "version: 1\nversion: 1\n"))
    _resign(config, ring)
    with pytest.raises(ConfigError, match="duplicate key 'version'"):
        validate_config(config, "demo", keyring=ring)


def test_unknown_profile_fails(config, ring, capsys):
    sign_file(config, ring)
    assert validate_config_main(["--profile", "staging", "--config", str(config)]) == 2
    assert "invalid choice" in _one_line_error(capsys)
    with pytest.raises(ConfigError, match="unknown profile 'staging'"):
        validate_config(config, "staging", keyring=ring)


def test_paper_profile_may_not_allow_real_orders(config, ring):
    text = config.read_text()
    text = text.replace(
        "risk_profile: balanced\n    venues: [paper]\n    allow_real_orders: false",
        "risk_profile: balanced\n    venues: [paper]\n    allow_real_orders: true",
    )
    config.write_text(text)
    _resign(config, ring)
    with pytest.raises(ConfigError, match="profile paper must not allow real orders"):
        validate_config(config, "paper", keyring=ring)


def test_env_file_is_signed_and_checked(config, ring, tmp_path, capsys):
    env = tmp_path / ".env"
    env.write_text("OEM_ENV=prod\n")
    assert sign_config_main(["--config", str(config), "--env", str(env)]) == 0
    assert (tmp_path / ".env.sig").exists()
    assert validate_config_main(["--profile", "live", "--config", str(config), "--env", str(env)]) == 0
    env.write_text("OEM_ENV=dev\n")
    assert validate_config_main(["--profile", "live", "--config", str(config), "--env", str(env)]) != 0
    assert ".env was modified after signing" in capsys.readouterr().err


# ---- numbers: NaN and infinities nowhere, an upper bound everywhere (generated from the schema) -----------
def _schema():
    import json

    from audit.trust.paths import CORE_CONFIG_SCHEMA_PATH

    return json.loads(CORE_CONFIG_SCHEMA_PATH.read_text())


def _numeric_subschemas(node, schema, where="#"):
    """(pointer, subschema) of every number/integer in the schema, $refs resolved."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = schema
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            yield from _numeric_subschemas(target, schema, where + "->" + node["$ref"])
        if node.get("type") in ("number", "integer"):
            yield where, node
        for key, value in node.items():
            if key != "$ref":
                yield from _numeric_subschemas(value, schema, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _numeric_subschemas(value, schema, f"{where}/{index}")


def _numeric_paths(value, path=()):
    """Every path to a number in the shipped config: one per numeric field in use."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _numeric_paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _numeric_paths(child, (*path, index))
    elif type(value) in (int, float):
        yield path


def _shipped():
    from audit.trust.core_config import parse_yaml

    return parse_yaml(DEFAULT_CONFIG_PATH.read_bytes())


NUMERIC_PATHS = [p for p in _numeric_paths(_shipped()) if p != ("version",)]


def _with(config, path, value):
    import copy

    changed = copy.deepcopy(config)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def test_every_number_in_the_schema_has_an_upper_bound():
    """Fails when a numeric field is added to (or loses its bound in) docs/schemas/core_config.json without
    a maximum."""
    unbounded = [
        where
        for where, sub in _numeric_subschemas(_schema(), _schema())
        if "maximum" not in sub and "exclusiveMaximum" not in sub
    ]
    assert not unbounded, unbounded
    assert NUMERIC_PATHS, "the shipped config has numeric fields"


@pytest.mark.parametrize("path", NUMERIC_PATHS, ids=lambda p: ".".join(map(str, p)))
@pytest.mark.parametrize("spelling", [".nan", ".NaN", ".inf", "-.inf", "+.Inf", "1.0e+999"])
def test_a_non_finite_number_in_each_numeric_field_is_refused(tmp_path, path, spelling):
    """Fails when _StrictSafeLoader.construct_yaml_float stops refusing NaN/inf (the schema alone lets a
    NaN through: every comparison with NaN is false)."""
    import yaml

    from audit.trust.core_config import load_config

    text = yaml.safe_dump(_with(_shipped(), path, "@@NUMBER@@"), sort_keys=False)
    target = tmp_path / "core.yaml"
    target.write_text(text.replace("'@@NUMBER@@'", spelling))
    with pytest.raises(ConfigError, match="non-finite number") as info:
        load_config(target)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("path", NUMERIC_PATHS, ids=lambda p: ".".join(map(str, p)))
def test_a_huge_number_in_each_numeric_field_is_refused_by_the_schema(tmp_path, path):
    """Fails when the field's schema maximum is removed."""
    import yaml

    from audit.trust.core_config import load_config

    target = tmp_path / "core.yaml"
    target.write_text(yaml.safe_dump(_with(_shipped(), path, 10**15), sort_keys=False))
    with pytest.raises(ConfigError, match="schema error at " + "/".join(map(str, path))):
        load_config(target)


def test_the_shipped_config_has_no_non_finite_number_and_passes_the_schema():
    """Fails when config/core.yaml itself stops meeting the bounds (guards the values above being real)."""
    from audit.trust.core_config import load_config

    assert load_config(DEFAULT_CONFIG_PATH)["version"] == 1
