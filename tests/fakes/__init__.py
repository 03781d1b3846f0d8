"""Fake generation back ends: real HTTP (and WebSocket) servers on 127.0.0.1 that speak
each back end's contract, for adapter and pipeline tests. See common.FakeServer."""
from .comfyui import FakeComfyUI
from .common import FakeServer, RecordedRequest
from .openai_images import FakeOpenAIImages
from .replicate import FakeReplicate

__all__ = ["FakeComfyUI", "FakeOpenAIImages", "FakeReplicate", "FakeServer", "RecordedRequest"]
