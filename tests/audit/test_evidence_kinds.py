"""Every evidence kind: a genuine artefact is proven; a hollow one, one from another deployment, one for
another config, one with a failing verdict and a truncated one are refused with their reason."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from audit.trust import evidence
from audit.trust import paths as trust_paths
from audit.trust.canonical import canonical_bytes, strict_loads
from audit.trust.core_config import sign_file
from audit.trust.decision_rules import artefact_file
from audit.trust.evidence import ArtefactInput, entry_artefact_verdicts
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import KeyRing
from execution.mtls.bundle import build_bundle_bytes, generate_bundle
from risklab.engine.report_json import report_bytes
from tests.evidence_factory import GATE_LOG, GATE_STATUS, genuine_artefacts, stand_in_verifiers
from tests.trust_setup import installed

GATE_OF = {
    "config_hash": "demo_exit",
    "config_signature": "demo_exit",
    "bundle_commit": "demo_exit",
    "smoke_demo_report": "demo_exit",
    "ci_run": "demo_exit",
    "checklist_demo_stage1": "demo_exit",
    "paper_labs_report_json": "paper_exit",
    "paper_labs_report_pdf": "paper_exit",
    "paper_smoke_report": "paper_exit",
    "bundle": "paper_exit",
    "bundle_fingerprint": "paper_exit",
    "live_dry_run_report": "live_go",
    "mtls_bundle": "live_go",
    "mtls_fingerprint": "live_go",
    "license_registry": "live_go",
    "ui_telemetry_log": "live_go",
}


@pytest.fixture(autouse=True)
def _development_licenses(monkeypatch):
    """The genuine license registry of the live gate is signed with the development vendor key."""
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")


@pytest.fixture(autouse=True)
def _fresh_cache():
    evidence.clear_cache()
    yield
    evidence.clear_cache()


class World:
    def __init__(self, keyring: KeyRing, data_dir: Path):
        self.keyring = keyring
        self.data_dir = data_dir
        self._sets: dict[str, dict] = {}

    def artefacts(self, gate: str) -> dict:
        if gate not in self._sets:
            with stand_in_verifiers():
                self._sets[gate] = genuine_artefacts(
                    gate, data_dir=self.data_dir, keyring=self.keyring, archive=False
                )
        return dict(self._sets[gate])

    def problems(self, name: str, artefacts: dict | None = None, timestamp: str | None = None) -> list[str]:
        gate = GATE_OF[name]
        entry = {"status": GATE_STATUS[gate], "artefacts": artefacts or self.artefacts(gate)}
        if timestamp is not None:
            entry["timestamp"] = timestamp
        evidence.clear_cache()
        verdicts = entry_artefact_verdicts(
            entry, log_name=GATE_LOG[gate], data_dir=self.data_dir, keyring=self.keyring
        )
        return [p for v in verdicts if v.name == name for p in v.problems]

    def data(self, name: str) -> bytes:
        value = self.artefacts(GATE_OF[name])[name]
        return (self.data_dir / value["path"]).read_bytes()

    def with_file(self, name: str, data: bytes, *, inside: bool = True) -> dict:
        """The gate's artefacts with `name` replaced by a file holding `data`, recorded honestly."""
        artefacts = self.artefacts(GATE_OF[name])
        original = Path(artefacts[name]["path"]).name
        root = self.data_dir if inside else self.data_dir.parent / "other-deployment"
        path = root / "replaced" / name / original
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        for companion in ("crl.pem", "manifest.sig", "registry.checkpoint.json"):
            beside = self.data_dir / Path(artefacts[name]["path"]).with_name(companion)
            if beside.is_file() and not path.with_name(companion).exists():
                path.with_name(companion).write_bytes(beside.read_bytes())
        artefacts[name] = (
            artefact_file(path, self.data_dir)
            if inside
            else {
                "path": str(path),
                "sha384": sha384_bytes(data),
            }
        )
        return artefacts

    def with_value(self, name: str, value: str) -> dict:
        artefacts = self.artefacts(GATE_OF[name])
        artefacts[name] = value
        return artefacts


@pytest.fixture
def world(keyring, data_dir) -> World:
    return World(keyring, data_dir)


def _reason(problems: list[str], expected: str) -> None:
    assert problems, f"expected a refusal mentioning {expected!r}"
    assert any(expected in p for p in problems), problems


def _jsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


def _jsonl_bytes(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r, sort_keys=True, separators=(",", ":")).encode() + b"\n" for r in records)


def _summary_changed(data: bytes, **changes) -> bytes:
    records = _jsonl(data)
    records[-1].update(changes)
    return _jsonl_bytes(records)


