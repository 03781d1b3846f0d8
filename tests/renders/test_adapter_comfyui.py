"""The ComfyUI adapter against a fake server that speaks ComfyUI's HTTP + WebSocket contract."""
from __future__ import annotations

import json
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
from renders.providers.comfyui import DEFAULT_TXT2IMG_WORKFLOW, ComfyUIProvider, PromptTracker, format_node_errors, inject
from tests.fakes.comfyui import FakeComfyUI
from tests.fakes.common import CancelFlag, ProgressLog, never_canceled


@pytest.fixture
def comfy():
    with FakeComfyUI(step_delay=0.02) as server:
        yield server


def adapter(server: FakeComfyUI, **config) -> ComfyUIProvider:
    return ComfyUIProvider({"base_url": server.base_url, "poll_interval_s": 0.02, "steps": 4, **config})


def request(**overrides) -> RenderRequest:
    values = dict(kind="image", prompt="a red fox in snow", negative_prompt="blurry", seed=42, width=64,
                  height=48, job_key="job-1")
    values.update(overrides)
    return RenderRequest(**values)


def run(provider, req, workdir, *, report=None, is_canceled=never_canceled):
    ref = provider.submit(req)
    return ref, provider.wait(ref, req, workdir, report or ProgressLog(), is_canceled)


def png(path: Path, size=(40, 30), color=(255, 0, 0)) -> Path:
    Image.new("RGB", size, color).save(path)
    return path


I2V_WORKFLOW = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}},
    "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "bilinear",
                                                 "width": "{{width}}", "height": "{{height}}", "crop": "disabled"}},
    "3": {"class_type": "FakeImageToVideo", "inputs": {"image": ["2", 0], "frames": "{{frames}}"}},
    "4": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["3", 0], "frame_rate": "{{fps}}",
                                                       "filename_prefix": "shots/{{seed}}-clip",
                                                       "format": "video/h264-mp4"}},
}


# --------------------------------------------------------------------------- happy paths

def test_default_workflow_renders_a_real_image_with_progress(comfy, tmp_path):
    log = ProgressLog()
    provider = adapter(comfy)
    ref, result = run(provider, request(), tmp_path, report=log)

    assert result.provider_job_id == ref
    assert len(result.files) == 1
    out = result.files[0]
    assert out.content_type == "image/png" and out.path.parent == tmp_path
    with Image.open(out.path) as image:
        assert image.format == "PNG" and image.size == (64, 48)
    log.assert_complete()
    assert any("KSampler" in message for message in log.messages), log.messages
    assert any(0 < value < 1 for value in log.values)
    # progress came from the socket the prompt was submitted for
    client_id = comfy.received[0]["client_id"]
    assert comfy.requests_to("GET", "/ws")[0].query["clientId"] == client_id == provider.client_id(request())


def test_prompt_seed_size_and_settings_are_injected_with_their_types(comfy, tmp_path):
    run(adapter(comfy, checkpoint="sd_xl_base_1.0.safetensors", cfg=5.5), request(params={"steps": 3}), tmp_path)

    prompt = comfy.received[0]["prompt"]
    assert prompt["6"]["inputs"]["text"] == "a red fox in snow"
    assert prompt["7"]["inputs"]["text"] == "blurry"
    assert prompt["5"]["inputs"] == {"width": 64, "height": 48, "batch_size": 1}
    sampler = prompt["3"]["inputs"]
    assert sampler["seed"] == 42 and isinstance(sampler["seed"], int)
    assert sampler["steps"] == 3 and sampler["cfg"] == 5.5 and sampler["sampler_name"] == "euler"
    assert prompt["4"]["inputs"]["ckpt_name"] == "sd_xl_base_1.0.safetensors"


