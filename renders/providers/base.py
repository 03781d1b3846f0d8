"""The one interface every generation back end implements.

Adapters are plain Python: they know HTTP contracts and files, never Django models.
The Celery task (renders/tasks.py) turns a RenderJob into a RenderRequest, calls
``submit`` once (remembering the returned reference on the job, so a redelivered task
resumes instead of submitting twice), then ``wait`` for the result files.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable, ClassVar

#: report(progress 0..1, human message) — adapters call it as often as they like;
#: the caller throttles what is published.
ProgressCallback = Callable[[float, str], None]
#: is_canceled() — adapters poll it between steps and stop (raising RenderCanceled).
CancelCheck = Callable[[], bool]


@dataclass
class RenderRequest:
    kind: str  # "image" (text-to-image) or "video" (image-to-video)
    prompt: str
    negative_prompt: str = ""
    seed: int = 0
    width: int = 1280
    height: int = 720
    duration_s: float = 5.0  # video only
    fps: int = 24  # video only
    params: dict = field(default_factory=dict)  # fully resolved, provider specific extras
    source_image: Path | None = None  # key frame for image-to-video
    reference_images: list[Path] = field(default_factory=list)  # reference assets
    job_key: str = ""  # stable per render job: used as idempotency key / client id


@dataclass
class OutputFile:
    path: Path
    content_type: str  # "image/png", "video/mp4", ...


@dataclass
class RenderResult:
    files: list[OutputFile]
    provider_job_id: str = ""
    cost: Decimal | None = None
    params: dict = field(default_factory=dict)  # what the back end actually used


class ProviderError(Exception):
    """A back-end failure, with a message fit to show a person."""

    transient: ClassVar[bool] = False

    def __init__(self, message: str, *, retry_after: float | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.details = details or {}


class TransientProviderError(ProviderError):
    """Worth retrying later: timeouts, connection errors, 5xx, 429."""

    transient = True


class PermanentProviderError(ProviderError):
    """Retrying cannot help: bad input, auth, validation, content refused."""


class RenderCanceled(Exception):
    """Raised by an adapter once it has noticed the job was canceled."""


class Provider(abc.ABC):
    #: registry key, e.g. "local", "comfyui"
    name: ClassVar[str]
    label: ClassVar[str]
    kinds: ClassVar[frozenset[str]] = frozenset({"image"})
    supports_cancel: ClassVar[bool] = False
    #: environment variable names this adapter reads secrets from (never stored, never returned)
    secret_env: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: dict | None = None, secrets: dict | None = None):
        # config: non-secret settings (base_url, model, workflow, timeouts...)
        # secrets: resolved from the environment by the registry
        self.config = dict(config or {})
        self.secrets = dict(secrets or {})

    @abc.abstractmethod
    def submit(self, request: RenderRequest) -> str:
        """Start the work on the back end and return its reference (prediction id, prompt id...)."""

    @abc.abstractmethod
    def wait(
        self,
        ref: str,
        request: RenderRequest,
        workdir: Path,
        report: ProgressCallback,
        is_canceled: CancelCheck,
    ) -> RenderResult:
        """Follow ``ref`` to the end; write result files into ``workdir``; return them."""

    def cancel(self, ref: str) -> None:
        """Ask the back end to stop ``ref`` (best effort; a no-op where unsupported)."""
