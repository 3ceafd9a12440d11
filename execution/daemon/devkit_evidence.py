"""Genuine gate evidence for throw-away deployments (tests, the benchmark, local trials).

Every artefact comes from the product's own producers: the smoke and the paper smoke (run_paper_smoke_ci's
producer, its JSON report with the orders log beside it) through a real daemon,
the live dry run, Paper Labs on a small dataset, the deployment's mTLS bundle, a license registry signed
with the development vendor key, signed checklist exports (each step e-signed over the console's payload),
the config's own HMAC signature, and a CI run record in the docs/schemas/ci_run_v1.json form. The slow
producers run once per process and config (`producer_outputs`), each against a byte copy of the config the
deployment runs (config/core.yaml or a variant, e.g. one declaring a live strategy), and their reports are
copied into each deployment: they bind only that config's hash.

The OEM bundle manifest is signed with the development release key, as a development build of the bundle
builder signs it (no files to ship besides the config it lists). The UI telemetry log has no producer here
(it comes from the desktop client): `write_gate_evidence` writes a line of its documented shape, which proves
something only where a test registers a stand-in verifier for it.
"""

from __future__ import annotations

import functools
import secrets
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from audit.runbooks.model import checklist as checklist_definition
from audit.runbooks.model import version
from audit.trust.artefact_archive import archive_artefacts
from audit.trust.canonical import DOMAIN_ESIG, DOMAIN_MANIFEST, canonical_bytes
from audit.trust.core_config import sign_file
from audit.trust.decision_rules import artefact_file, signing_context
from audit.trust.gates import GATES
from audit.trust.hashing import sha384_bytes, sha384_file
from audit.trust.keyring import KeyRing, format_time, utc_now

DEVKIT_COMMIT = "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e"
DEPLOYMENT_NAME = "devkit"
DEPLOYMENT_PK = 1  # the console's id of the deployment, bound into every e-signature
# console role -> (username, signer roles of their key)
CHECKLIST_SIGNERS = {
    "engineer": ("erin", ["engineer"]),
    "product_owner": ("olivia", ["owner"]),
    "compliance": ("carl", ["compliance"]),
    "admin": ("adam", ["engineer"]),
    "operator": ("otto", ["engineer"]),
}


def password(user: str) -> str:
    return f"devkit-{user}"


@functools.lru_cache(maxsize=4)
def producer_outputs(config: bytes) -> dict[str, tuple[str, bytes]]:
    """name -> (file name, bytes) of the reports the slow producers wrote against the config ``config``
    (its bytes: every producer runs a byte copy, so each report binds its SHA-384), made once per process
    and config."""
    from execution.drills import dry_run as dry_run_module
    from execution.drills import smoke as smoke_module
    from execution.drills.paper_smoke import run_paper_smoke
    from risklab.engine.lab import run_lab

    root = Path(tempfile.mkdtemp(prefix="oem-devkit-evidence-"))
    try:
        out: dict[str, tuple[str, bytes]] = {}
        smoke = smoke_module.smoke(smoke_module.SmokeOptions(cycles=2, data_dir=root), config=config)
        out["smoke"] = (smoke.path.name, smoke.path.read_bytes())
        paper = run_paper_smoke(data_dir=root, out_dir=root / "paper_smoke", cycles=2, config=config)
        out["paper_smoke"] = (paper.json_path.name, paper.json_path.read_bytes())
        out["paper_smoke_orders"] = (paper.orders_path.name, paper.orders_path.read_bytes())
        dry = dry_run_module.dry_run(
            dry_run_module.DryRunOptions(orders=12, fault_rate=0.0, data_dir=root), config_source=config
        )
        out["dry_run"] = (dry.path.name, dry.path.read_bytes())
        lab_config = root / "lab_core.yaml"
        lab_config.write_bytes(config)
        lab = run_lab(
            strategies=["buy_and_hold"],
            scenarios=["baseline"],
            seed=1,
            out_dir=root / "lab",
            config_path=lab_config,
        )
        out["lab_json"] = (lab.json_path.name, lab.json_path.read_bytes())
        out["lab_pdf"] = (lab.pdf_path.name, lab.pdf_path.read_bytes())
        for name, passed in (("smoke", smoke.passed), ("paper_smoke", paper.passed), ("dry_run", dry.passed)):
            if not passed:
                raise RuntimeError(f"devkit evidence: the {name} did not pass")
        if lab.verdict != "pass":
            raise RuntimeError("devkit evidence: the Paper Labs run did not pass")
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


