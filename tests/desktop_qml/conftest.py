"""Desktop client tests run Qt offscreen (no display needed) and never leave loopback."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
