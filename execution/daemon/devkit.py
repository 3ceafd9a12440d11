"""A throw-away deployment for tests, the benchmark and local trials: data dir, key ring, signed config,
mTLS bundle, operator tokens, client channels, and (optionally) signed decision logs that unlock live.

Never used by the daemon itself. Decision-log entries go through the trust core's ``append_entry`` with
signer keys from the key ring (as tests/audit/helpers.py does), so they verify strictly.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from audit.trust import paths as trust_paths
from audit.trust.core_config import sign_file
from audit.trust.decision_log import append_entry
from audit.trust.installation import init_installation, installation_exists
from audit.trust.keyring import KeyRing
from execution.mtls.bundle import generate_bundle
from execution.tokens import issue_token

SIGNERS = {"owner": "olivia", "compliance": "carl"}
FLAGS = {
    "demo_ready": {"StrategyContext.require_demo_mode": True, "runtime.compliance_confirmed": False},
    "paper_ready": {"StrategyContext.require_demo_mode": False, "runtime.compliance_confirmed": False},
    "live_ready": {"StrategyContext.require_demo_mode": False, "runtime.compliance_confirmed": True},
    "revoked": {"StrategyContext.require_demo_mode": True, "runtime.compliance_confirmed": False},
}
ROLES_FOR = {"revoked": ("owner",)}


# The devkit deployment's administrator password: it performs the setup step (init_installation) and
# certifies the signer keys, as an administrator does on a real installation.
ADMIN_PASSWORD = "devkit-administrator"  # noqa: S105 - a throw-away deployment's password


def _password(user: str) -> str:
    return f"devkit-{user}"


@dataclass
class Deployment:
    root: Path
    data_dir: Path
    certs_dir: Path
    config_path: Path
    keyring: KeyRing
    operators: list[str] = field(default_factory=list)

    @classmethod
    def create(
        cls, root: Path, operators=("alice", "bob", "root-admin"), *, source_config: Path | None = None
    ):
        root = Path(root)
        data_dir = root / "var"
        data_dir.mkdir(parents=True, exist_ok=True)
        if not installation_exists(data_dir):
            init_installation(data_dir, ADMIN_PASSWORD)
        keyring = KeyRing.load(data_dir)
        config_dir = root / "config"
        config_dir.mkdir(exist_ok=True)
        config_path = config_dir / "core.yaml"
        shutil.copyfile(source_config or trust_paths.DEFAULT_CONFIG_PATH, config_path)
        sign_file(config_path, keyring)
        certs_dir = data_dir / "certs"
        generate_bundle(certs_dir, list(operators))
        return cls(root, data_dir, certs_dir, config_path, keyring, list(operators))

    # -- identities -----------------------------------------------------------------------------------------
    def client_files(self, operator: str) -> tuple[bytes, bytes, bytes]:
        """(ca.pem, <op>.key, <op>.pem)"""
        clients = self.certs_dir / "clients"
        return (
            (self.certs_dir / "ca.pem").read_bytes(),
            (clients / f"{operator}.key").read_bytes(),
            (clients / f"{operator}.pem").read_bytes(),
        )

    def cert_der(self, operator: str) -> bytes:
        pem = (self.certs_dir / "clients" / f"{operator}.pem").read_bytes()
        return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)

    def token(self, operator: str, roles, **kw) -> str:
        return issue_token(
            keyring=self.keyring, subject=operator, roles=roles, cert_der=self.cert_der(operator), **kw
        )

    def channel(
        self,
        port: int,
        operator: str,
        *,
        ca: bytes | None = None,
        key: bytes | None = None,
        cert: bytes | None = None,
        target: str = "localhost",
    ) -> grpc.Channel:
        ca_pem, key_pem, cert_pem = self.client_files(operator) if operator else (None, None, None)
        creds = grpc.ssl_channel_credentials(
            ca or ca_pem or (self.certs_dir / "ca.pem").read_bytes(),
            key if key is not None else key_pem,
            cert if cert is not None else cert_pem,
        )
        return grpc.secure_channel(f"{target}:{port}", creds)

    # -- evidence -------------------------------------------------------------------------------------------
    def _signers(self, roles=("owner", "compliance")):
        existing = {r.owner for r in self.keyring.list_keys("signer") if r.status == "active"}
        for role, user in SIGNERS.items():
            if user not in existing:
                self.keyring.create_signer_key(user, [role], _password(user), admin_password=ADMIN_PASSWORD)
        return {
            role: self.keyring.signer_for(user, _password(user), role=role)
            for role, user in SIGNERS.items()
            if role in roles
        }

    def _artefacts(self, gate_name: str, overrides: dict) -> dict:
        """Genuine evidence from the product's producers (devkit_evidence), archived for the gate."""
        from execution.daemon.devkit_evidence import write_gate_evidence

        return write_gate_evidence(
            gate_name,
            data_dir=self.data_dir,
            keyring=self.keyring,
            config_path=self.config_path,
            certs_dir=self.certs_dir,
            overrides=overrides,
            admin_password=ADMIN_PASSWORD,
        )

    def append(self, log: str, status: str, gate_name: str, **overrides) -> dict:
        return append_entry(
            trust_paths.decision_log_path(log, self.data_dir),
            status=status,
            artefacts=dict(overrides) if status == "revoked" else self._artefacts(gate_name, overrides),
            runtime_flags=FLAGS[status],
            signers=self._signers(ROLES_FOR.get(status, ("owner", "compliance"))),
            keyring=self.keyring,
            data_dir=self.data_dir,
        )

    def promote_to_live(self, *, live_overrides: dict | None = None, skip_live: bool = False) -> None:
        self.append("demo", "demo_ready", "demo_exit")
        self.append("paper", "paper_ready", "paper_exit")
        if not skip_live:
            self.append("live_execution", "live_ready", "live_go", **(live_overrides or {}))