# ---- genuine evidence is proven -----------------------------------------------------------------------
@pytest.mark.parametrize("gate", ["demo_exit", "paper_exit", "live_go"])
def test_genuine_artefacts_of_every_gate_are_proven(world, gate):
    with stand_in_verifiers():
        entry = {"status": GATE_STATUS[gate], "artefacts": world.artefacts(gate)}
        verdicts = entry_artefact_verdicts(
            entry, log_name=GATE_LOG[gate], data_dir=world.data_dir, keyring=world.keyring
        )
    assert verdicts and all(v.proven for v in verdicts), [(v.name, v.problems) for v in verdicts]


# ---- hollow: right name, wrong content ------------------------------------------------------------------
HOLLOW_FILES = {
    "config_signature": (b'{"not":"a config signature"}\n', "not a config signature file"),
    "smoke_demo_report": (b'{"x":1}\n', "no summary line"),
    "ci_run": (b"fake\n", "not strict JSON"),
    "checklist_demo_stage1": (b'{"not":"a signed checklist"}\n', "not a signed checklist export"),
    "paper_labs_report_json": (b'{"x":1}\n', "schema"),
    "paper_labs_report_pdf": (b"%PDF-1.4 hollow\n", "not a complete PDF"),
    "paper_smoke_report": (b'{"x":1}\n', "not a oem/paper-smoke/v1 report"),
    "live_dry_run_report": (b'{"x":1}\n', "no summary line"),
    "mtls_bundle": (b"not a tarball", "not a readable live_bundle.tar.gz"),
    "license_registry": (b'{"x":1}\n', "registry does not verify"),
}


@pytest.mark.parametrize("name", sorted(HOLLOW_FILES))
def test_a_hollow_file_is_refused_with_its_reason(world, name):
    data, reason = HOLLOW_FILES[name]
    _reason(world.problems(name, world.with_file(name, data)), reason)


HOLLOW_VALUES = {
    "config_hash": ("whatever", "must be sha384:<96 hex>"),
    "bundle_commit": ("fake", "40-character lowercase hex commit"),
    "bundle_fingerprint": ("sha384:" + "0" * 96, "is not the SHA-384 of the recorded bundle"),
    "mtls_fingerprint": ("whatever", "must be sha384:<96 hex>"),
}


@pytest.mark.parametrize("name", sorted(HOLLOW_VALUES))
def test_a_hollow_value_is_refused_with_its_reason(world, name):
    value, reason = HOLLOW_VALUES[name]
    _reason(world.problems(name, world.with_value(name, value)), reason)


def test_a_value_where_a_file_is_required_is_refused(world):
    _reason(
        world.problems("config_signature", world.with_value("config_signature", "whatever")), "file reference"
    )


# ---- from another deployment --------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(n for n in GATE_OF if n in HOLLOW_FILES))
def test_a_file_from_another_deployment_is_refused(world, name):
    artefacts = world.with_file(name, world.data(name), inside=False)
    _reason(world.problems(name, artefacts), "lies outside this deployment's data directory")


def test_a_config_signed_by_another_installation_is_refused(world, tmp_path):
    installed(tmp_path / "elsewhere")
    other = KeyRing.load(tmp_path / "elsewhere")
    config = tmp_path / "elsewhere" / "core.yaml"
    config.write_bytes(trust_paths.DEFAULT_CONFIG_PATH.read_bytes())
    signature = sign_file(config, other).read_bytes()
    artefacts = world.with_file("config_signature", signature)
    _reason(world.problems("config_signature", artefacts), "config signature does not verify")
    _reason(world.problems("config_hash", artefacts), "config_signature: config signature does not verify")


def test_an_mtls_bundle_of_another_ca_is_refused(world, tmp_path):
    other = tmp_path / "other-certs"
    generate_bundle(other, ["eve"])
    _reason(world.problems("mtls_bundle", world.with_file("mtls_bundle", build_bundle_bytes(other))), "CRL")


def test_a_checklist_signed_for_another_gate_is_refused(world):
    doc = strict_loads(world.data("checklist_demo_stage1"))
    doc["gate"] = "paper_exit"
    artefacts = world.with_file("checklist_demo_stage1", canonical_bytes(doc) + b"\n")
    _reason(world.problems("checklist_demo_stage1", artefacts), "was signed for gate paper_exit")


def test_a_checklist_of_another_console_deployment_is_refused(world):
    doc = strict_loads(world.data("checklist_demo_stage1"))
    doc["deployment"], doc["deployment_pk"] = "elsewhere", 99  # the signatures bind the deployment
    artefacts = world.with_file("checklist_demo_stage1", canonical_bytes(doc) + b"\n")
    _reason(world.problems("checklist_demo_stage1", artefacts), "does not verify")


@pytest.mark.parametrize("field", ["installation_id", "deployment_id"])
def test_a_checklist_copied_from_another_deployment_or_installation_is_refused(world, field):
    doc = strict_loads(world.data("checklist_demo_stage1"))
    doc[field] += "/elsewhere"
    artefacts = world.with_file("checklist_demo_stage1", canonical_bytes(doc) + b"\n")
    _reason(
        world.problems("checklist_demo_stage1", artefacts), "copied from another deployment or installation"
    )


