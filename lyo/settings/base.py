"""Settings shared by every environment. Children import * and change only what they need."""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
APPS_DIR = BASE_DIR / "apps"

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))

# --- Core -------------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
SITE_ID = 1
ROOT_URLCONF = "lyo.urls"
WSGI_APPLICATION = "lyo.wsgi.application"
ADMIN_URL = env("DJANGO_ADMIN_URL", default="admin/")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Database ---------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = True


def with_outbox_engine(database: dict) -> dict:
    """Django's engine plus the event outbox's pre-commit write (apps.core.db_backends).
    Every settings module that builds DATABASES passes its databases through this."""
    vendor = database["ENGINE"].rsplit(".", 1)[-1]
    if vendor in ("postgresql", "sqlite3"):
        database["ENGINE"] = f"apps.core.db_backends.{vendor}"
    return database


with_outbox_engine(DATABASES["default"])

# --- Applications -----------------------------------------------------------------------------
DJANGO_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "apps.accounts.admin_site.LyoAdminConfig",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_prometheus",
    "csp",
    "allauth",
    "allauth.account",
]
LOCAL_APPS = [
    "apps.core",
    "apps.accounts",
    "apps.mailing",
    "apps.media",
    "apps.courses",
    "apps.social",
    "apps.gamification",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "apps.core.middleware.ForwardedHeadersMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "apps.core.middleware.RequestIdMiddleware",
    "apps.core.middleware.AccessLogMiddleware",
    "apps.core.middleware.RequestSizeLimitMiddleware",
    "apps.core.middleware.MalformedRequestMiddleware",
    "apps.core.middleware.JsonNotFoundMiddleware",
    "apps.core.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# --- Auth -------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # ModelBackend with each user's permission set cached (apps.accounts.authentication). The
    # only one: it finds the account by its canonical email (User.objects.get_by_natural_key)
    # for the API, the browser login and the admin alike; allauth's backend matched other
    # spellings.
    "apps.accounts.authentication.CachedPermissionsBackend",
]
LOGIN_URL = "account_login"
# Failed sign-ins (API token, browser and admin) per email and per IP before a cooling period.
LOGIN_MAX_FAILURES = env.int("LYO_LOGIN_MAX_FAILURES", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LYO_LOGIN_LOCKOUT_SECONDS", default=15 * 60)
# Wrong current passwords at POST /auth/password/change/ per account before it locks for
# LOGIN_LOCKOUT_SECONDS (apps.accounts.lockout).
PASSWORD_CHANGE_MAX_FAILURES = env.int("LYO_PASSWORD_CHANGE_MAX_FAILURES", default=5)

# --- django-allauth: sign-up, email verification and password reset --------------------------
ACCOUNT_ADAPTER = "apps.accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {
    "login": "apps.accounts.forms.LoginForm",
    "signup": "apps.accounts.forms.SignupForm",
}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False  # a GET (mail scanners prefetch links) must not confirm
ACCOUNT_EMAIL_CONFIRMATION_HMAC = True
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 3
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Lyo] "
# Tell people by email when their password changes (API or browser), so a takeover is noticed.
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env("LYO_LINK_PROTOCOL", default="http")
ACCOUNT_RATE_LIMITS = {
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    # Failed browser logins count in apps.accounts.lockout (AccountAdapter.pre_authenticate).
    "login_failed": None,
}
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Low entropy (repeats, sequences, patterns) is refused too: zxcvbn's score, at least 3.
    {"NAME": "apps.accounts.password_validation.PasswordStrengthValidator"},
]

