"""License activation screen: this device's request as a QR code (saved to a folder or USB stick), import
from a file, a USB stick or a QR image, a one-line verdict, install on success; the installed license as the
daemon judges it, and whether development-key licenses are allowed here. Offline throughout."""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import Property, QObject, QUrl, Signal, Slot

from desktop_qml import activation
from desktop_qml.models.base import StateObject, prop
from desktop_qml.models.listmodel import RecordModel


class LicenseModel(StateObject):
    changed = Signal()
    installed = Signal()
    DEFAULTS = {
        "requestDigest": "",
        "requestQrUrl": "",
        "requestSaved": "",
        "result": "",
        "resultOk": False,
        "busy": False,
        "installedStatus": "",
        "installedOk": False,
        "developmentKeys": False,
    }
    requestDigest = prop(str, "requestDigest", changed)  # noqa: N815
    requestQrUrl = prop(str, "requestQrUrl", changed)  # noqa: N815
    requestSaved = prop(str, "requestSaved", changed)  # noqa: N815
    result = prop(str, "result", changed)
    resultOk = prop(bool, "resultOk", changed)  # noqa: N815
    installedStatus = prop(str, "installedStatus", changed)  # noqa: N815
    installedOk = prop(bool, "installedOk", changed)  # noqa: N815
    developmentKeys = prop(bool, "developmentKeys", changed)  # noqa: N815

    def __init__(self, parent=None, *, mounts=activation.removable_mounts) -> None:
        super().__init__(parent)
        self._mounts_source = mounts
        self._mounts = RecordModel(("path", "licenses"), self)
        self._request: activation.Request | None = None
        self._scratch = tempfile.TemporaryDirectory(prefix="oem-desktop-")
        self.refreshInstalled()

    mounts = Property(QObject, lambda self: self._mounts, constant=True)

    def _verdict(self, verdict: activation.Verdict) -> bool:
        self._set(result=verdict.line, resultOk=verdict.ok)
        self.refreshInstalled()
        if verdict.ok:
            self.installed.emit()
        return verdict.ok

    @Slot()
    def refreshInstalled(self) -> None:  # noqa: N802
        """The installed license checked as the daemon checks it (check_installed_license)."""
        status = activation.installed_status()
        self._set(
            installedStatus=status.line,
            installedOk=status.ok,
            developmentKeys=activation.development_keys_allowed(),
        )

    @Slot(result=bool)
    def makeRequest(self) -> bool:  # noqa: N802
        try:
            request = activation.make_request()
        except (ValueError, OSError) as exc:
            self._set(result=f"cannot build the license request: {exc}", resultOk=False)
            return False
        self._request = request
        png = Path(self._scratch.name) / f"{request.file_stem()}.png"
        png.write_bytes(request.png)
        self._set(requestDigest=request.digest, requestQrUrl=QUrl.fromLocalFile(str(png)).toString())
        return True

    @Slot(str, result=bool)
    def saveRequest(self, directory: str) -> bool:  # noqa: N802
        if self._request is None and not self.makeRequest():
            return False
        try:
            written = activation.save_request(self._request, Path(directory))
        except (ValueError, OSError) as exc:
            self._set(result=f"request not saved: {exc}", resultOk=False)
            return False
        self._set(requestSaved=", ".join(str(p) for p in written), result=f"request saved to {directory}")
        return True

    @Slot()
    def refreshMounts(self) -> None:  # noqa: N802
        rows = []
        for mount in self._mounts_source():
            try:
                count = len(activation.license_files_in(Path(mount)))
            except ValueError:
                count = 0
            rows.append({"path": mount, "licenses": count})
        self._mounts.set_rows(rows)

    @Slot(str, result=bool)
    def importFile(self, path: str) -> bool:  # noqa: N802
        """A license file (.json) or a QR image (.png)."""
        local = QUrl(path).toLocalFile() if path.startswith("file:") else path
        return self._verdict(activation.install(Path(local)))

    @Slot(str, result=bool)
    def importQr(self, path: str) -> bool:  # noqa: N802
        local = QUrl(path).toLocalFile() if path.startswith("file:") else path
        if not local.lower().endswith(".png"):
            self._set(result=f"refused: {local} is not a PNG image", resultOk=False)
            return False
        return self._verdict(activation.install(Path(local)))

    @Slot(str, result=bool)
    def importFromMount(self, mount: str) -> bool:  # noqa: N802
        try:
            found = activation.license_files_in(Path(mount))
        except ValueError as exc:
            self._set(result=f"refused: {exc}", resultOk=False)
            return False
        if len(found) != 1:
            names = ", ".join(p.name for p in found) or "none"
            self._set(
                result=f"expected one license file on {mount}, found {len(found)} ({names})", resultOk=False
            )
            return False
        return self._verdict(activation.install(found[0]))
