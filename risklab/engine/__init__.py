"""Paper Labs' pure simulation engine.

Nothing under this package may import Django: the CLI, Celery workers and the live daemon all run it
directly, and an import-linter contract keeps it that way. Modules are imported explicitly
(``from risklab.engine import lab``) so importing the package stays cheap and numba compiles lazily.
"""

ENGINE_VERSION = "2"  # 2: per-order fill rate, fill-time sizing, gapped stops, re-entry rule, probes
