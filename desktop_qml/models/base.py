"""A QObject whose QML-visible state is a dict of values with one ``changed`` signal.

The views refresh at most a few times a second, so one notify signal per object keeps the models small
without costing frames.
"""

from __future__ import annotations

from PySide6.QtCore import Property, QObject, Signal


class StateObject(QObject):
    """Subclasses declare ``changed = Signal()`` themselves: a signal declared on this base as well would
    leave two ``changed`` signals in the subclass's meta-object and QML would bind to the wrong one."""

    DEFAULTS: dict = {}

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._v = dict(self.DEFAULTS)

    def _set(self, **values) -> None:
        dirty = False
        for key, value in values.items():
            if self._v.get(key) != value:
                self._v[key] = value
                dirty = True
        if dirty:
            self.changed.emit()

    def value(self, key: str):
        return self._v[key]


def prop(type_, key: str, notify: Signal):
    """A read-only QML property backed by ``StateObject._v[key]``, notified by the class's ``changed``."""
    return Property(type_, lambda self: self._v[key], notify=notify)
