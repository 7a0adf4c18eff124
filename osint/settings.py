"""Settings for the OSINT event-data service.

Everything that differs between a laptop and a deployment comes from the environment
(the README lists every variable):

- ``DATABASE_URL`` selects the database (default: SQLite in ``db.sqlite3``).
- ``DJANGO_DEBUG=1`` turns debugging on; it is off unless asked for.
- ``DJANGO_PRODUCTION=1`` selects the production configuration: it refuses to start without
  ``DJANGO_SECRET_KEY`` and ``DJANGO_ALLOWED_HOSTS``, and turns on HTTPS-only cookies, HSTS
  and the redirect to HTTPS, so that ``manage.py check --deploy`` passes.
- ``REDIS_URL`` shares the cache (and so the throttling counters) between processes.
"""

import os
from pathlib import Path

import dj_database_url
import orjson
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PRODUCTION = env_bool("DJANGO_PRODUCTION")
DEBUG = env_bool("DJANGO_DEBUG")

if PRODUCTION:
    missing = [name for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS") if not os.environ.get(name)]
    if missing:
        raise ImproperlyConfigured(f"DJANGO_PRODUCTION is set, so {' and '.join(missing)} must be set too.")
    if len(os.environ["DJANGO_SECRET_KEY"]) < 50:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 random characters.")
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_DEBUG must not be set in production.")
# The fallback key only suits a local checkout; production refuses to start without a real one.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-local-development-key-set-DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
    X_FRAME_OPTIONS = "DENY"
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto, say so with DJANGO_BEHIND_TLS_PROXY=1.
    if env_bool("DJANGO_BEHIND_TLS_PROXY"):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "django_countries",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "import_export",
    "events",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "osint.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "osint.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "osint.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# Read replicas (PostgreSQL streaming replicas of DATABASE_URL): osint/replicas.py routes the
# API's reads to them. Each is also the test mirror of the primary: it reads the test database
# that the primary writes.
REPLICA_DATABASES = []
for _number, _url in enumerate(env_list("DATABASE_REPLICA_URLS"), start=1):
    _replica = dj_database_url.parse(_url, conn_max_age=DATABASES["default"]["CONN_MAX_AGE"], conn_health_checks=True)
    if _replica["ENGINE"] != "django.db.backends.postgresql" or DATABASES["default"]["ENGINE"] != _replica["ENGINE"]:
        raise ImproperlyConfigured("DATABASE_REPLICA_URLS are PostgreSQL replicas of a PostgreSQL DATABASE_URL.")
    # A replica that does not answer is left out after this long, not after the kernel's minutes.
    _replica.setdefault("OPTIONS", {})["connect_timeout"] = int(os.environ.get("DATABASE_REPLICA_CONNECT_TIMEOUT", "2"))
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica{_number}"] = _replica
    REPLICA_DATABASES.append(f"replica{_number}")
# Seconds a replica may lag behind the primary before it is left out, seconds between two
# checks of each replica (in each process), and seconds for which a client that wrote reads
# from the primary.
DATABASE_REPLICA_MAX_LAG = float(os.environ.get("DATABASE_REPLICA_MAX_LAG", "10"))
DATABASE_REPLICA_CHECK_SECONDS = float(os.environ.get("DATABASE_REPLICA_CHECK_SECONDS", "2"))
MULTIDB_PINNING_SECONDS = int(os.environ.get("DATABASE_READ_YOUR_WRITES_SECONDS", "10"))
MULTIDB_PINNING_COOKIE = "osint_primary"
MULTIDB_PINNING_COOKIE_HTTPONLY = True
# It carries no secret, only "wrote a moment ago", and must come back over plain HTTP too.
MULTIDB_PINNING_COOKIE_SECURE = False
# X-Database on every response: the databases its reads used, and whether each is a standby.
DATABASE_ROUTING_HEADER = env_bool("DATABASE_ROUTING_HEADER")
DATABASE_ROUTERS = ["osint.replicas.ReplicaRouter"] if REPLICA_DATABASES else []
if REPLICA_DATABASES:
    # Below DatabaseUnavailableMiddleware, so that a read that failed on a replica is answered
    # from the primary before a 503 is considered.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("osint.middleware.DatabaseUnavailableMiddleware") + 1,
        "osint.replicas.ReplicaRoutingMiddleware",
    )
# Behind a pooler in transaction mode (PgBouncer's pool_mode = transaction), a connection is
# shared between transactions: no server-side cursor may outlive one, no statement is prepared,
# and the session settings below must come from the pooler (see the README, Deploying).
DATABASE_TRANSACTION_POOLER = env_bool("DATABASE_TRANSACTION_POOLER")

