"""ComfyUI adapter: inject the shot into an API-format workflow, queue it, follow the
WebSocket, then fetch the outputs from /history and /view.

What a real server sends is written down in /work/shared/reference/comfyui-observed.md;
older servers (``progress`` without ``prompt_id``, no ``execution_success``) are accepted too.

Workflow injection (placeholders such as ``{{prompt}}``, ``{{seed}}``, ``{{image}}``) is
described and done in comfyui_workflow; the WebSocket messages are read in comfyui_progress.
Images are uploaded (POST /upload/image) only when the workflow names them.

Config keys: base_url (COMFYUI_URL), api_key_env (optional: a bearer token for a server
behind an authenticating proxy), workflow (API-format dict or JSON text), workflows
({"image": ..., "video": ...}, per kind; wins over workflow), output_node (take files from
that node only), checkpoint, steps, cfg, sampler_name, scheduler (defaults for the built-in
txt2img graph), timeout_s, poll_interval_s, max_wait_s, poll_retries, max_download_mb.
"""
from __future__ import annotations

import inspect
import logging
import time
import uuid
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
from .comfyui_progress import PromptTracker, _Interrupted, execution_error
from .comfyui_workflow import (
    DEFAULT_TXT2IMG_WORKFLOW,
    DEFAULTS,
    PLACEHOLDER,
    format_node_errors,
    inject,
    is_image_placeholder,
    load_workflow,
    missing_placeholders,
    placeholders_in,
)
from .http import (
    HttpProvider,
    ProgressTracker,
    extension_for,
    safe_filename,
    sleep_unless_canceled,
    sniff_content_type,
)

__all__ = [
    "DEFAULT_TXT2IMG_WORKFLOW",
    "DEFAULTS",
    "FILE_KEYS",
    "HISTORY_CHECK_POLLS",
    "HISTORY_GRACE_S",
    "PLACEHOLDER",
    "VIDEO_SUFFIXES",
    "ComfyUIProvider",
    "PromptTracker",
    "execution_error",
    "format_node_errors",
    "inject",
    "is_image_placeholder",
    "load_workflow",
    "missing_placeholders",
    "placeholders_in",
]

logger = logging.getLogger(__name__)

_CLIENT_NAMESPACE = uuid.UUID("6f3c2a56-9a57-4c1e-8b1e-5d0f3a7c2b10")

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
