"""Django settings for Postroom.

Everything infrastructure needs comes from the environment with defaults that
suit the embedded case: one SQLite file in a data directory, no secrets to set.
Settings that may change while campaigns run live in the database instead.
"""

import secrets
from pathlib import Path

import dj_database_url

from postroom.env import env_bool, env_int, env_list, env_str
from postroom.errors import ConfigurationError

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("POSTROOM_DATA_DIR", "var")).resolve()


def _ensure_data_dir() -> None:
    try:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        probe = DATA_DIR / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigurationError(
            f"data directory {DATA_DIR} is not writable ({exc.strerror}); "
            "set POSTROOM_DATA_DIR to a writable folder"
        ) from None


def _secret_key() -> str:
    """The key from SECRET_KEY, or one generated once and kept in the data dir."""
    given = env_str("SECRET_KEY")
    if given:
        return given
    _ensure_data_dir()
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


_DB_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql"}


def _database(url: str) -> dict:
    if not url:
        _ensure_data_dir()
        url = f"sqlite:///{DATA_DIR / 'postroom.sqlite3'}"
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in _DB_SCHEMES:
        # The URL itself is never echoed: it may hold a password.
        raise ConfigurationError(
            f"DATABASE_URL must look like sqlite:///PATH or postgresql://USER@HOST/NAME, "
            f"not {scheme + '://...' if scheme else 'a value without a scheme'}"
        )
    try:
        db = dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    except Exception:  # dj-database-url raises several types for a bad URL
        raise ConfigurationError("DATABASE_URL is not a valid database URL") from None
    engine = db.get("ENGINE", "")
    if not db.get("NAME"):
        raise ConfigurationError("DATABASE_URL names no database (or SQLite file)")
    if engine == "django.db.backends.sqlite3":
        folder = Path(db["NAME"]).parent
        if not folder.is_dir():
            raise ConfigurationError(f"the folder of the SQLite file, {folder}, does not exist")
        # A web process and workers write at once: WAL lets readers go on while
        # one writer commits, IMMEDIATE takes the write lock up front so two
        # writers queue on the busy timeout instead of failing with "locked".
        db["CONN_MAX_AGE"] = 0
        db["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA busy_timeout=30000;"
            ),
        }
    else:
        # Fail within seconds on an unreachable server rather than hang a command.
        db.setdefault("OPTIONS", {}).setdefault("connect_timeout", 10)
    return db


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = _secret_key()
POSTROOM_BASE_URL = env_str("POSTROOM_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [POSTROOM_BASE_URL])

# Tracking: no IP address is stored with opens and clicks unless asked for;
# an address that soft-bounces this many times within this many days is suppressed.
POSTROOM_TRACK_IP = env_bool("POSTROOM_TRACK_IP", False)
POSTROOM_SOFT_BOUNCE_LIMIT = env_int("POSTROOM_SOFT_BOUNCE_LIMIT", 3)
POSTROOM_SOFT_BOUNCE_DAYS = env_int("POSTROOM_SOFT_BOUNCE_DAYS", 14)
# The mailto: unsubscribe address in List-Unsubscribe; empty means the campaign's From.
POSTROOM_UNSUBSCRIBE_MAILBOX = env_str("POSTROOM_UNSUBSCRIBE_MAILBOX", "")
# Delivery retries: attempts and back-off for 4xx replies, back-off for a failing sender.
POSTROOM_MAX_ATTEMPTS = env_int("POSTROOM_MAX_ATTEMPTS", 6)
POSTROOM_RETRY_BASE_SECONDS = env_int("POSTROOM_RETRY_BASE_SECONDS", 60)
POSTROOM_MAX_RETRY_AGE_SECONDS = env_int("POSTROOM_MAX_RETRY_AGE_SECONDS", 3 * 86400)
# A sender that cannot be reached is tried again after 1, 2, 4 … s, never more than 30 s
# apart, so its campaigns carry on within half a minute of its return (delivery.health).
POSTROOM_SENDER_BACKOFF_SECONDS = env_int("POSTROOM_SENDER_BACKOFF_SECONDS", 1)
POSTROOM_SENDER_BACKOFF_MAX_SECONDS = env_int("POSTROOM_SENDER_BACKOFF_MAX_SECONDS", 30)

DATABASES = {"default": _database(env_str("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "postroom.audience",
    "postroom.imports",
    "postroom.campaigns",
    "postroom.delivery",
    "postroom.tracking",
    "postroom.web",
    "postroom.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "postroom.urls"
WSGI_APPLICATION = "postroom.wsgi.application"

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

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# WhiteNoise serves the few static files straight from the installed package
# (found once at start-up through the finders), so a pip install works with no
# collectstatic step and no STATIC_ROOT folder to keep in sync after upgrades.
STATIC_URL = "static/"
STATIC_ROOT = None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = DATA_DIR / "uploads"

# Cookies are marked secure whenever Postroom is served over HTTPS.
_HTTPS = POSTROOM_BASE_URL.startswith("https://")
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "SAMEORIGIN"
if _HTTPS and env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