def ci_run_record(commit: str = DEVKIT_COMMIT, job: str = "oem_packaging") -> bytes:
    now = utc_now()
    return canonical_bytes(
        {
            "schema": "oem/ci-run/v1",
            "job": job,
            "run_id": "devkit-1",
            "commit": commit,
            "started": format_time(now - timedelta(minutes=7)),
            "finished": format_time(now),
            "outputs": [
                {"name": "manifest.json", "path": "dist/manifest.json", "sha384": "sha384:" + "0" * 96}
            ],
        }
    )


def bundle_manifest(config: bytes) -> tuple[bytes, str]:
    """(manifest.json bytes, manifest.sig line) of a devkit bundle listing the config, signed with the
    development release key as build_core_bundle signs a development build (refused when OEM_ENV=production,
    as every development release key)."""
    from deploy.packaging.bootstrap.manifest import build_manifest, bytes_entry, manifest_bytes
    from deploy.packaging.builder import DEV_RELEASE_KEY, load_release_signer

    manifest = build_manifest(
        bundle_version="0.0.0",
        commit=DEVKIT_COMMIT,
        platform="linux-x86_64",
        build_time="2026-01-01T00:00:00Z",
        files=[bytes_entry("config/core.yaml", config)],
    )
    signature = load_release_signer(DEV_RELEASE_KEY).sign(DOMAIN_MANIFEST, manifest)
    return manifest_bytes(manifest), signature + "\n"


def ensure_checklist_signers(keyring: KeyRing, admin_password: str | None) -> None:
    """Enrol the checklist signers that are missing; enrolling certifies each key with the installation's
    root, so it needs the installation administrator password."""
    owners = {r.owner for r in keyring.list_keys("signer") if r.status == "active"}
    for user, roles in CHECKLIST_SIGNERS.values():
        if user not in owners:
            keyring.create_signer_key(user, roles, password(user), admin_password=admin_password)
            owners.add(user)


