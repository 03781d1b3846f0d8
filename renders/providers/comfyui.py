"""ComfyUI adapter: inject the shot into an API-format workflow, queue it, follow the
WebSocket, then fetch the outputs from /history and /view.

What a real server sends is written down in /work/shared/reference/comfyui-observed.md;
older servers (``progress`` without ``prompt_id``, no ``execution_success``) are accepted too.

Workflow injection: any string input of a node may hold placeholders ``{{name}}``. A string
that is exactly one placeholder takes the value with its type (``"{{seed}}"`` becomes the
int seed); placeholders inside a longer string are replaced by text. Names: prompt,
negative_prompt, seed, width, height, duration_s, fps, frames, kind, image (the source
image, or the first reference image), reference_image, reference_image_1..N, checkpoint,
steps, cfg, sampler_name, scheduler, denoise, plus every scalar in ``request.params``.
Images are uploaded (POST /upload/image) only when the workflow names them. An unknown
placeholder is a permanent error naming it.

Config keys: base_url (COMFYUI_URL), api_key_env (optional: a bearer token for a server
behind an authenticating proxy), workflow (API-format dict or JSON text), workflows
({"image": ..., "video": ...}, per kind; wins over workflow), output_node (take files from
that node only), checkpoint, steps, cfg, sampler_name, scheduler (defaults for the built-in
txt2img graph), timeout_s, poll_interval_s, max_wait_s, poll_retries, max_download_mb.
"""
from __future__ import annotations

import copy
import inspect
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from .base import (
    CancelCheck,
    OutputFile,
    PermanentProviderError,
    ProgressCallback,
    RenderCanceled,
    RenderRequest,
    RenderResult,
    TransientProviderError,
)
from .http import (
    HttpProvider,
    ProgressTracker,
    extension_for,
    safe_filename,
    sleep_unless_canceled,
    sniff_content_type,
)

logger = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_CLIENT_NAMESPACE = uuid.UUID("6f3c2a56-9a57-4c1e-8b1e-5d0f3a7c2b10")

#: ComfyUI's classic default graph (API format), with placeholders.
DEFAULT_TXT2IMG_WORKFLOW: dict[str, dict] = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "{{checkpoint}}"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{negative_prompt}}", "clip": ["4", 1]}},
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": "{{width}}", "height": "{{height}}", "batch_size": 1},
    },
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": "{{seed}}",
            "steps": "{{steps}}",
            "cfg": "{{cfg}}",
            "sampler_name": "{{sampler_name}}",
            "scheduler": "{{scheduler}}",
            "denoise": "{{denoise}}",
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "shotstudio", "images": ["8", 0]}},
}

DEFAULTS = {
    "checkpoint": "v1-5-pruned-emaonly.safetensors",
    "steps": 20,
    "cfg": 7.0,
    "sampler_name": "euler",
    "scheduler": "normal",
    "denoise": 1.0,
}

VIDEO_SUFFIXES = {".mp4", ".webm", ".mov", ".mkv", ".gif"}
#: history output keys that hold files (VideoHelperSuite puts videos under "gifs")
FILE_KEYS = ("images", "gifs", "videos", "video", "audio")
#: how long to wait for /history after the WebSocket said "done"
HISTORY_GRACE_S = 5.0
#: look at /history every this many poll intervals even while the socket talks: a missed "done"
#: must not hang us, and a busy server's status broadcasts must not hide that we missed it
HISTORY_CHECK_POLLS = 10
#: websockets 17 warns unless the plain "connect and return the connection" mode is asked for
_CONNECT_OPTIONS = {"legacy": True} if "legacy" in inspect.signature(connect).parameters else {}


# --------------------------------------------------------------------------- workflow

