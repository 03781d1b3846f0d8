"""The Replicate adapter against a fake predictions API on loopback."""
from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from renders.providers import get_provider
from renders.providers.base import (
    PermanentProviderError,
    RenderCanceled,
    RenderRequest,
    TransientProviderError,
)
from renders.providers.replicate import ReplicateProvider, parse_log_progress
from tests.fakes.common import CancelFlag, ProgressLog, never_canceled
from tests.fakes.replicate import VERSION_ID, FakeReplicate

TOKEN = "r8_test_token"


@pytest.fixture
def replicate():
    with FakeReplicate(token=TOKEN) as server:
        yield server


def adapter(server: FakeReplicate, token: str = TOKEN, **config) -> ReplicateProvider:
    config = {"base_url": server.base_url, "model": "black-forest-labs/flux-schnell", "poll_interval_s": 0.01, **config}
    return get_provider("replicate", config, environ={"REPLICATE_API_TOKEN": token})


def request(**overrides) -> RenderRequest:
    values = dict(kind="image", prompt="a lantern festival", negative_prompt="text", seed=7, width=64,
                  height=48, job_key="job-9")
    values.update(overrides)
    return RenderRequest(**values)


def run(provider, req, workdir, *, report=None, is_canceled=never_canceled):
    ref = provider.submit(req)
    return ref, provider.wait(ref, req, workdir, report or ProgressLog(), is_canceled)


def test_happy_path_downloads_a_real_image_and_reports_progress_and_cost(replicate, tmp_path):
    log = ProgressLog()
    ref, result = run(adapter(replicate, price_per_second="0.0023"), request(), tmp_path, report=log)

    (out,) = result.files
    assert out.content_type == "image/png" and out.path.parent == tmp_path
    with Image.open(out.path) as image:
        assert image.format == "PNG" and image.size == (64, 48)
    assert result.provider_job_id == ref
    assert result.cost == Decimal("4.25") * Decimal("0.0023")
    assert result.params["predict_time"] == 4.25
    log.assert_complete()
    assert "Generating 33%" in log.messages and "Generating 67%" in log.messages


def test_token_goes_to_the_api_and_never_to_the_file_host(replicate, tmp_path):
    run(adapter(replicate), request(), tmp_path)
    api_calls = [r for r in replicate.requests if r.path.startswith("/v1/")]
    assert api_calls and all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in api_calls)
    (download,) = replicate.requests_to("GET", r"/files/.+")
    assert "Authorization" not in download.headers


def test_request_fields_are_sent_as_model_inputs(replicate, tmp_path):
    run(adapter(replicate, input={"num_inference_steps": 4}), request(params={"guidance": 3.5}), tmp_path)
    body = replicate.requests_to("POST", "/v1/predictions")[0].json
    assert body == {
        "version": "black-forest-labs/flux-schnell",
        "input": {"num_inference_steps": 4, "guidance": 3.5, "prompt": "a lantern festival",
                  "negative_prompt": "text", "seed": 7, "width": 64, "height": 48},
    }


def test_image_to_video_sends_the_key_frame_as_a_data_uri_under_the_mapped_name(replicate, tmp_path):
    key = tmp_path / "key.png"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(key)
    provider = adapter(replicate, model="wan-video/wan-2.2-i2v-fast",
                       input_names={"image": "start_image", "width": None, "height": None, "duration_s": "duration"})
    _, result = run(provider, request(kind="video", source_image=key, duration_s=5.0), tmp_path / "out")

    sent = replicate.requests_to("POST", "/v1/predictions")[0].json["input"]
    assert sent["start_image"] == "data:image/png;base64," + base64.b64encode(key.read_bytes()).decode()
    assert "width" not in sent and "height" not in sent and "image" not in sent
    assert sent["duration"] == 5.0
    (video,) = result.files
    assert video.content_type == "video/mp4" and video.path.suffix == ".mp4"
    assert video.path.read_bytes()[4:8] == b"ftyp"


@pytest.mark.parametrize("mode", ["string", "data_uri"])
def test_single_url_and_data_uri_outputs(replicate, tmp_path, mode):
    replicate.output_mode = mode
    _, result = run(adapter(replicate, version=f"stability-ai/sdxl:{VERSION_ID}"), request(), tmp_path)
    with Image.open(result.files[0].path) as image:
        assert image.size == (64, 48)
    assert replicate.requests_to("POST", "/v1/predictions")[0].json["version"] == f"stability-ai/sdxl:{VERSION_ID}"


def test_failed_prediction_is_permanent_with_replicates_reason(replicate, tmp_path):
    replicate.fail_error = "NSFW content detected. Try running it again, or try a different prompt."
    with pytest.raises(PermanentProviderError) as caught:
        run(adapter(replicate), request(), tmp_path)
    assert "failed: NSFW content detected" in caught.value.message
    assert "NSFW" in caught.value.details["logs"]


def test_validation_error_is_permanent_and_readable(replicate):
    with pytest.raises(PermanentProviderError) as caught:
        adapter(replicate).submit(request(width=8))
    message = caught.value.message
    assert "422" in message and "Input validation failed" in message and "input.width" in message
    assert caught.value.details["body"]["invalid_fields"][0]["field"] == "input.width"


def test_unknown_model_is_permanent(replicate):
    with pytest.raises(PermanentProviderError, match="Invalid version or not permitted"):
        adapter(replicate, model="nobody/nothing").submit(request())


def test_bad_token_names_the_variable_and_hides_the_value(replicate):
    with pytest.raises(PermanentProviderError) as caught:
        adapter(replicate, token="r8_wrong_value").submit(request())
    assert "REPLICATE_API_TOKEN" in caught.value.message
    assert "r8_wrong_value" not in caught.value.message
    assert "valid authentication token" in caught.value.message


