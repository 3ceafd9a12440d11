"""Qt models the QML views bind to. Importing this package imports PySide6."""