# --- Templates, static, media -----------------------------------------------------------------
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
            ],
        },
    }
]
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Cache and sessions -----------------------------------------------------------------------
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# With Redis (apps.core.redis_cache.ResilientRedisCache): the keys that are counters, kept in
# process memory while Redis is unreachable (throttles, sign-in lockout, allauth's rate
# limits); every other key is a copy of database rows and simply misses meanwhile.
CACHE_COUNTER_PREFIXES = ("throttle_", "lockout:", "allauth:rl:")
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Email ------------------------------------------------------------------------------------
# Every email, allauth's included, is written to the outbox (apps.mailing) inside the current
# transaction and delivered after commit by a Celery task through MAILING_TRANSPORT_BACKEND.
EMAIL_BACKEND = "apps.mailing.backends.OutboxEmailBackend"
MAILING_TRANSPORT_BACKEND = env(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
MAILING_MAX_ATTEMPTS = env.int("LYO_MAILING_MAX_ATTEMPTS", default=8)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="Lyo <no-reply@lyo.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = 10

# --- Security (production tightens these) -----------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# The proxies (CIDRs) whose X-Forwarded-For and X-Forwarded-Proto are believed; from anyone
# else both are dropped (apps.core.http). None here; production trusts loopback by default and
# the compose file names its nginx.
TRUSTED_PROXIES = env.list("LYO_TRUSTED_PROXIES", default=[])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Request limits ---------------------------------------------------------------------------
# Any request body above this is refused with 413 before it is read. Media uploads have their
# own, per-purpose limits below this ceiling.
MAX_REQUEST_BODY_BYTES = env.int("LYO_MAX_REQUEST_BODY_BYTES", default=25 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# JSON bodies (apps.core.parsers): size (413 beyond) and nesting depth (400 beyond).
MAX_JSON_BODY_BYTES = env.int("LYO_MAX_JSON_BODY_BYTES", default=1024 * 1024)
MAX_JSON_DEPTH = env.int("LYO_MAX_JSON_DEPTH", default=32)

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.CachedUserJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # The API speaks JSON; endpoints that take files (apps.media) set their own parsers.
    # apps.core.parsers.JSONParser: DRF's, with size, depth, encoding and NUL limits.
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.core.throttling.AnonRateThrottle",
        "apps.core.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("LYO_THROTTLE_ANON", default="300/min"),
        "user": env("LYO_THROTTLE_USER", default="1200/min"),
        # Sign-in and account emails: per client IP and per submitted email address.
        "auth_ip": env("LYO_THROTTLE_AUTH_IP", default="30/min"),
        "auth_email": env("LYO_THROTTLE_AUTH_EMAIL", default="10/min"),
        "account_email_ip": env("LYO_THROTTLE_ACCOUNT_EMAIL_IP", default="20/hour"),
        # Per-user caps on writes that others see or that cost storage.
        "posts": env("LYO_THROTTLE_POSTS", default="30/min"),
        "comments": env("LYO_THROTTLE_COMMENTS", default="60/min"),
        "likes": env("LYO_THROTTLE_LIKES", default="120/min"),
        "follows": env("LYO_THROTTLE_FOLLOWS", default="60/min"),
        "reports": env("LYO_THROTTLE_REPORTS", default="20/hour"),
        "media_uploads": env("LYO_THROTTLE_MEDIA_UPLOADS", default="30/min"),
        "course_writes": env("LYO_THROTTLE_COURSE_WRITES", default="120/min"),
        "groups": env("LYO_THROTTLE_GROUPS", default="20/hour"),  # creating study groups
        # Every other write (apps.core.throttling.WriteThrottled's default scope).
        "writes": env("LYO_THROTTLE_WRITES", default="120/min"),
    },
    "EXCEPTION_HANDLER": "apps.core.errors.api_exception_handler",
    # drf-spectacular's AutoSchema plus the API-wide error responses (ErrorResponse component).
    "DEFAULT_SCHEMA_CLASS": "apps.core.openapi.LyoAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# How long an API request may use a cached copy of its user's row (apps.accounts.authentication).
AUTH_USER_CACHE_SECONDS = env.int("LYO_AUTH_USER_CACHE_SECONDS", default=300)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=14),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env("LYO_JWT_SIGNING_KEY", default="") or SECRET_KEY,
    "AUDIENCE": env("LYO_JWT_AUDIENCE", default="lyo-api"),
    "ISSUER": env("LYO_JWT_ISSUER", default="lyo"),
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Lyo API",
    "DESCRIPTION": "Courses, social learning and gamification. Errors share one shape: "
    '`{"error": {"code", "message", "details", "request_id"}}`.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # `<id:...>` path parameters (apps.core.converters): ids in the database's range.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}
    },
    # Choice sets that share a field name ("status") get distinct, stable component names.
    "ENUM_NAME_OVERRIDES": {
        "MembershipStatusEnum": "apps.social.models.Membership.Status",
        "ReportStatusEnum": "apps.social.models.Report.Status",
        "CourseStatusEnum": "apps.courses.models.Course.Status",
        "EnrollmentStatusEnum": "apps.courses.models.Enrollment.Status",
    },
}

# --- Celery -----------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
# Tasks are written to be idempotent, so redelivery after a crash is safe and wanted.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# With a Redis broker, a task whose worker died without acknowledging it (SIGKILL, a lost node)
# goes back to the queue only once it has been unacknowledged this long: the bound on how late
# a crashed worker's tasks run. Keep it above the longest countdown (mail retries back off up to
# 600 s) and the hard time limit, or a task still waiting or running is delivered twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("LYO_CELERY_VISIBILITY_TIMEOUT", default=60 * 60)
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True

# --- Event outbox (apps.core.outbox; README "Side effects: the event outbox") ------------------
# The sweeper (every minute) hands off undelivered events older than RELAY_AFTER (the request's
# own hand-off failed), and again RESEND_AFTER after its last try; it stops after MAX_FAILURES
# failed deliveries (`manage.py reconcile` reports those) and prunes delivered rows.
OUTBOX_RELAY_AFTER_SECONDS = env.int("LYO_OUTBOX_RELAY_AFTER_SECONDS", default=10)
OUTBOX_RESEND_AFTER_SECONDS = env.int("LYO_OUTBOX_RESEND_AFTER_SECONDS", default=300)
OUTBOX_MAX_FAILURES = env.int("LYO_OUTBOX_MAX_FAILURES", default=10)
OUTBOX_RETENTION_HOURS = env.int("LYO_OUTBOX_RETENTION_HOURS", default=48)