@pytest.mark.parametrize("field", ["installation_id", "deployment_id"])
def test_the_step_signatures_bind_the_installation_and_the_deployment(world, field):
    """Export and verification context both say "elsewhere": only the step e-signatures can tell."""
    import dataclasses

    from audit.trust.evidence import context_for
    from audit.trust.evidence_kinds import verify_signed_checklist

    data = world.data("checklist_demo_stage1")
    doc = strict_loads(data)
    entry = {"status": GATE_STATUS["demo_exit"], "artefacts": world.artefacts("demo_exit")}
    ctx = context_for(entry, log_name="demo", data_dir=world.data_dir, keyring=world.keyring)
    assert (
        verify_signed_checklist(
            ArtefactInput("checklist_demo_stage1", "signed_checklist", None, None, data), ctx
        )
        == []
    )
    doc[field] = getattr(ctx, field) + "/elsewhere"
    elsewhere = dataclasses.replace(ctx, **{field: doc[field]})
    forged = ArtefactInput("checklist_demo_stage1", "signed_checklist", None, None, canonical_bytes(doc))
    _reason(verify_signed_checklist(forged, elsewhere), "does not verify")


# ---- for another config -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["smoke_demo_report", "live_dry_run_report"])
def test_a_report_made_against_another_config_is_refused(world, name):
    data = _summary_changed(world.data(name), config_sha384="d" * 96)
    _reason(world.problems(name, world.with_file(name, data)), "ran against config")


def test_a_paper_labs_report_for_another_config_is_refused(world):
    report = strict_loads(world.data("paper_labs_report_json"))
    report["config"]["sha384"] = "d" * 96
    artefacts = world.with_file("paper_labs_report_json", report_bytes(report))
    _reason(world.problems("paper_labs_report_json", artefacts), "was run against config")
    _reason(world.problems("paper_labs_report_pdf", artefacts), "its JSON report")


def test_a_config_hash_of_another_config_is_refused(world):
    artefacts = world.with_value("config_hash", "sha384:" + "d" * 96)
    _reason(world.problems("config_hash", artefacts), "not the hash of the config whose signature verifies")
    _reason(world.problems("config_signature", artefacts), "not the entry's config_hash")


# ---- a failing verdict --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["smoke_demo_report", "live_dry_run_report"])
def test_a_report_that_did_not_pass_is_refused(world, name):
    data = _summary_changed(world.data(name), passed=False)
    _reason(world.problems(name, world.with_file(name, data)), "did not pass")


def test_a_dry_run_of_a_throwaway_profile_is_refused(world):
    data = _summary_changed(world.data("live_dry_run_report"), profile="paper")
    artefacts = world.with_file("live_dry_run_report", data)
    _reason(world.problems("live_dry_run_report", artefacts), "not the live profile")


def test_a_report_with_an_order_not_accounted_for_is_refused(world):
    records = _jsonl(world.data("smoke_demo_report"))
    next(r for r in records if r.get("kind") == "order")["accounted"] = False
    artefacts = world.with_file("smoke_demo_report", _jsonl_bytes(records))
    _reason(world.problems("smoke_demo_report", artefacts), "not accounted for")


def test_a_failing_paper_labs_verdict_is_refused(world):
    report = strict_loads(world.data("paper_labs_report_json"))
    report["verdict"] = "fail"
    report["summary"]["profiles"]["aggressive"]["verdict"] = "fail"
    artefacts = world.with_file("paper_labs_report_json", report_bytes(report))
    _reason(world.problems("paper_labs_report_json", artefacts), "verdict is fail (failed: aggressive)")


def test_a_paper_labs_report_without_all_four_profiles_is_refused(world):
    report = strict_loads(world.data("paper_labs_report_json"))
    del report["summary"]["profiles"]["manual"]
    artefacts = world.with_file("paper_labs_report_json", report_bytes(report))
    _reason(world.problems("paper_labs_report_json", artefacts), "profiles manual were not run")


def test_a_pdf_of_another_run_is_refused(world):
    report = strict_loads(world.data("paper_labs_report_json"))
    pdf = world.data("paper_labs_report_pdf").replace(report["run_id"].encode(), b"0" * len(report["run_id"]))
    _reason(world.problems("paper_labs_report_pdf", world.with_file("paper_labs_report_pdf", pdf)), "run")


# ---- Paper Labs report v2 (stress probes, unexercised rows, flags) and v1 -------------------------------
@pytest.fixture(scope="module")
def stressed_lab(tmp_path_factory) -> tuple[bytes, bytes]:
    """JSON and PDF of a genuine lab with a stressed scenario: probe rows, a strategy the crash did not
    reach (not_exercised) and one that looks better under stress (flags)."""
    from risklab.engine.lab import run_lab

    lab = run_lab(
        strategies=["buy_and_hold", "ema_crossover"],
        scenarios=["baseline", "flash_crash"],
        seed=1,
        out_dir=tmp_path_factory.mktemp("lab"),
    )
    return lab.json_path.read_bytes(), lab.pdf_path.read_bytes()


