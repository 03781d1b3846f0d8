"""Replicate adapter: one prediction per render, polled until it ends.

Contract: POST /v1/predictions {"version": "<owner/name>" | "<owner/name:version>" | "<version id>",
"input": {...}} with ``Authorization: Bearer``; GET /v1/predictions/{id} until ``status`` is
succeeded, failed, canceled (or aborted); POST /v1/predictions/{id}/cancel. Errors come as
{"detail", "status", "title"} (422 adds "invalid_fields"). ``output`` is a URL, a list of
URLs or a structure holding them; files are fetched without our token unless they live on
the API's own origin.

Models name their inputs differently, so the request's fields are mapped through
``input_names`` (a field mapped to None is not sent). Defaults: prompt→prompt,
negative_prompt→negative_prompt (when not empty), seed→seed, width→width, height→height,
image→image (the source image as a data URI); duration_s, fps and reference_images are not
sent unless mapped. ``input`` (config) gives fixed inputs; ``request.params`` are added as
inputs too. A failed prediction is permanent: waiting again on the same id cannot help.

Config keys: model or version (required), base_url (REPLICATE_BASE_URL), api_key_env
(default REPLICATE_API_TOKEN), input, input_names, price_per_second (to compute ``cost``
from ``metrics.predict_time``: Replicate does not report money), timeout_s,
poll_interval_s, max_wait_s, poll_retries, max_download_mb.
"""
from __future__ import annotations

import base64
import re
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .base import (
    CancelCheck,
    PermanentProviderError,
    ProgressCallback,
    RenderCanceled,
    RenderRequest,
    RenderResult,
)
from .http import HttpProvider, ProgressTracker, safe_filename, sleep_unless_canceled, sniff_content_type

DEFAULT_INPUT_NAMES: dict[str, str | None] = {
    "prompt": "prompt",
    "negative_prompt": "negative_prompt",
    "seed": "seed",
    "width": "width",
    "height": "height",
    "image": "image",
    "duration_s": None,
    "fps": None,
    "reference_images": None,
}
#: tqdm bars in the logs: " 45%|████▌     | 9/20 [00:03<00:04, 2.51it/s]"
PERCENT = re.compile(r"(\d{1,3})%\|")


def parse_log_progress(logs: Any) -> float | None:
    """The last percentage a progress bar printed, as 0..1 (None when there is none)."""
    if not isinstance(logs, str):
        return None
    found = PERCENT.findall(logs)
    if not found:
        return None
    return min(100, int(found[-1])) / 100


def output_urls(output: Any) -> list[str]:
    """Every URL (or data URI) in a prediction's output, in order."""
    if isinstance(output, str):
        return [output] if output.startswith(("http://", "https://", "data:")) else []
    if isinstance(output, list):
        return [url for item in output for url in output_urls(item)]
    if isinstance(output, dict):
        return [url for item in output.values() for url in output_urls(item)]
    return []


def data_uri(path: Path) -> str:
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise PermanentProviderError(f"Cannot read the image to send to Replicate: {exc}") from None
    ctype = sniff_content_type(content[:32])
    if ctype is None or not ctype.startswith("image/"):
        raise PermanentProviderError(f"The file to send to Replicate is not an image ({Path(path).name})")
    return f"data:{ctype};base64,{base64.b64encode(content).decode('ascii')}"


