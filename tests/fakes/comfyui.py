"""A fake ComfyUI that speaks the real server's HTTP + WebSocket contract.

Modelled on /work/shared/reference/comfyui-observed.md (ComfyUI 0.3.64): the same routes
(/prompt, /queue, /interrupt, /history, /view, /upload/image, /ws, /system_stats), the same
validation answers (400 with ``error`` + ``node_errors``), the same message sequence on the
socket (status, execution_start, execution_cached, progress_state, executing, progress,
binary previews, executed, execution_success, status, then ``executing`` node null — the
history is written between execution_success and that last message, as on the real
server), real PNG/MP4 files, whole-prompt caching, interrupts and runtime errors.

It runs a small set of real node types on Pillow images: CheckpointLoaderSimple,
CLIPTextEncode, EmptyLatentImage, KSampler, VAEDecode, SaveImage, PreviewImage, EmptyImage,
LoadImage, ImageScale, VHS_VideoCombine, and one test-only node, FakeImageToVideo (image,
frames → a batch of frames panning across the image).

Scripting (attributes, set before or during a test): ``old_server`` (progress without
prompt_id, no execution_success, no progress_state), ``step_delay`` (seconds per sampler
step), ``history_delay`` (gap between execution_success and the history write),
``websocket_enabled``, ``previews`` (binary preview frames), ``fail_class`` /
``fail_message`` (that node type raises at run time), ``checkpoints``; plus the generic
``add_fault`` of FakeServer. ``interrupt()`` stops the running prompt as if someone pressed
Cancel in ComfyUI's own UI.

Inspection: ``received`` (every POST /prompt body), ``interrupts`` (bodies of POST
/interrupt), ``deleted`` (ids removed through POST /queue), ``uploads``, ``history``.
"""
from __future__ import annotations

import asyncio
import io
import json
import struct
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from PIL import Image

from .common import RECORD, FakeServer, make_mp4, png_bytes, read_multipart, render_image

INT_MAX = 0xFFFFFFFFFFFFFFFF
SAMPLERS = ["euler", "euler_ancestral", "heun", "dpm_2", "dpmpp_2m", "dpmpp_sde", "ddim", "uni_pc"]
SCHEDULERS = ["normal", "karras", "exponential", "sgm_uniform", "simple", "ddim_uniform", "beta"]
UPSCALE_METHODS = ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]


@dataclass
class NodeDef:
    inputs: dict[str, tuple[Any, dict]]
    outputs: tuple[str, ...] = ()
    output_node: bool = False
    optional: frozenset[str] = frozenset()


def _int(minimum: int, maximum: int, default: int = 0) -> tuple[str, dict]:
    return ("INT", {"default": default, "min": minimum, "max": maximum})


def _float(minimum: float, maximum: float, default: float = 0.0) -> tuple[str, dict]:
    return ("FLOAT", {"default": default, "min": minimum, "max": maximum})


LINK_TYPES = {"MODEL", "CLIP", "VAE", "CONDITIONING", "LATENT", "IMAGE", "MASK"}

