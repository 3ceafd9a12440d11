"""Evidence kinds: every artefact a gate records is checked for what it says, not only that it is there.

A gate declares each artefact's kind (`audit.trust.gates`). The package that produces an artefact owns its
verifier and registers it here at import time (`register_verifier("smoke_report", verify_smoke)`); audit
never imports those packages statically - `verifier_for` imports PRODUCER_MODULES by name, once, so audit
stays at the bottom of the layers. A kind without a verifier is refused (`no <kind> verifier`): unproven
evidence never counts.

A verifier receives the artefact (the file's bytes, already checked against the recorded SHA-384, or the
recorded value) and an EvidenceContext (the entry, the key ring, the data dir, the config hash the entry
names) and returns one-line problems; [] means proven. The strict verifier, `verify_decision_log update`,
the console's proposal and the daemon's gate all call `entry_artefact_problems`, so they agree.

Verdicts are cached per (kind, content hash, context) for a minute: re-verifying unchanged artefacts costs
a dictionary lookup, and time-dependent verdicts (certificate lifetimes, CRL freshness) are re-taken soon.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.trust.canonical import canonical_bytes, fast_canonical_bytes
from audit.trust.fsutil import read_regular_file
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import KeyRing

MAX_ARTEFACT_BYTES = 64 * 1024 * 1024
CACHE_SECONDS = 60.0
_CACHE_LIMIT = 8192

PRODUCER_MODULES = (
    "audit.trust.evidence_kinds",  # config_hash, config_signature, signed_checklist, ci_run, artefact_index
    "licensing.core.evidence",  # license_registry
    "risklab.engine.evidence",  # paper_labs_report
    "execution.evidence",  # smoke_report, paper_smoke_report, live_dry_run_report, metrics_log, mtls_bundle
    "deploy.packaging.evidence",  # bundle
    "desktop_qml.evidence",  # ui_telemetry_log
)

# Kinds recorded as a {path, sha384} file reference; every other kind is a recorded value (string).
FILE_KINDS = frozenset(
    {
        "config_signature",
        "signed_checklist",
        "paper_labs_report",
        "paper_labs_report_pdf",
        "smoke_report",
        "paper_smoke_report",
        "live_dry_run_report",
        "metrics_log",
        "mtls_bundle",
        "license_registry",
        "bundle",
        "ci_run",
        "ui_telemetry_log",
        "artefact_index",
    }
)


@dataclass(frozen=True)
class ArtefactInput:
    name: str  # key under the entry's "artefacts"
    kind: str
    value: Any  # as recorded in the entry: {"path", "sha384"} for a file, else a string/object
    path: Path | None  # resolved path of a file artefact
    data: bytes | None  # the file's bytes (size-capped read), already checked against the recorded sha384


@dataclass(frozen=True)
class EvidenceContext:
    data_dir: Path
    log_name: str
    gate: str | None
    entry: Mapping[str, Any]  # the entry without signatures (recorded, or about to be proposed)
    keyring: KeyRing | None
    installation_id: str | None
    deployment_id: str | None
    config_sha384: str | None  # hex of the config the entry names in its config_hash artefact
    earlier: tuple[Mapping[str, Any], ...] = field(default=())  # verified entries of earlier stages

    def decided_at(self) -> datetime:
        """The moment the evidence must hold at: the entry's time, or now for an entry still proposed.
        A recorded decision stays verifiable later; the daemon checks what it runs with at run time."""
        from audit.trust.keyring import parse_time, utc_now

        try:
            return parse_time(str(self.entry["timestamp"]))
        except (KeyError, ValueError):
            return utc_now()

    def artefact(self, name: str) -> Any:
        return self.entry.get("artefacts", {}).get(name)

    def file_of(self, name: str) -> Path | None:
        """Resolved path of another file artefact of the same entry (None when not a file reference)."""
        value = self.artefact(name)
        if not isinstance(value, dict) or not isinstance(value.get("path"), str):
            return None
        return resolve_inside(value["path"], self.data_dir)


ArtefactVerifier = Callable[[ArtefactInput, EvidenceContext], list[str]]

_REGISTRY: dict[str, ArtefactVerifier] = {}
_LOADED = threading.Event()
_LOAD_LOCK = threading.Lock()
_CACHE: dict[tuple, tuple[float, tuple[str, ...]]] = {}
_CROSS_CHECKING = frozenset({"signed_checklist", "artefact_index"})
_KINDS: dict[str, dict[str, str]] = {}  # status -> declared kinds (GATES is constant)


def register_verifier(kind: str, verifier: ArtefactVerifier) -> None:
    _REGISTRY[kind] = verifier
    _CACHE.clear()


def unregister_verifier(kind: str) -> None:
    """Remove a kind's verifier (tests that stand in for a producer package restore the registry)."""
    _REGISTRY.pop(kind, None)
    _CACHE.clear()