V1_SAMPLE = Path(__file__).resolve().parents[1] / "risklab" / "data" / "report_v1.json"  # the v1 engine's


def _with_lab_report(world, report: dict, pdf: bytes | None = None) -> dict:
    artefacts = world.with_file("paper_labs_report_json", report_bytes(report))
    if pdf is not None:
        artefacts["paper_labs_report_pdf"] = world.with_file("paper_labs_report_pdf", pdf)[
            "paper_labs_report_pdf"
        ]
    return artefacts


def _probe_row(report: dict, profile: str = "balanced") -> dict:
    return next(r for r in report["rows"] if r["strategy"] == "stress_probe" and r["profile"] == profile)


def _deepen_drawdown(row: dict, *, judged: bool = True) -> None:
    """The row's drawdown beyond its profile's threshold; its check judged so (or left saying pass)."""
    check = row["acceptance"]["max_drawdown"]
    check["value"] = row["metrics"]["max_drawdown"] = check["threshold"] + 0.01
    if judged:
        check["pass"] = False


def _as_v1(report: dict) -> dict:
    """The report as the previous engine wrote it (the shape of tests/risklab/data/report_v1.json): no
    probes, exercise, status or flags; fills counted as trades; no rules or re-entry parameter."""
    rows = []
    for row in report["rows"]:
        if row["strategy"] == "stress_probe":
            continue
        row = {k: v for k, v in row.items() if k not in ("exercise", "flags", "status", "reference")}
        row["pass"] = all(check["pass"] for check in row["acceptance"].values())  # v1 knew no exercise
        metrics = {
            k: v for k, v in row["metrics"].items() if k not in ("orders", "stops", "daily_limit_exits")
        }
        metrics["trades"] = metrics.pop("fills")
        row["metrics"] = metrics
        row["profile_params"] = {
            k: v for k, v in row["profile_params"].items() if k != "reentry_cooldown_bars"
        }
        rows.append(row)
    parameters = {k: v for k, v in report["parameters"].items() if k != "rules"}
    parameters["profiles"] = {
        name: {k: v for k, v in params.items() if k != "reentry_cooldown_bars"}
        for name, params in parameters["profiles"].items()
    }
    profiles = {}
    for name in report["summary"]["profiles"]:
        own = [r for r in rows if r["profile"] == name]
        failed = sum(not r["pass"] for r in own)
        profiles[name] = {"rows": len(own), "failed": failed, "verdict": "fail" if failed else "pass"}
    summary = {"profiles": profiles, "rows": len(rows), "failed": sum(not r["pass"] for r in rows)}
    return {
        **report,
        "schema": "oem/paper-labs-report/v1",
        "engine_version": "1",
        "parameters": parameters,
        "rows": rows,
        "summary": summary,
        "verdict": "pass" if rows and all(r["pass"] for r in rows) else "fail",
    }


def _shape(report: dict) -> dict:
    row = report["rows"][0]
    return {
        "report": set(report),
        "parameters": set(report["parameters"]),
        "profile": set(next(iter(report["parameters"]["profiles"].values()))),
        "row": set(row),
        "metrics": set(row["metrics"]),
        "profile_params": set(row["profile_params"]),
        "summary": set(report["summary"]),
        "summary_profile": set(next(iter(report["summary"]["profiles"].values()))),
    }


def test_a_v2_report_with_stress_probes_unexercised_rows_and_flags_is_proven(world, stressed_lab):
    data, pdf = stressed_lab
    report = strict_loads(data)
    assert {r["status"] for r in report["rows"]} == {"pass", "not_exercised"}
    assert all(s["probe_rows"] == 1 for s in report["summary"]["profiles"].values())
    assert report["summary"]["flags"] > 0
    artefacts = _with_lab_report(world, report, pdf)
    assert world.problems("paper_labs_report_json", artefacts) == []
    assert world.problems("paper_labs_report_pdf", artefacts) == []


@pytest.mark.parametrize("status", ["not_exercised", "fail"])
def test_a_stress_probe_that_did_not_pass_is_refused_though_the_summary_says_pass(
    world, stressed_lab, status
):
    report = strict_loads(stressed_lab[0])
    probe = _probe_row(report)
    probe["status"], probe["pass"] = status, False
    if status == "fail":
        _deepen_drawdown(probe)
    else:
        probe["exercise"]["exercised"] = False
    artefacts = _with_lab_report(world, report)
    _reason(world.problems("paper_labs_report_json", artefacts), f"stress probe on flash_crash is {status}")
    _reason(world.problems("paper_labs_report_pdf", artefacts), "its JSON report")


