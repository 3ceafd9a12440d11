"""The artefact archive: a copy of every artefact a gate decision records, under
`<data dir>/audit/artefacts/<YYYY-MM-DD>/<gate>/<set>/`, with `index.json` (name, kind, SHA-384, path,
source). The decision entry records the archived copies and the index itself (`artefact_index`), so the
evidence a gate was closed on stays re-checkable after the working files move on (a new config, a rotated
certificate, a newer report).

`<set>` is the first 16 hex characters of the SHA-384 of what is archived: archiving the same evidence
twice lands in the same folder and never rewrites an index an entry may already record. Files a kind's
verifier reads beside the artefact (the CRL beside an mTLS bundle, the signature beside a bundle manifest,
the config beside its .sig, the orders log beside a paper smoke report) are copied with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.fsutil import UnsafeFileError, atomic_write_bytes, read_regular_file
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import format_time, utc_now

INDEX_SCHEMA = "oem/artefact-index/v1"
INDEX_NAME = "index.json"
_COMPANIONS = {
    "mtls_bundle": ("crl.pem",),
    "bundle": ("manifest.sig",),
    "license_registry": ("registry.checkpoint.json",),
}


class ArchiveError(ValueError):
    """An artefact cannot be archived (missing, changed since recorded). One line; nothing recorded."""


def archive_root(data_dir: Path) -> Path:
    return Path(data_dir) / "audit" / "artefacts"


def _source_path(stored: str, data_dir: Path) -> Path:
    candidate = Path(stored)
    return candidate if candidate.is_absolute() else Path(data_dir) / candidate


def _read(path: Path) -> bytes:
    from audit.trust.evidence import MAX_ARTEFACT_BYTES  # evidence imports the verifiers, which import this

    return read_regular_file(path, max_bytes=MAX_ARTEFACT_BYTES, what="artefact")


def _companions(kind: str, path: Path, data: bytes) -> list[Path]:
    names = list(_COMPANIONS.get(kind, ()))
    if kind == "config_signature":
        try:
            doc = strict_loads(data)
            names.append(str(doc["file"]))
        except (StrictJSONError, KeyError, TypeError):
            pass
    if kind == "paper_smoke_report":  # the orders log the report binds by SHA-384
        try:
            names.append(str(strict_loads(data)["orders_log"]["path"]))
        except (StrictJSONError, KeyError, TypeError):
            pass
    return [path.with_name(n) for n in names if "/" not in n and path.with_name(n).is_file()]


def archive_artefacts(
    artefacts: Mapping[str, Any], *, gate: str, data_dir: Path, now: datetime | None = None
) -> tuple[dict[str, Any], Path | None]:
    """(the artefacts with every declared file replaced by its archived copy plus `artefact_index`, the
    folder when this call created it - else None). A caller whose entry is then refused passes that folder
    to discard_archive, so a refusal leaves nothing behind.

    Raises ArchiveError before writing anything when a recorded file is missing or changed.
    """
    from audit.trust.gates import GATES, declared_kinds

    if gate not in GATES:
        raise ArchiveError(f"unknown gate {gate!r}")
    kinds = declared_kinds(GATES[gate].status)
    data_dir = Path(data_dir)
    files: list[tuple[str, str, str, bytes, list[Path]]] = []  # name, kind, source, bytes, companions
    values: dict[str, tuple[str, str]] = {}
    result: dict[str, Any] = {}
    for name, value in sorted(artefacts.items()):
        kind = kinds.get(name)
        if name == "artefact_index":
            continue
        if kind is None or value is None:
            result[name] = value
            continue
        if isinstance(value, dict):
            source = _source_path(value["path"], data_dir)
            try:  # the bounded reader: a FIFO or device recorded as an artefact is refused, never read
                data = _read(source)
            except UnsafeFileError as exc:
                raise ArchiveError(f"artefact {name}: cannot read {value['path']}: {exc}") from None
            if sha384_bytes(data) != value["sha384"]:
                raise ArchiveError(f"artefact {name}: {value['path']} changed since it was recorded")
            files.append((name, kind, value["path"], data, _companions(kind, source, data)))
        else:
            values[name] = (kind, str(value))
            result[name] = value
    identity = [(n, k, sha384_bytes(d), [c.name for c in cs]) for n, k, _s, d, cs in files]
    identity += [(n, k, sha384_bytes(v.encode()), []) for n, (k, v) in sorted(values.items())]
    now = now or utc_now()
    folder = (
        archive_root(data_dir)
        / now.strftime("%Y-%m-%d")
        / gate
        / sha384_bytes(canonical_bytes(identity))[:16]
    )
    rows = []
    for name, kind, source, data, _extra in files:
        target = folder / name / Path(source).name
        stored = target.relative_to(data_dir).as_posix()
        rows.append(
            {"name": name, "kind": kind, "sha384": sha384_bytes(data), "path": stored, "source": source}
        )
        result[name] = {"path": stored, "sha384": sha384_bytes(data)}
    for name, (kind, value) in sorted(values.items()):
        rows.append(
            {
                "name": name,
                "kind": kind,
                "sha384": sha384_bytes(value.encode()),
                "path": None,
                "source": "value",
            }
        )
    index_path = folder / INDEX_NAME
    created = None
    if not index_path.exists():
        created = folder if not folder.exists() else None
        for name, _kind, source, data, companions in files:
            target = folder / name / Path(source).name
            atomic_write_bytes(target, data)
            for companion in companions:
                atomic_write_bytes(target.with_name(companion.name), _read(companion))
        index = {
            "schema": INDEX_SCHEMA,
            "gate": gate,
            "created": format_time(now),
            "artefacts": sorted(rows, key=lambda r: r["name"]),
        }
        atomic_write_bytes(index_path, canonical_bytes(index) + b"\n")
    index_bytes = _read(index_path)
    result["artefact_index"] = {
        "path": index_path.relative_to(data_dir).as_posix(),
        "sha384": sha384_bytes(index_bytes),
    }
    return result, created


def discard_archive(folder: Path | None) -> None:
    """Remove a folder archive_artefacts created (and the date/gate folders it left empty)."""
    if folder is None or not folder.is_dir():
        return
    import shutil

    shutil.rmtree(folder)
    for parent in (folder.parent, folder.parent.parent):
        try:
            parent.rmdir()
        except OSError:
            break