def verifier_for(kind: str) -> ArtefactVerifier | None:
    _load_producers()
    return _REGISTRY.get(kind)


def _load_producers() -> None:
    if _LOADED.is_set():
        return
    with _LOAD_LOCK:
        if _LOADED.is_set():
            return
        for module in PRODUCER_MODULES:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                # Only the producer package itself may be absent; a broken import inside it is a bug.
                if exc.name is None or not (module == exc.name or module.startswith(exc.name + ".")):
                    raise
        _LOADED.set()


def clear_cache() -> None:
    _CACHE.clear()


# ---- reading files ------------------------------------------------------------------------------------
def resolve_inside(stored: str, data_dir: Path) -> Path | None:
    """The path of a recorded file, or None when it does not lie inside this deployment's data dir."""
    candidate = Path(stored)
    if candidate.is_absolute() or ".." in candidate.parts:
        return None
    return Path(data_dir) / candidate


def read_capped(path: Path) -> bytes | None:
    """The file's bytes, or None when it is missing or larger than MAX_ARTEFACT_BYTES."""
    # The bounded reader: a FIFO or device planted as an artefact is refused without blocking.
    try:
        return read_regular_file(path, max_bytes=MAX_ARTEFACT_BYTES, what="artefact")
    except (OSError, ValueError):
        return None


Reader = Callable[[Path], "bytes | None"]
Digest = Callable[[Path], "str | None"]


# ---- checking one entry -------------------------------------------------------------------------------
def config_hex(entry: Mapping[str, Any]) -> str | None:
    value = entry.get("artefacts", {}).get("config_hash")
    if isinstance(value, str) and value.startswith("sha384:"):
        return value.removeprefix("sha384:")
    return None


def context_for(
    entry: Mapping[str, Any],
    *,
    log_name: str,
    data_dir: Path,
    keyring: KeyRing | None,
    earlier: tuple[Mapping[str, Any], ...] = (),
    signing_context: Mapping[str, str] | None = None,
) -> EvidenceContext:
    from audit.trust.gates import gate_for_status  # gates imports the verifier, which imports this module

    unsigned = {k: v for k, v in entry.items() if k != "signatures"}
    gate = gate_for_status(str(entry.get("status")))
    context = signing_context if signing_context is not None else evidence_signing_context(keyring, data_dir)
    return EvidenceContext(
        data_dir=Path(data_dir),
        log_name=log_name,
        gate=gate.name if gate else None,
        entry=unsigned,
        keyring=keyring,
        installation_id=context.get("installation_id"),
        deployment_id=context.get("deployment_id"),
        config_sha384=config_hex(entry),
        earlier=earlier,
    )


def evidence_signing_context(keyring: KeyRing | None, data_dir: Path) -> dict[str, str]:
    """{installation_id, deployment_id} the signatures over evidence in `data_dir` bind (the same context
    as the decision log's signatures); {} without an installed key ring, so nothing bound can verify."""
    from audit.trust.installation import signature_context

    installation = getattr(keyring, "installation", None)
    if installation is None:
        return {}
    return signature_context(installation, data_dir)


@dataclass(frozen=True)
class ArtefactVerdict:
    name: str
    kind: str | None
    problems: tuple[str, ...]

    @property
    def proven(self) -> bool:
        return not self.problems


def _declared_kinds(status: str) -> dict[str, str]:
    kinds = _KINDS.get(status)
    if kinds is None:
        from audit.trust.gates import declared_kinds

        kinds = _KINDS.setdefault(status, declared_kinds(status))
    return kinds


def declares_artefacts(entry: Mapping[str, Any]) -> bool:
    """Whether the entry records an artefact its gate declares: without one, entry_artefact_verdicts has
    nothing to verify (the verifier skips the call for each such entry of a long log)."""
    return not _declared_kinds(str(entry.get("status"))).keys().isdisjoint(entry.get("artefacts", {}))