def test_source_image_is_uploaded_and_injected_into_a_video_workflow(comfy, tmp_path):
    source = png(tmp_path / "key.png", color=(255, 0, 0))
    workdir = tmp_path / "out"
    req = request(kind="video", source_image=source, width=48, height=32, duration_s=0.5, fps=8)
    ref, result = run(adapter(comfy, workflows={"video": I2V_WORKFLOW}), req, workdir)

    upload = comfy.requests_to("POST", "/upload/image")[0]
    filename, data = upload.form["image"]
    assert data == source.read_bytes()
    assert upload.form["type"] == "input" and upload.form["overwrite"] == "true"
    prompt = comfy.received[0]["prompt"]
    assert prompt["1"]["inputs"]["image"] == filename  # the name ComfyUI answered
    assert prompt["2"]["inputs"]["width"] == 48 and prompt["3"]["inputs"]["frames"] == 4
    assert prompt["4"]["inputs"]["frame_rate"] == 8
    assert prompt["4"]["inputs"]["filename_prefix"] == "shots/42-clip"  # text placeholder inside a string
    (video,) = result.files
    assert video.content_type == "video/mp4"
    assert video.path.read_bytes()[4:8] == b"ftyp" and video.path.stat().st_size > 100


def test_image_workflow_with_a_reference_image_keeps_its_pixels(comfy, tmp_path):
    workflow = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "{{reference_image}}"}},
        "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact",
                                                     "width": "{{width}}", "height": "{{height}}", "crop": "disabled"}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "ref"}},
    }
    ref_image = png(tmp_path / "character.png", color=(0, 0, 255))
    _, result = run(adapter(comfy, workflow=workflow), request(reference_images=[ref_image]), tmp_path / "out")
    with Image.open(result.files[0].path) as image:
        assert image.size == (64, 48) and image.convert("RGB").getpixel((10, 10)) == (0, 0, 255)


def test_api_key_env_sends_a_bearer_token_on_http_and_websocket(comfy, tmp_path):
    provider = get_provider("comfyui", {"base_url": comfy.base_url, "api_key_env": "COMFY_PROXY_TOKEN",
                                        "poll_interval_s": 0.02, "steps": 2},
                            environ={"COMFY_PROXY_TOKEN": "proxy-secret"})
    run(provider, request(), tmp_path)
    assert comfy.requests_to("POST", "/prompt")[0].headers["Authorization"] == "Bearer proxy-secret"
    assert comfy.requests_to("GET", "/ws")[0].headers["Authorization"] == "Bearer proxy-secret"


def test_older_server_without_prompt_ids_or_execution_success(tmp_path):
    # Steps slow enough that the socket, opened after the POST, sees them even on a loaded machine.
    with FakeComfyUI(old_server=True, step_delay=0.25) as server:
        log = ProgressLog()
        _, result = run(adapter(server, steps=6), request(), tmp_path, report=log)
    log.assert_complete()
    assert any("KSampler: step" in message for message in log.messages)
    with Image.open(result.files[0].path) as image:
        assert image.size == (64, 48)


def test_history_written_after_execution_success_is_waited_for(tmp_path):
    with FakeComfyUI(history_delay=0.3) as server:
        _, result = run(adapter(server), request(), tmp_path)
        assert len(server.requests_to("GET", r"/history/.+")) >= 2
    assert result.files[0].path.exists()


def test_without_a_websocket_the_adapter_polls_history(tmp_path):
    with FakeComfyUI(websocket_enabled=False, step_delay=0.01) as server:
        log = ProgressLog()
        _, result = run(adapter(server), request(), tmp_path, report=log)
    log.assert_complete()
    assert result.files[0].content_type == "image/png"


def test_a_fully_cached_prompt_still_yields_its_file(comfy, tmp_path):
    provider = adapter(comfy)
    _, first = run(provider, request(), tmp_path / "a")
    log = ProgressLog()
    _, second = run(provider, request(), tmp_path / "b", report=log)

    log.assert_complete()
    assert len(comfy.outputs) == 1  # the second run made no new file
    assert second.files[0].path.read_bytes() == first.files[0].path.read_bytes()


# --------------------------------------------------------------------------- resume

def test_resume_after_redelivery_downloads_without_resubmitting(comfy, tmp_path):
    ref = adapter(comfy).submit(request())
    comfy.wait_idle()
    # A fresh worker picks the job up with the stored reference.
    result = adapter(comfy).wait(ref, request(), tmp_path, ProgressLog(), never_canceled)
    assert len(comfy.requests_to("POST", "/prompt")) == 1
    with Image.open(result.files[0].path) as image:
        assert image.size == (64, 48)


