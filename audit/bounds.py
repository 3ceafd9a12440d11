"""Bounds of the integers a client may send, so an out-of-range number is a validation error, not a crash.

Row ids are 64-bit signed on both databases; a larger number reaches the driver as an overflow (SQLite) or
an out-of-range error (PostgreSQL) unless it is refused first.
"""

MAX_ROW_ID = 2**63 - 1
# Seeds of the simulation engine's random generators: what the API has always accepted.
MAX_SEED = 2**31 - 1
