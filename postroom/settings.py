"""Django settings for Postroom.

Everything infrastructure needs comes from the environment with defaults that
suit the embedded case: one SQLite file in a data directory, no secrets to set.
Settings that may change while campaigns run live in the database instead.

This is the only module that reads the environment for configuration. The other
readers, and why: `postroom.cli` and `postroom.wsgi` pick DJANGO_SETTINGS_MODULE
before Django is set up, and `postroom.cli` reads POSTROOM_TRACEBACK when
explaining an error, which may be these settings failing to load;
`postroom.credentials.from_environment` reads a secret whose variable *name*
is given at run time (a sender's password, `createadmin --password-env`), at
the moment of use, so it is never copied into settings, the database or the
settings page; `postroom run` passes its environment on to the processes it
starts.
"""

import base64
import hashlib
import ipaddress
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

import dj_database_url
from cryptography.fernet import Fernet

from postroom.errors import ConfigurationError

# --- typed readers: the only code that reads the environment --------------------------
# They fail loudly on a malformed value: a typo in production must stop the process with
# a clear message rather than silently fall back to a default.

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigurationError(
                f"{name} must list networks such as 10.0.0.0/8 or ::1/128, not {item!r}"
            ) from None
    return networks


# --- settings ------------------------------------------------------------------------

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("POSTROOM_DATA_DIR", "var")).resolve()


# Every file a Postroom process creates (the SQLite database and its -wal/-shm, uploads,
# the journal, keys, exports) is readable by its own user only: they hold personal data.
os.umask(0o077)


def _ensure_data_dir() -> None:
    """Create the data dir and prove it writable; safe when several processes start at once
    (`postroom run` starts its children together, the test passes run side by side)."""
    try:
        DATA_DIR.mkdir(parents=True, mode=0o700, exist_ok=True)
        with tempfile.TemporaryFile(dir=DATA_DIR) as probe:
            probe.write(b"ok")
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
        # Written whole under another name, then linked into place: of processes starting
        # together, one key wins and every one of them reads it (never a half-written file).
        with tempfile.NamedTemporaryFile("w", dir=DATA_DIR, delete=False) as draft:
            draft.write(secrets.token_urlsafe(50))
        try:
            os.link(draft.name, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft.name)
    return path.read_text().strip()


_DB_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql"}


def _in_memory(name: str) -> bool:
    return name in ("", ":memory:") or name.startswith("file::memory:") or "mode=memory" in name


