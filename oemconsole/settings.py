"""Core OEM console settings. Everything comes from the environment; defaults run offline on SQLite."""

import os
from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_str, parse_database_url, sqlite_database

BASE_DIR = Path(__file__).resolve().parent.parent

OEM_ENV = (env_str("OEM_ENV", "development") or "development").strip().lower()
if OEM_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(f"OEM_ENV={OEM_ENV!r} is not one of development, test, production")
PRODUCTION = OEM_ENV == "production"

_data_dir = Path(env_str("OEM_DATA_DIR", "var") or "var")
OEM_DATA_DIR = (_data_dir if _data_dir.is_absolute() else BASE_DIR / _data_dir).resolve()
# The trust-core CLIs read the variable themselves; give them the same absolute directory as Django.
os.environ["OEM_DATA_DIR"] = str(OEM_DATA_DIR)

_DEV_SECRET = "dev-insecure-core-oem-secret-key-not-for-production-use-0123456789"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY") or ""
# Off unless asked for (`DEBUG=true make run`): a debug page shows settings, environment and local variables.
DEBUG = env_bool("DEBUG", default=False)
if PRODUCTION:
    if not SECRET_KEY or SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured(
            "OEM_ENV=production needs SECRET_KEY (or SECRET_KEY_FILE) set to a random value of 50+ characters"
        )
    if DEBUG:
        raise ImproperlyConfigured("OEM_ENV=production refuses to start with DEBUG on")
elif not SECRET_KEY:
    SECRET_KEY = _DEV_SECRET

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "guardian",
    "django_celery_results",
    "axes",
    "csp",
    "audit",
    "audit.trustdb",
    "jobs",
    "licensing",
    "risklab",
    "execution",
    "delivery",
    "oemconsole",
]

MIDDLEWARE = [
    "oemconsole.metrics.RequestLatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "oemconsole.middleware.SessionIdleTimeoutMiddleware",
    "oemconsole.middleware.ConsoleHeadersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "audit.refusals.RefusedMiddleware",
]

ROOT_URLCONF = "oemconsole.urls"
WSGI_APPLICATION = "oemconsole.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oemconsole.context_processors.roles",
                "licensing.context_processors.development_licenses",
            ],
        },
    },
]

