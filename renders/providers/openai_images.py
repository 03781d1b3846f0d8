"""OpenAI-compatible image adapter (OpenAI itself and the many hosted models that speak
its images API).

Contract: POST {base}/v1/images/generations {"model", "prompt", "n": 1, "size": "WxH",
"response_format"?} with ``Authorization: Bearer``; the answer's data[] holds ``b64_json``
or ``url``. Errors: {"error": {"message", "type", "code"}}; a 429 whose code is
``insufficient_quota`` is permanent (waiting does not refill an account).

The API is synchronous, so ``submit`` only validates and returns a local reference;
``wait`` makes the one call (the back end starts working there). Nothing can be canceled
mid-call: ``is_canceled`` is checked before the call and after it (the result is then
discarded). A redelivered task therefore calls the API again — the first answer died with
the worker that received it.

``base_url`` may end with the API version ("https://host/compatible-mode/v1"); otherwise
"/v1" is added. Optional fields are only sent when configured, because strict servers
reject unknown parameters: response_format, quality, size (overrides WxH), extra_body
(merged into the body), input_names ({"seed": "seed", "negative_prompt": "negative_prompt"}
to send those), and the render's params whose names are in ``PASSTHROUGH_PARAMS``.

Config keys: model (default gpt-image-1), base_url (OPENAI_BASE_URL), api_key_env
(default OPENAI_API_KEY), response_format, quality, size, extra_body, input_names,
timeout_s (default 300: one call covers the whole generation), max_download_mb.
"""
from __future__ import annotations

import base64
import binascii
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .base import (
    CancelCheck,
    PermanentProviderError,
    ProgressCallback,
    RenderCanceled,
    RenderRequest,
    RenderResult,
)
from .http import HttpProvider, ProgressTracker, safe_filename

#: render params forwarded to the API when present (all are documented OpenAI fields)
PASSTHROUGH_PARAMS = frozenset(
    {"quality", "style", "background", "output_format", "output_compression", "moderation"}
)
PERMANENT_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "invalid_api_key"})


class OpenAIImagesProvider(HttpProvider):
    name = "openai_images"
    label = "OpenAI-compatible images"
    kinds = frozenset({"image"})
    supports_cancel = False
    secret_env = ("OPENAI_API_KEY",)
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = "https://api.openai.com"
    default_timeout_s = 300.0

    def __init__(self, config: dict | None = None, secrets: dict | None = None):
        super().__init__(config, secrets)
        self.model = str(self.config.get("model") or "gpt-image-1")
        extra = self.config.get("extra_body") or {}
        names = self.config.get("input_names") or {}
        if not isinstance(extra, dict) or not isinstance(names, dict):
            raise PermanentProviderError("OpenAI images: config extra_body and input_names must be objects")
        self.extra_body = dict(extra)
        self.input_names = {"seed": None, "negative_prompt": None, **names}
        path = "/images/generations" if re.search(r"/v\d+[a-z]*$", self.base_url) else "/v1/images/generations"
        self.endpoint = path

    def _error_message(self, data: Any) -> str:
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            message = " ".join(str(error.get("message") or "").split())
            code = error.get("code") or error.get("type")
            return f"{message} ({code})" if code and message else message or str(code or "")
        return super()._error_message(data)

    def _is_transient(self, status: int, data: Any) -> bool:
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict) and (error.get("code") in PERMANENT_CODES or error.get("type") in PERMANENT_CODES):
            return False
        return super()._is_transient(status, data)

    def build_body(self, request: RenderRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": request.prompt,
            "n": 1,
            "size": str(self.config.get("size") or f"{int(request.width)}x{int(request.height)}"),
        }
        for key in ("response_format", "quality"):
            if self.config.get(key):
                body[key] = self.config[key]
        body.update({k: v for k, v in (request.params or {}).items() if k in PASSTHROUGH_PARAMS})
        for field, value in (("seed", int(request.seed)), ("negative_prompt", request.negative_prompt or None)):
            name = self.input_names.get(field)
            if name and value is not None:
                body[name] = value
        body.update(self.extra_body)
        return body

    def submit(self, request: RenderRequest) -> str:
        self.check_kind(request.kind)
        self.build_body(request)
        return f"openai-{uuid.uuid4().hex}"

    def wait(
        self,
        ref: str,
        request: RenderRequest,
        workdir: Path,
        report: ProgressCallback,
        is_canceled: CancelCheck,
    ) -> RenderResult:
        self.check_kind(request.kind)
        progress = ProgressTracker(report)
        if is_canceled():
            raise RenderCanceled(f"{self.label} render {ref} canceled before it was sent")
        body = self.build_body(request)
        progress(0.0, f"Generating with {self.model}")
        with self._client() as client:
            data = self._json(client, "POST", self.endpoint, json=body)
            if is_canceled():
                raise RenderCanceled(f"{self.label} render {ref} canceled (the result was discarded)")
            items = data.get("data") if isinstance(data, dict) else None
            if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
                raise self._unexpected(data, "no data[] in the answer")
            progress(0.9, "Saving results")
            files = []
            for index, item in enumerate(items):
                if isinstance(item.get("b64_json"), str):
                    try:
                        content = base64.b64decode(item["b64_json"], validate=True)
                    except (binascii.Error, ValueError):
                        raise self._unexpected(excerpt_item(item), "b64_json is not valid base64") from None
                    files.append(self.write_bytes(content, Path(workdir) / f"{index:02d}_image"))
                elif isinstance(item.get("url"), str):
                    name = safe_filename(urlsplit(item["url"]).path, "image")
                    files.append(self._download(item["url"], Path(workdir) / f"{index:02d}_{name}", client=client))
                else:
                    raise self._unexpected(excerpt_item(item), "an item with neither b64_json nor url")
        progress(1.0, "Done")
        params: dict[str, Any] = {"model": self.model, "size": body["size"]}
        revised = items[0].get("revised_prompt")
        if isinstance(revised, str) and revised:
            params["revised_prompt"] = revised
        if isinstance(data.get("usage"), dict):
            params["usage"] = data["usage"]
        return RenderResult(files=files, provider_job_id=ref, params=params)


def excerpt_item(item: dict) -> dict:
    """An item with its (possibly huge) base64 payload shortened, for an error message."""
    return {
        key: (value[:40] + "…" if isinstance(value, str) and len(value) > 40 else value) for key, value in item.items()
    }