NODE_DEFS: dict[str, NodeDef] = {
    "CheckpointLoaderSimple": NodeDef({"ckpt_name": ("CHECKPOINTS", {})}, ("MODEL", "CLIP", "VAE")),
    "CLIPTextEncode": NodeDef({"text": ("STRING", {"multiline": True}), "clip": ("CLIP", {})}, ("CONDITIONING",)),
    "EmptyLatentImage": NodeDef(
        {"width": _int(16, 16384, 512), "height": _int(16, 16384, 512), "batch_size": _int(1, 4096, 1)}, ("LATENT",)
    ),
    "KSampler": NodeDef(
        {
            "model": ("MODEL", {}),
            "seed": _int(0, INT_MAX),
            "steps": _int(1, 10000, 20),
            "cfg": _float(0.0, 100.0, 8.0),
            "sampler_name": (SAMPLERS, {}),
            "scheduler": (SCHEDULERS, {}),
            "positive": ("CONDITIONING", {}),
            "negative": ("CONDITIONING", {}),
            "latent_image": ("LATENT", {}),
            "denoise": _float(0.0, 1.0, 1.0),
        },
        ("LATENT",),
    ),
    "VAEDecode": NodeDef({"samples": ("LATENT", {}), "vae": ("VAE", {})}, ("IMAGE",)),
    "SaveImage": NodeDef({"images": ("IMAGE", {}), "filename_prefix": ("STRING", {"default": "ComfyUI"})}, (), True),
    "PreviewImage": NodeDef({"images": ("IMAGE", {})}, (), True),
    "EmptyImage": NodeDef(
        {"width": _int(1, 16384, 512), "height": _int(1, 16384, 512), "batch_size": _int(1, 4096, 1),
         "color": _int(0, 0xFFFFFF, 0)},
        ("IMAGE",),
    ),
    "LoadImage": NodeDef({"image": ("UPLOAD", {})}, ("IMAGE", "MASK")),
    "ImageScale": NodeDef(
        {"image": ("IMAGE", {}), "upscale_method": (UPSCALE_METHODS, {}), "width": _int(0, 16384, 512),
         "height": _int(0, 16384, 512), "crop": (["disabled", "center"], {})},
        ("IMAGE",),
    ),
    "FakeImageToVideo": NodeDef({"image": ("IMAGE", {}), "frames": _int(1, 1000, 16)}, ("IMAGE",)),
    "VHS_VideoCombine": NodeDef(
        {"images": ("IMAGE", {}), "frame_rate": _float(1, 240, 8), "filename_prefix": ("STRING", {}),
         "format": (["video/h264-mp4", "image/gif"], {}), "loop_count": _int(0, 100, 0),
         "pingpong": ("BOOLEAN", {}), "save_output": ("BOOLEAN", {})},
        (),
        True,
        frozenset({"loop_count", "pingpong", "save_output"}),
    ),
}


class NodeFailure(Exception):
    def __init__(self, message: str, exception_type: str = "Exception"):
        super().__init__(message)
        self.exception_type = exception_type


class Interrupted(Exception):
    pass


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class QueuedPrompt:
    number: int
    prompt_id: str
    prompt: dict
    client_id: str | None
    outputs: list[str]
    messages: list = field(default_factory=list)


