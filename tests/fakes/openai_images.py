"""A fake OpenAI images API (POST /v1/images/generations), strict like the real one.

Answers {"created", "data": [{"b64_json"} | {"url"}], "usage"?}; errors use
{"error": {"message", "type", "param", "code"}}: 401 invalid_api_key, 400 unknown_parameter
(unknown body fields are refused, as OpenAI does), 400 invalid_value for a bad size,
400 content_policy_violation for a prompt containing ``blocked_word``. ``url`` results are
served from a second port (another origin, like a CDN).

Scripting: ``api_key``, ``default_format`` ("b64_json" as gpt-image-1, or "url" as
dall-e), ``allowed_sizes`` (None = any WxH from 16 to 4096), ``extra_params`` (body fields
this server accepts beyond OpenAI's, e.g. {"seed"} for compatible servers),
``blocked_word``; plus ``add_fault``.
"""
from __future__ import annotations

import base64
import re
import time
import uuid

from aiohttp import web

from .common import RECORD, FakeServer, bearer_token, make_png

KNOWN_PARAMS = {
    "model", "prompt", "n", "size", "response_format", "quality", "style", "background", "output_format",
    "output_compression", "moderation", "user",
}


def openai_error(status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": type_, "param": param, "code": code}}, status=status)


class FakeOpenAIImages(FakeServer):
    extra_ports = 1

    def __init__(self, *, api_key: str = "sk-test-123", default_format: str = "b64_json"):
        super().__init__()
        self.api_key = api_key
        self.default_format = default_format
        self.allowed_sizes: set[str] | None = None
        self.extra_params: set[str] = set()
        self.blocked_word = "forbidden"
        self.files: dict[str, bytes] = {}

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/images/generations", self.generate)
        app.router.add_get("/files/{name}", self.file)

    async def generate(self, request: web.Request) -> web.Response:
        token = bearer_token(request)
        if token != self.api_key:
            shown = f"{token[:3]}***{token[-3:]}" if token and len(token) > 6 else "***"
            return openai_error(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                                     "https://platform.openai.com/account/api-keys.", code="invalid_api_key")
        body = request[RECORD].json
        if not isinstance(body, dict):
            return openai_error(400, "We could not parse the JSON body of your request.")
        for key in body:
            if key not in KNOWN_PARAMS | self.extra_params:
                return openai_error(400, f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return openai_error(400, "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
        size = str(body.get("size", "1024x1024"))
        match = re.fullmatch(r"(\d+)x(\d+)", size)
        valid = match and 16 <= int(match[1]) <= 4096 and 16 <= int(match[2]) <= 4096
        if not valid or (self.allowed_sizes is not None and size not in self.allowed_sizes):
            supported = ", ".join(sorted(self.allowed_sizes or {"1024x1024", "1536x1024", "1024x1536"}))
            return openai_error(400, f"Invalid value: '{size}'. Supported values are: {supported}.", param="size",
                                code="invalid_value")
        if self.blocked_word and self.blocked_word in prompt:
            return openai_error(400, "Your request was rejected as a result of our safety system. Your prompt may "
                                     "contain text that is not allowed by our safety system.",
                                code="content_policy_violation")
        width, height = int(match[1]), int(match[2])
        data = make_png(width, height, int(body.get("seed", 0)), prompt)
        fmt = body.get("response_format") or self.default_format
        if fmt == "url":
            name = f"img-{uuid.uuid4().hex[:12]}.png"
            self.files[name] = data
            item = {"url": f"{self.url_on(1)}/files/{name}", "revised_prompt": f"A picture of {prompt}"}
        else:
            item = {"b64_json": base64.b64encode(data).decode()}
        return web.json_response({
            "created": int(time.time()),
            "data": [item],
            "usage": {"total_tokens": 100, "input_tokens": 50, "output_tokens": 50,
                      "input_tokens_details": {"text_tokens": 50, "image_tokens": 0}},
        })

    async def file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="image/png")
