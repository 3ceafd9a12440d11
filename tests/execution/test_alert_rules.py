"""Alert rules exported from the config are accepted by the real promtool."""

import shutil
import subprocess
from pathlib import Path

from execution.alert_rules import export_alert_rules_main

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool") or "promtool"  # `make test` installs Debian's prometheus for it


def test_exported_rules_pass_promtool_check_rules(tmp_path):
    out = tmp_path / "core_oem.rules.yml"
    assert export_alert_rules_main(["--out", str(out), "--config", str(ROOT / "config" / "core.yaml")]) == 0
    checked = subprocess.run([PROMTOOL, "check", "rules", str(out)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 3 rules found" in checked.stdout


def test_a_duplicate_alert_name_is_refused_with_one_line_and_nothing_written(tmp_path, capsys):
    config = (ROOT / "config" / "core.yaml").read_text()
    doubled = config.replace("  - name: FillRatioLow", "  - name: VenueDown", 1)
    path = tmp_path / "core.yaml"
    path.write_text(doubled)
    out = tmp_path / "rules.yml"
    assert export_alert_rules_main(["--out", str(out), "--config", str(path)]) == 1
    assert "VenueDown is defined twice" in capsys.readouterr().err
    assert not out.exists()


def test_a_schema_error_in_the_rules_is_refused(tmp_path, capsys):
    path = tmp_path / "core.yaml"
    path.write_text((ROOT / "config" / "core.yaml").read_text().replace("for: 5m", "for: soon", 1))
    assert export_alert_rules_main(["--out", str(tmp_path / "r.yml"), "--config", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "schema error at alert_rules/0/for" in err[0]