def signed_checklist(
    checklist_id: str,
    *,
    gate: str,
    data_dir: Path,
    keyring: KeyRing,
    artefacts: dict[str, Any],
    deployment: str = DEPLOYMENT_NAME,
    deployment_pk: int = DEPLOYMENT_PK,
    admin_password: str | None = None,
) -> dict[str, Any]:
    """Export `checklist_id` with every step e-signed by its role, attaching the entry's artefacts where the
    step asks for them (a small file or value otherwise). Returns the export document."""
    ensure_checklist_signers(keyring, admin_password)
    context = signing_context(keyring, data_dir)  # the installation and deployment every step binds
    definition = checklist_definition(checklist_id)
    folder = Path(data_dir) / "evidence" / gate / "attachments" / secrets.token_hex(4)
    steps = []
    now = utc_now()
    unlocked: dict[str, Any] = {}  # one key unlock per signer (the KDF is deliberately slow)
    for step in definition.steps:
        attachments = []
        for spec in step.artefacts:
            recorded = artefacts.get(spec.name)
            if isinstance(recorded, dict):
                attachments.append(
                    {"name": spec.name, "path": recorded["path"], "sha384": recorded["sha384"], "value": None}
                )
            elif spec.hash:
                path = folder / f"{spec.name}.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"{spec.name} for {checklist_id}/{step.id}\n")
                ref = artefact_file(path, data_dir)
                attachments.append(
                    {"name": spec.name, "path": ref["path"], "sha384": ref["sha384"], "value": None}
                )
            else:
                value = recorded if isinstance(recorded, str) else f"{spec.name} recorded"
                attachments.append({"name": spec.name, "path": None, "sha384": None, "value": value})
        attachments.sort(key=lambda a: a["name"])
        user, _roles = CHECKLIST_SIGNERS[step.responsible]
        printed = user.capitalize()
        payload = {
            "schema": "oem/esig/v1",
            **context,
            "deployment": {"id": deployment_pk, "name": deployment},
            "gate": gate,
            "runbook": definition.runbook,
            "checklist": checklist_id,
            "version": version(definition),
            "step": {"id": step.id, "text": step.step, "acceptance": step.acceptance},
            "artefacts": attachments,
            "signer": {"username": user, "printed_name": printed, "role": step.responsible},
            "meaning": "approved" if step.responsible in ("product_owner", "compliance") else "performed",
            "reason": "",
            "signed_at": format_time(now),
        }
        signer = unlocked.get(user) or unlocked.setdefault(user, keyring.signer_for(user, password(user)))
        steps.append(
            {
                "id": step.id,
                "step": step.step,
                "responsible": step.responsible,
                "acceptance": step.acceptance,
                "artefacts": attachments,
                "signatures": [
                    {
                        "username": user,
                        "printed_name": printed,
                        "role": step.responsible,
                        "meaning": payload["meaning"],
                        "reason": "",
                        "signed_at": payload["signed_at"],
                        "kid": signer.kid,
                        "signature": signer.sign(DOMAIN_ESIG, payload),
                        "void": None,
                    }
                ],
            }
        )
    return {
        "schema": "oem/signed-checklist/v1",
        **context,
        "deployment": deployment,
        "deployment_pk": deployment_pk,
        "gate": gate,
        "runbook": definition.runbook,
        "checklist": checklist_id,
        "version": version(definition),
        "steps": steps,
        "exported_at": format_time(now),
    }