def test_a_profile_failed_by_its_unexercised_stress_probe_is_refused(world, stressed_lab):
    report = strict_loads(stressed_lab[0])
    probe = _probe_row(report, "aggressive")
    probe["status"], probe["pass"], probe["exercise"]["exercised"] = "not_exercised", False, False
    summary = report["summary"]["profiles"]["aggressive"]
    summary["not_exercised"] += 1
    summary["probe_failed"], summary["verdict"], report["verdict"] = 1, "fail", "fail"
    report["summary"]["not_exercised"] += 1
    _reason(
        world.problems("paper_labs_report_json", _with_lab_report(world, report)),
        "verdict is fail (failed: aggressive)",
    )


def test_a_report_without_a_profiles_stress_probe_row_is_refused(world, stressed_lab):
    report = strict_loads(stressed_lab[0])
    report["rows"].remove(_probe_row(report, "manual"))
    summary = report["summary"]["profiles"]["manual"]
    summary["rows"] -= 1
    summary["probe_rows"] = 0
    report["summary"]["rows"] -= 1
    _reason(
        world.problems("paper_labs_report_json", _with_lab_report(world, report)),
        "row manual/flash_crash/stress_probe on ",
    )


def test_a_report_whose_summary_disagrees_with_its_rows_is_refused(world, stressed_lab):
    report = strict_loads(stressed_lab[0])
    report["summary"]["profiles"]["conservative"]["rows"] += 1
    _reason(
        world.problems("paper_labs_report_json", _with_lab_report(world, report)),
        "profile conservative: the summary disagrees with its rows",
    )


def test_a_row_whose_status_does_not_follow_from_its_checks_is_refused(world, stressed_lab):
    report = strict_loads(stressed_lab[0])
    _deepen_drawdown(_probe_row(report, "conservative"), judged=False)
    _reason(
        world.problems("paper_labs_report_json", _with_lab_report(world, report)),
        "max_drawdown check passes a value above its threshold",
    )
    report = strict_loads(stressed_lab[0])
    unexercised = next(r for r in report["rows"] if r["status"] == "not_exercised")
    unexercised["status"], unexercised["pass"] = "pass", True
    _reason(
        world.problems("paper_labs_report_json", _with_lab_report(world, report)),
        "status pass does not follow from its checks and exercise (not_exercised)",
    )


def test_a_v1_report_of_the_previous_engine_is_proven(world, stressed_lab):
    report = _as_v1(strict_loads(stressed_lab[0]))
    assert _shape(report) == _shape(strict_loads(V1_SAMPLE.read_bytes()))
    artefacts = _with_lab_report(world, report, stressed_lab[1])
    assert world.problems("paper_labs_report_json", artefacts) == []
    assert world.problems("paper_labs_report_pdf", artefacts) == []


def test_a_v1_report_with_a_failing_row_is_refused_though_its_verdict_says_pass(world, stressed_lab):
    report = _as_v1(strict_loads(stressed_lab[0]))
    row = next(r for r in report["rows"] if r["profile"] == "balanced")
    row["pass"] = False
    _deepen_drawdown(row)
    _reason(
        world.problems("paper_labs_report_json", _with_lab_report(world, report)),
        f"profile balanced: row {row['scenario']}/{row['strategy']} failed its acceptance checks",
    )


def test_a_checklist_with_an_unsigned_step_is_refused(world):
    doc = strict_loads(world.data("checklist_demo_stage1"))
    doc["steps"][1]["signatures"] = []
    artefacts = world.with_file("checklist_demo_stage1", canonical_bytes(doc) + b"\n")
    _reason(world.problems("checklist_demo_stage1", artefacts), f"step {doc['steps'][1]['id']}: not signed")


def test_a_checklist_whose_attachment_changed_is_refused(world):
    doc = strict_loads(world.data("checklist_demo_stage1"))
    attachment = next(a for s in doc["steps"] for a in s["artefacts"] if a["sha384"])
    (world.data_dir / attachment["path"]).write_bytes(b"replaced after signing\n")
    artefacts = world.with_file("checklist_demo_stage1", world.data("checklist_demo_stage1"))
    _reason(world.problems("checklist_demo_stage1", artefacts), "changed since it was signed")


def test_a_ci_run_for_another_commit_is_refused(world):
    doc = strict_loads(world.data("ci_run"))
    doc["commit"] = "f" * 40
    artefacts = world.with_file("ci_run", canonical_bytes(doc))
    _reason(world.problems("ci_run", artefacts), "is not the recorded bundle_commit")


def test_a_ci_run_that_is_not_canonical_is_refused(world):
    doc = strict_loads(world.data("ci_run"))
    artefacts = world.with_file("ci_run", json.dumps(doc, indent=2).encode())
    _reason(world.problems("ci_run", artefacts), "not canonical")


