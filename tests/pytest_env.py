"""Loaded with `-p` before Django is configured: every run gets its own data directory and test mode."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("OEM_ENV", "test")
if os.environ.get("OEM_TEST_DATA_DIR"):
    os.environ["OEM_DATA_DIR"] = os.environ["OEM_TEST_DATA_DIR"]
else:
    os.environ["OEM_DATA_DIR"] = tempfile.mkdtemp(prefix="oem-test-")
    atexit.register(shutil.rmtree, os.environ["OEM_DATA_DIR"], ignore_errors=True)
# The run's STATIC_ROOT (collectstatic makes it for a real run): WhiteNoise warns whenever it is missing.
os.makedirs(os.path.join(os.environ["OEM_DATA_DIR"], "staticfiles"), exist_ok=True)
# Key derivation is deliberately slow in production; tests use the cheapest cost the code accepts.
os.environ.setdefault("OEM_KDF_COST", "test")
# Playwright's sync API runs an event loop in the test thread; the ORM calls it makes around it are sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# The second witness place normally sits beside the data dir; in a test run, keep every one inside it.
os.environ.setdefault("OEM_WITNESS_DIR", os.path.join(os.environ["OEM_DATA_DIR"], ".witness-places"))