def _write(path: Path, data: bytes, data_dir: Path) -> dict[str, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return artefact_file(path, data_dir)


def write_gate_evidence(
    gate_name: str,
    *,
    data_dir: Path,
    keyring: KeyRing,
    config_path: Path,
    certs_dir: Path | None = None,
    overrides: dict[str, Any] | None = None,
    archive: bool = True,
    checklists: bool = True,
    admin_password: str | None = None,
) -> dict[str, Any]:
    """Genuine artefacts for one gate's deciding entry, archived (audit/artefacts/<date>/<gate>/) unless
    archive=False. `overrides` replace artefacts before the checklist is signed and archived.
    `admin_password` enrols the checklist signers the key ring does not hold yet."""
    gate = GATES[gate_name]
    data_dir = Path(data_dir)
    folder = (
        data_dir / "evidence" / gate_name / secrets.token_hex(4)
    )  # files a signed checklist attached stay
    config_copy = folder / "config" / "core.yaml"
    config_copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config_path, config_copy)
    reports = producer_outputs(config_copy.read_bytes())  # made against the config the gate approves
    sign_file(config_copy, keyring)
    artefacts: dict[str, Any] = {
        "config_hash": "sha384:" + sha384_file(config_copy),
        "config_signature": artefact_file(config_copy.with_name("core.yaml.sig"), data_dir),
        "ci_run": _write(folder / "ci" / "ci_run.json", ci_run_record(), data_dir),
    }
    if gate_name == "demo_exit":
        artefacts["bundle_commit"] = DEVKIT_COMMIT
        artefacts["smoke_demo_report"] = _write(
            folder / "smoke" / reports["smoke"][0], reports["smoke"][1], data_dir
        )
    elif gate_name == "paper_exit":
        stem = folder / "paper_labs"
        artefacts["paper_labs_report_json"] = _write(
            stem / reports["lab_json"][0], reports["lab_json"][1], data_dir
        )
        artefacts["paper_labs_report_pdf"] = _write(
            stem / reports["lab_pdf"][0], reports["lab_pdf"][1], data_dir
        )
        artefacts["paper_smoke_report"] = _write(
            folder / "paper_smoke" / reports["paper_smoke"][0], reports["paper_smoke"][1], data_dir
        )
        orders_name, orders = reports["paper_smoke_orders"]
        (folder / "paper_smoke" / orders_name).write_bytes(orders)  # beside the report, which binds it
        manifest, signature = bundle_manifest(config_copy.read_bytes())
        artefacts["bundle"] = _write(folder / "bundle" / "manifest.json", manifest, data_dir)
        (folder / "bundle" / "manifest.sig").write_text(signature)
        artefacts["bundle_fingerprint"] = "sha384:" + sha384_bytes(manifest)
    elif gate_name == "live_go":
        artefacts["live_dry_run_report"] = _write(
            folder / "dry_run" / reports["dry_run"][0], reports["dry_run"][1], data_dir
        )
        from execution.mtls.bundle import BUNDLE_NAME

        certs = Path(certs_dir) if certs_dir is not None else data_dir / "certs"
        mtls = folder / "mtls"
        artefacts["mtls_bundle"] = _write(mtls / BUNDLE_NAME, (certs / BUNDLE_NAME).read_bytes(), data_dir)
        shutil.copyfile(certs / "crl.pem", mtls / "crl.pem")
        artefacts["mtls_fingerprint"] = "sha384:" + sha384_file(certs / BUNDLE_NAME)
        artefacts["license_registry"] = _license_registry(folder / "licenses", data_dir, keyring)
        artefacts["ui_telemetry_log"] = _write(
            folder / "ui" / "ui_telemetry_alerts.jsonl",
            b'{"kind":"summary","p95_frame_ms":12.0,"jank_ratio":0.0,"window_s":600}\n',
            data_dir,
        )
    artefacts.update(overrides or {})
    for checklist_id in gate.checklists if checklists else ():
        document = signed_checklist(
            checklist_id,
            gate=gate_name,
            data_dir=data_dir,
            keyring=keyring,
            artefacts=artefacts,
            admin_password=admin_password,
        )
        data = canonical_bytes(document) + b"\n"
        artefacts[f"checklist_{checklist_id}"] = _write(
            folder / f"checklist_{checklist_id}.json", data, data_dir
        )
    artefacts.update({k: v for k, v in (overrides or {}).items() if k.startswith("checklist_")})
    if not archive:
        return artefacts
    archived, _created = archive_artefacts(artefacts, gate=gate_name, data_dir=data_dir)
    return archived


def _license_registry(folder: Path, data_dir: Path, keyring: KeyRing) -> dict[str, str]:
    """A vendor registry issuing one live license pinned to this installation, signed with the development
    vendor key: verifying it needs OEM_ALLOW_DEVELOPMENT_LICENSES=true, as every development-key license.
    It is a vendor-side file copied into the deployment, so it keeps no witness of its own."""
    from licensing.core.license_file import build_license_body, load_vendor_signer
    from licensing.core.pin import installation_pin
    from licensing.core.registry import Registry

    now = utc_now()
    registry = Registry(
        folder / "registry.jsonl", allow_development_keys=True, keyring=keyring, witness=False
    )
    if not registry.path.exists():
        components = {"machine_id": sha384_bytes(b"devkit machine")}
        pin = installation_pin(data_dir)
        registry.issue(
            lambda serial: build_license_body(
                serial=serial,
                customer="Devkit",
                components=components,
                issued_at=now - timedelta(days=1),
                not_before=now - timedelta(days=1),
                expires_at=now + timedelta(days=365),
                stages=["demo", "paper", "live"],
                trust_root=pin,
            ),
            load_vendor_signer(),
            at=now,
        )
    return artefact_file(registry.path, data_dir)