def test_an_mtls_bundle_expiring_within_14_days_is_refused(world, tmp_path):
    short = tmp_path / "short-certs"
    generate_bundle(short, ["alice"], days=10)
    artefacts = world.with_file("mtls_bundle", build_bundle_bytes(short))
    (world.data_dir / Path(artefacts["mtls_bundle"]["path"]).with_name("crl.pem")).write_bytes(
        (short / "crl.pem").read_bytes()
    )
    _reason(world.problems("mtls_bundle", artefacts), "expires within 14 days")


def test_an_mtls_bundle_with_a_foreign_server_certificate_is_refused(world, tmp_path):
    other = tmp_path / "foreign"
    generate_bundle(other, ["eve"])
    tar = tarfile.open(fileobj=io.BytesIO(world.data("mtls_bundle")), mode="r:gz")
    members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    members["server.pem"] = (other / "server.pem").read_bytes()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as out:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    artefacts = world.with_file("mtls_bundle", raw.getvalue())
    _reason(world.problems("mtls_bundle", artefacts), "does not chain to the bundle's CA")


def test_a_license_registry_without_a_live_license_is_refused(world, tmp_path):
    from datetime import timedelta

    from audit.trust.keyring import utc_now
    from licensing.core.license_file import build_license_body, load_vendor_signer
    from licensing.core.pin import installation_pin
    from licensing.core.registry import Registry

    registry = Registry(
        tmp_path / "demo-only" / "registry.jsonl",
        allow_development_keys=True,
        keyring=world.keyring,
        witness=False,
    )
    now = utc_now()
    registry.issue(
        lambda serial: build_license_body(
            serial=serial,
            customer="Demo only",
            components={"machine_id": "a" * 96},
            issued_at=now - timedelta(days=1),
            not_before=now - timedelta(days=1),
            expires_at=now + timedelta(days=30),
            stages=["demo", "paper"],
            trust_root=installation_pin(world.data_dir),
        ),
        load_vendor_signer(),
        at=now,
    )
    artefacts = world.with_file("license_registry", registry.path.read_bytes())
    beside = world.data_dir / Path(artefacts["license_registry"]["path"]).with_name(
        "registry.checkpoint.json"
    )
    beside.write_bytes(registry.path.with_name("registry.checkpoint.json").read_bytes())
    _reason(world.problems("license_registry", artefacts), "no live license that allows the live stage")


def test_a_license_registry_of_another_installation_is_refused(world, tmp_path):
    from datetime import timedelta

    from audit.trust.keyring import utc_now
    from licensing.core.license_file import build_license_body, load_vendor_signer
    from licensing.core.pin import installation_pin
    from licensing.core.registry import Registry

    installed(tmp_path / "elsewhere")
    registry = Registry(
        tmp_path / "elsewhere-registry" / "registry.jsonl",
        allow_development_keys=True,
        keyring=world.keyring,
        witness=False,
    )
    now = utc_now()
    registry.issue(
        lambda serial: build_license_body(
            serial=serial,
            customer="Another installation",
            components={"machine_id": "a" * 96},
            issued_at=now - timedelta(days=1),
            not_before=now - timedelta(days=1),
            expires_at=now + timedelta(days=30),
            stages=["demo", "paper", "live"],
            trust_root=installation_pin(tmp_path / "elsewhere"),
        ),
        load_vendor_signer(),
        at=now,
    )
    artefacts = world.with_file("license_registry", registry.path.read_bytes())
    beside = world.data_dir / Path(artefacts["license_registry"]["path"]).with_name(
        "registry.checkpoint.json"
    )
    beside.write_bytes(registry.path.with_name("registry.checkpoint.json").read_bytes())
    _reason(world.problems("license_registry", artefacts), "no live license for this installation")


def test_a_config_signature_with_a_forged_mac_is_refused(world):
    doc = strict_loads(world.data("config_signature"))
    doc["signature"] = doc["signature"][:-8] + (
        "A" * 8 if not doc["signature"].endswith("A" * 8) else "B" * 8
    )
    artefacts = world.with_file("config_signature", canonical_bytes(doc) + b"\n")
    _reason(world.problems("config_signature", artefacts), "does not verify")


# ---- the paper smoke report: the JSON run_paper_smoke_ci writes -----------------------------------------
def _paper_smoke_changed(world: World, change) -> dict:
    report = strict_loads(world.data("paper_smoke_report"))
    change(report)
    return world.with_file("paper_smoke_report", canonical_bytes(report))


def test_a_paper_smoke_report_made_against_another_config_is_refused(world):
    artefacts = _paper_smoke_changed(world, lambda r: r.update(config_sha384="d" * 96))
    _reason(world.problems("paper_smoke_report", artefacts), "ran against config")