def _database(url: str) -> dj_database_url.DBConfig:
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
        if _in_memory(str(db["NAME"])):
            # Each process would get its own empty database: `migrate` would "succeed"
            # and the server and workers would never see its tables.
            raise ConfigurationError(
                "DATABASE_URL names an in-memory SQLite database, which no other process "
                "sees and which is lost at exit; give a file: sqlite:///ABSOLUTE/PATH"
            )
        folder = Path(db["NAME"]).parent
        if not folder.is_dir():
            raise ConfigurationError(f"the folder of the SQLite file, {folder}, does not exist")
        # A web process and workers write at once: WAL lets readers go on while
        # one writer commits, IMMEDIATE takes the write lock up front so two
        # writers queue on the busy timeout instead of failing with "locked".
        # Connections are reused (DB_CONN_MAX_AGE) as on PostgreSQL: opening one
        # costs ~0.9 ms of CPU here (Django registers its SQL functions, the
        # pragmas run), more than a whole cheap API call; an idle connection holds
        # no lock and no snapshot.
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
# Machine opens and clicks (tracking/machines.py): networks of proxies besides Apple's, and
# how soon after delivery an open or a click is too soon for a person.
POSTROOM_MACHINE_NETWORKS = env_list("POSTROOM_MACHINE_NETWORKS", [])
POSTROOM_MACHINE_OPEN_SECONDS = env_int("POSTROOM_MACHINE_OPEN_SECONDS", 2)
POSTROOM_MACHINE_CLICK_SECONDS = env_int("POSTROOM_MACHINE_CLICK_SECONDS", 10)
POSTROOM_SOFT_BOUNCE_LIMIT = env_int("POSTROOM_SOFT_BOUNCE_LIMIT", 3)
POSTROOM_SOFT_BOUNCE_DAYS = env_int("POSTROOM_SOFT_BOUNCE_DAYS", 14)
# The mailto: unsubscribe address in List-Unsubscribe; empty means the campaign's From.
POSTROOM_UNSUBSCRIBE_MAILBOX = env_str("POSTROOM_UNSUBSCRIBE_MAILBOX", "")
# Delivery retries: attempts and back-off for 4xx replies, back-off for a failing sender.
POSTROOM_MAX_ATTEMPTS = env_int("POSTROOM_MAX_ATTEMPTS", 6)
POSTROOM_RETRY_BASE_SECONDS = env_int("POSTROOM_RETRY_BASE_SECONDS", 60)
POSTROOM_MAX_RETRY_AGE_SECONDS = env_int("POSTROOM_MAX_RETRY_AGE_SECONDS", 3 * 86400)
# A sender that cannot be reached is tried again after 1, 2, 4 … s, never more than 30 s
# apart, so its campaigns carry on within half a minute of its return (delivery.waiting).
POSTROOM_SENDER_BACKOFF_SECONDS = env_int("POSTROOM_SENDER_BACKOFF_SECONDS", 1)
POSTROOM_SENDER_BACKOFF_MAX_SECONDS = env_int("POSTROOM_SENDER_BACKOFF_MAX_SECONDS", 30)
# Added to every rate-limit window, so network jitter never makes a provider count one too many.
POSTROOM_RATE_MARGIN_MS = env_int("POSTROOM_RATE_MARGIN_MS", 200)
# Default From for campaigns and confirmations; empty means the sender's envelope address.
POSTROOM_FROM_EMAIL = env_str("POSTROOM_FROM_EMAIL", "")
# Public sign-up form posts an hour per IPv4 address or IPv6 /64.
POSTROOM_SUBSCRIBE_LIMIT = env_int("POSTROOM_SUBSCRIBE_LIMIT", 10)
# Seconds an outgoing webhook POST may take to connect, and for each read of its answer.
POSTROOM_WEBHOOK_TIMEOUT_SECONDS = env_int("POSTROOM_WEBHOOK_TIMEOUT_SECONDS", 5)
# Networks that webhook endpoints and feeds may reach although not globally routable
# (postroom.outbound), e.g. "10.0.0.0/8,127.0.0.1/32"; by default none: no loopback,
# private, link-local or metadata address.
POSTROOM_OUTBOUND_ALLOW = env_networks("POSTROOM_OUTBOUND_ALLOW")
# Bearer tokens; empty turns /metrics and the bounce webhook off (404).
POSTROOM_METRICS_TOKEN = env_str("POSTROOM_METRICS_TOKEN", "").strip()
POSTROOM_BOUNCE_TOKEN = env_str("POSTROOM_BOUNCE_TOKEN", "").strip()
# Provider webhooks (/webhooks/<provider>, docs/tracking.md); each is a 404 until set.
# SES through SNS: on/off, the topics accepted (empty: any), the hosts SNS certificates
# may come from (https only; a test serves its own).
POSTROOM_SES_WEBHOOK = env_bool("POSTROOM_SES_WEBHOOK", False)
POSTROOM_SES_TOPIC_ARNS = env_list("POSTROOM_SES_TOPIC_ARNS", [])
POSTROOM_SNS_CERT_HOSTS = env_list(
    "POSTROOM_SNS_CERT_HOSTS", ["sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"]
)
POSTROOM_SENDGRID_PUBLIC_KEY = env_str("POSTROOM_SENDGRID_PUBLIC_KEY", "").strip()
POSTROOM_MAILGUN_SIGNING_KEY = env_str("POSTROOM_MAILGUN_SIGNING_KEY", "").strip()
POSTROOM_POSTMARK_WEBHOOK_TOKEN = env_str("POSTROOM_POSTMARK_WEBHOOK_TOKEN", "").strip()
POSTROOM_SPARKPOST_WEBHOOK_TOKEN = env_str("POSTROOM_SPARKPOST_WEBHOOK_TOKEN", "").strip()
# A signed webhook (SendGrid, Mailgun) whose timestamp is further from now is a replay.
POSTROOM_WEBHOOK_MAX_AGE_SECONDS = env_int("POSTROOM_WEBHOOK_MAX_AGE_SECONDS", 900)
# Permanent SMTP rejections at send time (delivery/rejections.py, docs/tracking.md): by
# enhanced status code prefix, the longest that matches wins; hard suppresses the address,
# soft counts towards the soft-bounce limit, policy counts against the sender, failed
# fails the recipient alone.
POSTROOM_REJECTION_RULES = env_list(
    "POSTROOM_REJECTION_RULES", ["5.1=hard", "5.2.1=hard", "5.2=soft", "5.7=policy", "5=failed"]
)
# Deliverability checks (postroom sender check): the DNS servers asked ("IP" or "IP:PORT",
# comma-separated; empty: the system's) and how long a lookup may take.
POSTROOM_DNS_NAMESERVERS = env_list("POSTROOM_DNS_NAMESERVERS", [])
POSTROOM_DNS_TIMEOUT_SECONDS = env_int("POSTROOM_DNS_TIMEOUT_SECONDS", 5)
# Bounce mailboxes (IMAP/POP3) trust the system's CAs, and this PEM file's too (a private CA).
POSTROOM_TLS_CA_FILE = env_str("POSTROOM_TLS_CA_FILE", "")
# A reverse proxy in front: trust its X-Forwarded-For (and, over https, X-Forwarded-Proto).
POSTROOM_BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
# Each worker's journal of final dots and replies (docs/delivery.md): local disk, this machine.
POSTROOM_JOURNAL_DIR = Path(env_str("POSTROOM_JOURNAL_DIR", str(DATA_DIR / "journal")))

