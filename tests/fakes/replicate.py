"""A fake Replicate predictions API (the HTTP contract of api.replicate.com/v1).

POST /v1/predictions {"version", "input"} → 201 prediction (status "starting");
GET /v1/predictions/{id} advances it one step per poll: starting → processing (logs with a
tqdm bar, ``steps`` polls) → succeeded with ``output`` URLs and ``metrics.predict_time``
(or failed with ``error`` when scripted); POST /v1/predictions/{id}/cancel → canceled.
Errors use Replicate's problem shape {"title", "detail", "status"} (422 adds
``invalid_fields``). Result files are served from a second port — another origin, like
replicate.delivery — so tests can check the token never travels there.

Scripting: ``token``, ``models`` (known model/version identifiers), ``steps``,
``fail_error`` (the next predictions fail with that error), ``output_mode`` ("list",
"string" or "data_uri"), ``video_models`` (identifiers whose output is an MP4), ``min_size``;
plus ``add_fault``.
"""
from __future__ import annotations

import base64
import io
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image

from .common import RECORD, FakeServer, bearer_token, make_mp4, make_png, render_image

VERSION_ID = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"


def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    return web.json_response({"title": title, "detail": detail, "status": status, **extra}, status=status,
                             content_type="application/problem+json")


@dataclass
class Prediction:
    id: str
    version: str
    input: dict
    polls: int = 0
    status: str = "starting"
    output: Any = None
    error: str | None = None
    logs: str = ""
    created_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()))
    metrics: dict = field(default_factory=dict)
    fail_error: str | None = None


