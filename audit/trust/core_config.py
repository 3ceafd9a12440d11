"""Integrity and validity of config/core.yaml (and .env): schema, profile rules, HMAC signature, hashes.

The signature file `<file>.sig` is one JSON line {"file", "sha384", "signature"}, where the signature is
HMAC-SHA384 by the current `config` key over
signing_input("oem/config/v1", {"file": <name>, "sha384": <hex>}).
The file is read once; hashes, signature check and parsing all use those same bytes, so what was checked is
what runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from audit.trust import paths
from audit.trust.canonical import DOMAIN_CONFIG, StrictJSONError, canonical_bytes, signing_input, strict_loads
from audit.trust.fsutil import (
    MAX_CONFIG_FILE,
    MAX_JSON_FILE,
    UnsafeFileError,
    atomic_write_bytes,
    read_regular_file,
)
from audit.trust.hashing import sha256_bytes, sha384_bytes
from audit.trust.keyring import KeyRing, KeyRingError
from audit.trust.live_venues import live_routing_problems
from audit.trust.signatures import SignatureError

PROFILES = ("demo", "paper", "live")


class ConfigError(ValueError):
    """The config is unusable. One-line reason."""


@dataclass(frozen=True)
class ConfigValidation:
    path: Path
    profile: str
    sha256: str
    sha384: str
    signed_by: str  # kid of the config key that signed it
    config: dict[str, Any]


# Far deeper than config/core.yaml (5 levels), far below anything that costs the composer time or stack.
MAX_YAML_DEPTH = 32
_SCALAR_TYPES = (str, int, float, bool, type(None))


class _StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses what could make two readers see different configs, or make one reader slow:
    duplicate keys (PyYAML silently keeps the last), non-string keys, anchors and aliases (a few lines of
    aliases expand to billions of nodes for whoever walks the result), nesting deeper than MAX_YAML_DEPTH,
    non-finite floats, and tags that build anything but JSON's types (dates, binary, sets)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ConfigError(f"YAML aliases are not allowed (line {event.start_mark.line + 1})")
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            raise ConfigError(f"YAML anchors are not allowed (line {event.start_mark.line + 1})")
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise ConfigError(
                    f"YAML nesting deeper than {MAX_YAML_DEPTH} levels (line {event.start_mark.line + 1})"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)  # PyYAML's own one-line error
        seen = set()
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"complex YAML key at line {line}: keys must be strings")
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConfigError(f"YAML merge keys are not allowed (line {line})")
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise ConfigError(f"YAML key {key!r} at line {line} is not a string (quote it)")
            if key in seen:
                raise ConfigError(f"duplicate key {key!r} at line {line}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_float(self, node):
        value = super().construct_yaml_float(node)
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"non-finite number {node.value!r} at line {node.start_mark.line + 1}")
        return value

    def construct_undefined_type(self, node):
        raise ConfigError(f"YAML tag {node.tag!r} is not allowed (line {node.start_mark.line + 1})")


_StrictSafeLoader.add_constructor("tag:yaml.org,2002:float", _StrictSafeLoader.construct_yaml_float)
for _tag in ("timestamp", "binary", "set", "omap", "pairs"):
    _StrictSafeLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _StrictSafeLoader.construct_undefined_type)
_StrictSafeLoader.add_constructor(None, _StrictSafeLoader.construct_undefined_type)


def parse_yaml(data: bytes) -> Any:
    """One YAML document of JSON types (str keys, finite numbers), or ConfigError with a one-line reason."""
    if len(data) > MAX_CONFIG_FILE:
        raise ConfigError(f"YAML document larger than {MAX_CONFIG_FILE} bytes")
    try:
        return yaml.load(data, Loader=_StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError:
        raise
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {' '.join(str(exc).split())[:200]}") from exc
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. an int over 4300 digits
        raise ConfigError(f"invalid YAML: {' '.join(str(exc).split())[:200]}") from exc


def read_config_file(path: Path | str, *, what: str = "config file") -> bytes:
    """The bytes of a config-sized regular file, or ConfigError (FIFOs, devices, oversize files refused)."""
    try:
        return read_regular_file(path, max_bytes=MAX_CONFIG_FILE, what=what)
    except UnsafeFileError as exc:
        raise ConfigError(str(exc)) from exc


def load_yaml_file(path: Path | str, *, what: str = "config file") -> Any:
    """Read (bounded, regular files only) and parse one YAML file; ConfigError names the file."""
    data = read_config_file(path, what=what)
    try:
        return parse_yaml(data)
    except ConfigError as exc:
        raise ConfigError(f"{Path(path).name}: {exc}") from exc


def signature_path(path: Path) -> Path:
    return path.with_name(path.name + ".sig")


def _signed_payload(path: Path, sha384: str) -> dict[str, str]:
    return {"file": path.name, "sha384": sha384}


def sign_file(path: Path | str, keyring: KeyRing) -> Path:
    """Write `<path>.sig` with the current `config` key (created on first use)."""
    path = Path(path)
    data = read_config_file(path)
    digest = sha384_bytes(data)
    payload = _signed_payload(path, digest)
    doc = {**payload, "signature": keyring.hmac_signer("config").sign(DOMAIN_CONFIG, payload)}
    target = signature_path(path)
    atomic_write_bytes(target, canonical_bytes(doc) + b"\n")
    return target


def verify_file_signature(path: Path, data: bytes, keyring: KeyRing) -> str:
    """Check `<path>.sig` against `data` (the bytes already read). Returns the signing kid."""
    sig_path = signature_path(path)
    if not sig_path.exists():
        raise ConfigError(f"{path.name} is unsigned: {sig_path.name} is missing")
    try:
        doc = strict_loads(read_regular_file(sig_path, max_bytes=MAX_CONFIG_FILE, what="config signature"))
    except UnsafeFileError as exc:
        raise ConfigError(str(exc)) from exc
    except StrictJSONError as exc:
        raise ConfigError(f"{sig_path.name} is malformed: {exc}") from exc
    if not isinstance(doc, dict) or set(doc) != {"file", "sha384", "signature"}:
        raise ConfigError(f"{sig_path.name} has an unexpected structure")
    if doc["file"] != path.name:
        raise ConfigError(f"{sig_path.name} was made for {doc['file']!r}, not {path.name}")
    digest = sha384_bytes(data)
    if doc["sha384"] != digest:
        raise ConfigError(f"{path.name} was modified after signing (sha384 mismatch)")
    try:
        record = keyring.verify(
            doc["signature"], signing_input(DOMAIN_CONFIG, _signed_payload(path, digest)), purpose="config"
        )
    except (SignatureError, KeyRingError) as exc:
        raise ConfigError(f"{sig_path.name}: {exc}") from exc
    return record.kid


def _schema_errors(config: Any, schema_path: Path) -> str | None:
    import jsonschema

    try:
        schema = strict_loads(read_regular_file(schema_path, max_bytes=MAX_JSON_FILE, what="schema"))
    except (OSError, StrictJSONError) as exc:
        raise ConfigError(f"cannot load schema {schema_path}: {exc}") from exc
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"schema error at {where}: {' '.join(error.message.split())[:200]}"


def load_config(path: Path | str, schema_path: Path | None = None) -> dict[str, Any]:
    """Parse and schema-check a config without its signature: for tools that only read it (exporting alert
    rules, planning a lab). Whatever starts trading uses validate_config, which also checks the signature."""
    path = Path(path)
    config = parse_yaml(read_config_file(path))
    problem = _schema_errors(config, Path(schema_path) if schema_path else paths.CORE_CONFIG_SCHEMA_PATH)
    if problem:
        raise ConfigError(f"{path.name}: {problem}")
    return config


def check_profile(config: dict[str, Any], profile: str) -> None:
    """Rules JSON Schema cannot express: cross-references and what each stage may do."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r} (expected demo, paper or live)")
    selected = config["profiles"].get(profile)
    if selected is None:
        raise ConfigError(f"profile {profile} is not defined in the config")
    if selected["risk_profile"] not in config["risk_profiles"]:
        raise ConfigError(f"profile {profile} uses undefined risk profile {selected['risk_profile']!r}")
    venues = config["venues"]
    for venue in selected["venues"]:
        if venue not in venues:
            raise ConfigError(f"profile {profile} uses undefined venue {venue!r}")
        if profile != "live" and venues[venue]["kind"] != "paper":
            raise ConfigError(f"profile {profile} may only use paper venues, not {venue!r}")
    if profile != "live" and selected["allow_real_orders"]:
        raise ConfigError(f"profile {profile} must not allow real orders")
    if profile == "live" and (problems := live_routing_problems(config)):
        raise ConfigError(problems[0])
    routing = config["routing"]
    for venue in [*routing["default"], *(v for vs in routing.get("symbols", {}).values() for v in vs)]:
        if venue not in venues:
            raise ConfigError(f"routing uses undefined venue {venue!r}")


def validate_config(
    path: Path | str | None,
    profile: str,
    *,
    keyring: KeyRing | None = None,
    schema_path: Path | str | None = None,
    env_path: Path | str | None = None,
) -> ConfigValidation:
    """Signature, schema and profile checks; returns both hashes of the exact bytes checked."""
    path = Path(path) if path else paths.DEFAULT_CONFIG_PATH
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r} (expected demo, paper or live)")
    data = read_config_file(path)
    try:
        keyring = keyring or KeyRing.load()
    except KeyRingError as exc:
        raise ConfigError(str(exc)) from exc
    kid = verify_file_signature(path, data, keyring)
    if env_path is not None:
        env_path = Path(env_path)
        env_data = read_config_file(env_path, what="env file")
        verify_file_signature(env_path, env_data, keyring)
    config = parse_yaml(data)
    error = _schema_errors(config, Path(schema_path) if schema_path else paths.CORE_CONFIG_SCHEMA_PATH)
    if error:
        raise ConfigError(error)
    check_profile(config, profile)
    return ConfigValidation(path, profile, sha256_bytes(data), sha384_bytes(data), kid, config)
