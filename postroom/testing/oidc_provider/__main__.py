"""python -m postroom.testing.oidc_provider --db FILE --users FILE --client-id ID
--client-secret SECRET --redirect-uri URI [--port N]

Prints `listening on PORT` once it accepts connections, then serves until stopped.
"""

import argparse
from pathlib import Path

import django
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

HERE = Path(__file__).resolve().parent


def _private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def configure(args: argparse.Namespace) -> None:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="test-provider-" + args.client_secret,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF="postroom.testing.oidc_provider.urls",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "oauth2_provider",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": args.db}},
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [str(HERE / "templates")],
                "APP_DIRS": True,
                "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
            }
        ],
        # Not Postroom's names: both servers live on 127.0.0.1, and cookies ignore the port.
        SESSION_COOKIE_NAME="provider_sessionid",
        CSRF_COOKIE_NAME="provider_csrftoken",
        LOGIN_URL="/accounts/login/",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # a test server
        OAUTH2_PROVIDER={
            "OIDC_ENABLED": True,
            "OIDC_RSA_PRIVATE_KEY": _private_key_pem(),
            "OAUTH2_VALIDATOR_CLASS": ("postroom.testing.oidc_provider.claims.FileClaimsValidator"),
            "SCOPES": {
                "openid": "OpenID Connect",
                "email": "Email address",
                "profile": "Name and groups",
            },
        },
    )
    django.setup()


def prepare(args: argparse.Namespace) -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from oauth2_provider.models import Application

    from postroom.testing.oidc_provider import claims

    claims.USERS_FILE = Path(args.users)
    call_command("migrate", verbosity=0)
    for username, entry in claims.users_file().items():
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(entry["password"])
        user.save()
    Application.objects.update_or_create(
        client_id=args.client_id,
        defaults={
            "name": "Postroom",
            "client_secret": args.client_secret,
            "client_type": Application.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
            "redirect_uris": args.redirect_uri,
            "algorithm": Application.RS256_ALGORITHM,
            "skip_authorization": True,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="oidc_provider")
    for name in ("--db", "--users", "--client-id", "--client-secret", "--redirect-uri"):
        parser.add_argument(name, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    configure(args)
    prepare(args)

    from django.core.servers.basehttp import run
    from django.core.wsgi import get_wsgi_application

    def bound(port: object) -> None:
        print(f"listening on {port}", flush=True)

    run("127.0.0.1", args.port, get_wsgi_application(), threading=True, on_bind=bound)


if __name__ == "__main__":
    main()