# --- Health ---------------------------------------------------------------------------------
# /health/ready/ answers within this long, whatever its dependencies do (apps.core.health).
HEALTH_CHECK_TIMEOUT_SECONDS = env.float("LYO_HEALTH_CHECK_TIMEOUT_SECONDS", default=1.5)

# --- Metrics ----------------------------------------------------------------------------------
# Outside DEBUG, /metrics needs `Authorization: Bearer <LYO_METRICS_TOKEN>` or a client IP in
# LYO_METRICS_ALLOWED_IPS.
METRICS_TOKEN = env("LYO_METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("LYO_METRICS_ALLOWED_IPS", default=[])
PROMETHEUS_EXPORT_MIGRATIONS = False

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env("DJANGO_LOG_LEVEL", default="INFO")
# json: one JSON object per line (production's log pipeline); text: readable lines (local).
LOG_FORMAT = env("LYO_LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.core.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"()": "apps.core.logging.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Requests are logged once, by the access log; Django's own per-request lines would
        # duplicate them.
        "django.request": {"level": "ERROR", "propagate": True},
        "django.server": {"level": "WARNING", "propagate": True},
        "django.db.backends": {"level": "WARNING", "propagate": True},
    },
}

# --- Periodic tasks (written to celery-beat by `manage.py setup_periodic_tasks`) --------------
# name -> {"task": dotted task name, "crontab": {minute, hour, day_of_week, ...}}
PERIODIC_TASKS: dict[str, dict] = {
    "core-relay-outbox": {"task": "apps.core.tasks.relay_outbox", "crontab": {"minute": "*"}},
    "mailing-outbox-requeue": {
        "task": "apps.mailing.tasks.requeue_stale_emails",
        "crontab": {"minute": "*"},
    },
    "courses-daily-stats": {
        "task": "apps.courses.tasks.aggregate_course_daily_stats",
        "crontab": {"minute": "10", "hour": "0"},
    },
}

# --- Courses ----------------------------------------------------------------------------------
# Public catalog and course pages are cached this long (0 = off); changes invalidate at once.
COURSES_CACHE_SECONDS = env.int("LYO_COURSES_CACHE_SECONDS", default=300)

# --- Gamification -----------------------------------------------------------------------------
# Level curve: reaching level L takes STEP * L * (L - 1) / 2 XP in total (100, 300, 600, ...).
GAMIFICATION_LEVEL_STEP_XP = env.int("LYO_LEVEL_STEP_XP", default=100)
LEADERBOARD_DEFAULT_SIZE = 50
LEADERBOARD_MAX_SIZE = 100
# How long every viewer shares one rendered top N (their own rank is always live); 0 = no cache.
# How long GET /me/gamification/ may be served from its per-user cache (dropped on every change).
GAMIFICATION_ME_CACHE_SECONDS = env.int("LYO_GAMIFICATION_ME_CACHE_SECONDS", default=300)
LEADERBOARD_CACHE_SECONDS = env.int("LYO_LEADERBOARD_CACHE_SECONDS", default=5)
# Local hour after which a learner who has not yet learned today is reminded of their streak.
STREAK_REMINDER_LOCAL_HOUR = 18
PERIODIC_TASKS.update(
    {
        "gamification-close-streaks": {
            "task": "apps.gamification.tasks.close_broken_streaks",
            "crontab": {"minute": "5"},
        },
        "gamification-streak-reminders": {
            "task": "apps.gamification.tasks.send_streak_reminders",
            "crontab": {"minute": "30"},
        },
        "gamification-weekly-close": {
            "task": "apps.gamification.tasks.close_week",
            "crontab": {"minute": "15", "hour": "0", "day_of_week": "1"},
        },
    }
)

# --- Media (apps.media) -----------------------------------------------------------------------
# Per-purpose size limits and accepted types are data in apps/media/policies.py.
MEDIA_USER_QUOTA_BYTES = env.int("LYO_MEDIA_USER_QUOTA_BYTES", default=500 * 1024 * 1024)
# Lifetime of signed media URLs (S3 presigned GETs, or Lyo's own signed content URLs).
MEDIA_URL_EXPIRY_SECONDS = env.int("LYO_MEDIA_URL_EXPIRY_SECONDS", default=900)
# Lifetime of a presigned direct-to-S3 upload.
MEDIA_DIRECT_UPLOAD_EXPIRY_SECONDS = env.int("LYO_MEDIA_DIRECT_UPLOAD_EXPIRY_SECONDS", default=600)
# Files nothing uses (never attached, detached, direct uploads never completed) are deleted
# after this many hours.
MEDIA_ORPHAN_MAX_AGE_HOURS = env.int("LYO_MEDIA_ORPHAN_MAX_AGE_HOURS", default=24)
PERIODIC_TASKS["media-delete-orphans"] = {
    "task": "apps.media.tasks.delete_orphaned_media",
    "crontab": {"minute": "17"},
}
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "MediaPurposeEnum": "apps.media.policies.Purpose",
        "MediaStatusEnum": "apps.media.models.MediaStatus",
    }
)
# --- end Media (apps.media) -------------------------------------------------------------------