# User templates: each rendered part (subject, HTML, text) gets this much time and
# output (in characters). A personalised 10 KB HTML part renders in ~25 µs, so
# 100 ms is 4,000 times a real newsletter; Gmail clips a message above 102 KB, so
# 2 MB is twenty times more than a reader sees. A campaign whose renders go over
# budget this many times (per worker, since it was started or resumed) pauses itself.
POSTROOM_TEMPLATE_TIME_MS = env_int("POSTROOM_TEMPLATE_TIME_MS", 100)
POSTROOM_TEMPLATE_MAX_KB = env_int("POSTROOM_TEMPLATE_MAX_KB", 2000)
POSTROOM_TEMPLATE_PAUSE_AFTER = env_int("POSTROOM_TEMPLATE_PAUSE_AFTER", 3)
# Alerts: admins are emailed when a sender has been waiting (unreachable) this long.
POSTROOM_ALERT_SENDER_WAITING_MINUTES = env_int("POSTROOM_ALERT_SENDER_WAITING_MINUTES", 15)
# /health is public unless this token is set (then: Authorization: Bearer, or ?token=).
POSTROOM_HEALTH_TOKEN = env_str("POSTROOM_HEALTH_TOKEN", "").strip()
# Log-in throttling (held in the database, so across all web processes): this many
# wrong passwords for one account, or from one address, within the lockout window lock it.
POSTROOM_LOGIN_MAX_FAILURES = env_int("POSTROOM_LOGIN_MAX_FAILURES", 5)
POSTROOM_LOGIN_MAX_FAILURES_PER_IP = env_int("POSTROOM_LOGIN_MAX_FAILURES_PER_IP", 20)
POSTROOM_LOGIN_LOCKOUT_MINUTES = env_int("POSTROOM_LOGIN_LOCKOUT_MINUTES", 15)
# Two-factor log-in required: "" (each user chooses), "all", or roles ("owner,admin").
POSTROOM_REQUIRE_2FA = env_str("POSTROOM_REQUIRE_2FA", "").strip()
# Single sign-on with OpenID Connect (docs/accounts.md): off while POSTROOM_OIDC_ISSUER is
# empty. The provider's endpoints come from its discovery document; mozilla-django-oidc
# reads the OIDC_* names. A person's role comes from a claim (groups by default) through
# POSTROOM_OIDC_ROLES ("claim value=role", comma-separated), else the default role (empty:
# refused).
_ROLE_NAMES = ("owner", "admin", "editor", "viewer")