def test_a_paper_smoke_report_that_did_not_pass_is_refused(world):
    artefacts = _paper_smoke_changed(world, lambda r: r.update(passed=False))
    _reason(world.problems("paper_smoke_report", artefacts), "did not pass")


def test_a_paper_smoke_report_whose_risk_probe_was_let_through_is_refused(world):
    artefacts = _paper_smoke_changed(
        world, lambda r: r["risk_denials"][-1].update(accepted=True, reason="", passed=False)
    )
    _reason(world.problems("paper_smoke_report", artefacts), "not refused: HALTED")


def test_a_paper_smoke_report_with_an_order_not_accounted_for_is_refused(world):
    artefacts = _paper_smoke_changed(world, lambda r: r["strategies"].update(accounted=0))
    _reason(world.problems("paper_smoke_report", artefacts), "strategy orders not all accounted for")


def test_a_paper_smoke_report_of_a_daemon_in_demo_mode_is_refused(world):
    artefacts = _paper_smoke_changed(world, lambda r: r["daemon"].update(mode="demo"))
    _reason(world.problems("paper_smoke_report", artefacts), "demo mode, not paper")


def test_a_paper_smoke_report_whose_orders_log_beside_it_was_replaced_is_refused(world):
    report = strict_loads(world.data("paper_smoke_report"))
    artefacts = world.with_file("paper_smoke_report", world.data("paper_smoke_report"))
    beside = (world.data_dir / artefacts["paper_smoke_report"]["path"]).with_name(
        report["orders_log"]["path"]
    )
    beside.write_bytes(b'{"kind":"summary","check":"smoke_paper_strategies","stage":"paper"}\n')
    _reason(world.problems("paper_smoke_report", artefacts), "is not the orders log the report records")


def test_a_paper_smoke_report_that_is_not_canonical_is_refused(world):
    report = strict_loads(world.data("paper_smoke_report"))
    artefacts = world.with_file("paper_smoke_report", json.dumps(report, indent=2).encode())
    _reason(world.problems("paper_smoke_report", artefacts), "not in canonical form")


def test_the_markdown_summary_alone_is_not_the_paper_smoke_evidence(world):
    artefacts = world.with_file("paper_smoke_report", b"# Paper smoke paper_smoke_x: PASSED\n")
    _reason(world.problems("paper_smoke_report", artefacts), "not strict JSON")


# ---- truncated --------------------------------------------------------------------------------------
TRUNCATED = {
    "config_signature": "not strict JSON",
    "smoke_demo_report": "truncated",
    "ci_run": "not strict JSON",
    "checklist_demo_stage1": "not strict JSON",
    "paper_labs_report_json": "not strict JSON",
    "paper_labs_report_pdf": "not a complete PDF",
    "paper_smoke_report": "not strict JSON",
    "live_dry_run_report": "truncated",
    "mtls_bundle": "not a readable live_bundle.tar.gz",
    "license_registry": "does not verify",
}


