"""The live daemon's network layer: gRPC over mTLS with RBAC tokens, the run-time gate and telemetry.

Pure Python, no Django: run it as ``python -m execution.daemon --config config/core.yaml --mode paper``.
"""