class FakeComfyUI(FakeServer):
    def __init__(
        self,
        *,
        old_server: bool = False,
        step_delay: float = 0.0,
        history_delay: float = 0.01,
        websocket_enabled: bool = True,
        previews: bool = True,
        checkpoints: tuple[str, ...] = ("v1-5-pruned-emaonly.safetensors", "sd_xl_base_1.0.safetensors"),
    ):
        super().__init__()
        self.old_server = old_server
        self.step_delay = step_delay
        self.history_delay = history_delay
        self.websocket_enabled = websocket_enabled
        self.previews = previews
        self.checkpoints = list(checkpoints)
        self.fail_class: str | None = None
        self.fail_message = "CUDA out of memory. Tried to allocate 2.00 GiB"
        # state (touched on the server's loop)
        self.pending: list[QueuedPrompt] = []
        self.running: QueuedPrompt | None = None
        self.history: dict[str, dict] = {}
        self.files: dict[tuple[str, str, str], bytes] = {}
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.received: list[dict] = []
        self.interrupts: list[Any] = []
        self.deleted: list[str] = []
        self._number = 0
        self._counters: dict[str, int] = {}
        self._cache: dict[str, dict] = {}
        self._interrupt = False
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None

    # ------------------------------------------------------------------ inspection helpers
    @property
    def uploads(self) -> dict[str, bytes]:
        return {f"{sub}/{name}" if sub else name: data for (kind, sub, name), data in self.files.items() if kind == "input"}

    @property
    def outputs(self) -> dict[str, bytes]:
        return {name: data for (kind, _sub, name), data in self.files.items() if kind == "output"}

    def wait_idle(self, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while self.pending or self.running:
            if time.monotonic() > end:
                raise TimeoutError("fake ComfyUI still busy")
            time.sleep(0.01)

    def interrupt(self) -> None:
        """As if someone pressed Cancel in ComfyUI itself."""
        self._interrupt = True

    # ------------------------------------------------------------------ server plumbing
    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/ws", self.ws_handler)
        app.router.add_post("/prompt", self.post_prompt)
        app.router.add_get("/prompt", self.get_prompt)
        app.router.add_get("/queue", self.get_queue)
        app.router.add_post("/queue", self.post_queue)
        app.router.add_post("/interrupt", self.post_interrupt)
        app.router.add_get("/history", self.get_history_all)
        app.router.add_get("/history/{prompt_id}", self.get_history)
        app.router.add_get("/view", self.get_view)
        app.router.add_post("/upload/image", self.upload_image)
        app.router.add_get("/system_stats", self.system_stats)

    async def on_start(self) -> None:
        self._wake = asyncio.Event()
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _on_shutdown(self, app: web.Application) -> None:
        if self._worker:
            self._worker.cancel()
        for ws in list(self.sockets.values()):
            await ws.close()

    def _queue_remaining(self) -> int:
        return len(self.pending) + (1 if self.running else 0)

    async def _send(self, sid: str | None, message: dict | bytes) -> None:
        targets = list(self.sockets.values()) if sid is None else [self.sockets.get(sid)]
        for ws in targets:
            if ws is None or ws.closed:
                continue
            try:
                if isinstance(message, bytes):
                    await ws.send_bytes(message)
                else:
                    await ws.send_str(json.dumps(message))
            except (ConnectionError, RuntimeError):
                pass

    async def _status(self) -> None:
        await self._send(None, {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": self._queue_remaining()}}}})

    # ------------------------------------------------------------------ routes
    async def ws_handler(self, request: web.Request) -> web.StreamResponse:
        if not self.websocket_enabled:
            return web.Response(status=404)
        sid = request.query.get("clientId") or uuid.uuid4().hex
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets[sid] = ws
        try:
            await ws.send_str(json.dumps({"type": "status", "data": {
                "status": {"exec_info": {"queue_remaining": self._queue_remaining()}}, "sid": sid}}))
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            if self.sockets.get(sid) is ws:
                del self.sockets[sid]
        return ws

    async def get_prompt(self, request: web.Request) -> web.Response:
        return web.json_response({"exec_info": {"queue_remaining": self._queue_remaining()}})

    async def post_prompt(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": {"type": "invalid_json", "message": "Invalid JSON", "details": "",
                                                "extra_info": {}}, "node_errors": {}}, status=400)
        self.received.append(body)
        prompt = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(prompt, dict):
            return web.json_response({"error": {"type": "no_prompt", "message": "No prompt provided",
                                                "details": "No prompt provided", "extra_info": {}},
                                      "node_errors": {}}, status=400)
        error, node_errors, good_outputs = self.validate(prompt)
        if error is not None:
            return web.json_response({"error": error, "node_errors": node_errors}, status=400)
        prompt_id = str(uuid.uuid4())
        number = self._number
        self._number += 1
        self.pending.append(QueuedPrompt(number, prompt_id, prompt, body.get("client_id"), good_outputs))
        await self._status()
        self._wake.set()
        return web.json_response({"prompt_id": prompt_id, "number": number, "node_errors": node_errors})

    def _queue_item(self, item: QueuedPrompt) -> list:
        return [item.number, item.prompt_id, item.prompt, {"client_id": item.client_id}, item.outputs]

    async def get_queue(self, request: web.Request) -> web.Response:
        return web.json_response({
            "queue_running": [self._queue_item(self.running)] if self.running else [],
            "queue_pending": [self._queue_item(item) for item in self.pending],
        })

    async def post_queue(self, request: web.Request) -> web.Response:
        body = request[RECORD].json or {}
        if body.get("clear"):
            self.deleted.extend(item.prompt_id for item in self.pending)
            self.pending.clear()
        for prompt_id in body.get("delete") or []:
            before = len(self.pending)
            self.pending = [item for item in self.pending if item.prompt_id != prompt_id]
            if len(self.pending) != before:
                self.deleted.append(prompt_id)
        await self._status()
        return web.Response(status=200)

    async def post_interrupt(self, request: web.Request) -> web.Response:
        body = request[RECORD].json
        self.interrupts.append(body)
        wanted = body.get("prompt_id") if isinstance(body, dict) else None
        if self.running and (wanted is None or wanted == self.running.prompt_id):
            self._interrupt = True
        return web.Response(status=200)

    async def get_history(self, request: web.Request) -> web.Response:
        prompt_id = request.match_info["prompt_id"]
        entry = self.history.get(prompt_id)
        return web.json_response({prompt_id: entry} if entry else {})

    async def get_history_all(self, request: web.Request) -> web.Response:
        items = list(self.history.items())
        if request.query.get("max_items"):
            items = items[-int(request.query["max_items"]):]
        return web.json_response(dict(items))

    async def get_view(self, request: web.Request) -> web.Response:
        key = (request.query.get("type") or "output", request.query.get("subfolder") or "", request.query.get("filename") or "")
        data = self.files.get(key)
        if data is None:
            return web.Response(status=404)
        suffix = key[2].rsplit(".", 1)[-1].lower()
        ctype = {"png": "image/png", "mp4": "video/mp4", "gif": "image/gif", "webp": "image/webp",
                 "jpg": "image/jpeg"}.get(suffix, "application/octet-stream")
        return web.Response(body=data, content_type=ctype)

    async def upload_image(self, request: web.Request) -> web.Response:
        form = await read_multipart(request)
        image = form.get("image")
        if not isinstance(image, tuple):
            return web.Response(status=400)
        filename, data = image
        kind = form.get("type") or "input"
        subfolder = form.get("subfolder") or ""
        overwrite = str(form.get("overwrite", "")).lower() in ("true", "1")
        name = filename
        counter = 1
        while not overwrite and (kind, subfolder, name) in self.files:
            stem, _, ext = filename.rpartition(".")
            name = f"{stem} ({counter}).{ext}"
            counter += 1
        self.files[(kind, subfolder, name)] = data
        return web.json_response({"name": name, "subfolder": subfolder, "type": kind})

    async def system_stats(self, request: web.Request) -> web.Response:
        return web.json_response({"system": {"os": "posix", "comfyui_version": "0.3.64", "python_version": "3.11",
                                             "pytorch_version": "2.13.0+cpu", "argv": ["main.py", "--cpu"]},
                                  "devices": [{"name": "cpu", "type": "cpu", "index": None}]})

    # ------------------------------------------------------------------ validation
    def validate(self, prompt: dict) -> tuple[dict | None, dict, list[str]]:
        """(top-level error or None, node_errors, outputs that will run) — as ComfyUI answers."""
        for node_id, node in prompt.items():
            class_type = node.get("class_type") if isinstance(node, dict) else None
            if class_type is None:
                return ({"type": "invalid_prompt", "message": "Cannot execute because a node is missing the class_type property.",
                         "details": f"Node ID '#{node_id}'", "extra_info": {}}, {}, [])
            if class_type not in NODE_DEFS:
                return ({"type": "invalid_prompt", "message": f"Cannot execute because node {class_type} does not exist.",
                         "details": f"Node ID '#{node_id}'", "extra_info": {}}, {}, [])
        outputs = [nid for nid, node in prompt.items() if NODE_DEFS[node["class_type"]].output_node]
        if not outputs:
            return ({"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "", "extra_info": {}}, {}, [])
        memo: dict[str, list] = {}
        node_errors: dict[str, dict] = {}
        good: list[str] = []
        first_exception = ""
        for output in outputs:
            failing: dict[str, list] = {}
            self._validate_node(prompt, output, memo, failing, set())
            if not failing:
                good.append(output)
                continue
            for nid, errors in failing.items():
                entry = node_errors.setdefault(nid, {"errors": errors, "dependent_outputs": [],
                                                     "class_type": prompt.get(nid, {}).get("class_type")})
                entry["dependent_outputs"].append(output)
                for err in errors:
                    if err["type"] == "exception_during_validation" and not first_exception:
                        first_exception = err["message"]
        if good:
            return None, node_errors, good
        return ({"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                 "details": first_exception, "extra_info": {}}, node_errors, [])

    def _validate_node(self, prompt: dict, nid: str, memo: dict, failing: dict, stack: set) -> bool:
        if nid in memo:
            if memo[nid]:
                failing[nid] = memo[nid]
            return not memo[nid]
        node = prompt[nid]
        definition = NODE_DEFS[node["class_type"]]
        inputs = node.get("inputs") or {}
        errors: list[dict] = []
        upstream_ok = True
        for name, (kind, opts) in definition.inputs.items():
            if name not in inputs:
                if name not in definition.optional:
                    errors.append({"type": "required_input_missing", "message": "Required input is missing",
                                   "details": name, "extra_info": {"input_name": name}})
                continue
            value = inputs[name]
            if isinstance(value, list):
                if len(value) != 2:
                    errors.append({"type": "bad_linked_input",
                                   "message": "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                                   "details": name, "extra_info": {"input_name": name, "received_value": value}})
                    continue
                source = str(value[0])
                if source not in prompt:
                    try:
                        prompt[source]
                    except KeyError as exc:
                        errors.append({"type": "exception_during_validation",
                                       "message": f"Exception when validating node: {exc}", "details": str(exc),
                                       "extra_info": {"exception_type": "KeyError",
                                                      "traceback": traceback.format_exception(exc)}})
                    continue
                if source in stack:
                    continue
                stack.add(source)
                upstream_ok &= self._validate_node(prompt, source, memo, failing, stack)
                stack.discard(source)
                continue
            error = self._check_literal(name, kind, opts, value)
            if error:
                errors.append(error)
        memo[nid] = errors
        if errors:
            failing[nid] = errors
        return upstream_ok and not errors

    def _check_literal(self, name: str, kind: Any, opts: dict, value: Any) -> dict | None:
        info = {"input_name": name, "input_config": [kind, opts], "received_value": value}
        if kind in ("INT", "FLOAT"):
            try:
                number = int(value) if kind == "INT" else float(value)
            except (TypeError, ValueError) as exc:
                return {"type": "invalid_input_type", "message": f"Failed to convert an input value to a {kind} value",
                        "details": f"{name}, {value}, {exc}", "extra_info": {**info, "exception_message": str(exc)}}
            if "min" in opts and number < opts["min"]:
                return {"type": "value_smaller_than_min", "message": f"Value {number} smaller than min of {opts['min']}",
                        "details": name, "extra_info": info}
            if "max" in opts and number > opts["max"]:
                return {"type": "value_bigger_than_max", "message": f"Value {number} bigger than max of {opts['max']}",
                        "details": name, "extra_info": info}
            return None
        choices = self.checkpoints if kind == "CHECKPOINTS" else kind if isinstance(kind, list) else None
        if choices is not None and value not in choices:
            return {"type": "value_not_in_list", "message": "Value not in list",
                    "details": f"{name}: '{value}' not in {choices}", "extra_info": info}
        if kind == "UPLOAD" and ("input", *self._split(str(value))) not in self.files:
            return {"type": "custom_validation_failed", "message": "Custom validation failed for node",
                    "details": f"{name} - Invalid image file: {value}", "extra_info": info}
        if isinstance(kind, str) and kind in LINK_TYPES:
            return {"type": "bad_linked_input", "message": "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                    "details": name, "extra_info": info}
        return None

    @staticmethod
    def _split(path: str) -> tuple[str, str]:
        subfolder, _, name = path.rpartition("/")
        return subfolder, name

    # ------------------------------------------------------------------ execution
    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.pending:
                self.running = self.pending.pop(0)
                self._interrupt = False
                try:
                    await self._execute(self.running)
                except Exception:  # noqa: BLE001 - a fake must keep serving
                    traceback.print_exc()
                finally:
                    self.running = None

    async def _execute(self, item: QueuedPrompt) -> None:
        sid, pid, prompt = item.client_id, item.prompt_id, item.prompt

        async def send(kind: str, data: dict, record: bool = False) -> None:
            if record:
                item.messages.append([kind, data])
            await self._send(sid, {"type": kind, "data": data})

        def state(running: str | None, finished: set[str]) -> dict:
            nodes = {}
            for nid in list(finished) + ([running] if running else []):
                nodes[nid] = {"value": 0.0 if nid == running else 1.0, "max": 1.0,
                              "state": "running" if nid == running else "finished", "node_id": nid,
                              "prompt_id": pid, "display_node_id": nid, "parent_node_id": None, "real_node_id": nid}
            return {"type": "progress_state", "data": {"prompt_id": pid, "nodes": nodes}}

        await self._status()
        await send("execution_start", {"prompt_id": pid, "timestamp": _now_ms()}, True)
        cache_key = json.dumps(prompt, sort_keys=True)
        ui_outputs: dict[str, dict] = {}
        executed: list[str] = []
        outcome = "success"
        if cache_key in self._cache:
            await send("execution_cached", {"nodes": list(prompt), "prompt_id": pid, "timestamp": _now_ms()}, True)
            ui_outputs = self._cache[cache_key]
            for nid, ui in ui_outputs.items():
                await send("executed", {"node": nid, "display_node": nid, "output": ui, "prompt_id": pid})
        else:
            await send("execution_cached", {"nodes": [], "prompt_id": pid, "timestamp": _now_ms()}, True)
            values: dict[str, tuple] = {}
            current = None
            try:
                for nid in self._order(prompt, item.outputs):
                    current = nid
                    if self._interrupt:
                        raise Interrupted()
                    if not self.old_server:
                        await self._send(sid, state(nid, set(executed)))
                    await send("executing", {"node": nid, "display_node": nid, "prompt_id": pid})
                    outputs, ui = await self._run(item, nid, values)
                    values[nid] = outputs
                    executed.append(nid)
                    if ui is not None:
                        ui_outputs[nid] = ui
                        await send("executed", {"node": nid, "display_node": nid, "output": ui, "prompt_id": pid})
                if not self.old_server:
                    await self._send(sid, state(None, set(executed)))
            except Interrupted:
                outcome = "interrupted"
                await send("execution_interrupted", {"prompt_id": pid, "node_id": current,
                                                     "node_type": prompt[current]["class_type"],
                                                     "executed": executed, "timestamp": _now_ms()}, True)
            except NodeFailure as exc:
                outcome = "error"
                await send("execution_error", {
                    "prompt_id": pid, "node_id": current, "node_type": prompt[current]["class_type"],
                    "executed": executed, "exception_message": str(exc), "exception_type": exc.exception_type,
                    "traceback": ["Traceback (most recent call last):\n", f"{exc.exception_type}: {exc}\n"],
                    "current_inputs": {}, "current_outputs": list(prompt), "timestamp": _now_ms()}, True)
            if outcome == "success":
                self._cache[cache_key] = ui_outputs
        if outcome == "success":
            item.messages.append(["execution_success", {"prompt_id": pid, "timestamp": _now_ms()}])
            if not self.old_server:
                await send("execution_success", {"prompt_id": pid, "timestamp": _now_ms()})
        await asyncio.sleep(self.history_delay)
        self.history[pid] = {
            "prompt": self._queue_item(item),
            "outputs": ui_outputs if outcome == "success" else {},
            "status": {"status_str": "success" if outcome == "success" else "error",
                       "completed": outcome == "success", "messages": item.messages},
            "meta": {nid: {"node_id": nid, "display_node": nid, "parent_node": None, "real_node_id": nid}
                     for nid in ui_outputs},
        }
        self.running = None
        await self._status()
        await send("executing", {"node": None, "prompt_id": pid})

    @staticmethod
    def _order(prompt: dict, outputs: list[str]) -> list[str]:
        order: list[str] = []

        def visit(nid: str) -> None:
            if nid in order:
                return
            for value in (prompt[nid].get("inputs") or {}).values():
                if isinstance(value, list) and len(value) == 2 and str(value[0]) in prompt:
                    visit(str(value[0]))
            order.append(nid)

        for output in outputs:
            visit(output)
        return order

    async def _run(self, item: QueuedPrompt, nid: str, values: dict) -> tuple[tuple, dict | None]:
        node = item.prompt[nid]
        class_type = node["class_type"]
        if class_type == self.fail_class:
            raise NodeFailure(self.fail_message, "torch.OutOfMemoryError")
        args = {}
        for name, value in (node.get("inputs") or {}).items():
            if isinstance(value, list) and len(value) == 2 and str(value[0]) in values:
                args[name] = values[str(value[0])][int(value[1])]
            else:
                args[name] = value
        runner = getattr(self, f"_node_{class_type}")
        return await runner(item, nid, **args)

    def _save(self, images: list[Image.Image], prefix: str, kind: str) -> list[dict]:
        if prefix.startswith(("/", "..")) or "/../" in prefix or prefix.startswith("../"):
            raise NodeFailure("**** ERROR: Saving image outside the output folder is not allowed.\n"
                              f" full_output_folder: /comfy/output/{prefix.rsplit('/', 1)[0]}\n"
                              "         output_dir: /comfy/output\n"
                              f"         commonpath: /comfy")
        subfolder, _, stem = prefix.rpartition("/")
        saved = []
        for image in images:
            counter = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = counter
            filename = f"{stem}_{counter:05d}_.png"
            self.files[(kind, subfolder, filename)] = png_bytes(image)
            saved.append({"filename": filename, "subfolder": subfolder, "type": kind})
        return saved

    # ---- node implementations (name = class_type)
    async def _node_CheckpointLoaderSimple(self, item, nid, ckpt_name):
        return (("MODEL", ckpt_name), ("CLIP", ckpt_name), ("VAE", ckpt_name)), None

    async def _node_CLIPTextEncode(self, item, nid, text, clip):
        return ({"text": text},), None

    async def _node_EmptyLatentImage(self, item, nid, width, height, batch_size):
        return ({"width": int(width), "height": int(height), "batch": int(batch_size)},), None

    async def _node_KSampler(self, item, nid, model, seed, steps, cfg, sampler_name, scheduler, positive, negative,
                             latent_image, denoise=1.0):
        steps = int(steps)
        for step in range(1, steps + 1):
            if self._interrupt:
                raise Interrupted()
            await asyncio.sleep(self.step_delay)
            data = {"value": step, "max": steps}
            if not self.old_server:
                data.update(prompt_id=item.prompt_id, node=nid)
            await self._send(item.client_id, {"type": "progress", "data": data})
            if self.previews and step in (1, steps):
                preview = png_bytes(render_image(32, 32, int(seed), positive["text"]))
                await self._send(item.client_id, struct.pack(">II", 1, 2) + preview)
        return ({**latent_image, "seed": int(seed), "text": positive["text"]},), None

    async def _node_VAEDecode(self, item, nid, samples, vae):
        images = [render_image(samples["width"], samples["height"], samples.get("seed", 0) + i, samples.get("text", ""))
                  for i in range(samples.get("batch", 1))]
        return (images,), None

    async def _node_EmptyImage(self, item, nid, width, height, batch_size, color):
        rgb = ((int(color) >> 16) & 255, (int(color) >> 8) & 255, int(color) & 255)
        return ([Image.new("RGB", (int(width), int(height)), rgb) for _ in range(int(batch_size))],), None

    async def _node_LoadImage(self, item, nid, image):
        data = self.files[("input", *self._split(str(image)))]
        loaded = Image.open(io.BytesIO(data)).convert("RGB")
        return ([loaded], None), None

    async def _node_ImageScale(self, item, nid, image, upscale_method, width, height, crop):
        return ([img.resize((int(width), int(height))) for img in image],), None

    async def _node_FakeImageToVideo(self, item, nid, image, frames):
        source = image[0]
        width, height = source.size
        wide = source.resize((width * 2, height))
        count = int(frames)
        clip = [wide.crop((i * width // max(1, count - 1), 0, i * width // max(1, count - 1) + width, height))
                for i in range(count)]
        return (clip,), None

    async def _node_SaveImage(self, item, nid, images, filename_prefix="ComfyUI"):
        return (), {"images": self._save(images, filename_prefix, "output")}

    async def _node_PreviewImage(self, item, nid, images):
        return (), {"images": self._save(images, f"ComfyUI_temp_{nid}", "temp")}

    async def _node_VHS_VideoCombine(self, item, nid, images, frame_rate, filename_prefix, format, **_):
        subfolder, _, stem = filename_prefix.rpartition("/")
        counter = self._counters.get(filename_prefix, 0) + 1
        self._counters[filename_prefix] = counter
        filename = f"{stem}_{counter:05d}.mp4"
        data = await asyncio.get_running_loop().run_in_executor(None, make_mp4, images, float(frame_rate))
        self.files[("output", subfolder, filename)] = data
        return (), {"gifs": [{"filename": filename, "subfolder": subfolder, "type": "output",
                              "format": format, "frame_rate": float(frame_rate)}]}
