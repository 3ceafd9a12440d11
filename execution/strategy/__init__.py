"""Strategies inside the daemon: ``StrategyContext`` (what a strategy sees and may do), the strategy specs
of ``config/core.yaml``, the reference strategies shared with Paper Labs, and the host that runs them.

Pure (no Django). The gates lock this package's ``StrategyContext``: its stage rules are derived from the
strictly verified runtime state and cannot be set by code or config.
"""
