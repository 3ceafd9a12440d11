"""A list of flat records (dicts with fixed keys) as a QAbstractListModel: each key is a QML role."""

from __future__ import annotations

from PySide6.QtCore import Property, QAbstractListModel, QByteArray, QModelIndex, Qt, Signal


class RecordModel(QAbstractListModel):
    countChanged = Signal()  # noqa: N815 - Qt naming

    def __init__(self, keys: tuple[str, ...], parent=None) -> None:
        super().__init__(parent)
        self.keys = keys
        self._roles = {Qt.ItemDataRole.UserRole + 1 + i: k for i, k in enumerate(keys)}
        self._rows: list[dict] = []

    # -- Qt -------------------------------------------------------------------------------------------------
    def roleNames(self):  # noqa: N802
        return {role: QByteArray(key.encode()) for role, key in self._roles.items()}

    def rowCount(self, parent=QModelIndex()):  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        key = self._roles.get(role)
        if key is None:
            return None
        return self._rows[index.row()].get(key)

    def _get_count(self) -> int:
        return len(self._rows)

    count = Property(int, _get_count, notify=countChanged)

    # -- Python ---------------------------------------------------------------------------------------------
    @property
    def rows(self) -> list[dict]:
        return list(self._rows)

    def set_rows(self, rows: list[dict]) -> None:
        if rows == self._rows:
            return
        if len(rows) == len(self._rows):  # same shape: update in place, keeps delegates and scroll position
            self._rows = [dict(r) for r in rows]
            self.dataChanged.emit(self.index(0), self.index(len(rows) - 1))
            return
        self.beginResetModel()
        self._rows = [dict(r) for r in rows]
        self.endResetModel()
        self.countChanged.emit()

    def prepend(self, rows: list[dict], cap: int) -> None:
        """Newest first, at most ``cap`` rows kept."""
        if not rows:
            return
        rows = [dict(r) for r in reversed(rows)][:cap]
        self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
        self._rows[0:0] = rows
        self.endInsertRows()
        extra = len(self._rows) - cap
        if extra > 0:
            self.beginRemoveRows(QModelIndex(), cap, len(self._rows) - 1)
            del self._rows[cap:]
            self.endRemoveRows()
        self.countChanged.emit()

    def update_where(self, key: str, value, changes: dict) -> bool:
        for i, row in enumerate(self._rows):
            if row.get(key) == value:
                row.update(changes)
                self.dataChanged.emit(self.index(i), self.index(i))
                return True
        return False

    def remove_where(self, key: str, value) -> None:
        for i, row in enumerate(self._rows):
            if row.get(key) == value:
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._rows[i]
                self.endRemoveRows()
                self.countChanged.emit()
                return
