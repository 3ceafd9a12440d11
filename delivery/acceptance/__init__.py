"""OEM acceptance of a built bundle (no Django): bundle, license, Paper Labs and mTLS sections, one report.

``report`` holds the report's shape and how statuses roll up; ``sections`` runs each section against the
bundle's own application code; ``cli`` is ``python scripts/run_oem_acceptance.py --bundle DIR --json OUT``.
"""