def load_workflow(raw: Any, label: str = "ComfyUI") -> dict[str, dict]:
    """Validate an API-format workflow (dict or JSON text); a UI-format export is refused clearly."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise PermanentProviderError(f"{label}: the configured workflow is not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or not raw:
        raise PermanentProviderError(f"{label}: the workflow must be a non-empty JSON object of nodes")
    if "nodes" in raw and "links" in raw:
        raise PermanentProviderError(
            f"{label}: this workflow is in the editor's format; export it with 'Save (API Format)' instead"
        )
    for node_id, node in raw.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str) or not isinstance(
            node.get("inputs", {}), dict
        ):
            raise PermanentProviderError(
                f"{label}: workflow node {node_id!r} must be an object with 'class_type' and 'inputs'"
            )
    return raw


def placeholders_in(workflow: dict[str, dict]) -> set[str]:
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            names.update(PLACEHOLDER.findall(value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for node in workflow.values():
        walk(node.get("inputs", {}))
    return names


def inject(workflow: dict[str, dict], values: dict[str, Any]) -> dict[str, dict]:
    """A copy of ``workflow`` with every placeholder replaced (see the module docstring)."""
    missing: set[str] = set()

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            whole = PLACEHOLDER.fullmatch(value.strip())
            if whole:
                name = whole.group(1)
                if name not in values:
                    missing.add(name)
                    return value
                return values[name]

            def text(match: re.Match) -> str:
                if match.group(1) not in values:
                    missing.add(match.group(1))
                    return match.group(0)
                return str(values[match.group(1)])

            return PLACEHOLDER.sub(text, value)
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    result = copy.deepcopy(workflow)
    for node in result.values():
        node["inputs"] = fill(node.get("inputs", {}))
    if missing:
        raise missing_placeholders(missing)
    return result


def missing_placeholders(names: set[str]) -> PermanentProviderError:
    listed = ", ".join("{{%s}}" % name for name in sorted(names))
    return PermanentProviderError(f"ComfyUI workflow placeholders have no value: {listed}")


def is_image_placeholder(name: str) -> bool:
    return name in ("image", "reference_image") or re.fullmatch(r"reference_image_\d+", name) is not None


def format_node_errors(data: dict) -> str:
    """ComfyUI's 400 body as one readable line: the error, then each node's problems."""
    parts: list[str] = []
    error = data.get("error")
    if isinstance(error, dict):
        head = str(error.get("message") or error.get("type") or "").strip()
        details = str(error.get("details") or "").strip()
        if details:
            head = f"{head} ({details})" if head else details
        if head:
            parts.append(head)
    elif isinstance(error, str) and error.strip():
        parts.append(error.strip())
    node_errors = data.get("node_errors")
    if isinstance(node_errors, dict):
        for node_id, node in node_errors.items():
            if not isinstance(node, dict):
                continue
            where = f"node {node_id} ({node.get('class_type') or '?'})"
            for err in node.get("errors") or []:
                if not isinstance(err, dict):
                    continue
                extra = err.get("extra_info") if isinstance(err.get("extra_info"), dict) else {}
                input_name = extra.get("input_name")
                message = str(err.get("message") or err.get("type") or "error")
                details = str(err.get("details") or "").strip()
                if details and details != input_name:
                    message = f"{message} ({details})"
                parts.append(f"{where} input {input_name}: {message}" if input_name else f"{where}: {message}")
    return "; ".join(parts)


# --------------------------------------------------------------------------- progress

def _weight(class_type: str | None) -> float:
    """Samplers and video nodes take most of the time; loaders and savers almost none."""
    name = (class_type or "").lower()
    return 10.0 if any(word in name for word in ("sampler", "video", "upscale", "i2v")) else 1.0


class _Interrupted(Exception):
    pass


@dataclass
class PromptTracker:
    """Follows the WebSocket messages of one prompt and turns them into progress."""

    prompt_id: str
    prompt: dict | None = None
    done: set[str] = field(default_factory=set)
    current: str | None = None
    node_fraction: float = 0.0
    started: bool = False
    finished: bool = False
    foreign: bool = False  # the last message naming a prompt named another one
    message: str = "Queued"

    def classes(self) -> dict[str, str]:
        prompt = self.prompt or {}
        return {nid: str(node.get("class_type")) for nid, node in prompt.items() if isinstance(node, dict)}

    def _sources(self, nid: str) -> set[str]:
        node = (self.prompt or {}).get(nid)
        inputs = node.get("inputs") if isinstance(node, dict) else None
        if not isinstance(inputs, dict):
            return set()
        return {str(v[0]) for v in inputs.values() if isinstance(v, list) and len(v) == 2 and str(v[0]) in self.prompt}

    def _ancestors(self, nid: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self._sources(nid))
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(self._sources(node))
        return seen

    def _start_node(self, node: str) -> None:
        """Nodes run in dependency order: once ``node`` runs, everything it depends on is done
        (which also repairs our picture when we joined the socket late)."""
        if self.current is not None and self.current != node:
            self.done.add(self.current)
        self.done.update(self._ancestors(node))
        self.current, self.node_fraction, self.started = node, 0.0, True

    def _guess_running(self) -> str | None:
        """For an old server's progress that names no node, when we missed 'executing':
        progress bars come from heavy nodes (samplers...), so the heaviest node not done,
        preferring one whose inputs are all done."""
        classes = self.classes()
        pending = [nid for nid in classes if nid not in self.done]
        return max(
            pending, key=lambda nid: (_weight(classes[nid]), self._sources(nid) <= self.done), default=None
        )

    @property
    def progress(self) -> float:
        if not self.started:
            return 0.0
        classes = self.classes()
        if not classes:
            return 0.02 + 0.93 * self.node_fraction
        total = sum(_weight(cls) for cls in classes.values())
        finished = sum(_weight(classes.get(nid)) for nid in self.done if nid in classes and nid != self.current)
        running = _weight(classes.get(self.current)) * self.node_fraction if self.current in classes else 0.0
        return 0.02 + 0.93 * min(1.0, (finished + running) / total)

    def feed(self, raw: str | bytes) -> None:
        """Take one message; raises PermanentProviderError/_Interrupted when the prompt failed."""
        if isinstance(raw, (bytes, bytearray)):
            return  # preview images (SaveImageWebsocket, live previews)
        try:
            msg = json.loads(raw)
        except ValueError:
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("data"), dict):
            return
        kind, data = msg.get("type"), msg["data"]
        if kind == "status":
            status = data.get("status")
            exec_info = status.get("exec_info") if isinstance(status, dict) else None
            remaining = exec_info.get("queue_remaining") if isinstance(exec_info, dict) else None
            if not self.started and isinstance(remaining, int):
                self.message = f"Queued ({remaining} in the server's queue)"
            return
        prompt_id = data.get("prompt_id")
        if prompt_id is not None:
            self.foreign = prompt_id != self.prompt_id
        if self.foreign:
            return
        classes = self.classes()
        if kind == "execution_start":
            self.started, self.message = True, "Started"
        elif kind == "execution_cached":
            self.started = True
            nodes = [str(n) for n in data.get("nodes") or []]
            self.done.update(nodes)
            if nodes:
                self.message = f"{len(nodes)} node(s) cached"
        elif kind == "executing":
            node = data.get("node")
            if node is None:
                self.finished = True
                return
            node = str(node)
            self._start_node(node)
            self.message = f"Running {classes.get(node, 'node ' + node)}"
        elif kind == "progress":
            value, maximum = data.get("value"), data.get("max")
            if isinstance(value, (int, float)) and isinstance(maximum, (int, float)) and maximum > 0:
                self.started = True
                node = str(data["node"]) if data.get("node") is not None else self.current or self._guess_running()
                if node is not None and node != self.current:
                    self._start_node(node)
                self.node_fraction = min(1.0, max(0.0, value / maximum))
                name = classes.get(node or "", "node")
                self.message = f"Running {name}: step {int(value)}/{int(maximum)}"
        elif kind == "executed":
            if data.get("node") is not None:
                self.done.add(str(data["node"]))
        elif kind == "execution_success":
            self.finished = True
        elif kind == "execution_error":
            raise execution_error(data)
        elif kind == "execution_interrupted":
            raise _Interrupted()
        # progress_state, executed, crystools.*, anything new: nothing to do


def execution_error(data: dict) -> PermanentProviderError:
    node = data.get("node_id")
    node_type = data.get("node_type") or "?"
    exc_message = str(data.get("exception_message") or "").strip() or "unknown error"
    exc_type = data.get("exception_type") or ""
    where = f"node {node} ({node_type})" if node is not None else "the workflow"
    return PermanentProviderError(
        f"ComfyUI failed in {where}: {exc_type + ': ' if exc_type else ''}{exc_message}",
        details={"node_id": node, "node_type": node_type, "exception_type": exc_type,
                 "exception_message": exc_message},
    )


# --------------------------------------------------------------------------- adapter

class ComfyUIProvider(HttpProvider):
    name = "comfyui"
    label = "ComfyUI"
    kinds = frozenset({"image", "video"})
    supports_cancel = True
    secret_env = ()  # optional: set api_key_env for a server behind an authenticating proxy
    base_url_env = "COMFYUI_URL"
    default_base_url = "http://127.0.0.1:8188"

    def __init__(self, config: dict | None = None, secrets: dict | None = None):
        super().__init__(config, secrets)
        self._fallback_client_id = uuid.uuid4().hex
        self._workflows: dict[str, dict] = {}
        per_kind = self.config.get("workflows") or {}
        if not isinstance(per_kind, dict):
            raise PermanentProviderError("ComfyUI: config workflows must map a kind to a workflow")
        for kind, raw in per_kind.items():
            self._workflows[kind] = load_workflow(raw)
        if self.config.get("workflow"):
            default = load_workflow(self.config["workflow"])
            for kind in self.kinds:
                self._workflows.setdefault(kind, default)
        self._workflows.setdefault("image", DEFAULT_TXT2IMG_WORKFLOW)

    # ---- submit
    def client_id(self, request: RenderRequest) -> str:
        """Stable per job, so a resumed ``wait`` listens on the socket its prompt reports to."""
        if request.job_key:
            return uuid.uuid5(_CLIENT_NAMESPACE, request.job_key).hex
        return self._fallback_client_id

    def workflow_for(self, kind: str) -> dict[str, dict]:
        self.check_kind(kind)
        try:
            return self._workflows[kind]
        except KeyError:
            raise PermanentProviderError(
                f"ComfyUI has no workflow for {kind} renders: set 'workflows': {{'{kind}': ...}} "
                "(an API-format workflow with a LoadImage node whose image is '{{image}}')"
            ) from None

    def values_for(self, request: RenderRequest, images: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = dict(DEFAULTS)
        values.update({key: self.config[key] for key in DEFAULTS if self.config.get(key) not in (None, "")})
        values.update(
            {key: value for key, value in (request.params or {}).items()
             if isinstance(key, str) and isinstance(value, (str, int, float, bool))}
        )
        values.update(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            seed=int(request.seed),
            width=int(request.width),
            height=int(request.height),
            duration_s=float(request.duration_s),
            fps=int(request.fps),
            frames=max(1, round(request.duration_s * request.fps)),
            kind=request.kind,
        )
        values.update(images)
        return values

    def submit(self, request: RenderRequest) -> str:
        workflow = self.workflow_for(request.kind)
        wanted = placeholders_in(workflow)
        values = self.values_for(request, {})
        missing = {name for name in wanted if name not in values and not is_image_placeholder(name)}
        if missing:  # before uploading anything
            raise missing_placeholders(missing)
        with self._client() as client:
            images = self._upload_images(client, request, wanted)
            prompt = inject(workflow, {**values, **images})
            data = self._json(client, "POST", "/prompt", json={"prompt": prompt, "client_id": self.client_id(request)})
        prompt_id = data.get("prompt_id") if isinstance(data, dict) else None
        if not isinstance(prompt_id, str) or not prompt_id:
            raise self._unexpected(data, "no prompt_id in the answer to POST /prompt")
        if data.get("node_errors"):
            # Some outputs were invalid and dropped; the valid ones still run.
            logger.warning("comfyui: prompt %s queued with node errors: %s", prompt_id, format_node_errors(data))
        return prompt_id

    def _image_slots(self, request: RenderRequest, wanted: set[str]) -> dict[str, Path]:
        refs = list(request.reference_images or [])
        slots: dict[str, Path] = {}
        for name in wanted:
            if name == "image":
                path = request.source_image or (refs[0] if refs else None)
                if path is None:
                    raise PermanentProviderError(
                        "The ComfyUI workflow needs an image ({{image}}) "
                        "but the render has no source or reference image"
                    )
            elif is_image_placeholder(name):
                index = 0 if name == "reference_image" else int(name.rsplit("_", 1)[1]) - 1
                if not 0 <= index < len(refs):
                    raise PermanentProviderError(
                        f"The ComfyUI workflow needs {{{{{name}}}}} but the render has {len(refs)} reference image(s)"
                    )
                path = refs[index]
            else:
                continue
            slots[name] = Path(path)
        return slots

    def _upload_images(self, client: httpx.Client, request: RenderRequest, wanted: set[str]) -> dict[str, str]:
        uploaded: dict[Path, str] = {}
        values: dict[str, str] = {}
        stem = safe_filename(request.job_key or uuid.uuid4().hex, "job")
        for slot, path in sorted(self._image_slots(request, wanted).items()):
            if path not in uploaded:
                try:
                    content = path.read_bytes()
                except OSError as exc:
                    raise PermanentProviderError(f"Cannot read the image for {{{{{slot}}}}}: {exc}") from None
                ctype = sniff_content_type(content[:32])
                if ctype is None or not ctype.startswith("image/"):
                    raise PermanentProviderError(f"The file for {{{{{slot}}}}} is not an image ({path.name})")
                filename = f"shotstudio-{stem}-{len(uploaded)}{extension_for(ctype)}"
                data = self._json(
                    client,
                    "POST",
                    "/upload/image",
                    files={"image": (filename, content, ctype)},
                    data={"type": "input", "overwrite": "true"},
                )
                if not isinstance(data, dict) or not isinstance(data.get("name"), str):
                    raise self._unexpected(data, "no name in the answer to POST /upload/image")
                subfolder = data.get("subfolder") or ""
                uploaded[path] = f"{subfolder}/{data['name']}" if subfolder else data["name"]
            values[slot] = uploaded[path]
        return values

    def _error_message(self, data: Any) -> str:
        if isinstance(data, dict) and ("node_errors" in data or isinstance(data.get("error"), dict)):
            return format_node_errors(data)
        return super()._error_message(data)

    # ---- wait
    def wait(
        self,
        ref: str,
        request: RenderRequest,
        workdir: Path,
        report: ProgressCallback,
        is_canceled: CancelCheck,
    ) -> RenderResult:
        progress = ProgressTracker(report)
        deadline = time.monotonic() + self.max_wait_s
        with self._client() as client:
            self._check_canceled(ref, is_canceled)
            ws = self._open_ws(self.client_id(request))  # before the history check: no gap to miss the end in
            try:
                entry = self._follow(client, ws, ref, progress, is_canceled, deadline)
            finally:
                if ws is not None:
                    ws.close()
            progress(0.95, "Downloading results")
            files = self._download_outputs(client, ref, entry, request.kind, Path(workdir))
        progress(1.0, "Done")
        return RenderResult(
            files=files,
            provider_job_id=ref,
            params={"seed": request.seed, "width": request.width, "height": request.height},
        )

    def _ws_url(self, client_id: str) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", f"clientId={client_id}", ""))

    def _open_ws(self, client_id: str) -> ClientConnection | None:
        """The progress socket, or None (then we poll /history: slower, no step progress)."""
        try:
            return connect(
                self._ws_url(client_id),
                open_timeout=self.timeout_s,
                additional_headers=self._auth_headers() or None,
                max_size=64 * 1024 * 1024,
                user_agent_header="ShotStudio/1.0",
                **_CONNECT_OPTIONS,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            logger.warning("comfyui: no WebSocket at %s (%s); polling /history instead", self.base_url, exc)
            return None

    def _follow(
        self,
        client: httpx.Client,
        ws: ClientConnection | None,
        ref: str,
        progress: ProgressTracker,
        is_canceled: CancelCheck,
        deadline: float,
    ) -> dict:
        """Until the prompt is over; returns its /history entry (or raises)."""
        entry, queued = self._status(client, ref, is_canceled)
        if entry is not None:
            return self._finished(entry, ref, is_canceled)
        tracker = PromptTracker(ref, prompt=queued.get("prompt"), started=queued["running"], message=queued["message"])
        progress(tracker.progress, tracker.message)
        last_check = last_cancel_check = time.monotonic()
        while not tracker.finished:
            now = time.monotonic()
            if now - last_cancel_check >= self.poll_interval_s:
                self._check_canceled(ref, is_canceled)
                last_cancel_check = now
            self._check_deadline(ref, deadline)
            raw = None
            if ws is not None:
                try:
                    raw = ws.recv(timeout=self.poll_interval_s)
                except TimeoutError:
                    raw = None
                except ConnectionClosed:
                    logger.warning("comfyui: WebSocket closed while following %s; polling /history", ref)
                    ws = None
            else:
                if sleep_unless_canceled(self.poll_interval_s, is_canceled):
                    self._check_canceled(ref, is_canceled)
            if raw is not None:
                try:
                    tracker.feed(raw)
                except _Interrupted:
                    self._interrupted(ref, is_canceled)
                progress(tracker.progress, tracker.message)
            due = ws is None or time.monotonic() - last_check >= HISTORY_CHECK_POLLS * self.poll_interval_s
            if due and not tracker.finished:
                last_check = time.monotonic()
                entry, queued = self._status(client, ref, is_canceled)
                if entry is not None:
                    return self._finished(entry, ref, is_canceled)
                if ws is None:
                    progress(None, queued["message"])
        return self._finished(self._history_after_done(client, ref, is_canceled), ref, is_canceled)

    def _status(self, client: httpx.Client, ref: str, is_canceled: CancelCheck) -> tuple[dict | None, dict]:
        """(history entry, {}) when over; else (None, {"prompt", "message", "running"}) from /queue."""
        entry = self._history_entry(client, ref, is_canceled)
        if entry is not None:
            return entry, {}
        queue = self._poll_json(client, "GET", "/queue", ref=ref, is_canceled=is_canceled)
        if not isinstance(queue, dict):
            raise self._unexpected(queue, "GET /queue is not an object")
        ahead = 0
        for state in ("queue_running", "queue_pending"):
            items = [item for item in queue.get(state) or [] if isinstance(item, list) and len(item) >= 3]
            items.sort(key=lambda item: item[0] if isinstance(item[0], (int, float)) else 0)
            for item in items:
                if item[1] == ref:
                    prompt = item[2] if isinstance(item[2], dict) else None
                    running = state == "queue_running"
                    if running:
                        message = "Running"
                    else:
                        message = f"Queued ({ahead} prompt(s) ahead)" if ahead else "Queued (next)"
                    return None, {"prompt": prompt, "message": message, "running": running}
                ahead += 1
        # Gone from the queue: it may have finished between the two requests.
        entry = self._history_entry(client, ref, is_canceled)
        if entry is not None:
            return entry, {}
        raise PermanentProviderError(
            f"ComfyUI has no record of prompt {ref} (was the server restarted or its history cleared?); "
            "render it again"
        )

    def _history_entry(self, client: httpx.Client, ref: str, is_canceled: CancelCheck) -> dict | None:
        data = self._poll_json(client, "GET", f"/history/{ref}", ref=ref, is_canceled=is_canceled)
        if not isinstance(data, dict):
            raise self._unexpected(data, f"GET /history/{ref} is not an object")
        entry = data.get(ref)
        if entry is None:
            return None
        if not isinstance(entry, dict):
            raise self._unexpected(data, "history entry is not an object")
        return entry

    def _history_after_done(self, client: httpx.Client, ref: str, is_canceled: CancelCheck) -> dict:
        """New servers send execution_success a moment *before* they write the history."""
        delay, end = 0.02, time.monotonic() + HISTORY_GRACE_S
        while True:
            entry = self._history_entry(client, ref, is_canceled)
            if entry is not None:
                return entry
            if time.monotonic() > end:
                raise TransientProviderError(f"ComfyUI said prompt {ref} finished but has no history for it yet")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _interrupted(self, ref: str, is_canceled: CancelCheck) -> None:
        if is_canceled():
            raise RenderCanceled(f"ComfyUI prompt {ref} canceled")
        raise PermanentProviderError(
            f"ComfyUI interrupted prompt {ref} (someone stopped it on the server); render it again"
        )

    def _finished(self, entry: dict, ref: str, is_canceled: CancelCheck) -> dict:
        """Raise if the history entry records a failure; else return it."""
        status = entry.get("status") if isinstance(entry.get("status"), dict) else None
        if status is not None and (status.get("status_str") == "error" or status.get("completed") is False):
            for message in status.get("messages") or []:
                if isinstance(message, list) and len(message) == 2 and isinstance(message[1], dict):
                    if message[0] == "execution_error":
                        raise execution_error(message[1])
                    if message[0] == "execution_interrupted":
                        self._interrupted(ref, is_canceled)
            raise PermanentProviderError(f"ComfyUI reports prompt {ref} failed ({status.get('status_str')})")
        return entry

    def _output_refs(self, entry: dict, kind: str) -> list[dict]:
        outputs = entry.get("outputs")
        if not isinstance(outputs, dict):
            raise self._unexpected(entry, "history entry has no outputs")
        wanted_node = self.config.get("output_node")
        found: list[dict] = []
        for node_id, node_output in outputs.items():
            if wanted_node is not None and str(node_id) != str(wanted_node):
                continue
            if not isinstance(node_output, dict):
                continue
            for key in FILE_KEYS:
                for item in node_output.get(key) or []:
                    if isinstance(item, dict) and isinstance(item.get("filename"), str):
                        found.append(item)
        saved = [item for item in found if item.get("type", "output") == "output"]
        found = saved or found  # previews ("temp") only when nothing was saved
        videos = [item for item in found if Path(item["filename"]).suffix.lower() in VIDEO_SUFFIXES]
        stills = [item for item in found if item not in videos]
        if kind == "video" and videos:
            return videos
        if kind == "image" and stills:
            return stills
        return found

    def _download_outputs(
        self, client: httpx.Client, ref: str, entry: dict, kind: str, workdir: Path
    ) -> list[OutputFile]:
        items = self._output_refs(entry, kind)
        if not items:
            raise PermanentProviderError(
                f"ComfyUI finished prompt {ref} but it produced no files (does the workflow end in SaveImage?)"
            )
        files = []
        for index, item in enumerate(items):
            params = {
                "filename": item["filename"],
                "subfolder": item.get("subfolder") or "",
                "type": item.get("type") or "output",
            }
            dest = workdir / f"{index:02d}_{safe_filename(item['filename'])}"
            files.append(self._download("/view", dest, client=client, params=params))
        return files

    # ---- cancel
    def cancel(self, ref: str) -> None:
        """Delete ``ref`` if it is pending; interrupt it only if it is the one running."""
        with self._client() as client:
            queue = self._json(client, "GET", "/queue")
            if not isinstance(queue, dict):
                raise self._unexpected(queue, "GET /queue is not an object")

            def ids(state: str) -> set:
                return {item[1] for item in queue.get(state) or [] if isinstance(item, list) and len(item) > 1}

            if ref in ids("queue_pending"):
                self._send(client, "POST", "/queue", json={"delete": [ref]})
            if ref in ids("queue_running"):
                # New servers only interrupt the named prompt; old ones interrupt whatever runs,
                # which is why we looked at the queue first.
                self._send(client, "POST", "/interrupt", json={"prompt_id": ref})