def test_resume_while_the_prompt_is_still_running(tmp_path):
    with FakeComfyUI(step_delay=0.02) as server:
        ref = adapter(server, steps=15).submit(request())
        log = ProgressLog()
        result = adapter(server, steps=15).wait(ref, request(), tmp_path, log, never_canceled)
        assert len(server.requests_to("POST", "/prompt")) == 1
    log.assert_complete()
    assert result.files


def test_missed_socket_messages_are_caught_up_from_history(tmp_path):
    with FakeComfyUI(step_delay=0.02) as server:
        ref = adapter(server, steps=10).submit(request(job_key="submitted-elsewhere"))
        # This wait listens on another client id, so it sees none of the prompt's messages.
        log = ProgressLog()
        result = adapter(server, steps=10).wait(ref, request(job_key="other"), tmp_path, log, never_canceled)
    log.assert_complete()
    assert result.files[0].content_type == "image/png"


def test_a_prompt_the_server_forgot_is_a_permanent_error(comfy, tmp_path):
    with pytest.raises(PermanentProviderError, match="no record of prompt"):
        adapter(comfy).wait("4093dc26-0000-0000-0000-000000000000", request(), tmp_path, ProgressLog(), never_canceled)


# --------------------------------------------------------------------------- cancel

def test_cancel_while_running_interrupts_and_raises(tmp_path):
    with FakeComfyUI(step_delay=0.02) as server:
        flag = CancelFlag()
        log = ProgressLog(on_report=lambda value, message: "step" in message and flag.set())
        provider = adapter(server, steps=200)
        ref = provider.submit(request())
        with pytest.raises(RenderCanceled):
            provider.wait(ref, request(), tmp_path, log, flag)
        assert server.interrupts == [{"prompt_id": ref}]
        server.wait_idle()
        assert server.history[ref]["status"]["status_str"] == "error"
    assert list(tmp_path.iterdir()) == []


def test_cancel_of_a_pending_prompt_deletes_it_from_the_queue(tmp_path):
    with FakeComfyUI(step_delay=0.02) as server:
        provider = adapter(server, steps=200)
        running = provider.submit(request(job_key="first"))
        pending = provider.submit(request(job_key="second", seed=7))
        provider.cancel(pending)
        assert server.deleted == [pending] and server.interrupts == []
        provider.cancel(running)
        assert server.interrupts == [{"prompt_id": running}]


def test_an_interrupt_we_did_not_ask_for_is_a_permanent_error(tmp_path):
    with FakeComfyUI(step_delay=0.02) as server:
        log = ProgressLog(on_report=lambda value, message: "step" in message and server.interrupt())
        with pytest.raises(PermanentProviderError, match="interrupted"):
            run(adapter(server, steps=200), request(), tmp_path, report=log)


def test_wait_checks_for_cancel_before_anything_else(comfy, tmp_path):
    provider = adapter(comfy, steps=2)
    ref = provider.submit(request())
    flag = CancelFlag()
    flag.set()
    with pytest.raises(RenderCanceled):
        provider.wait(ref, request(), tmp_path, ProgressLog(), flag)
    assert not comfy.requests_to("GET", "/view")


# --------------------------------------------------------------------------- permanent errors

def test_validation_errors_list_node_input_and_message(comfy):
    workflow = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": -5, "height": "abc", "batch_size": 1, "color": 0}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "peer"}},
    }
    with pytest.raises(PermanentProviderError) as caught:
        adapter(comfy, workflow=workflow).submit(request())
    message = caught.value.message
    assert "Prompt outputs failed validation" in message
    assert "node 1 (EmptyImage) input width: Value -5 smaller than min of 1" in message
    assert "node 1 (EmptyImage) input height: Failed to convert an input value to a INT value" in message
    assert "Traceback" not in message
    assert caught.value.details["status"] == 400
    assert "1" in caught.value.details["body"]["node_errors"]


def test_unknown_checkpoint_and_unknown_node_are_explained(comfy):
    with pytest.raises(PermanentProviderError, match=r"node 4 \(CheckpointLoaderSimple\) input ckpt_name: Value not in list"):
        adapter(comfy, checkpoint="nope.safetensors").submit(request())
    workflow = {"1": {"class_type": "NoSuchNode", "inputs": {}}}
    with pytest.raises(PermanentProviderError, match="node NoSuchNode does not exist"):
        adapter(comfy, workflow=workflow).submit(request())


