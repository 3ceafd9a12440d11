"""The live daemon's trading core: orders, journal, pre-trade risk, clock.

Pure Python: nothing under ``execution.core``, ``execution.venues`` or ``execution.live_router`` may import
Django (an import-linter contract enforces it), so the daemon runs from the install bundle alone.
"""