class ReplicateProvider(HttpProvider):
    name = "replicate"
    label = "Replicate"
    kinds = frozenset({"image", "video"})
    supports_cancel = True
    secret_env = ("REPLICATE_API_TOKEN",)
    base_url_env = "REPLICATE_BASE_URL"
    default_base_url = "https://api.replicate.com"
    default_poll_interval_s = 2.0

    def __init__(self, config: dict | None = None, secrets: dict | None = None):
        super().__init__(config, secrets)
        model = self.config.get("version") or self.config.get("model")
        if not isinstance(model, str) or not model.strip():
            raise PermanentProviderError(
                "Replicate needs a model: set 'model' (owner/name) or 'version' (owner/name:id or an id) in its config"
            )
        self.model = model.strip()
        fixed = self.config.get("input") or {}
        names = self.config.get("input_names") or {}
        if not isinstance(fixed, dict) or not isinstance(names, dict):
            raise PermanentProviderError("Replicate: config input and input_names must be objects")
        self.fixed_input = dict(fixed)
        self.input_names = {**DEFAULT_INPUT_NAMES, **names}
        price = self.config.get("price_per_second")
        try:
            self.price_per_second = Decimal(str(price)) if price not in (None, "") else None
        except InvalidOperation:
            raise PermanentProviderError(f"Replicate: price_per_second must be a number, got {price!r}") from None

    def _error_message(self, data: Any) -> str:
        if isinstance(data, dict) and ("detail" in data or "title" in data):
            title = str(data.get("title") or "").strip()
            detail = " ".join(str(data.get("detail") or "").split())
            return f"{title}: {detail}" if title and detail else title or detail
        return super()._error_message(data)

    def build_input(self, request: RenderRequest) -> dict[str, Any]:
        values: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or None,
            "seed": int(request.seed),
            "width": int(request.width),
            "height": int(request.height),
            "image": data_uri(request.source_image) if request.source_image else None,
            "reference_images": [data_uri(p) for p in request.reference_images] or None,
        }
        if request.kind == "video":
            values.update(duration_s=request.duration_s, fps=request.fps)
        payload = dict(self.fixed_input)
        payload.update(request.params or {})
        for field, value in values.items():
            name = self.input_names.get(field)
            if name and value is not None:
                payload[name] = value
        return payload

    def submit(self, request: RenderRequest) -> str:
        self.check_kind(request.kind)
        body = {"version": self.model, "input": self.build_input(request)}
        with self._client() as client:
            data = self._json(client, "POST", "/v1/predictions", json=body)
        prediction_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(prediction_id, str) or not prediction_id:
            raise self._unexpected(data, "no id in the answer to POST /v1/predictions")
        return prediction_id

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
        url = f"/v1/predictions/{quote(ref, safe='')}"
        with self._client() as client:
            while True:
                self._check_canceled(ref, is_canceled)
                data = self._poll_json(client, "GET", url, ref=ref, is_canceled=is_canceled)
                if not isinstance(data, dict) or not isinstance(data.get("status"), str):
                    raise self._unexpected(data, "a prediction without a status")
                status = data["status"]
                if status == "succeeded":
                    break
                if status == "failed":
                    error = data.get("error")
                    if isinstance(error, dict):
                        error = error.get("detail") or error.get("message") or error
                    raise PermanentProviderError(
                        f"Replicate prediction {ref} failed: {' '.join(str(error or 'no reason given').split())}",
                        details={
                            "status": status,
                            "error": data.get("error"),
                            "logs": str(data.get("logs") or "")[-2000:],
                        },
                    )
                if status in ("canceled", "aborted"):
                    if is_canceled():
                        raise RenderCanceled(f"Replicate prediction {ref} canceled")
                    raise PermanentProviderError(f"Replicate prediction {ref} was {status} on Replicate's side")
                if status == "starting":
                    progress(0.0, "Starting (the model may be booting)")
                elif status == "processing":
                    fraction = parse_log_progress(data.get("logs"))
                    if fraction is None:
                        progress(0.02, "Generating")
                    else:
                        progress(0.02 + 0.93 * fraction, f"Generating {round(fraction * 100)}%")
                else:
                    raise self._unexpected(data, f"unknown prediction status {status!r}")
                self._check_deadline(ref, deadline)
                sleep_unless_canceled(self.poll_interval_s, is_canceled)

            urls = output_urls(data.get("output"))
            if not urls:
                raise PermanentProviderError(f"Replicate prediction {ref} succeeded but returned no files")
            progress(0.95, "Downloading results")
            files = []
            for index, file_url in enumerate(urls):
                name = "output" if file_url.startswith("data:") else safe_filename(urlsplit(file_url).path)
                files.append(self._download(file_url, Path(workdir) / f"{index:02d}_{name}", client=client))
        progress(1.0, "Done")
        metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
        predict_time = metrics.get("predict_time")
        cost = None
        if self.price_per_second is not None and isinstance(predict_time, (int, float)):
            cost = (Decimal(str(predict_time)) * self.price_per_second).quantize(Decimal("0.000001"))
        return RenderResult(
            files=files,
            provider_job_id=ref,
            cost=cost,
            params={
                key: value
                for key, value in {
                    "model": data.get("model"),
                    "version": data.get("version"),
                    "predict_time": predict_time,
                    "seed": request.seed,
                }.items()
                if value is not None
            },
        )

    def cancel(self, ref: str) -> None:
        with self._client() as client:
            self._send(client, "POST", f"/v1/predictions/{quote(ref, safe='')}/cancel")