def test_rate_limit_is_transient_with_retry_after(replicate):
    replicate.add_fault("POST", "/v1/predictions", status=429, headers={"Retry-After": "3"},
                        body={"title": "Too Many Requests", "detail": "Request was throttled.", "status": 429})
    with pytest.raises(TransientProviderError) as caught:
        adapter(replicate).submit(request())
    assert caught.value.retry_after == 3
    assert "Request was throttled" in caught.value.message


def test_server_errors_and_timeouts_are_transient(replicate):
    replicate.add_fault("POST", "/v1/predictions", status=500, body={"detail": "Internal server error", "status": 500})
    with pytest.raises(TransientProviderError, match="500"):
        adapter(replicate).submit(request())
    replicate.add_fault("POST", "/v1/predictions", delay=1.0)
    with pytest.raises(TransientProviderError, match="did not answer"):
        adapter(replicate, timeout_s=0.2).submit(request())


def test_polling_rides_out_a_few_failures_then_gives_up(replicate, tmp_path):
    provider = adapter(replicate)
    ref = provider.submit(request())
    replicate.add_fault("GET", r"/v1/predictions/.+", status=503, times=2, headers={"Retry-After": "0"})
    assert provider.wait(ref, request(), tmp_path / "a", ProgressLog(), never_canceled).files

    ref = provider.submit(request())
    replicate.add_fault("GET", r"/v1/predictions/.+", status=503, times=10, headers={"Retry-After": "0"})
    with pytest.raises(TransientProviderError, match="503"):
        adapter(replicate, poll_retries=2).wait(ref, request(), tmp_path / "b", ProgressLog(), never_canceled)


def test_garbage_is_permanent_on_2xx_and_transient_on_5xx(replicate):
    replicate.add_fault("POST", "/v1/predictions", status=201, body="OK!", content_type="text/plain")
    with pytest.raises(PermanentProviderError, match="not JSON"):
        adapter(replicate).submit(request())
    replicate.add_fault("POST", "/v1/predictions", status=201, body={"prediction": "queued"})
    with pytest.raises(PermanentProviderError, match="no id"):
        adapter(replicate).submit(request())
    replicate.add_fault("POST", "/v1/predictions", status=503, body="<h1>503</h1>", content_type="text/html")
    with pytest.raises(TransientProviderError):
        adapter(replicate).submit(request())


def test_a_poll_answer_without_status_is_permanent(replicate, tmp_path):
    provider = adapter(replicate)
    ref = provider.submit(request())
    replicate.add_fault("GET", r"/v1/predictions/.+", status=200, body={"id": ref})
    with pytest.raises(PermanentProviderError, match="without a status"):
        provider.wait(ref, request(), tmp_path, ProgressLog(), never_canceled)


def test_cancel_asks_replicate_to_stop_and_raises(replicate, tmp_path):
    replicate.steps = 50
    flag = CancelFlag()
    log = ProgressLog(on_report=lambda value, message: message.startswith("Generating") and flag.set())
    provider = adapter(replicate)
    ref = provider.submit(request())
    with pytest.raises(RenderCanceled):
        provider.wait(ref, request(), tmp_path, log, flag)
    assert len(replicate.requests_to("POST", f"/v1/predictions/{ref}/cancel")) == 1
    assert replicate.predictions[ref].status == "canceled"
    assert list(tmp_path.iterdir()) == []


def test_canceled_by_someone_else_is_permanent(replicate, tmp_path):
    provider = adapter(replicate)
    ref = provider.submit(request())
    provider.cancel(ref)
    with pytest.raises(PermanentProviderError, match="was canceled on Replicate"):
        provider.wait(ref, request(), tmp_path, ProgressLog(), never_canceled)


def test_resume_downloads_a_finished_prediction_without_resubmitting(replicate, tmp_path):
    ref, first = run(adapter(replicate), request(), tmp_path / "a")
    again = adapter(replicate).wait(ref, request(), tmp_path / "b", ProgressLog(), never_canceled)
    assert len(replicate.requests_to("POST", "/v1/predictions")) == 1
    assert again.files[0].path.read_bytes() == first.files[0].path.read_bytes()


def test_max_wait_cancels_the_prediction(replicate, tmp_path):
    replicate.steps = 10_000
    with pytest.raises(PermanentProviderError, match="did not finish"):
        run(adapter(replicate, max_wait_s=0.2), request(), tmp_path)
    assert len(replicate.requests_to("POST", r"/v1/predictions/.+/cancel")) == 1


def test_a_model_is_required():
    with pytest.raises(PermanentProviderError, match="needs a model"):
        ReplicateProvider({}, {"api_key": "x"})


def test_log_progress_takes_the_last_bar():
    logs = "Booting\n  0%|          | 0/20\n 45%|████▌     | 9/20 [00:03<00:04]\n"
    assert parse_log_progress(logs) == 0.45
    assert parse_log_progress("no bar here") is None
    assert parse_log_progress(None) is None


def test_a_non_media_download_is_refused(replicate, tmp_path):
    provider = adapter(replicate)
    ref = provider.submit(request())
    replicate.add_fault("GET", r"/files/.+", status=200, body="<html>expired link</html>", content_type="text/html")
    with pytest.raises(PermanentProviderError, match="not an image or a video"):
        provider.wait(ref, request(), Path(tmp_path), ProgressLog(), never_canceled)
    assert [p.name for p in tmp_path.iterdir()] == []
