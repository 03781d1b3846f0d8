"""The provider registry: which back ends exist, and how to build one from its config.

Config is operator-owned (settings or admin), never taken from an API request: it names the
back end's URL and *which environment variable* holds the credential. Secrets themselves
live only in the environment; they are read here, handed to the adapter in ``secrets``,
and never stored in a config, returned by the API or logged (``public_config``).

Environment variables read: REPLICATE_API_TOKEN, OPENAI_API_KEY (default credential
names; ``api_key_env`` names another), COMFYUI_URL, REPLICATE_BASE_URL, OPENAI_BASE_URL
(used when the config has no ``base_url``).
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import PermanentProviderError, Provider
from .comfyui import ComfyUIProvider
from .local import LocalProvider
from .openai_images import OpenAIImagesProvider
from .replicate import ReplicateProvider

__all__ = [
    "NETWORK_KEYS",
    "PROVIDERS",
    "UnknownProvider",
    "get_provider",
    "provider_class",
    "provider_choices",
    "public_config",
]

PROVIDERS: dict[str, type[Provider]] = {
    cls.name: cls for cls in (LocalProvider, ComfyUIProvider, ReplicateProvider, OpenAIImagesProvider)
}

#: a config key (at any depth) whose value must never leave the server: its last word is one
#: of these, or it ends in one of the two-word names ("api_key", "X-Api-Key", "access_key"...)
SECRET_WORDS = frozenset(
    {"key", "apikey", "token", "secret", "password", "passwd", "credential", "credentials",
     "authorization", "cookie", "signature"}
)
#: api_key_env may only name variables that look like provider credentials — never, say,
#: DJANGO_SECRET_KEY or AWS_SECRET_ACCESS_KEY, which a mistaken (or hostile) config would
#: otherwise send as a bearer token to whatever base_url says.
CREDENTIAL_ENV = re.compile(r"^[A-Z][A-Z0-9_]*_(API_KEY|API_TOKEN|TOKEN)$")
FORBIDDEN_ENV_PREFIXES = ("AWS_", "DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "POSTGRES", "PG")
#: a whole string that is a URL (only those are scrubbed: prompt text mentioning one is left alone)
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
#: keys that decide where requests (and the credential) go. Whoever may set them can point
#: the workers at any host; they belong to operators, not to every project editor.
NETWORK_KEYS = frozenset({"base_url", "api_key_env"})


class UnknownProvider(PermanentProviderError):
    """No adapter is registered under that name."""


def provider_class(name: str) -> type[Provider]:
    try:
        return PROVIDERS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(PROVIDERS))
        raise UnknownProvider(f"Unknown provider {name!r}; known providers: {known}") from None


def provider_choices() -> list[tuple[str, str]]:
    """(name, label) pairs, for model and serializer choices."""
    return [(name, cls.label) for name, cls in PROVIDERS.items()]


def get_provider(
    name: str, config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
) -> Provider:
    """An adapter ready to use, with its credential resolved from the environment.

    Raises UnknownProvider for a name not in PROVIDERS, PermanentProviderError for a
    config that carries a secret, names an unsuitable variable, or whose credential is
    not set.
    """
    cls = provider_class(name)
    environ = os.environ if environ is None else environ
    config = dict(config or {})
    leaked = sorted(key for key in config if _is_secret_key(key))
    if leaked:
        raise PermanentProviderError(
            f"Provider config for {name!r} must not contain secrets ({', '.join(leaked)}); put the key in an "
            "environment variable and name that variable with 'api_key_env'"
        )
    base_url_env = getattr(cls, "base_url_env", None)
    if not config.get("base_url") and base_url_env and environ.get(base_url_env, "").strip():
        config["base_url"] = environ[base_url_env].strip()
    return cls(config, _resolve_secrets(cls, config, environ))


def _resolve_secrets(cls: type[Provider], config: dict, environ: Mapping[str, str]) -> dict[str, str]:
    env_name = config.get("api_key_env") or (cls.secret_env[0] if cls.secret_env else None)
    if not env_name:
        return {}
    env_name = str(env_name)
    if env_name not in cls.secret_env and (
        not CREDENTIAL_ENV.match(env_name) or env_name.startswith(FORBIDDEN_ENV_PREFIXES)
    ):
        raise PermanentProviderError(
            f"api_key_env {env_name!r} is not allowed for {cls.name!r}: name a variable ending in "
            "_API_KEY, _API_TOKEN or _TOKEN that holds only this provider's credential"
        )
    value = str(environ.get(env_name, "")).strip()
    if not value:
        raise PermanentProviderError(
            f"{cls.label} needs a credential: set the environment variable {env_name} on the workers"
        )
    return {"api_key": value}


def public_config(name: str, config: Mapping[str, Any] | None) -> dict:
    """``config`` fit to show anyone: secret-looking keys dropped at every depth, user
    info and secret-looking query parameters stripped from URLs. ``api_key_env`` (a
    variable's name, not its value) stays."""
    provider_class(name)
    return _scrub(dict(config or {}))


def _is_secret_key(key: Any) -> bool:
    words = [word for word in re.split(r"[^a-z0-9]+", str(key).lower()) if word]
    if not words or words[-1] == "env":  # api_key_env names a variable; it is not the secret
        return False
    return words[-1] in SECRET_WORDS


def _scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _scrub(item) for key, item in value.items() if not _is_secret_key(key)}
    if isinstance(value, (list, tuple)):
        return [_scrub(item) for item in value]
    if isinstance(value, str) and URL.match(value):
        return _scrub_url(value)
    return value


def _scrub_url(url: str) -> str:
    """The URL without user info or secret-looking query parameters; unchanged (byte for
    byte) when it has neither, so a config without credentials compares equal."""
    try:
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return url
    kept = [(key, val) for key, val in pairs if not _is_secret_key(key)]
    if "@" not in parts.netloc and len(kept) == len(pairs):
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = urlencode(kept) if len(kept) != len(pairs) else parts.query
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
