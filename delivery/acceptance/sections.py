"""The four acceptance sections, each run against the bundle's own application code where the bundle has it.

- **bundle**: ``manifest.sig`` and every file's size and SHA-384 (the bootstrap's own ``verify_bundle``), the
  config signatures, the build report's steps beside the bundle (placeholders stay placeholders, a ``done``
  artefact must still match its SHA-384) and, when asked, a second build of the same commit and
  ``SOURCE_DATE_EPOCH`` whose fingerprint must be identical.
- **license**: request → provision → activate (stage paper) → registry verification, in throw-away device
  and vendor data directories (each set up as an installation first), on this device's real fingerprint.
  The request and the activation run the bundle's code; the provisioning and the registry check are the
  vendor's side and run the checkout's code with the vendor key the licensing CLI is configured with (the
  development key unless ``OEM_LICENSE_SIGNING_KEY_FILE`` names another): that key never ships in a bundle.
  A development-signed license is activated only where ``OEM_ALLOW_DEVELOPMENT_LICENSES=true``.
- **paper_labs**: one lab (every profile, buy-and-hold, baseline) on the bundle's sample data and the bundle's
  risk profiles; the section passes when the report is written and its verdict is ``pass``.
- **mtls**: a fresh mTLS bundle, the bundle's daemon started on a free loopback port, TLS 1.3 negotiated with
  a client certificate, an RPC answered with an operator token, and a client without certificate refused.

The license, Paper Labs and mTLS sections run ``python`` subprocesses with ``PYTHONPATH`` on the bundle's
``app/`` tree, so the code that is accepted is the code that ships. Everything they write stays in ``work``.
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from audit.trust import paths as trust_paths
from audit.trust.canonical import StrictJSONError, strict_loads
from audit.trust.hashing import sha384_file
from delivery.acceptance.report import FAILED, PLACEHOLDER, Section

SUBPROCESS_TIMEOUT = 300
DAEMON_START_TIMEOUT = 60.0
OPERATOR = "acceptance"
DEVICE_STEPS = ("request", "activate")


# -- helpers ----------------------------------------------------------------------------------------------
def app_root(bundle_dir: Path) -> tuple[Path, str | None]:
    """The bundle's application tree, or the checkout (with a note saying so) when the bundle has none."""
    app = Path(bundle_dir) / "app"
    if (app / "execution").is_dir() and (app / "licensing").is_dir():
        return app, None
    return trust_paths.REPO_ROOT, f"{bundle_dir} has no app/ tree: the checkout's code ran instead"


def bundle_config(bundle_dir: Path) -> Path:
    shipped = Path(bundle_dir) / "config" / "core.yaml"
    return shipped if shipped.is_file() else trust_paths.DEFAULT_CONFIG_PATH


