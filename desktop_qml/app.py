"""The Qt application: QGuiApplication + QQmlApplicationEngine loading ``qml/Main.qml`` with the Python
models as context properties (``backend`` and, from the UI guard, ``uiGuard``).

``DesktopApp`` is what ``python -m desktop_qml``, the headless check and the tests drive:
``set_context`` / ``on_window`` before ``load()``, then ``window``, ``show_screen`` and ``grab``.
See docs/desktop.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Property, QObject, QUrl, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtQml import QQmlApplicationEngine
from PySide6.QtQuick import QQuickWindow
from PySide6.QtQuickControls2 import QQuickStyle

from audit.trust.cliutil import OneLineParser, parse
from desktop_qml import CLIENT_VERSION
from desktop_qml.models.backend import SCREENS, Backend
from desktop_qml.profile import ProfileError, load_profile, load_stored_profile
from desktop_qml.session import Backoff

QML_DIR = Path(__file__).resolve().parent / "qml"
MAIN_QML = QML_DIR / "Main.qml"


class _StillMotion(QObject):
    """Stands in for ``uiGuard`` when the UI guard is not installed: animations on, no statistics."""

    changed = Signal()
    animationsEnabled = Property(bool, lambda self: True, notify=changed)  # noqa: N815
    reduceMotion = Property(bool, lambda self: False, notify=changed)  # noqa: N815
    healthy = Property(bool, lambda self: True, notify=changed)


class LoadError(RuntimeError):
    pass


class DesktopApp:
    def __init__(
        self,
        argv: list[str] | None = None,
        *,
        drain_ms: int = 100,
        poll_s: float = 1.0,
        backoff: Backoff | None = None,
        install_guard: bool = True,
    ) -> None:
        QQuickStyle.setStyle("Basic")  # the same look on every platform, no native style plugin needed
        self.qt_app = QGuiApplication.instance() or QGuiApplication(["core-oem-desktop", *(argv or [])])
        self.qt_app.setApplicationName("core-oem-desktop")
        self.qt_app.setOrganizationName("core-oem")
        self.qt_app.setApplicationVersion(CLIENT_VERSION)
        self.engine = QQmlApplicationEngine()
        self.backend = Backend(drain_ms=drain_ms, poll_s=poll_s, backoff=backoff)
        self.window: QQuickWindow | None = None
        self._context: dict[str, QObject] = {"backend": self.backend}
        self._window_hooks: list[Callable[[QQuickWindow], None]] = []
        self._errors: list[str] = []
        self.engine.warnings.connect(lambda ws: self._errors.extend(w.toString() for w in ws))
        self._install_guard = install_guard

    # -- hooks for the UI guard and the headless check ------------------------------------------------------
    def set_context(self, name: str, obj: QObject) -> None:
        """Expose ``obj`` to QML as ``name``; call before ``load()``."""
        if self.window is not None:
            raise RuntimeError("set_context after load(): QML bindings would not see it")
        self._context[name] = obj

    def on_window(self, callback: Callable[[QQuickWindow], None]) -> None:
        """``callback(window)`` runs once the main QQuickWindow exists (e.g. to connect frameSwapped)."""
        if self.window is not None:
            callback(self.window)
        else:
            self._window_hooks.append(callback)

    @property
    def qml_warnings(self) -> list[str]:
        return list(self._errors)

    # -- lifecycle ------------------------------------------------------------------------------------------
    def load(self) -> QQuickWindow:
        if self._install_guard:
            try:
                from desktop_qml.guard import install
            except ImportError:
                install = None
            if install is not None:
                install(self)
        self._context.setdefault("uiGuard", _StillMotion(self.backend))
        ctx = self.engine.rootContext()
        for name, obj in self._context.items():
            ctx.setContextProperty(name, obj)
        ctx.setContextProperty("clientVersion", CLIENT_VERSION)
        self.engine.load(QUrl.fromLocalFile(str(MAIN_QML)))
        roots = self.engine.rootObjects()
        if not roots or not isinstance(roots[0], QQuickWindow):
            raise LoadError("cannot load the QML views: " + ("; ".join(self._errors) or "no root window"))
        self.window = roots[0]
        for hook in self._window_hooks:
            hook(self.window)
        self._window_hooks.clear()
        return self.window

    def show_screen(self, name: str) -> None:
        if name not in SCREENS:
            raise ValueError(f"unknown screen {name!r} ({', '.join(SCREENS)})")
        self.backend.showScreen(name)
        self.qt_app.processEvents()

    def find(self, object_name: str) -> QObject | None:
        """A QML item by objectName (tests and the headless check drive the real controls)."""
        if self.window is None:
            return None
        if self.window.objectName() == object_name:
            return self.window
        return self.window.findChild(QObject, object_name)

    def grab(self, path: Path) -> Path:
        """A PNG of the window as it is on screen now."""
        if self.window is None:
            raise RuntimeError("grab before load()")
        image = self.window.grabWindow()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if image.isNull() or not image.save(str(path), "PNG"):
            raise OSError(f"cannot write screenshot {path}")
        return path

    def close(self) -> None:
        """Stop the session, then destroy the QML scene before the Python models it binds to."""
        import shiboken6

        self.backend.shutdown()
        if self.window is not None:
            self.window.close()
        self.window = None
        if shiboken6.isValid(self.engine):
            shiboken6.delete(self.engine)


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m desktop_qml", description="Core OEM operators' client")
    parser.add_argument("--profile", type=Path, default=None, help="connection profile JSON (stored 0600)")
    parser.add_argument("--overlay", action="store_true", help="start with the always-on-top overlay open")
    parser.add_argument("--screen", choices=SCREENS, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args, code = parse(_parser(), argv)
    if code is not None:
        return code
    if args.profile is not None:
        try:  # a bad profile is one line and exit 2, before any window opens
            load_profile(args.profile)
        except ProfileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")
    ):
        if sys.platform.startswith("linux"):
            print("error: no display (set DISPLAY, or QT_QPA_PLATFORM=offscreen)", file=sys.stderr)
            return 1
    app = DesktopApp()
    try:
        app.load()
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    connection = app.backend.connection
    if args.profile is not None:
        if not connection.loadProfile(str(args.profile)):
            print(f"error: {connection.message}", file=sys.stderr)
            return 1
    else:
        try:
            stored = load_stored_profile()
        except ProfileError as exc:
            connection.refuse(str(exc))
            stored = None
        if stored is not None:
            connection.use_profile(stored, connection.stored_path())
    if args.overlay:
        app.backend.setOverlay(True)
    if args.screen:
        app.show_screen(args.screen)
    exit_code = app.qt_app.exec()
    app.close()
    return exit_code
