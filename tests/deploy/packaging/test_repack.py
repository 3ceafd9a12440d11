"""The development wheelhouse: installed distributions repacked as wheels pip installs with no index."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deploy.packaging.repack import RepackError, main, repack_requirements
from deploy.packaging.wheelhouse import Requirement, select_wheels


def test_installed_pure_and_compiled_distributions_repack_into_wheels_pip_installs_offline(tmp_path):
    pins = [Requirement("rfc8785", "0.1.4"), Requirement("PyYAML", "6.0.4")]
    wheels = repack_requirements(pins, tmp_path / "wheels", 1794000000)
    assert [w.name for w in select_wheels(pins, tmp_path / "wheels", "linux-x86_64")] == [
        w.name for w in wheels
    ]
    assert wheels[1].name.startswith("pyyaml-6.0.4-cp311-cp311-manylinux")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-index",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
        ]
        + ["--target", str(tmp_path / "site"), *map(str, wheels)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    check = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import yaml, rfc8785; "
         "print(yaml.__file__.startswith(sys.argv[1]), yaml.__with_libyaml__, rfc8785.dumps([1]))",
         str(tmp_path / "site")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert check.stdout.split() == ["True", "True", "b'[1]'"], check.stderr
    again = repack_requirements(pins, tmp_path / "again", 1794000000)
    assert [w.read_bytes() for w in again] == [w.read_bytes() for w in wheels]  # reproducible too


def test_a_pin_that_is_not_installed_here_is_refused_before_anything_is_written(tmp_path, capsys):
    with pytest.raises(RepackError, match=r"rfc8785==9.9.9 \(0.1.4\), nope==1.0 \(not installed\)"):
        repack_requirements([Requirement("rfc8785", "9.9.9"), Requirement("nope", "1.0")], tmp_path / "w", 0)
    assert not (tmp_path / "w").exists()
    (tmp_path / "req.txt").write_text("rfc8785==9.9.9\n")
    assert main(["--out", str(tmp_path / "w"), "--requirements", str(tmp_path / "req.txt")]) == 1
    assert "pinned versions are not installed here" in capsys.readouterr().err
