"""The OpenAI-compatible images adapter against a strict fake of POST /v1/images/generations."""
from __future__ import annotations

import pytest
from PIL import Image

from renders.providers import get_provider
from renders.providers.base import (
    PermanentProviderError,
    RenderCanceled,
    RenderRequest,
    TransientProviderError,
)
from tests.fakes.common import CancelFlag, ProgressLog, never_canceled
from tests.fakes.openai_images import FakeOpenAIImages

KEY = "sk-test-123"


@pytest.fixture
def openai():
    with FakeOpenAIImages(api_key=KEY) as server:
        yield server


def adapter(server: FakeOpenAIImages, key: str = KEY, **config):
    return get_provider("openai_images", {"base_url": server.base_url, **config}, environ={"OPENAI_API_KEY": key})


def request(**overrides) -> RenderRequest:
    values = dict(kind="image", prompt="ink painting of a crane", negative_prompt="watermark", seed=3,
                  width=64, height=48, job_key="job-5")
    values.update(overrides)
    return RenderRequest(**values)


def run(provider, req, workdir, *, report=None, is_canceled=never_canceled):
    ref = provider.submit(req)
    return ref, provider.wait(ref, req, workdir, report or ProgressLog(), is_canceled)


def test_b64_answer_becomes_a_real_png_of_the_requested_size(openai, tmp_path):
    log = ProgressLog()
    ref, result = run(adapter(openai), request(), tmp_path, report=log)

    (out,) = result.files
    assert out.content_type == "image/png" and out.path.suffix == ".png"
    with Image.open(out.path) as image:
        assert image.size == (64, 48)
    assert result.provider_job_id == ref
    assert result.params["usage"]["total_tokens"] == 100
    log.assert_complete()
    assert log.values[0] == 0.0
    (call,) = openai.requests_to("POST", "/v1/images/generations")
    assert call.headers["Authorization"] == f"Bearer {KEY}"
    assert call.json == {"model": "gpt-image-1", "prompt": "ink painting of a crane", "n": 1, "size": "64x48"}


def test_url_answer_is_downloaded_without_the_key(openai, tmp_path):
    _, result = run(adapter(openai, model="dall-e-3", response_format="url"), request(), tmp_path)
    with Image.open(result.files[0].path) as image:
        assert image.size == (64, 48)
    assert result.params["revised_prompt"] == "A picture of ink painting of a crane"
    (download,) = openai.requests_to("GET", r"/files/.+")
    assert "Authorization" not in download.headers
    assert openai.requests_to("POST", "/v1/images/generations")[0].json["response_format"] == "url"


def test_base_url_that_already_ends_in_v1_is_not_doubled(openai, tmp_path):
    run(adapter(openai, base_url=openai.base_url + "/v1"), request(), tmp_path)
    assert len(openai.requests_to("POST", "/v1/images/generations")) == 1


def test_seed_and_negative_prompt_are_sent_only_when_mapped(openai, tmp_path):
    openai.extra_params = {"seed", "negative_prompt", "watermark"}
    config = {"input_names": {"seed": "seed", "negative_prompt": "negative_prompt"}, "extra_body": {"watermark": False}}
    run(adapter(openai, **config), request(params={"quality": "low", "steps": 30}), tmp_path)
    body = openai.requests_to("POST", "/v1/images/generations")[0].json
    assert body["seed"] == 3 and body["negative_prompt"] == "watermark"
    assert body["watermark"] is False and body["quality"] == "low" and "steps" not in body


def test_unknown_parameter_is_a_permanent_error_in_openais_words(openai, tmp_path):
    with pytest.raises(PermanentProviderError, match=r"Unknown parameter: 'seed'\. \(unknown_parameter\)"):
        run(adapter(openai, extra_body={"seed": 1}), request(), tmp_path)


