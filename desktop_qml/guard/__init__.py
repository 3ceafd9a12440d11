"""UI guard: frame-time statistics, breach/recovery alerts, reduce motion (docs/desktop.md "UI guard").

``stats`` and ``alerts`` are pure Python (testable without Qt); ``monitor`` and ``motion`` import PySide6.
"""