def test_execution_error_shows_the_exception_message(comfy, tmp_path):
    comfy.fail_class = "KSampler"
    with pytest.raises(PermanentProviderError) as caught:
        run(adapter(comfy), request(), tmp_path)
    assert "node 3 (KSampler)" in caught.value.message
    assert "CUDA out of memory" in caught.value.message


def test_runtime_error_is_also_found_in_history_on_resume(comfy, tmp_path):
    workflow = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 48, "batch_size": 1, "color": 255}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "../../escape"}},
    }
    provider = adapter(comfy, workflow=workflow)
    ref = provider.submit(request())
    comfy.wait_idle()
    with pytest.raises(PermanentProviderError, match="Saving image outside the output folder is not allowed"):
        provider.wait(ref, request(), tmp_path, ProgressLog(), never_canceled)


def test_placeholder_without_a_value_is_refused_before_anything_is_sent(comfy, tmp_path):
    workflow = json.loads(json.dumps(I2V_WORKFLOW).replace("{{frames}}", "{{motion_strength}}"))
    with pytest.raises(PermanentProviderError, match=r"\{\{motion_strength\}\}"):
        adapter(comfy, workflow=workflow).submit(request(source_image=png(tmp_path / "k.png")))
    assert comfy.requests == []


def test_workflow_needing_an_image_without_one_is_refused(comfy):
    with pytest.raises(PermanentProviderError, match="needs an image"):
        adapter(comfy, workflows={"video": I2V_WORKFLOW}).submit(request(kind="video"))


def test_video_without_a_configured_workflow_is_refused(comfy):
    with pytest.raises(PermanentProviderError, match="no workflow for video"):
        adapter(comfy).submit(request(kind="video"))


def test_editor_format_workflow_is_refused_with_a_hint():
    with pytest.raises(PermanentProviderError, match="Save \\(API Format\\)"):
        ComfyUIProvider({"workflow": {"nodes": [], "links": [], "version": 0.4}})


# --------------------------------------------------------------------------- transient errors and garbage

def test_5xx_is_transient(comfy):
    comfy.add_fault("POST", "/prompt", status=503, body="upstream unavailable")
    with pytest.raises(TransientProviderError, match="503") as caught:
        adapter(comfy).submit(request())
    assert caught.value.retry_after is None


def test_429_retry_after_is_honoured(comfy):
    comfy.add_fault("POST", "/prompt", status=429, headers={"Retry-After": "7"}, body={"error": "slow down"})
    with pytest.raises(TransientProviderError) as caught:
        adapter(comfy).submit(request())
    assert caught.value.retry_after == 7
    assert "slow down" in caught.value.message


def test_a_slow_server_times_out_as_transient(comfy):
    comfy.add_fault("POST", "/prompt", delay=1.0)
    with pytest.raises(TransientProviderError, match="did not answer within 0.2 s"):
        adapter(comfy, timeout_s=0.2).submit(request())


def test_nothing_listening_is_transient():
    with pytest.raises(TransientProviderError, match="Could not reach ComfyUI"):
        ComfyUIProvider({"base_url": "http://127.0.0.1:9", "timeout_s": 1}).submit(request())


def test_html_garbage_is_permanent_on_200_and_transient_on_502(comfy):
    comfy.add_fault("POST", "/prompt", status=200, body="<html>Login</html>", content_type="text/html")
    with pytest.raises(PermanentProviderError, match="not JSON.*Login.*pointing at ComfyUI"):
        adapter(comfy).submit(request())
    comfy.add_fault("POST", "/prompt", status=502, body="<html>Bad Gateway</html>", content_type="text/html")
    with pytest.raises(TransientProviderError, match="502"):
        adapter(comfy).submit(request())


def test_json_of_the_wrong_shape_is_permanent(comfy):
    comfy.add_fault("POST", "/prompt", status=200, body={"queued": True})
    with pytest.raises(PermanentProviderError, match="no prompt_id"):
        adapter(comfy).submit(request())