def _env(app: Path, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(app)
    env["OEM_DATA_DIR"] = str(data_dir)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def run_py(app: Path, args: list, data_dir: Path) -> subprocess.CompletedProcess:
    argv = [sys.executable, *map(str, args)]
    try:
        return subprocess.run(
            argv, cwd=app, env=_env(app, data_dir), capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", f"no answer within {SUBPROCESS_TIMEOUT} s")


_SET_UP = (
    "import sys; from audit.trust.cli import init_installation_main as main; sys.exit(main(sys.argv[1:]))"
)


def set_up_installation(app: Path, data_dir: Path) -> subprocess.CompletedProcess:
    """A throw-away data dir becomes an installation with the bundle's own setup step (nothing creates one
    implicitly). Its administrator password is random, given on stdin and forgotten: the directory is
    removed with the rest of `work`, and no step here certifies a signer."""
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-c", _SET_UP]
    try:
        return subprocess.run(
            argv,
            cwd=app,
            env=_env(app, data_dir),
            input=secrets.token_urlsafe(24) + "\n",
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", f"no answer within {SUBPROCESS_TIMEOUT} s")


def _last_line(result: subprocess.CompletedProcess) -> str:
    lines = (result.stderr.strip() or result.stdout.strip() or f"exit {result.returncode}").splitlines()
    return lines[-1]


def _first_line(result: subprocess.CompletedProcess) -> str:
    return (result.stdout.strip().splitlines() or ["ok"])[0]


# -- bundle -----------------------------------------------------------------------------------------------
def _epoch_of(manifest: dict, build_report: dict | None) -> int:
    if build_report and isinstance(build_report.get("source_date_epoch"), int):
        return build_report["source_date_epoch"]
    return int(datetime.fromisoformat(manifest["build_time"].replace("Z", "+00:00")).timestamp())


def _build_report(bundle_dir: Path) -> tuple[Path, dict | None, str | None]:
    path = bundle_dir.parent / f"{bundle_dir.name}.build_report.json"
    if not path.is_file():
        return path, None, None
    try:
        report = strict_loads(path.read_bytes())
    except (OSError, StrictJSONError) as exc:
        return path, None, f"{path.name}: {exc}"
    if not isinstance(report, dict) or not isinstance(report.get("steps"), list):
        return path, None, f"{path.name}: not a build report"
    return path, report, None


def _artefact_file(report_path: Path, artefact: dict) -> Path | None:
    raw = Path(str(artefact.get("path", "")))
    for candidate in (raw, report_path.parent / raw, report_path.parent / raw.name):
        if str(raw) and candidate.is_file():
            return candidate
    return None


def _build_steps(section: Section, report_path: Path, report: dict, fingerprint: str) -> None:
    if report.get("fingerprint") != fingerprint:
        section.failed(
            "build report", f"names fingerprint {report.get('fingerprint')}, the bundle is {fingerprint}"
        )
        return
    section.artefact("build_report", report_path)
    for step in report["steps"]:
        name = f"build step {step.get('name', '?')}"
        status, detail = step.get("status"), step.get("detail", "")
        if status == PLACEHOLDER:
            section.check(name, PLACEHOLDER, detail or "not doable on this machine")
            continue
        if status != "done":
            section.failed(name, f"status {status!r}: {detail}")
            continue
        artefact = step.get("artefact")
        if not artefact:
            section.passed(name, detail or "done")
            continue
        path = _artefact_file(report_path, artefact)
        if path is None:
            section.passed(
                name, f"{detail or 'done'} ({Path(str(artefact.get('path'))).name} not kept beside it)"
            )
        elif f"sha384:{sha384_file(path)}" != artefact.get("sha384"):
            section.failed(name, f"{path.name} no longer matches the SHA-384 in the build report")
        else:
            section.passed(name, f"{detail or 'done'}; {path.name} matches its SHA-384")
            if all(a["path"] != path.name for a in section.artefacts):
                section.artefact(path.name, path)


def _rebuild(section: Section, verified, build_report: dict | None) -> None:
    from deploy.packaging.builder import BuildError, BuildOptions, build_bundle

    epoch = _epoch_of(verified.manifest, build_report)
    with tempfile.TemporaryDirectory(prefix="oem-rebuild-") as tmp:
        try:
            again = build_bundle(
                BuildOptions(
                    platform=verified.platform,
                    out_dir=Path(tmp),
                    bundle_version=verified.version,
                    commit=verified.commit,
                    source_date_epoch=epoch,
                    packages=False,
                    # The bundle carries its wheels and requirements: the second build needs nothing else.
                    wheelhouse=verified.root / "wheelhouse",
                    requirements=verified.root / "requirements.txt",
                )
            )
        except (BuildError, OSError) as exc:
            section.failed("reproducibility", f"second build failed: {exc}")
            return
    if again.fingerprint == verified.fingerprint:
        section.passed(
            "reproducibility", f"a second build (SOURCE_DATE_EPOCH={epoch}) has the same fingerprint"
        )
        return
    ours = {f["path"]: f["sha384"] for f in verified.manifest["files"]}
    theirs = {f["path"]: f["sha384"] for f in again.manifest["files"]}
    differ = sorted(p for p in ours.keys() | theirs.keys() if ours.get(p) != theirs.get(p))
    section.failed(
        "reproducibility",
        f"a second build (SOURCE_DATE_EPOCH={epoch}) has fingerprint {again.fingerprint}; "
        f"{len(differ)} file(s) differ: {', '.join(differ[:5]) or 'manifest fields'}",
    )


def _gpg_check(section: Section, root: Path) -> None:
    """manifest.asc against the release OpenPGP key the bundle carries: that key file is listed in the
    Ed25519-signed manifest, so once manifest.sig verified, it is the vendor's."""
    asc, key = root / "manifest.asc", root / "keys" / "release_gpg.asc"
    if not asc.is_file() or not key.is_file():
        section.failed("gpg signature", "the bundle has no manifest.asc or no keys/release_gpg.asc")
        return
    with tempfile.TemporaryDirectory(prefix="oem-gpg-") as home:
        os.chmod(home, 0o700)
        base = ["gpg", "--batch", "--no-tty", "--homedir", home]
        try:
            subprocess.run([*base, "--import", str(key)], capture_output=True, timeout=60, check=True)
            done = subprocess.run(
                [*base, "--status-fd", "1", "--verify", str(asc), str(root / "manifest.json")],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            section.failed("gpg signature", f"gpg could not run: {exc}")
            return
    valid = re.search(r"^\[GNUPG:\] VALIDSIG ([0-9A-F]{40})", done.stdout, re.M)
    if done.returncode == 0 and valid:
        section.passed(
            "gpg signature", f"manifest.asc verifies with the release OpenPGP key {valid.group(1)}"
        )
    else:
        section.failed(
            "gpg signature", (done.stderr.strip().splitlines() or ["manifest.asc does not verify"])[-1]
        )


def bundle_section(bundle_dir: Path, *, rebuild: bool) -> tuple[Section, dict]:
    from deploy.packaging.bootstrap.verify import BundleRefused, verify_bundle

    section = Section("bundle")
    info = {"path": str(bundle_dir), "fingerprint": None, "commit": None, "version": None, "platform": None}
    try:
        verified = verify_bundle(bundle_dir)
    except BundleRefused as exc:
        section.failed("signature and manifest", str(exc))
        return section, info
    info.update(
        fingerprint=verified.fingerprint,
        commit=verified.commit,
        version=verified.version,
        platform=verified.platform,
    )
    files = len(verified.manifest["files"])
    section.passed(
        "signature and manifest",
        f"manifest.sig verifies (key {verified.signed_by}); {files} files match their size and SHA-384",
    )
    section.passed("config signatures", "; ".join(verified.config_checks) or "bound to the shipped bytes")
    _gpg_check(section, bundle_dir)
    for name in ("manifest.json", "manifest.sig", "manifest.asc"):
        section.artefact(name, bundle_dir / name)
    report_path, build_report, problem = _build_report(bundle_dir)
    if problem:
        section.failed("build report", problem)
    elif build_report is None:
        section.notes.append(f"no build report beside the bundle ({report_path.name})")
    else:
        _build_steps(section, report_path, build_report, verified.fingerprint)
    if rebuild:
        _rebuild(section, verified, build_report)
    else:
        section.notes.append("reproducibility not checked (run with --rebuild)")
    return section, info


# -- license ----------------------------------------------------------------------------------------------
def license_section(app: Path, work: Path, *, allow_virtual: bool) -> Section:
    section = Section("license")
    device, vendor = work / "device", work / "vendor"
    for name, data_dir, code in (
        ("device setup", device, app),
        ("vendor setup", vendor, trust_paths.REPO_ROOT),
    ):
        result = set_up_installation(code, data_dir)
        if result.returncode != 0:
            section.failed(name, _last_line(result))
            return section
    request, issued = work / "license_request.json", work / "license.json"
    # The vendor's installation has its own key ring: the device's fingerprint HMAC cannot be checked there,
    # which is what --foreign-request states (the request's digest is in the report for comparison).
    provision = ["oem_provision_license", "--request", request, "--customer", "oem-acceptance"]
    provision += ["--stages", "demo,paper", "--valid-days", "30", "--out", issued, "--foreign-request"]
    steps = [
        ("request", ["license_request", "--out", request]),
        ("provision", provision + (["--allow-virtual"] if allow_virtual else [])),
        ("activate", ["activate_license", issued, "--stage", "paper"]),
        ("registry", ["verify_license_registry"]),
    ]
    for name, args in steps:
        # The device runs the bundle's code; the vendor's side (its signing key never ships) the checkout's.
        on_device = name in DEVICE_STEPS
        code = app if on_device else trust_paths.REPO_ROOT
        result = run_py(code, ["-m", "licensing.core", *args], device if on_device else vendor)
        if result.returncode != 0:
            section.failed(name, _last_line(result))
            break
        section.passed(name, _first_line(result))
    section.artefact("license_request", request)
    section.artefact("license", issued)
    section.artefact("license_registry", vendor / "licenses" / "registry.jsonl")
    section.artefact("license_activation", device / "licenses" / "activation.json")
    return section


# -- Paper Labs -------------------------------------------------------------------------------------------
def paper_labs_section(app: Path, work: Path, config: Path) -> Section:
    section = Section("paper_labs")
    samples = sorted((app / "risklab" / "sample_data").glob("*.parquet"))
    if not samples:
        section.failed("sample data", f"no Parquet sample under {app / 'risklab' / 'sample_data'}")
        return section
    out = work / "paper_labs"
    args = [
        "-m",
        "risklab.engine.cli",
        "--profile",
        "all",
        "--strategy",
        "buy_and_hold",
        "--scenario",
        "baseline",
    ]
    args += ["--data", samples[0], "--out", out, "--inline", "--config", config]
    result = run_py(app, args, work / "paper_labs_var")
    if result.returncode != 0:
        section.failed("lab", _last_line(result))
        return section
    verdict = re.search(r"^verdict: (\S+)$", result.stdout, re.M)
    reports = sorted(out.glob("*.json")) + sorted(out.glob("*.pdf"))
    for path in reports:
        section.artefact(f"paper_labs_report_{path.suffix[1:]}", path)
    if verdict is None or len(reports) != 2:
        section.failed("lab", "the lab printed no verdict or did not write its JSON + PDF report")
    elif verdict.group(1) != "pass":
        section.failed("verdict", f"{verdict.group(1)} on {samples[0].name} (all profiles, baseline)")
    else:
        section.passed("verdict", f"pass on {samples[0].name} (all profiles, buy_and_hold, baseline)")
    return section


# -- mTLS -------------------------------------------------------------------------------------------------
def _start_daemon(
    app: Path, config: Path, data: Path, certs: Path
) -> tuple[subprocess.Popen, int | None, str]:
    args = ["-m", "execution.daemon", "--config", config, "--mode", "demo", "--data-dir", data]
    args += ["--certs", certs, "--listen", "127.0.0.1:0"]
    proc = subprocess.Popen(
        [sys.executable, *map(str, args)],
        cwd=app,
        env=_env(app, data),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    deadline = time.monotonic() + DAEMON_START_TIMEOUT
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        seen.append(line.strip())
        match = re.search(r"listening on \S+:(\d+) ", line)
        if match:
            return proc, int(match.group(1)), line.strip()
    return proc, None, (seen[-1] if seen else "the daemon did not start in time")


def _tls_version(port: int, certs: Path) -> str:
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    context.load_cert_chain(
        str(certs / "clients" / f"{OPERATOR}.pem"), str(certs / "clients" / f"{OPERATOR}.key")
    )
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.version() or ""


def _rpc_checks(section: Section, port: int, certs: Path, data: Path) -> None:
    import grpc
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from audit.trust.keyring import KeyRing
    from execution.proto.gen import oem_daemon_v1_pb2 as pb
    from execution.proto.gen import oem_daemon_v1_pb2_grpc as pb_grpc
    from execution.tokens import issue_token

    ca = (certs / "ca.pem").read_bytes()
    key = (certs / "clients" / f"{OPERATOR}.key").read_bytes()
    cert = (certs / "clients" / f"{OPERATOR}.pem").read_bytes()
    der = x509.load_pem_x509_certificate(cert).public_bytes(Encoding.DER)
    token = issue_token(keyring=KeyRing.load(data), subject=OPERATOR, roles=["viewer"], cert_der=der)
    metadata = [("authorization", f"Bearer {token}")]
    with grpc.secure_channel(f"localhost:{port}", grpc.ssl_channel_credentials(ca, key, cert)) as channel:
        try:
            status = pb_grpc.OemDaemonStub(channel).GetStatus(
                pb.GetStatusRequest(), metadata=metadata, timeout=10
            )
            section.passed(
                "daemon reachable", f"GetStatus over mTLS with an operator token: mode {status.mode}"
            )
        except grpc.RpcError as exc:
            section.failed("daemon reachable", f"GetStatus: {exc.code().name}: {exc.details()}")
    with grpc.secure_channel(f"localhost:{port}", grpc.ssl_channel_credentials(ca)) as channel:
        try:
            pb_grpc.OemDaemonStub(channel).GetStatus(pb.GetStatusRequest(), metadata=metadata, timeout=10)
            section.failed(
                "client without certificate", "was answered: the daemon does not require client certificates"
            )
        except grpc.RpcError as exc:
            section.passed("client without certificate", f"refused ({exc.code().name})")


def mtls_section(app: Path, work: Path, config: Path) -> Section:
    from audit.trust.keyring import KeyRing

    section = Section("mtls")
    certs, data = work / "certs", work / "daemon"
    result = set_up_installation(app, data)
    if result.returncode != 0:
        section.failed("daemon setup", _last_line(result))
        return section
    generate = (
        "import sys; from execution.mtls.bundle import generate_mtls_bundle_main as main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    result = run_py(app, ["-c", generate, "--out", certs, "--operators", OPERATOR], data)
    if result.returncode != 0:
        section.failed("bundle generated", _last_line(result))
        return section
    section.passed("bundle generated", "CA, server and client certificates, signed CRL")
    section.artefact("mtls_bundle", certs / "live_bundle.tar.gz")
    KeyRing.load(data)  # the daemon and the token below share this key ring: it must load before both
    proc, port, line = _start_daemon(app, config, data, certs)
    try:
        if port is None:
            section.failed("daemon started", line)
            return section
        section.passed("daemon started", line)
        try:
            version = _tls_version(port, certs)
        except (OSError, ssl.SSLError) as exc:
            section.failed("TLS 1.3", f"handshake with a client certificate failed: {exc}")
        else:
            ok = version == "TLSv1.3"
            section.check("TLS 1.3", "passed" if ok else FAILED, f"negotiated {version or 'nothing'}")
        _rpc_checks(section, port, certs, data)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return section
