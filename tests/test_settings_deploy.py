"""Settings come from the environment with safe embedded defaults; with production variables
``manage.py check --deploy`` is clean; the models and migrations agree.

Settings are read once per process, so each configuration is loaded in a subprocess.
"""
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

BASE_DIR = Path(__file__).resolve().parent.parent

SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "DEBUG": s.DEBUG, "ALLOWED_HOSTS": s.ALLOWED_HOSTS, "SECRET_KEY": s.SECRET_KEY,
    "ENGINE": s.DATABASES["default"]["ENGINE"], "DB_NAME": str(s.DATABASES["default"]["NAME"]),
    "DB_OPTIONS": s.DATABASES["default"].get("OPTIONS", {}),
    "MEDIA": s.STORAGES["default"]["BACKEND"], "MEDIA_ROOT": str(s.MEDIA_ROOT),
    "SSL_REDIRECT": s.SECURE_SSL_REDIRECT, "SESSION_SECURE": s.SESSION_COOKIE_SECURE,
    "CSRF_SECURE": s.CSRF_COOKIE_SECURE, "HSTS": s.SECURE_HSTS_SECONDS, "REDIS_URL": s.REDIS_URL,
    "CHANNEL_HOSTS": s.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"], "BROKER": s.CELERY_BROKER_URL,
    "CELERY_ACCEPT": s.CELERY_ACCEPT_CONTENT, "S3_ENDPOINT": getattr(s, "AWS_S3_ENDPOINT_URL", None),
}))
"""

ENV_NAMES = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "HTTPS", "AWS_STORAGE_BUCKET_NAME",
             "AWS_S3_ENDPOINT_URL", "MEDIA_ROOT", "STUDIO_VAR_DIR", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")


def run(args, env_overrides, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env.update({"STUDIO_VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "studio.settings"}, **env_overrides)
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)


def settings_with(env, tmp_path) -> dict:
    result = run(["-c", SHOW_SETTINGS], env, tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def production_env() -> dict:
    return {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "studio.example.com",
        "HTTPS": "1",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/test",
        "REDIS_URL": "redis://127.0.0.1:6379/3",
    }


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(), tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output
    assert "WARNING" not in output and "ERROR" not in output


def test_check_deploy_does_catch_an_unsafe_configuration(tmp_path):
    """The control: the same check fails with DEBUG on and no HTTPS."""
    env = {**production_env(), "DEBUG": "1", "HTTPS": "0"}
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout  # DEBUG in deployment


def test_production_settings_come_from_the_environment(tmp_path):
    env = {**production_env(), "AWS_STORAGE_BUCKET_NAME": "takes", "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000"}
    s = settings_with(env, tmp_path)
    assert s["DEBUG"] is False and s["ALLOWED_HOSTS"] == ["studio.example.com"]
    assert s["SECRET_KEY"] == env["SECRET_KEY"]
    assert s["ENGINE"] == "django.db.backends.postgresql"
    assert s["SSL_REDIRECT"] and s["SESSION_SECURE"] and s["CSRF_SECURE"] and s["HSTS"] >= 31536000
    assert s["REDIS_URL"] == s["BROKER"] == "redis://127.0.0.1:6379/3"
    assert s["CHANNEL_HOSTS"] == ["redis://127.0.0.1:6379/3"]
    assert s["CELERY_ACCEPT"] == ["json"]
    assert s["MEDIA"] == "storages.backends.s3.S3Storage" and s["S3_ENDPOINT"] == "http://127.0.0.1:9000"


def test_embedded_defaults_are_safe(tmp_path):
    s = settings_with({}, tmp_path)
    assert s["DEBUG"] is False
    assert "*" not in s["ALLOWED_HOSTS"] and set(s["ALLOWED_HOSTS"]) <= {"127.0.0.1", "localhost", "[::1]", "testserver"}
    assert s["ENGINE"] == "django.db.backends.sqlite3"
    assert s["DB_NAME"] == str(tmp_path / "var" / "studio.sqlite3")
    assert "journal_mode=WAL" in s["DB_OPTIONS"]["init_command"] and s["DB_OPTIONS"]["timeout"] >= 5
    assert s["MEDIA"] == "django.core.files.storage.FileSystemStorage"
    assert s["MEDIA_ROOT"] == str(tmp_path / "var" / "media")
    assert s["SSL_REDIRECT"] is False
    # a per-installation secret, kept private, stable across restarts, different per installation
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text().strip() == s["SECRET_KEY"] and len(s["SECRET_KEY"]) >= 50
    assert key_file.stat().st_mode & 0o077 == 0
    assert settings_with({}, tmp_path)["SECRET_KEY"] == s["SECRET_KEY"]
    other = tmp_path / "other"
    other.mkdir()
    assert settings_with({}, other)["SECRET_KEY"] != s["SECRET_KEY"]


@pytest.mark.django_db
def test_makemigrations_check_is_clean():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
