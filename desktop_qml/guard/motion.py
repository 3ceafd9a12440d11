"""Reduce motion: one switch the QML views bind their animations to (imports PySide6).

The effective value is the operator's own choice (Settings screen, kept in QSettings under
``ui/reduce_motion``) when they made one, otherwise the platform's preference where Qt exposes one
(``QStyleHints.accessibility().motionPreference`` on Qt versions that have it; Qt 6.11 exposes only the
contrast preference), otherwise ``OEM_REDUCE_MOTION=1`` in the environment, otherwise off.

QML binds to ``uiGuard.animationsEnabled`` (``Behavior { enabled: ... }``, ``running: ... && ...``,
``duration: uiGuard.animationsEnabled ? 200 : 0``): with reduce motion on, nothing moves by itself.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings
from PySide6.QtGui import QGuiApplication

SETTINGS_KEY = "ui/reduce_motion"
ENV = "OEM_REDUCE_MOTION"


def platform_reduce_motion() -> bool | None:
    """True/False when the platform (or the environment) says; None when nothing does."""
    app = QGuiApplication.instance()
    hints = app.styleHints() if app is not None else None
    accessibility = getattr(hints, "accessibility", None)
    accessibility = accessibility() if callable(accessibility) else None
    preference = getattr(accessibility, "motionPreference", None)
    if callable(preference):
        return "reduce" in str(preference()).lower()
    value = os.environ.get(ENV, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return None


def _as_bool(value) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    return None


class MotionPreference:
    """The stored operator choice and the platform default; ``effective`` is what the views use."""

    def __init__(self, settings: QSettings | None = None) -> None:
        # default: the application's own QSettings (organisation and application name set by DesktopApp)
        self.settings = settings if settings is not None else QSettings()
        self.platform = platform_reduce_motion()

    @property
    def user_choice(self) -> bool | None:
        return _as_bool(self.settings.value(SETTINGS_KEY))

    @property
    def effective(self) -> bool:
        choice = self.user_choice
        if choice is not None:
            return choice
        return bool(self.platform)

    def choose(self, reduce: bool | None) -> None:
        """Store the operator's choice (None: follow the platform again)."""
        if reduce is None:
            self.settings.remove(SETTINGS_KEY)
        else:
            self.settings.setValue(SETTINGS_KEY, bool(reduce))
        self.settings.sync()
