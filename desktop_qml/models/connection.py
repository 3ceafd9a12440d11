"""Connection state: the profile in use, its certificate, the live channel's TLS version, daemon mode."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot

from desktop_qml.models.base import StateObject, prop
from desktop_qml.profile import (
    DEFAULT_TARGET,
    Profile,
    ProfileError,
    build_profile,
    load_profile,
    save_profile,
    stored_profile_path,
)

REQUIRED_TLS = "TLSv1.3"


class ConnectionModel(StateObject):
    changed = Signal()
    profileReady = Signal()  # noqa: N815 - a new profile was accepted: the backend (re)connects
    DEFAULTS = {
        "state": "no_profile",  # no_profile | connecting | connected | reconnecting
        "message": "",
        "target": DEFAULT_TARGET,
        "subject": "",
        "roles": "",
        "isAdmin": False,
        "isOperator": False,
        "certificate": "",
        "certificateWarning": False,
        "tlsVersion": "",
        "tlsOk": False,
        "daemonMode": "",
        "profilePath": "",
        "attempt": 0,
    }
    state = prop(str, "state", changed)
    message = prop(str, "message", changed)
    target = prop(str, "target", changed)
    subject = prop(str, "subject", changed)
    roles = prop(str, "roles", changed)
    isAdmin = prop(bool, "isAdmin", changed)  # noqa: N815
    isOperator = prop(bool, "isOperator", changed)  # noqa: N815
    certificate = prop(str, "certificate", changed)
    certificateWarning = prop(bool, "certificateWarning", changed)  # noqa: N815
    tlsVersion = prop(str, "tlsVersion", changed)  # noqa: N815
    tlsOk = prop(bool, "tlsOk", changed)  # noqa: N815
    daemonMode = prop(str, "daemonMode", changed)  # noqa: N815
    profilePath = prop(str, "profilePath", changed)  # noqa: N815
    attempt = prop(int, "attempt", changed)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.profile: Profile | None = None

    # -- profile --------------------------------------------------------------------------------------------
    def use_profile(self, profile: Profile, source: str) -> None:
        self.profile = profile
        cert = profile.certificate()
        self._set(
            target=profile.target,
            certificate=cert.line(),
            certificateWarning=cert.expiring,
            profilePath=source,
            message="",
            state="connecting",
        )
        self.profileReady.emit()

    def refuse(self, message: str) -> None:
        self._set(message=message)

    @Slot(str, result=bool)
    def loadProfile(self, path: str) -> bool:  # noqa: N802
        """``--profile FILE`` or the first-run file picker: validate, store 0600, connect."""
        try:
            profile = load_profile(Path(path))
            stored = save_profile(profile)
        except (ProfileError, OSError) as exc:
            self.refuse(str(exc))
            return False
        self.use_profile(profile, str(stored))
        return True

    @Slot(str, str, str, str, str, result=bool)
    def createProfile(self, target: str, ca: str, cert: str, key: str, token: str) -> bool:  # noqa: N802
        """First run: the operator names the four files and the daemon address."""
        try:
            files = [Path(p.strip()).expanduser() for p in (ca, cert, key, token)]
            parts = [f.read_bytes() for f in files]
            profile = build_profile(
                target=target.strip() or DEFAULT_TARGET,
                ca_pem=parts[0],
                cert_pem=parts[1],
                key_pem=parts[2],
                token=parts[3],
            )
            stored = save_profile(profile)
        except OSError as exc:
            self.refuse(f"cannot read {exc.filename}: {exc.strerror}")
            return False
        except ProfileError as exc:
            self.refuse(str(exc))
            return False
        self.use_profile(profile, str(stored))
        return True

    def stored_path(self) -> str:
        return str(stored_profile_path())

    # -- session events -------------------------------------------------------------------------------------
    def on_connecting(self, attempt: int) -> None:
        self._set(attempt=attempt, state="connecting" if attempt == 1 else "reconnecting")

    def on_status(self, status, connected: bool = False) -> None:
        roles = sorted(status.peer_roles)
        values = dict(
            state="connected",
            subject=status.peer_subject,
            roles=", ".join(roles),
            isAdmin="admin" in roles,
            isOperator="operator" in roles,
            tlsVersion=status.peer_tls_version or "unknown",
            tlsOk=status.peer_tls_version == REQUIRED_TLS,
            daemonMode=status.mode,
        )
        if connected:
            values["message"] = ""
        if status.peer_tls_version != REQUIRED_TLS:
            values["message"] = (
                f"the channel runs {status.peer_tls_version or 'an unknown TLS version'}, not TLS 1.3"
            )
        self._set(**values)

    def on_disconnected(self, reason: str, retry_s: float) -> None:
        self._set(state="reconnecting", message=f"{reason} (retrying in {retry_s:g} s)", tlsVersion="")