def test_a_few_failed_polls_are_ridden_out_but_not_forever(comfy, tmp_path):
    ref = adapter(comfy).submit(request())
    comfy.wait_idle()
    comfy.add_fault("GET", r"/history/.+", status=503, times=2)
    result = adapter(comfy, poll_retries=3).wait(ref, request(), tmp_path / "a", ProgressLog(), never_canceled)
    assert result.files

    comfy.add_fault("GET", r"/history/.+", status=503, times=10)
    with pytest.raises(TransientProviderError):
        adapter(comfy, poll_retries=1).wait(ref, request(), tmp_path / "b", ProgressLog(), never_canceled)


def test_a_missing_output_file_is_a_readable_error(comfy, tmp_path):
    ref = adapter(comfy).submit(request())
    comfy.wait_idle()
    comfy.files.clear()
    with pytest.raises(PermanentProviderError, match="no such resource"):
        adapter(comfy).wait(ref, request(), tmp_path, ProgressLog(), never_canceled)


def test_slow_job_hits_max_wait_and_is_stopped(tmp_path):
    with FakeComfyUI(step_delay=0.02) as server:
        with pytest.raises(PermanentProviderError, match="did not finish"):
            run(adapter(server, steps=500, max_wait_s=0.3), request(), tmp_path)
        assert len(server.interrupts) == 1


# --------------------------------------------------------------------------- pure functions

def test_inject_keeps_types_for_whole_placeholders_and_formats_inside_text():
    workflow = {"1": {"class_type": "X", "inputs": {"seed": "{{seed}}", "label": "seed={{ seed }} {{prompt}}",
                                                    "link": ["2", 0], "n": 3}}}
    out = inject(workflow, {"seed": 5, "prompt": "fox"})
    assert out["1"]["inputs"] == {"seed": 5, "label": "seed=5 fox", "link": ["2", 0], "n": 3}
    assert workflow["1"]["inputs"]["seed"] == "{{seed}}"  # the template is not modified


def test_format_node_errors_reads_the_real_server_shape():
    body = {
        "error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                  "details": "", "extra_info": {}},
        "node_errors": {"1": {"errors": [
            {"type": "required_input_missing", "message": "Required input is missing", "details": "height",
             "extra_info": {"input_name": "height"}}],
            "dependent_outputs": ["2"], "class_type": "EmptyImage"}},
    }
    assert format_node_errors(body) == (
        "Prompt outputs failed validation; node 1 (EmptyImage) input height: Required input is missing"
    )


def test_tracker_ignores_noise_and_other_prompts_and_stays_monotonic():
    tracker = PromptTracker("P", prompt=DEFAULT_TXT2IMG_WORKFLOW)
    seen = []
    for raw in [
        b"\x00\x00\x00\x01\x00\x00\x00\x02\x89PNG",  # binary preview
        "not json", "[1, 2]", '{"type": "status", "data": {"status": "weird"}}',
        '{"type": "progress_state", "data": {"prompt_id": "P", "nodes": {}}}',
        '{"type": "executing", "data": {"node": "3", "prompt_id": "OTHER"}}',
        '{"type": "progress", "data": {"value": 9, "max": 10}}',  # still the other prompt's
        '{"type": "execution_start", "data": {"prompt_id": "P"}}',
        '{"type": "executing", "data": {"node": "3", "prompt_id": "P"}}',
        '{"type": "progress", "data": {"value": 5, "max": 10}}',  # old server: no prompt_id, no node
        '{"type": "executing", "data": {"node": "8", "prompt_id": "P"}}',
        '{"type": "execution_success", "data": {"prompt_id": "P"}}',
    ]:
        tracker.feed(raw)
        seen.append(tracker.progress)
    assert seen == sorted(seen) and tracker.finished
    assert seen[6] == 0.0  # the other prompt's progress moved nothing
    assert {"4", "5", "6", "7", "3"} <= tracker.done
    with pytest.raises(PermanentProviderError, match="node 3 \\(KSampler\\): boom"):
        PromptTracker("P").feed('{"type": "execution_error", "data": {"prompt_id": "P", "node_id": "3", '
                           '"node_type": "KSampler", "exception_message": "boom"}}')


def test_a_source_that_is_not_an_image_is_refused_before_upload(comfy, tmp_path):
    bogus = tmp_path / "key.png"
    bogus.write_text("not a picture")
    with pytest.raises(PermanentProviderError, match="is not an image"):
        adapter(comfy, workflows={"video": I2V_WORKFLOW}).submit(request(kind="video", source_image=bogus))
    assert comfy.requests == []