@pytest.mark.parametrize("name", sorted(TRUNCATED))
def test_a_truncated_file_is_refused_with_its_reason(world, name):
    data = world.data(name)
    _reason(world.problems(name, world.with_file(name, data[: len(data) // 2])), TRUNCATED[name])


def test_a_truncated_value_is_refused(world):
    artefacts = world.with_value("config_hash", world.artefacts("demo_exit")["config_hash"][:40])
    _reason(world.problems("config_hash", artefacts), "must be sha384:<96 hex>")


# ---- kinds whose verifiers live in other packages ------------------------------------------------------
@pytest.mark.parametrize("name,kind", [("bundle", "bundle"), ("ui_telemetry_log", "ui_telemetry_log")])
def test_a_kind_without_its_verifier_is_refused(world, name, kind):
    artefacts = world.artefacts(GATE_OF[name])
    evidence.verifier_for(kind)
    previous = evidence._REGISTRY.pop(kind, None)
    try:
        _reason(world.problems(name, artefacts), f"no {kind} verifier")
    finally:
        if previous is not None:
            evidence.register_verifier(kind, previous)


@pytest.mark.parametrize("name", ["bundle", "ui_telemetry_log"])
def test_a_registered_verifier_decides_its_kind(world, name):
    with stand_in_verifiers():
        assert world.problems(name) == []
        _reason(world.problems(name, world.with_file(name, b'{"x":1}\n')), "stand-in")


def test_a_producer_module_that_is_absent_is_skipped_but_a_broken_one_is_an_error(monkeypatch):
    import importlib

    calls = []

    def fake_import(name):
        calls.append(name)
        if name == "deploy.packaging.evidence":
            raise ModuleNotFoundError("No module named 'deploy'", name="deploy")
        if name == "desktop_qml.evidence":
            raise ModuleNotFoundError("No module named 'PySide6'", name="PySide6")
        return None

    monkeypatch.setattr(evidence, "_LOADED", type(evidence._LOADED)())
    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(ModuleNotFoundError, match="PySide6"):
        evidence._load_producers()
    assert "deploy.packaging.evidence" in calls


# ---- the archive index -------------------------------------------------------------------------------
def test_the_archive_index_proves_the_recorded_copies(keyring, data_dir):
    from audit.trust.artefact_archive import archive_artefacts

    world = World(keyring, data_dir)
    archived, created = archive_artefacts(world.artefacts("demo_exit"), gate="demo_exit", data_dir=data_dir)
    assert created is not None and created.is_relative_to(data_dir / "audit" / "artefacts")
    assert world.problems("config_hash", archived) == []  # the archived copies prove the same
    entry = {"status": "demo_ready", "artefacts": archived}
    verdicts = {
        v.name: v.problems
        for v in entry_artefact_verdicts(entry, log_name="demo", data_dir=data_dir, keyring=keyring)
    }
    assert verdicts["artefact_index"] == ()
    swapped = {**archived, "smoke_demo_report": world.artefacts("demo_exit")["smoke_demo_report"]}
    verdicts = {
        v.name: v.problems
        for v in entry_artefact_verdicts(
            {"status": "demo_ready", "artefacts": swapped},
            log_name="demo",
            data_dir=data_dir,
            keyring=keyring,
        )
    }
    assert any("does not record the archived copy" in p for p in verdicts["artefact_index"])
    index = data_dir / archived["artefact_index"]["path"]
    truncated = index.read_bytes()[:50]
    index.write_bytes(truncated)
    hollow = {
        **archived,
        "artefact_index": {"path": archived["artefact_index"]["path"], "sha384": sha384_bytes(truncated)},
    }
    verdicts = {
        v.name: v.problems
        for v in entry_artefact_verdicts(
            {"status": "demo_ready", "artefacts": hollow}, log_name="demo", data_dir=data_dir, keyring=keyring
        )
    }
    assert any("not strict JSON" in p for p in verdicts["artefact_index"])


# ---- metrics log (the metrics service's evidence form) ------------------------------------------------
def _metrics_problems(path: Path, data_dir: Path, keyring) -> list[str]:
    from audit.trust.evidence import EvidenceContext

    ctx = EvidenceContext(data_dir, "demo", "demo_exit", {}, keyring, None, None, None)
    data = path.read_bytes()
    return evidence.verifier_for("metrics_log")(
        ArtefactInput("metrics_log", "metrics_log", {}, path, data), ctx
    )


def test_a_metrics_log_scraped_from_the_running_daemon_is_proven_and_an_idle_registry_is_not(
    tmp_path, keyring, data_dir
):
    from execution.drills.harness import local_daemon
    from execution.drills.metrics_service import run_metrics_service_main

    scraped = tmp_path / "scraped.jsonl"
    with local_daemon(
        tmp_path, "metrics", mode="demo", operators=("m",), metrics_port=0, tick_s=0.2
    ) as local:
        url = f"http://127.0.0.1:{local.daemon.metrics_port}/metrics"
        assert (
            run_metrics_service_main(["--shutdown-after", "0", "--jsonl", str(scraped), "--scrape", url]) == 0
        )
    assert _metrics_problems(scraped, data_dir, keyring) == []
    idle = tmp_path / "idle.jsonl"
    assert run_metrics_service_main(["--shutdown-after", "0", "--jsonl", str(idle), "--local-registry"]) == 0
    _reason(_metrics_problems(idle, data_dir, keyring), "not a scrape of a running daemon")
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_bytes(scraped.read_bytes()[:-10])
    _reason(_metrics_problems(truncated, data_dir, keyring), "truncated")


def test_a_one_shot_metrics_snapshot_without_a_running_daemon_fails(tmp_path, capsys):
    import socket

    from execution.drills.metrics_service import run_metrics_service_main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "down.jsonl"
    assert (
        run_metrics_service_main(
            ["--shutdown-after", "0", "--jsonl", str(out), "--scrape", f"http://127.0.0.1:{port}/metrics"]
        )
        != 0
    )
    assert "could not be scraped" in capsys.readouterr().err


def test_certificate_lifetimes_are_judged_at_the_decision_so_a_recorded_entry_stays_verifiable(
    world, tmp_path
):
    from datetime import timedelta

    from audit.trust.keyring import format_time, utc_now

    short = tmp_path / "twenty-days"
    generate_bundle(short, ["alice"], days=20)
    artefacts = world.with_file("mtls_bundle", build_bundle_bytes(short))
    (world.data_dir / Path(artefacts["mtls_bundle"]["path"]).with_name("crl.pem")).write_bytes(
        (short / "crl.pem").read_bytes()
    )
    assert world.problems("mtls_bundle", artefacts, timestamp=format_time(utc_now())) == []
    later = format_time(utc_now() + timedelta(days=10))
    _reason(world.problems("mtls_bundle", artefacts, timestamp=later), "expires within 14 days")