def test_content_policy_refusal_is_permanent_and_readable(openai, tmp_path):
    with pytest.raises(PermanentProviderError) as caught:
        run(adapter(openai), request(prompt="something forbidden"), tmp_path)
    assert "rejected as a result of our safety system" in caught.value.message
    assert "content_policy_violation" in caught.value.message
    assert caught.value.details["status"] == 400


def test_bad_size_is_permanent(openai, tmp_path):
    openai.allowed_sizes = {"1024x1024"}
    with pytest.raises(PermanentProviderError, match="Invalid value: '64x48'"):
        run(adapter(openai), request(), tmp_path)


def test_wrong_key_is_permanent_and_not_echoed(openai, tmp_path):
    with pytest.raises(PermanentProviderError) as caught:
        run(adapter(openai, key="sk-live-abcdef123456"), request(), tmp_path)
    assert "OPENAI_API_KEY" in caught.value.message and "Incorrect API key" in caught.value.message
    assert "sk-live-abcdef123456" not in caught.value.message


def test_rate_limit_is_transient_but_an_empty_quota_is_not(openai, tmp_path):
    openai.add_fault("POST", "/v1/images/generations", status=429, headers={"Retry-After": "20"},
                     body={"error": {"message": "Rate limit reached for images per minute", "type": "requests",
                                     "code": "rate_limit_exceeded"}})
    with pytest.raises(TransientProviderError) as caught:
        run(adapter(openai), request(), tmp_path)
    assert caught.value.retry_after == 20 and "Rate limit reached" in caught.value.message

    openai.add_fault("POST", "/v1/images/generations", status=429,
                     body={"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                                     "code": "insufficient_quota"}})
    with pytest.raises(PermanentProviderError, match="exceeded your current quota"):
        run(adapter(openai), request(), tmp_path)


def test_server_error_and_timeout_are_transient(openai, tmp_path):
    openai.add_fault("POST", "/v1/images/generations", status=500,
                     body={"error": {"message": "The server had an error", "type": "server_error", "code": None}})
    with pytest.raises(TransientProviderError, match="The server had an error"):
        run(adapter(openai), request(), tmp_path)
    openai.add_fault("POST", "/v1/images/generations", delay=1.0)
    with pytest.raises(TransientProviderError, match="did not answer within 0.2 s"):
        run(adapter(openai, timeout_s=0.2), request(), tmp_path)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "error", "match"),
    [
        (200, "<html>gateway login</html>", "text/html", PermanentProviderError, "not JSON"),
        (200, {"data": []}, None, PermanentProviderError, r"no data\[\]"),
        (200, {"data": [{"b64_json": "%%%not-base64"}]}, None, PermanentProviderError, "not valid base64"),
        (200, {"data": [{"b64_json": "aGVsbG8="}]}, None, PermanentProviderError, "not an image"),
        (502, "<html>bad gateway</html>", "text/html", TransientProviderError, "502"),
    ],
)
def test_garbage_answers(openai, tmp_path, status, body, content_type, error, match):
    openai.add_fault("POST", "/v1/images/generations", status=status, body=body, content_type=content_type)
    with pytest.raises(error, match=match):
        run(adapter(openai), request(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cancel_before_the_call_sends_nothing(openai, tmp_path):
    flag = CancelFlag()
    flag.set()
    with pytest.raises(RenderCanceled):
        run(adapter(openai), request(), tmp_path, is_canceled=flag)
    assert openai.requests == []


def test_cancel_during_the_call_discards_the_result(openai, tmp_path):
    flag = CancelFlag()
    provider = adapter(openai)
    assert provider.supports_cancel is False
    ref = provider.submit(request())
    # canceled while the (uninterruptible) call was in flight
    log = ProgressLog(on_report=lambda value, message: flag.set())
    with pytest.raises(RenderCanceled):
        provider.wait(ref, request(), tmp_path, log, flag)
    assert len(openai.requests) == 1
    assert list(tmp_path.iterdir()) == []


def test_video_is_refused_at_submit(openai):
    with pytest.raises(PermanentProviderError, match="cannot render 'video'"):
        adapter(openai).submit(request(kind="video"))
