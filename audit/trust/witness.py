"""Monotonic witnesses: the highest (sequence, head hash) ever seen of each growing signed file.

A signed file that only grows (a decision log, the license registry, the CRL number, the high-water clock,
the audit trail) can still be replaced by an older copy of itself, validly signed. A witness remembers the
highest position seen, so an older copy is refused naming the file and both positions.

Each mark is kept in independent places, and every place is read on every check:
- a sealed state file under the data dir (`state/witness.json`),
- a sealed copy outside it (`paths.witness_dir`: `OEM_WITNESS_DIR` or `<data dir>.witness`), which a
  restored or copied data dir does not roll back; the daemon and the CLIs, which have no database, keep it,
- every store registered with `register_store` (the console registers its database).
A place that lost a mark another place still holds is an error; a file in use (position > 0) with no mark
anywhere is an error, never "no mark": `begin()` writes position 0 before a file is first written.

Seals are HMAC-SHA384 under a key kept beside each sealed file. They catch an edited mark, not a
determined attacker who rewrites both places with their keys: the independence of the places (and the
database) is what resists rollback. `reset()` is the one way back (restore_installation), journaled in
every place and reported to every registered reset hook.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from audit.trust import paths
from audit.trust.canonical import StrictJSONError, canonical_bytes, strict_loads
from audit.trust.fsutil import (
    MAX_JSON_FILE,
    MAX_KEY_FILE,
    atomic_write_bytes,
    create_secret_file,
    exclusive_lock,
    read_regular_file,
)
from audit.trust.hashing import sha384_bytes

WITNESS_FORMAT = "oem-witness/1"
_SEAL_PREFIX = b"oem/witness/v1\x00"
_HEAD_PREFIXES = ("sha384:", "sha256:", "crl:", "clock:")


class WitnessError(ValueError):
    """A file is behind or beside its witness, or a witness place is lost or altered. One line."""


@dataclass(frozen=True)
class Mark:
    """A position in a growing file: `seq` entries (0 = nothing written yet) ending at `head`."""

    seq: int
    head: str

    def __post_init__(self) -> None:
        if type(self.seq) is not int or self.seq < 0:
            raise WitnessError(f"witness position {self.seq!r} is not a non-negative integer")
        if not isinstance(self.head, str) or not 0 < len(self.head) <= 200:
            raise WitnessError("witness head must be a non-empty string of at most 200 characters")

    def short(self) -> str:
        return f"{self.seq} {self.head[:19]}..."


class WitnessStore(Protocol):
    label: str  # how messages name this place
    required: bool  # a mark missing here while another place holds one is an error

    def get(self, key: str) -> Mark | None: ...

    def put(self, key: str, mark: Mark, *, force: bool = False) -> None:
        """Record `mark` unless the place already holds a later one (`force`: only for reset)."""
        ...

    def forget(self, key: str) -> None: ...


class SealedFileStore:
    """Marks in one JSON file sealed with HMAC-SHA384 under a 0600 key file beside it."""

    required = True

    def __init__(self, path: Path, label: str, scope: str = ""):
        self.path = Path(path)
        self.key_path = self.path.with_suffix(".key")
        self.label = label
        self.scope = scope

    def _key(self, create: bool) -> bytes | None:
        if not self.key_path.exists():
            if not create:
                return None
            try:
                create_secret_file(self.key_path, secrets.token_bytes(48))
            except FileExistsError:
                pass
        return read_regular_file(self.key_path, max_bytes=MAX_KEY_FILE, what="witness key")

    def _seal(self, key: bytes, records: dict[str, Any]) -> str:
        body = canonical_bytes({"format": WITNESS_FORMAT, "scope": self.scope, "records": records})
        return base64.b64encode(hmac.new(key, _SEAL_PREFIX + body, "sha384").digest()).decode("ascii")

    def _records(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            key = self._key(create=False)
            if key is None:
                raise WitnessError(f"witness {self.path}: its seal key {self.key_path.name} is missing")
            doc = strict_loads(read_regular_file(self.path, max_bytes=MAX_JSON_FILE, what="witness"))
        except (OSError, StrictJSONError) as exc:
            raise WitnessError(f"witness {self.path} cannot be read: {exc}") from None
        if (
            not isinstance(doc, dict)
            or set(doc) != {"format", "scope", "records", "seal"}
            or doc["format"] != WITNESS_FORMAT
            or not isinstance(doc["records"], dict)
            or not isinstance(doc["seal"], str)
        ):
            raise WitnessError(f"witness {self.path} has an unexpected structure")
        if doc["scope"] != self.scope:  # checked first: the clearer reason when a place was copied or re-made
            raise WitnessError(f"witness {self.path} belongs to {doc['scope']!r}, not {self.scope!r}")
        if not hmac.compare_digest(doc["seal"].encode(), self._seal(key, doc["records"]).encode()):
            raise WitnessError(f"witness {self.path}: seal does not verify (edited?)")
        return doc["records"]

    def get(self, key: str) -> Mark | None:
        record = self._records().get(key)
        if record is None:
            return None
        if not isinstance(record, dict):
            raise WitnessError(f"witness {self.path}: record {key} is malformed")
        return Mark(record.get("seq"), record.get("head"))

    def _change(self, change: Callable[[dict[str, Any]], None]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with exclusive_lock(self.path.with_name(f".{self.path.name}.lock")):
            records = dict(self._records())
            change(records)
            key = self._key(create=True)
            doc = {
                "format": WITNESS_FORMAT,
                "scope": self.scope,
                "records": records,
                "seal": self._seal(key, records),
            }
            atomic_write_bytes(self.path, canonical_bytes(doc) + b"\n", mode=0o600)

    def put(self, key: str, mark: Mark, *, force: bool = False) -> None:
        def change(records: dict[str, Any]) -> None:
            held = records.get(key)
            # Under the lock: a concurrent writer that already recorded a later mark is never undone.
            if (
                not force
                and isinstance(held, dict)
                and type(held.get("seq")) is int
                and held["seq"] > mark.seq
            ):
                return
            records[key] = {"seq": mark.seq, "head": mark.head}

        self._change(change)

    def forget(self, key: str) -> None:
        self._change(lambda records: records.pop(key, None))

    def journal(self, line: dict[str, Any]) -> None:
        """Append one reset record beside the state file (append-only by convention; read by people)."""
        journal = self.path.with_name("witness_resets.jsonl")
        with open(journal, "ab") as handle:
            handle.write(canonical_bytes(line) + b"\n")


StoreFactory = Callable[[Path], "WitnessStore | None"]
ResetHook = Callable[[dict[str, Any]], None]
_store_factories: dict[str, StoreFactory] = {}
_reset_hooks: dict[str, ResetHook] = {}


def register_store(name: str, factory: StoreFactory) -> None:
    """`factory(data_dir)` returns one more place for marks of that data dir, or None (e.g. the console's
    database store answers only for the data dir it serves)."""
    _store_factories[name] = factory


def unregister_store(name: str) -> None:
    _store_factories.pop(name, None)


def register_reset_hook(name: str, hook: ResetHook) -> None:
    """`hook(record)` is told of every reset (the console records an audit event)."""
    _reset_hooks[name] = hook


class Witness:
    def __init__(self, stores: list[WitnessStore], *, data_dir: Path | None = None):
        if len(stores) < 2:
            raise WitnessError("a witness needs at least two independent places")
        self.stores = stores
        self.data_dir = data_dir  # whose marks these are (told to reset hooks)

    def marks(self, key: str) -> dict[str, Mark | None]:
        return {store.label: store.get(key) for store in self.stores}

    def check(
        self, key: str, current: Mark, *, label: str, head_at: Callable[[int], str | None] | None = None
    ) -> Mark | None:
        """Raise WitnessError unless `current` is at or beyond the highest mark of `key` and extends it
        (`head_at(seq)` gives the file's head after `seq` entries when the file can say). Returns it."""
        marks = self.marks(key)
        present = {place: mark for place, mark in marks.items() if mark is not None}
        if not present:
            if current.seq > 0:
                raise WitnessError(
                    f"{label}: in use (at {current.short()}) but no witness holds a mark for it "
                    "(witness lost; restore_installation is the way back)"
                )
            return None
        high = max(present.values(), key=lambda mark: mark.seq)
        where = ", ".join(f"{place} {mark.short() if mark else 'missing'}" for place, mark in marks.items())
        lost = [s.label for s in self.stores if s.required and marks[s.label] is None]
        if lost:
            raise WitnessError(f"{label}: witness lost in {', '.join(lost)} ({where})")
        if any(mark.seq == high.seq and mark.head != high.head for mark in present.values()):
            raise WitnessError(f"{label}: witness places disagree ({where})")
        if current.seq < high.seq:
            raise WitnessError(
                f"{label}: rolled back: file at {current.short()}, witness at {high.short()} ({where})"
            )
        if current.seq == high.seq and not hmac.compare_digest(current.head.encode(), high.head.encode()):
            raise WitnessError(
                f"{label}: replaced: file at {current.short()}, witness at {high.short()} ({where})"
            )
        if current.seq > high.seq and head_at is not None:
            seen = head_at(high.seq)
            if seen is None or not hmac.compare_digest(seen.encode(), high.head.encode()):
                raise WitnessError(
                    f"{label}: does not extend its witness: file at {current.short()}, "
                    f"witness at {high.short()} ({where})"
                )
        return high

    def begin(self, key: str, start: Mark, *, label: str) -> None:
        """Before a file is first written: record its starting position in every place, so that from now on
        a missing mark is an error. A no-op when a mark exists (it is checked instead)."""
        if all(mark is None for mark in self.marks(key).values()):
            for store in self.stores:
                store.put(key, start)
        else:
            self.check(key, start, label=label, head_at=lambda _seq: start.head)

    def advance(
        self, key: str, new: Mark, *, label: str, head_at: Callable[[int], str | None] | None = None
    ) -> None:
        """Record `new` (checked first) in every place whose mark is older or missing."""
        self.check(key, new, label=label, head_at=head_at)
        for store in self.stores:
            mark = store.get(key)
            if mark is None or mark.seq < new.seq:
                store.put(key, new)

    def reset(self, key: str, to: Mark | None, *, reason: str, actor: str) -> dict[str, Any]:
        """The documented way back (restore_installation only): set or drop `key` in every place, journal it
        in each sealed place and tell every reset hook. Returns the journal record."""
        if not reason or not actor:
            raise WitnessError("a witness reset needs a reason and an actor")
        before = {place: (mark.short() if mark else None) for place, mark in self._marks_lenient(key).items()}
        for store in self.stores:
            if to is None:
                store.forget(key)
            else:
                store.put(key, to, force=True)
        from audit.trust.keyring import format_time, utc_now

        record = {
            "at": format_time(utc_now()),
            "key": key,
            "to": None if to is None else {"seq": to.seq, "head": to.head},
            "before": before,
            "reason": reason[:300],
            "actor": actor[:150],
            "data_dir": str(self.data_dir) if self.data_dir is not None else None,
        }
        for store in self.stores:
            if isinstance(store, SealedFileStore):
                store.journal(record)
        for hook in list(_reset_hooks.values()):
            hook(record)
        return record

    def _marks_lenient(self, key: str) -> dict[str, Mark | None]:
        found: dict[str, Mark | None] = {}
        for store in self.stores:
            try:
                found[store.label] = store.get(key)
            except WitnessError:
                found[store.label] = None
        return found


def witness_for(data_dir: Path | str | None = None, *, scope: str | None = None) -> Witness:
    """The witness of a data dir: its two sealed places plus every registered store. `scope` (default: the
    installation id when the data dir has one) makes a place copied from another installation refuse."""
    base = Path(data_dir).resolve() if data_dir is not None else paths.data_dir()
    if scope is None:
        scope = _installation_scope(base)
    stores: list[WitnessStore] = [
        SealedFileStore(paths.witness_state_path(base), "state file", scope),
        SealedFileStore(paths.witness_dir(base) / "witness.json", "witness copy", scope),
    ]
    for factory in list(_store_factories.values()):
        store = factory(base)
        if store is not None:
            stores.append(store)
    return Witness(stores, data_dir=base)


def _installation_scope(base: Path) -> str:
    path = paths.installation_path(base)
    if not path.exists():
        return ""
    try:
        doc = json.loads(read_regular_file(path, max_bytes=MAX_JSON_FILE, what="installation"))
    except (OSError, ValueError):
        return ""  # load_installation reports a damaged installation; the witness need not
    return doc.get("installation_id", "") if isinstance(doc, dict) else ""


def chain_head(data: bytes) -> str:
    """`sha384:<hex>` of bytes: the head a JSONL file's witness records for its last line."""
    return "sha384:" + sha384_bytes(data)