class FakeReplicate(FakeServer):
    extra_ports = 1  # port 1 plays replicate.delivery

    def __init__(self, *, token: str = "r8_test_token", steps: int = 3):
        super().__init__()
        self.token = token
        self.models = {"black-forest-labs/flux-schnell", f"stability-ai/sdxl:{VERSION_ID}", VERSION_ID,
                       "wan-video/wan-2.2-i2v-fast"}
        self.video_models = {"wan-video/wan-2.2-i2v-fast"}
        self.steps = steps
        self.fail_error: str | None = None
        self.output_mode = "list"
        self.min_size = 16
        self.predictions: dict[str, Prediction] = {}
        self.files: dict[str, bytes] = {}

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/predictions", self.create)
        app.router.add_get("/v1/predictions/{id}", self.get)
        app.router.add_post("/v1/predictions/{id}/cancel", self.cancel)
        app.router.add_get("/files/{name}", self.file)

    @property
    def delivery_url(self) -> str:
        return self.url_on(1)

    def _unauthenticated(self, request: web.Request) -> web.Response | None:
        if request.url.port != self.port:
            return web.Response(status=404)  # the API lives on the main port only
        if bearer_token(request) != self.token:
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        return None

    def _json(self, prediction: Prediction) -> dict:
        base = f"{self.base_url}/v1/predictions/{prediction.id}"
        done = prediction.status in ("succeeded", "failed", "canceled")
        return {
            "id": prediction.id,
            "model": prediction.version.split(":")[0] if "/" in prediction.version else "stability-ai/sdxl",
            "version": prediction.version.split(":")[-1] if ":" in prediction.version else prediction.version,
            "input": prediction.input,
            "logs": prediction.logs,
            "output": prediction.output,
            "data_removed": False,
            "error": prediction.error,
            "status": prediction.status,
            "created_at": prediction.created_at,
            "started_at": prediction.created_at if prediction.status != "starting" else None,
            "completed_at": prediction.created_at if done else None,
            "urls": {"get": base, "cancel": f"{base}/cancel", "web": f"https://replicate.com/p/{prediction.id}"},
            "metrics": prediction.metrics,
        }

    async def create(self, request: web.Request) -> web.Response:
        if (denied := self._unauthenticated(request)) is not None:
            return denied
        body = request[RECORD].json
        if not isinstance(body, dict):
            return problem(400, "Bad request", "The request body is not valid JSON")
        version = body.get("version")
        if not isinstance(version, str) or version not in self.models:
            return problem(422, "Invalid version", "Invalid version or not permitted")
        payload = body.get("input")
        invalid = []
        if not isinstance(payload, dict):
            payload = {}
            invalid.append({"type": "required", "field": "input", "description": "input is required"})
        if not isinstance(payload.get("prompt"), str) or not payload.get("prompt"):
            invalid.append({"type": "required", "field": "input.prompt", "description": "prompt is required"})
        for key in ("width", "height"):
            if key in payload and (not isinstance(payload[key], int) or payload[key] < self.min_size):
                invalid.append({"type": "greater_than_equal", "field": f"input.{key}",
                                "description": f"Must be greater than or equal to {self.min_size}"})
        if invalid:
            detail = "".join(f"- {item['field']}: {item['description']}\n" for item in invalid)
            return problem(422, "Input validation failed", detail, invalid_fields=invalid)
        prediction = Prediction(id=uuid.uuid4().hex[:26], version=version, input=payload, fail_error=self.fail_error)
        self.predictions[prediction.id] = prediction
        return web.json_response(self._json(prediction), status=201)

    async def get(self, request: web.Request) -> web.Response:
        if (denied := self._unauthenticated(request)) is not None:
            return denied
        prediction = self.predictions.get(request.match_info["id"])
        if prediction is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        self._advance(prediction)
        return web.json_response(self._json(prediction))

    async def cancel(self, request: web.Request) -> web.Response:
        if (denied := self._unauthenticated(request)) is not None:
            return denied
        prediction = self.predictions.get(request.match_info["id"])
        if prediction is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        if prediction.status in ("starting", "processing"):
            prediction.status = "canceled"
        return web.json_response(self._json(prediction))

    async def file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404, text="Not found")
        ctype = "video/mp4" if request.match_info["name"].endswith(".mp4") else "image/png"
        return web.Response(body=data, content_type=ctype)

    def _advance(self, prediction: Prediction) -> None:
        if prediction.status in ("succeeded", "failed", "canceled"):
            return
        prediction.polls += 1
        if prediction.polls == 1:
            prediction.logs = "Booting model\n"
            return  # still starting
        step = prediction.polls - 1
        if step <= self.steps:
            prediction.status = "processing"
            percent = round(100 * (step - 1) / self.steps)
            bar = "█" * (percent // 10)
            prediction.logs += f"{percent:3d}%|{bar:<10}| {step - 1}/{self.steps} [00:0{step}<00:03, 2.51it/s]\n"
            return
        if prediction.fail_error:
            prediction.status = "failed"
            prediction.error = prediction.fail_error
            prediction.logs += "Traceback (most recent call last):\n  ...\n" + prediction.fail_error + "\n"
            return
        prediction.status = "succeeded"
        prediction.logs += f"100%|██████████| {self.steps}/{self.steps} [00:04<00:00, 2.51it/s]\n"
        prediction.metrics = {"predict_time": 4.25, "total_time": 5.5}
        prediction.output = self._make_output(prediction)

    def _make_output(self, prediction: Prediction) -> Any:
        payload = prediction.input
        width, height = int(payload.get("width", 64)), int(payload.get("height", 48))
        seed, prompt = int(payload.get("seed", 0)), payload["prompt"]
        if prediction.version in self.video_models:
            if isinstance(payload.get("image"), str) and payload["image"].startswith("data:"):
                source = Image.open(io.BytesIO(base64.b64decode(payload["image"].split(",", 1)[1]))).convert("RGB")
            else:
                source = render_image(width, height, seed, prompt)
            name = f"{prediction.id}-out.mp4"
            self.files[name] = make_mp4([source] * 8, fps=8)
            return f"{self.delivery_url}/files/{name}"
        data = make_png(width, height, seed, prompt)
        if self.output_mode == "data_uri":
            return ["data:image/png;base64," + base64.b64encode(data).decode()]
        name = f"{prediction.id}-out-0.png"
        self.files[name] = data
        url = f"{self.delivery_url}/files/{name}"
        return url if self.output_mode == "string" else [url]
