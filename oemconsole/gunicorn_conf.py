"""The console's production server: `gunicorn --config python:oemconsole.gunicorn_conf` (Procfile).

Loopback by default; `OEM_WEB_BIND` opens it wider, `OEM_WEB_TLS_CERT_FILE` + `OEM_WEB_TLS_KEY_FILE` serve
HTTPS directly when no proxy terminates TLS. The access log carries the path without its query string and no
referrer, so a value passed in a URL never lands in a log file.
"""

import os
import sys


def _int(name: str, default: int, *, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        sys.exit(f"error: {name}={raw!r} is not an integer from {low} to {high}")
    return value


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


wsgi_app = "oemconsole.wsgi:application"
bind = [os.environ.get("OEM_WEB_BIND", "127.0.0.1:8000")]
# Threads rather than more processes: requests mostly wait on the database and the disk, and every process
# holds its own copy of the console.
worker_class = "gthread"
workers = _int("OEM_WEB_WORKERS", 2, low=1, high=64)
threads = _int("OEM_WEB_THREADS", 4, low=1, high=64)
timeout = _int("OEM_WEB_TIMEOUT", 60, low=5, high=3600)
graceful_timeout = 30
keepalive = 5
# Request line and headers stay small; bodies are bounded by Django (DATA_UPLOAD_MAX_MEMORY_SIZE).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# X-Forwarded-* is trusted by Django only when OEM_BEHIND_TLS_PROXY says so, never by the server itself.
forwarded_allow_ips = ""
proxy_allow_ips = ""
# One control socket per user home would collide between two consoles on one machine.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("OEM_WEB_LOG_LEVEL", "info")
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
reload = _flag("DEBUG")

certfile = os.environ.get("OEM_WEB_TLS_CERT_FILE") or None
keyfile = os.environ.get("OEM_WEB_TLS_KEY_FILE") or None
if bool(certfile) != bool(keyfile):
    sys.exit("error: OEM_WEB_TLS_CERT_FILE and OEM_WEB_TLS_KEY_FILE go together")