for _database in DATABASES.values():
    if _database["ENGINE"] == "django.db.backends.postgresql":
        _options = _database.setdefault("OPTIONS", {})
        # An API runs many short queries side by side. JIT compilation would add tens of
        # milliseconds whenever a cost estimate crosses its threshold, and parallel workers would
        # compete with the other requests for the same cores; both are for long analytical queries.
        _session_options = os.environ.get(
            "DATABASE_SESSION_OPTIONS",
            "" if DATABASE_TRANSACTION_POOLER else "-c jit=off -c max_parallel_workers_per_gather=0",
        )
        if _session_options:
            _options.setdefault("options", _session_options)
        # psycopg prepares a statement once a connection has run it this many times, so PostgreSQL
        # plans it once. Django binds its own queries client-side, which are never prepared; the
        # records query of lists and details (events/api/pgjson.py) binds server-side and is. "off"
        # behind a pooler in transaction mode that cannot keep prepared statements.
        _prepare_threshold = os.environ.get("DATABASE_PREPARE_THRESHOLD", "off" if DATABASE_TRANSACTION_POOLER else "2")
        _options.setdefault(
            "prepare_threshold", None if _prepare_threshold.lower() in {"", "off", "none"} else int(_prepare_threshold)
        )
        if DATABASE_TRANSACTION_POOLER:
            _database["DISABLE_SERVER_SIDE_CURSORS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several workers (or runserver's threads) write at once. A write transaction takes the
    # lock when it begins, so a second writer waits for it (up to the timeout) instead of
    # failing with "database is locked" when it tries to upgrade a read lock; WAL lets reads go
    # on during a write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": int(os.environ.get("DATABASE_SQLITE_TIMEOUT", "20")),
            "init_command": "PRAGMA journal_mode=WAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

FIXTURE_DIRS = [BASE_DIR / "fixtures"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Static files (the admin's, and the Swagger UI and Redoc assets) are served by WhiteNoise
# straight from the installed packages, so the docs work offline with no collectstatic step.
# Set DJANGO_STATIC_ROOT to serve a collectstatic output instead.
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True

# Client applications in browsers on other origins (dashboards, notebooks) read the API.
CORS_ALLOWED_ORIGINS = env_list("DJANGO_CORS_ALLOWED_ORIGINS")
CORS_ALLOW_ALL_ORIGINS = env_bool("DJANGO_CORS_ALLOW_ALL_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "if-match", "if-none-match", "user-agent"]
CORS_EXPOSE_HEADERS = ["ETag", "Retry-After", "Content-Disposition"]

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}
        if os.environ.get("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# A request whose count the cache could not take (a key expired between django-ratelimit's
# add and incr) is let through rather than refused.
RATELIMIT_FAIL_OPEN = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's, also pinning a user who has just written to the primary (osint/replicas.py).
        "osint.replicas.TokenAuthentication",
        "osint.replicas.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.DjangoModelPermissionsOrAnonReadOnly"],
    "DEFAULT_FILTER_BACKENDS": ["events.api.filter_backends.StrictDjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "events.api.pagination.LimitOffsetPagination",
    "DEFAULT_SCHEMA_CLASS": "events.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "events.api.exceptions.exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "events.api.negotiation.ContentNegotiation",
    "DEFAULT_RENDERER_CLASSES": [
        "drf_orjson_renderer.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Errors of list items are keyed by their index.
    "ORJSON_RENDERER_OPTIONS": (orjson.OPT_NON_STR_KEYS,),
    "DEFAULT_THROTTLE_CLASSES": [
        # DRF's rates, counted with atomic cache counters (events/api/throttling.py).
        "events.api.throttling.AnonRateThrottle",
        "events.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("DJANGO_THROTTLE_ANON", "600/minute"),
        "user": os.environ.get("DJANGO_THROTTLE_USER", "3000/minute"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OSINT conflict-event API",
    "DESCRIPTION": (
        "Military units, events, casualty reports and their sources, where every figure is an "
        "attributed claim with its range, kind, dates and the reliability of who made it.\n\n"
        "Reads are open to anonymous clients. Writes need a user holding the model's permission: send "
        "`Authorization: Token <key>` or use a logged-in session.\n\n"
        "Lists take `limit` (1 to 1000) and `offset`, or `cursor`; an unknown query parameter, a "
        "malformed value or a single-valued parameter sent twice is answered with 400 and a body "
        "naming the parameter. A list parameter (`__in`) takes a comma-separated list, or the "
        "parameter repeated."
    ),
    "VERSION": "1.0.0",
    # Relative: the schema describes whichever host serves it.
    "SERVERS": [{"url": "/", "description": "The service that serves this schema."}],
    "TAGS": [
        {"name": "sources", "description": "Who says things, with the reliability of each."},
        {"name": "units", "description": "Military formations, in a hierarchy of any depth."},
        {"name": "unit-positions", "description": "Where units were reported, day by day: their tracks."},
        {"name": "events", "description": "What happened, where and when, with the units involved and the sources."},
        {"name": "casualty-reports", "description": "Claims about losses, each attributed to its sources."},
        {"name": "casualty-report-links", "description": "One casualty claim confirming or disputing another."},
        {"name": "event-links", "description": "One event report confirming or disputing another."},
        {"name": "deletions", "description": "What was deleted since a time, for mirrors."},
        {"name": "auth", "description": "API tokens for applications."},
    ],
    # OpenAPI 3.1 is JSON Schema: a null foreign key is `oneOf: [<brief object>, null]`, which
    # strict validators and client generators read the same way.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Request bodies are JSON. The browsable API still posts its forms, but a schema offering
    # one body in three encodings makes generated clients send PATCHes as multipart.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "SourceKindEnum": "events.choices.SourceKind",
        "ReliabilityEnum": "events.choices.Reliability",
        "CredibilityEnum": "events.choices.Credibility",
        "EchelonEnum": "events.choices.Echelon",
        "FigureKindEnum": "events.choices.FigureKind",
        "UnitStatusEnum": "events.choices.UnitStatus",
        "EventTypeEnum": "events.choices.EventType",
        "DatePrecisionEnum": "events.choices.DatePrecision",
        "LocationPrecisionEnum": "events.choices.LocationPrecision",
        "CasualtyCategoryEnum": "events.choices.CasualtyCategory",
        "UnitRoleEnum": "events.choices.UnitRole",
        "CitationRoleEnum": "events.choices.CitationRole",
        "ClaimStatusEnum": "events.choices.ClaimStatus",
        "LinkRelationEnum": "events.choices.LinkRelation",
        "CountryEnum": "django_countries.countries",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "events.api.schema.postprocess_schema",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}
