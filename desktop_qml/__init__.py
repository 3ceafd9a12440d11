"""Core OEM operators' desktop client: PySide6 + QML over the daemon's gRPC API (local mTLS + token).

Python holds the models and the gRPC client, QML the views (``desktop_qml/qml/``). Importing this package
never imports Qt: the profile, the client and ``desktop_qml.evidence`` run without a display. ``app`` and
``models`` import PySide6 when they are imported.
"""

CLIENT_VERSION = "0.1.0"
