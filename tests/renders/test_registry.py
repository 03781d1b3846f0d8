"""The provider registry: names, credentials from the environment, and configs safe to show."""
from __future__ import annotations

import pytest

from renders.providers import (
    PROVIDERS,
    UnknownProvider,
    get_provider,
    provider_choices,
    public_config,
)
from renders.providers.base import PermanentProviderError, Provider
from renders.providers.comfyui import ComfyUIProvider
from renders.providers.local import LocalProvider
from renders.providers.openai_images import OpenAIImagesProvider
from renders.providers.replicate import ReplicateProvider


def test_every_back_end_is_registered_under_its_name():
    assert PROVIDERS == {
        "local": LocalProvider,
        "comfyui": ComfyUIProvider,
        "replicate": ReplicateProvider,
        "openai_images": OpenAIImagesProvider,
    }
    assert all(issubclass(cls, Provider) and cls.name == name for name, cls in PROVIDERS.items())
    choices = dict(provider_choices())
    assert list(choices) == list(PROVIDERS) and choices["comfyui"] == "ComfyUI"


def test_unknown_name_is_a_clear_permanent_error():
    with pytest.raises(UnknownProvider, match="Unknown provider 'midjourney'.*comfyui") as caught:
        get_provider("midjourney")
    assert isinstance(caught.value, PermanentProviderError)
    with pytest.raises(UnknownProvider):
        public_config("midjourney", {})


def test_local_needs_no_credentials():
    provider = get_provider("local", {}, environ={})
    assert isinstance(provider, LocalProvider) and provider.secrets == {}


def test_credential_comes_from_the_default_variable(monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", " r8_abc ")
    provider = get_provider("replicate", {"model": "owner/model"})
    assert provider.secrets == {"api_key": "r8_abc"}
    assert "r8_abc" not in repr(provider.config)


def test_missing_credential_names_the_variable():
    with pytest.raises(PermanentProviderError, match="set the environment variable OPENAI_API_KEY"):
        get_provider("openai_images", {}, environ={})
    with pytest.raises(PermanentProviderError, match="REPLICATE_API_TOKEN"):
        get_provider("replicate", {"model": "a/b"}, environ={"REPLICATE_API_TOKEN": "  "})


def test_api_key_env_picks_another_variable():
    env = {"OPENAI_API_KEY": "sk-default", "SILICONFLOW_API_KEY": "sk-silicon"}
    provider = get_provider("openai_images", {"api_key_env": "SILICONFLOW_API_KEY"}, environ=env)
    assert provider.secrets == {"api_key": "sk-silicon"}
    with pytest.raises(PermanentProviderError, match="SILICONFLOW_API_KEY"):
        get_provider("openai_images", {"api_key_env": "SILICONFLOW_API_KEY"}, environ={"OPENAI_API_KEY": "x"})


@pytest.mark.parametrize("name", ["DJANGO_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PATH",
                                  "lower_api_key", "DATABASE_URL"])
def test_api_key_env_cannot_point_at_unrelated_secrets(name):
    env = {name: "very-secret"}
    with pytest.raises(PermanentProviderError, match="not allowed"):
        get_provider("openai_images", {"api_key_env": name}, environ=env)


def test_comfyui_credential_is_optional_but_checked_when_named():
    assert get_provider("comfyui", {}, environ={}).secrets == {}
    with pytest.raises(PermanentProviderError, match="COMFYUI_API_TOKEN"):
        get_provider("comfyui", {"api_key_env": "COMFYUI_API_TOKEN"}, environ={})


@pytest.mark.parametrize("key", ["api_key", "token", "Authorization", "openai_secret", "password"])
def test_a_config_carrying_a_secret_is_refused(key):
    with pytest.raises(PermanentProviderError, match="must not contain secrets"):
        get_provider("comfyui", {key: "oops"}, environ={})


@pytest.mark.parametrize(
    ("name", "env_name", "config", "env"),
    [
        ("comfyui", "COMFYUI_URL", {}, {}),
        ("replicate", "REPLICATE_BASE_URL", {"model": "a/b"}, {"REPLICATE_API_TOKEN": "t"}),
        ("openai_images", "OPENAI_BASE_URL", {}, {"OPENAI_API_KEY": "k"}),
    ],
)
def test_base_url_defaults_from_the_environment_and_config_wins(name, env_name, config, env):
    env = {**env, env_name: "http://gpu-box.internal:9000/"}
    assert get_provider(name, config, environ=env).base_url == "http://gpu-box.internal:9000"
    chosen = get_provider(name, {**config, "base_url": "http://127.0.0.1:1234"}, environ=env)
    assert chosen.base_url == "http://127.0.0.1:1234"


def test_builtin_base_urls_without_environment():
    assert get_provider("comfyui", {}, environ={}).base_url == "http://127.0.0.1:8188"
    assert get_provider("replicate", {"model": "a/b"}, environ={"REPLICATE_API_TOKEN": "t"}).base_url == (
        "https://api.replicate.com"
    )
    assert get_provider("openai_images", {}, environ={"OPENAI_API_KEY": "k"}).base_url == "https://api.openai.com"


def test_common_config_keys_are_typed_and_passed_through():
    provider = get_provider(
        "comfyui",
        {"timeout_s": "2.5", "poll_interval_s": 0.5, "max_wait_s": 60, "max_concurrency": 2},
        environ={},
    )
    assert (provider.timeout_s, provider.poll_interval_s, provider.max_wait_s) == (2.5, 0.5, 60.0)
    assert provider.config["max_concurrency"] == 2  # for the pipeline
    with pytest.raises(PermanentProviderError, match="timeout_s must be a number"):
        get_provider("comfyui", {"timeout_s": "soon"}, environ={})
    with pytest.raises(PermanentProviderError, match="base_url must be an http"):
        get_provider("comfyui", {"base_url": "ftp://example.com"}, environ={})


def test_public_config_drops_secrets_at_every_depth_and_keeps_the_rest():
    workflow = {"3": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}", "steps": 20}}}
    config = {
        "base_url": "https://user:hunter2@comfy.example.com:8443/api?token=abc&region=cn",
        "api_key_env": "COMFYUI_API_TOKEN",
        "workflow": workflow,
        "headers": {"Authorization": "Bearer xyz", "X-Api-Key": "k", "Accept": "application/json"},
        "extra_body": {"client_secret": "s", "watermark": False},
        "max_tokens": 5,
        "timeout_s": 30,
    }
    shown = public_config("comfyui", config)
    assert shown == {
        "base_url": "https://comfy.example.com:8443/api?region=cn",
        "api_key_env": "COMFYUI_API_TOKEN",
        "workflow": workflow,
        "headers": {"Accept": "application/json"},
        "extra_body": {"watermark": False},
        "max_tokens": 5,
        "timeout_s": 30,
    }
    for secret in ("hunter2", "abc", "xyz", "Bearer", '"k"', "client_secret"):
        assert secret not in repr(shown)
    assert config["headers"]["Authorization"] == "Bearer xyz"  # the input is not modified


def test_public_config_leaves_a_config_without_secrets_exactly_as_it_was():
    config = {
        "base_url": "http://comfy.lan:8188/",
        "workflow": {"6": {"class_type": "CLIPTextEncode", "inputs": {"text": "neon sign reading https://x.y?a=1 b"}}},
        "input": {"image_url": "https://cdn.example.com/a%20b.png?size=2&x="},
    }
    assert public_config("comfyui", config) == config