def entry_artefact_verdicts(
    entry: Mapping[str, Any],
    *,
    log_name: str,
    data_dir: Path,
    keyring: KeyRing | None,
    read: Reader = read_capped,
    digest: Digest | None = None,
    earlier: tuple[Mapping[str, Any], ...] = (),
    cache_salt: str = "",
    signing_context: Mapping[str, str] | None = None,
) -> list[ArtefactVerdict]:
    """One verdict per artefact the entry's gate declares (artefacts a gate does not declare prove nothing
    and are not listed). An absent or null declared artefact is the gate's business (evidence_missing).

    With `digest` (the strict verifier, which has already matched every recorded file against its SHA-384
    in this run) a whole entry whose declared artefacts were verified before is answered from the cache.
    `signing_context`: evidence_signing_context(keyring, data_dir), when the caller already has it (resolving
    the data dir for every entry of a long log costs more than the rest of a cached verdict).
    """
    status = str(entry.get("status"))
    kinds = _declared_kinds(status)
    if not kinds:
        return []
    artefacts = entry.get("artefacts", {})
    declared = {name: value for name, value in artefacts.items() if name in kinds}
    if not declared:
        return []  # verdicts are for declared artefacts only; nothing to verify, nothing to cache
    context = signing_context if signing_context is not None else evidence_signing_context(keyring, data_dir)
    salt = (  # what a verdict may depend on besides the artefact's own content
        log_name,
        status,
        context.get("deployment_id"),
        context.get("installation_id"),
        _key(declared),
        _key([e.get("artefacts") for e in earlier]) if earlier else b"",
        str(data_dir),
        cache_salt,
    )
    entry_key = ("entry", salt, int(time.monotonic() // CACHE_SECONDS))
    if digest is not None and entry_key in _CACHE:
        return list(_CACHE[entry_key][1])
    ctx = context_for(
        entry, log_name=log_name, data_dir=data_dir, keyring=keyring, earlier=earlier, signing_context=context
    )
    verdicts = []
    # Artefacts that cross-check the others (checklists, the archive index) come last, so the first
    # problem named is the artefact at fault rather than a checklist that attached it.
    for name in sorted(artefacts, key=lambda n: (kinds.get(n) in _CROSS_CHECKING, n)):
        kind = kinds.get(name)
        if kind is None or artefacts[name] is None:
            continue
        problems = _check(name, kind, artefacts[name], ctx, read, digest, salt)
        verdicts.append(ArtefactVerdict(name, kind, tuple(problems)))
    if digest is not None:
        _remember(entry_key, tuple(verdicts))
    return verdicts


def _remember(key: tuple, value: tuple) -> None:
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[key] = (time.monotonic(), value)


def _key(value: Any) -> bytes:
    """Exact cache-key bytes of recorded JSON values (sorted keys; compared by equality, not a digest)."""
    try:
        return fast_canonical_bytes(value)
    except (TypeError, ValueError):
        return canonical_bytes(value)


def entry_artefact_problems(entry: Mapping[str, Any], **kwargs) -> list[str]:
    """Every problem of every declared artefact, as `artefact <name> (<kind>): <reason>`."""
    return [
        f"artefact {v.name} ({v.kind}): {p}"
        for v in entry_artefact_verdicts(entry, **kwargs)
        for p in v.problems
    ]


def _check(
    name: str, kind: str, value: Any, ctx: EvidenceContext, read: Reader, digest: Digest | None, salt: tuple
) -> list[str]:
    path: Path | None = None
    data: bytes | None = None
    if kind in FILE_KINDS:
        if not isinstance(value, dict):
            return ["must be a file reference {path, sha384}, not a value"]
        path = resolve_inside(value["path"], ctx.data_dir)
        if path is None:
            return [f"file {value['path']} lies outside this deployment's data directory"]
        data = read(path)
        if data is None:
            return [f"file {value['path']} is missing, unreadable or over {MAX_ARTEFACT_BYTES} bytes"]
        content = digest(path) if digest is not None else sha384_bytes(data)
        if content != value["sha384"]:
            return [f"file {value['path']} changed since it was recorded"]
    else:
        if not isinstance(value, str):
            return ["must be a recorded value, not a file reference"]
        content = sha384_bytes(value.encode())
    key = (kind, name, content, salt, int(time.monotonic() // CACHE_SECONDS))
    cached = _CACHE.get(key)
    if cached is not None:
        return list(cached[1])
    verifier = verifier_for(kind)
    if verifier is None:
        problems = [f"no {kind} verifier"]
    else:
        try:
            problems = [
                " ".join(str(p).split())[:300]
                for p in verifier(ArtefactInput(name, kind, value, path, data), ctx)
            ]
        except Exception as exc:  # noqa: BLE001 - a verifier that crashes has not proven anything
            problems = [f"verifier failed: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"]
    _remember(key, tuple(problems))
    return problems