def _oidc_role_map(entries: list[str]) -> dict[str, str]:
    mapping = {}
    for entry in entries:
        value, sep, role = entry.rpartition("=")
        if not sep or not value.strip() or role.strip().lower() not in _ROLE_NAMES:
            raise ConfigurationError(
                f"POSTROOM_OIDC_ROLES entries look like GROUP=ROLE with a role among "
                f"{', '.join(_ROLE_NAMES)}, not {entry!r}"
            )
        mapping[value.strip()] = role.strip().lower()
    return mapping


POSTROOM_OIDC_ISSUER = env_str("POSTROOM_OIDC_ISSUER", "").strip().rstrip("/")
POSTROOM_OIDC_NAME = env_str("POSTROOM_OIDC_NAME", "single sign-on").strip()
OIDC_RP_CLIENT_ID = env_str("POSTROOM_OIDC_CLIENT_ID", "").strip()
OIDC_RP_CLIENT_SECRET = env_str("POSTROOM_OIDC_CLIENT_SECRET", "").strip()
OIDC_RP_SCOPES = env_str("POSTROOM_OIDC_SCOPES", "openid email profile")
OIDC_RP_SIGN_ALGO = env_str("POSTROOM_OIDC_SIGN_ALGO", "RS256")
POSTROOM_OIDC_ROLE_CLAIM = env_str("POSTROOM_OIDC_ROLE_CLAIM", "groups").strip()
POSTROOM_OIDC_ROLE_MAP = _oidc_role_map(env_list("POSTROOM_OIDC_ROLES", []))
POSTROOM_OIDC_DEFAULT_ROLE = env_str("POSTROOM_OIDC_DEFAULT_ROLE", "").strip().lower()
if POSTROOM_OIDC_DEFAULT_ROLE not in ("", *_ROLE_NAMES):
    raise ConfigurationError(
        f"POSTROOM_OIDC_DEFAULT_ROLE must be empty or one of {', '.join(_ROLE_NAMES)}"
    )
if POSTROOM_OIDC_ISSUER and not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
    raise ConfigurationError(
        "POSTROOM_OIDC_ISSUER is set: set POSTROOM_OIDC_CLIENT_ID and POSTROOM_OIDC_CLIENT_SECRET"
    )
OIDC_USE_PKCE = True
OIDC_TIMEOUT = env_int("POSTROOM_OIDC_TIMEOUT_SECONDS", 10)
OIDC_AUTHENTICATION_CALLBACK_URL = "login_sso_callback"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    # Inert while POSTROOM_OIDC_ISSUER is empty.
    "postroom.accounts.oidc.ProviderBackend",
]
# The audit log keeps entries this many days.
POSTROOM_AUDIT_KEEP_DAYS = env_int("POSTROOM_AUDIT_KEEP_DAYS", 365)
# A sender's password_env may only name variables with this prefix, so nobody can
# make Postroom send SECRET_KEY or DATABASE_URL to an SMTP server of their choosing.
POSTROOM_SMTP_PASSWORD_ENV_PREFIX = env_str("POSTROOM_SMTP_PASSWORD_ENV_PREFIX", "POSTROOM_SMTP_")

DATABASES = {"default": _database(env_str("DATABASE_URL"))}


def _credentials_keys() -> list[bytes]:
    """Fernet keys for stored SMTP and mailbox passwords (postroom/credentials.py)."""
    given = env_list("POSTROOM_CREDENTIALS_KEY", [])
    if not given:
        digest = hashlib.sha256(b"postroom-credentials:" + SECRET_KEY.encode()).digest()
        return [base64.urlsafe_b64encode(digest)]
    keys = []
    for key in given:
        try:
            Fernet(key.encode())
        except ValueError:
            raise ConfigurationError(
                "POSTROOM_CREDENTIALS_KEY holds a value that is not a Fernet key (44 characters"
                " of URL-safe base64); make one with: postroom credentials new-key"
            ) from None
        keys.append(key.encode())
    return keys


