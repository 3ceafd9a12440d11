"""Offline licensing domain code: fingerprints, license files, verification, registry, requests, CLIs.

Pure Python on top of `audit.trust`; never imports Django (the daemon, the desktop client and the install
bundle run it without a database). The console's models and pages wrap these modules.
"""