_database_url = env_str("DATABASE_URL")
DATABASES = {
    "default": parse_database_url(_database_url, base_dir=BASE_DIR)
    if _database_url
    else sqlite_database(OEM_DATA_DIR / "db.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: counts failed passwords (logins and signature re-entries) and locks the account after 5.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AXES_FAILURE_LIMIT = env_int("OEM_LOCKOUT_FAILURES", 5)
# Login lockout: see "Lockout, throttling and API tokens" at the end.
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
ANONYMOUS_USER_NAME = None  # guardian: no anonymous object permissions, ever.
GUARDIAN_RAISE_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Made by `collectstatic` (`make static`, part of `make run`), never by importing the settings: WhiteNoise
# warning that it is missing means the static files were not collected.
STATIC_ROOT = OEM_DATA_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Served from STATIC_ROOT, filled by `collectstatic` (`make run`); the source folders only while developing.
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = OEM_DATA_DIR / "uploads"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)

# --- Headers and sessions (issue 16, point 5) ---
# No inline script or style anywhere: every page loads its CSS (and any script) from /static/.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
OEM_SESSION_IDLE_SECONDS = env_int("OEM_SESSION_IDLE_MINUTES", 30) * 60
if OEM_SESSION_IDLE_SECONDS <= 0:
    raise ImproperlyConfigured("OEM_SESSION_IDLE_MINUTES must be a positive number of minutes")
if PRODUCTION:
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Prometheus scrapes /metrics over plain HTTP on loopback.
    SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
# Only behind a TLS-terminating proxy that sets X-Forwarded-Proto itself: trusted from anyone else, the
# header would let a plain-HTTP client pass as HTTPS.
if env_bool("OEM_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# --- end of headers and sessions ---

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header turns "not logged in" into a proper 401 instead of a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oemconsole.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Bounded: ?limit= capped at MAX_LIMIT, non-numeric limit/offset a 400 (audit/pagination.py).
    "DEFAULT_PAGINATION_CLASS": "audit.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# --- API errors and request bodies (issue 16, point 2) ---
# One error shape for every API status; JSON bodies are bounded in size (DATA_UPLOAD_MAX_MEMORY_SIZE, 413) and
# nesting depth (400) before they are decoded.
REST_FRAMEWORK |= {
    "EXCEPTION_HANDLER": "oemconsole.errors.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "oemconsole.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
OEM_API_MAX_JSON_DEPTH = env_int("OEM_API_MAX_JSON_DEPTH", 32)
if not 1 <= OEM_API_MAX_JSON_DEPTH <= 1000:
    raise ImproperlyConfigured("OEM_API_MAX_JSON_DEPTH must be from 1 to 1000")
_SPECTACULAR_ERROR_HOOKS = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "oemconsole.schema.add_error_responses",
]
# --- end of API errors ---

SPECTACULAR_SETTINGS = {
    "TITLE": "Core OEM console API",
    "DESCRIPTION": "Deployments, jobs and evidence of the Core OEM console.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.JobStatus",
        "LabRunStatusEnum": "risklab.models.LabRunStatus",
        "StageEnum": "audit.models.Stage",
    },
    "POSTPROCESSING_HOOKS": _SPECTACULAR_ERROR_HOOKS,
}

# Celery: the broker only wakes workers; the Job row in the database is the truth.
_broker_dir = OEM_DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Without this kombu writes its broadcast exchanges into the current directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE = {
    "sweep-expired-job-leases": {
        "task": "jobs.tasks.sweep_jobs",
        "schedule": timedelta(seconds=env_int("OEM_JOB_SWEEP_SECONDS", 30)),
    },
    # The full audit-trail re-check (pages check only what was appended since the last verified event).
    "audit-trail-full-check": {
        "task": "jobs.tasks.audit_trail_nightly_check",
        "schedule": crontab(hour=env_int("OEM_AUDIT_FULL_CHECK_HOUR", 2), minute=30),
    },
}

OEM_JOB_LEASE_SECONDS = env_int("OEM_JOB_LEASE_SECONDS", 60)
OEM_JOB_MAX_ATTEMPTS = env_int("OEM_JOB_MAX_ATTEMPTS", 3)
OEM_JOB_REQUEUE_QUEUED_AFTER_SECONDS = env_int("OEM_JOB_REQUEUE_QUEUED_AFTER_SECONDS", 120)
OEM_CONFIG_PATH = Path(env_str("OEM_CONFIG_PATH", str(BASE_DIR / "config" / "core.yaml")))
OEM_METRICS_ROLES = env_list("OEM_METRICS_ROLES", ["admin", "auditor"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

if OEM_ENV == "test":
    # Only the test suite: a deliberately slow hash would dominate the run time of hundreds of logins.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# ---- Uploads and storage ------------------------------------------------------------------------------
# A per-file cap enforced while the body streams in (oemconsole.uploads) and again while a file is stored,
# and a per-deployment quota on what its uploads keep on disk (audit.uploads).
OEM_MAX_UPLOAD_BYTES = env_int("OEM_MAX_UPLOAD_MB", 100) * 1024 * 1024
OEM_DEPLOYMENT_QUOTA_BYTES = env_int("OEM_DEPLOYMENT_QUOTA_MB", 2048) * 1024 * 1024
if OEM_MAX_UPLOAD_BYTES <= 0 or OEM_DEPLOYMENT_QUOTA_BYTES <= 0:
    raise ImproperlyConfigured("OEM_MAX_UPLOAD_MB and OEM_DEPLOYMENT_QUOTA_MB must be positive")
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware"),
    "oemconsole.uploads.UploadLimitMiddleware",
)
# Files that nothing in the database refers to any more are removed by the upload sweep once older than this.
OEM_ORPHAN_UPLOAD_GRACE_SECONDS = env_int("OEM_ORPHAN_UPLOAD_GRACE_SECONDS", 3600)
CELERY_BEAT_SCHEDULE["sweep-orphaned-uploads"] = {
    "task": "jobs.tasks.sweep_uploads",
    "schedule": timedelta(seconds=env_int("OEM_UPLOAD_SWEEP_SECONDS", 6 * 3600)),
}
# ---- end: uploads and storage -----------------------------------------------------------------------------


# ---- Lockout, throttling and API tokens --------------------------------------------------------------------
# Logins lock per (username, client address) and unlock after a cool-off, so nobody can lock another person
# out from elsewhere; an admin unlocks sooner at /accounts/lockouts/. Signing keeps its own per-person lock
# (OEM_SIGNING_FAILURES wrong passwords, no cool-off: audit.services.signing_lockout).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = timedelta(minutes=env_int("OEM_LOCKOUT_COOLOFF_MINUTES", 15))
AXES_CLIENT_IP_CALLABLE = "oemconsole.client_ip.client_ip"
OEM_SIGNING_FAILURES = 5
# Password attempts per client address on the login page and the token API. The counts live in files under
# the data dir, so every server worker process on the machine shares them (no extra service needed).
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"auth": env_str("OEM_AUTH_RATE", "20/min")}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "auth_throttle": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(OEM_DATA_DIR / "cache" / "auth_throttle"),
    },
}
OEM_API_TOKEN_HOURS = env_int("OEM_API_TOKEN_HOURS", 8)
if OEM_API_TOKEN_HOURS <= 0 or AXES_COOLOFF_TIME.total_seconds() <= 0:
    raise ImproperlyConfigured("OEM_API_TOKEN_HOURS and OEM_LOCKOUT_COOLOFF_MINUTES must be positive")
# ---- end: lockout, throttling and API tokens --------------------------------------------------------------