POSTROOM_CREDENTIALS_KEYS = _credentials_keys()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    # Only for its static files: /api/docs loads Swagger UI from here, not from a CDN.
    "ninja",
    "postroom.audience",
    "postroom.imports",
    "postroom.campaigns",
    "postroom.delivery",
    "postroom.alerts",
    "postroom.tracking",
    "postroom.accounts",
    "postroom.webhooks",
    "postroom.feeds",
    "postroom.abtests",
    "postroom.transactional",
    "postroom.automations",
    "postroom.media",
    "postroom.public",
    "postroom.web",
    "postroom.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before CommonMiddleware (Django's order): the browser's language for
    # every request; web.languages then puts a user's own choice or a subscriber's, a
    # list's, on top (docs/languages.md).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "postroom.http.RefuseNulMiddleware",
    # Before CSRF: a preflight is answered here; the public API needs no session anyway.
    "postroom.api.cors.PublicCorsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "postroom.accounts.audit.AuditMiddleware",
    "postroom.web.languages.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "postroom.web.timezones.ReaderTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "postroom.web.csp.ContentSecurityPolicyMiddleware",
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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# The languages Postroom ships (postroom/locale; docs/languages.md says how to add one).
# Names are each language's own, as a picker shows them to someone who reads it.
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("fr", "Français"),
    ("zh-hans", "简体中文"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["postroom.formats"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# WhiteNoise serves the few static files straight from the installed package
# (found once at start-up through the finders), so a pip install works with no
# collectstatic step and no STATIC_ROOT folder to keep in sync after upgrades.
STATIC_URL = "static/"
STATIC_ROOT = None
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The media library (postroom.media, docs/media.md): files in the data directory, served
# by Postroom at /m/…, unless a bucket is named: then an S3-compatible store through
# django-storages, and images in emails link to the bucket (or POSTROOM_S3_PUBLIC_HOST).
POSTROOM_MEDIA_DIR = Path(env_str("POSTROOM_MEDIA_DIR", str(DATA_DIR / "media")))
POSTROOM_S3_BUCKET = env_str("POSTROOM_S3_BUCKET")
if POSTROOM_S3_BUCKET:
    STORAGES["media"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": POSTROOM_S3_BUCKET,
            "endpoint_url": env_str("POSTROOM_S3_ENDPOINT_URL") or None,  # None: AWS itself
            "region_name": env_str("POSTROOM_S3_REGION") or None,
            # None: boto3's own chain (AWS_* variables, an instance role).
            "access_key": env_str("POSTROOM_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("POSTROOM_S3_SECRET_ACCESS_KEY") or None,
            "location": env_str("POSTROOM_S3_PREFIX", "postroom-media"),
            "custom_domain": env_str("POSTROOM_S3_PUBLIC_HOST") or None,
            # Images in sent emails are read for years: their URLs must not expire.
            "querystring_auth": False,
            "default_acl": env_str("POSTROOM_S3_ACL", "public-read") or None,
            "file_overwrite": False,
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
        },
    }
else:
    STORAGES["media"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": POSTROOM_MEDIA_DIR},
    }
# Uploads: images are refused past these sizes (the pixels are counted from the header,
# before decoding: a decompression bomb is never opened) and scaled down to the width.
POSTROOM_MEDIA_IMAGE_MAX_KB = env_int("POSTROOM_MEDIA_IMAGE_MAX_KB", 10_240)
POSTROOM_MEDIA_IMAGE_MAX_PIXELS = env_int("POSTROOM_MEDIA_IMAGE_MAX_PIXELS", 40_000_000)
POSTROOM_MEDIA_IMAGE_WIDTH = env_int("POSTROOM_MEDIA_IMAGE_WIDTH", 1200)
POSTROOM_MEDIA_FILE_MAX_KB = env_int("POSTROOM_MEDIA_FILE_MAX_KB", 10_240)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = DATA_DIR / "uploads"
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# Cookies are marked secure whenever Postroom is served over HTTPS.
_HTTPS = POSTROOM_BASE_URL.startswith("https://")
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "SAMEORIGIN"
if _HTTPS and POSTROOM_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # flufl.bounce logs each detector it runs and a traceback for each one that chokes
        # on an odd message, then goes on; tracking.bounces logs the one line that matters.
        "flufl.bounce": {"level": "CRITICAL"},
    },
}
