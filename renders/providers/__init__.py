"""Provider registry (first version by the lead; the adapters helper extends it)."""
from __future__ import annotations

import os

from .base import PermanentProviderError, Provider

PROVIDERS: dict[str, type[Provider]] = {}


def _register():
    from .local import LocalProvider

    PROVIDERS.setdefault("local", LocalProvider)
    for module, cls in (("comfyui", "ComfyUIProvider"), ("replicate", "ReplicateProvider"),
                        ("openai_images", "OpenAIImagesProvider")):
        try:
            mod = __import__(f"{__name__}.{module}", fromlist=[cls])
            PROVIDERS.setdefault(module, getattr(mod, cls))
        except (ImportError, AttributeError):
            pass


try:
    _register()
except ImportError:
    pass

SECRET_WORDS = ("key", "token", "secret", "password")


def public_config(name: str, config: dict | None) -> dict:
    return {k: v for k, v in (config or {}).items() if not any(w in k.lower() for w in SECRET_WORDS)}


def get_provider(name: str, config: dict | None = None) -> Provider:
    cls = PROVIDERS.get(name)
    if cls is None:
        raise PermanentProviderError(f"Unknown provider “{name}”.")
    secrets = {env: os.environ.get(env, "") for env in cls.secret_env}
    return cls(config, secrets)
