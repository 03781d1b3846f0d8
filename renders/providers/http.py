"""Plumbing shared by the remote adapters (ComfyUI, Replicate, OpenAI-compatible).

One place decides how an HTTP answer becomes a ``ProviderError``, so every adapter
classifies failures the same way:

* no answer (timeout, refused connection, broken stream), 408, 425, 429 and 5xx are
  *transient*: ``TransientProviderError`` with ``retry_after`` from the Retry-After header;
* every other 4xx is *permanent*: ``PermanentProviderError`` whose message carries the
  back end's own words;
* garbage (a body that is not JSON, or JSON of the wrong shape) follows the status: with a
  5xx it is transient (a proxy's HTML error page while the back end restarts), with a 2xx or
  4xx it is permanent — the thing at ``base_url`` does not speak the contract, and asking it
  again will not change that.

Also here: downloads that never send credentials to another origin, content-type
sniffing, and a progress reporter that never goes backwards.
"""
from __future__ import annotations

import base64
import binascii
import email.utils
import logging
import math
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import httpx

from .base import (
    CancelCheck,
    OutputFile,
    PermanentProviderError,
    Provider,
    ProviderError,
    ProgressCallback,
    RenderCanceled,
    TransientProviderError,
)

logger = logging.getLogger(__name__)

USER_AGENT = "ShotStudio/1.0"
#: statuses worth asking again later (besides every 5xx)
TRANSIENT_STATUSES = frozenset({408, 425, 429})
#: the longest an adapter sleeps on its own for a Retry-After while polling
MAX_POLL_BACKOFF_S = 30.0

_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
}


# --------------------------------------------------------------------------- small helpers

def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def excerpt(text: str | bytes, limit: int = 300) -> str:
    """A one-line, bounded extract of a body, fit for an error message."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sniff_content_type(head: bytes) -> str | None:
    """The media type of a file from its first bytes (what we trust over headers)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "video/webm"
    return None


def extension_for(content_type: str) -> str:
    return _EXTENSIONS.get(content_type, ".bin")


def safe_filename(name: str, fallback: str = "output") -> str:
    """A file name that cannot leave ``workdir`` nor surprise a shell."""
    name = Path(unquote(name or "").replace("\\", "/")).name
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip("._")[:120]
    return name or fallback


def same_origin(url_a: str, url_b: str) -> bool:
    a, b = urlsplit(url_a), urlsplit(url_b)
    default = {"http": 80, "https": 443}
    return (
        a.scheme == b.scheme
        and a.hostname == b.hostname
        and (a.port or default.get(a.scheme)) == (b.port or default.get(b.scheme))
    )


def sleep_unless_canceled(seconds: float, is_canceled: CancelCheck, step: float = 1.0) -> bool:
    """Sleep up to ``seconds``, waking early (and returning True) once the job is canceled."""
    end = time.monotonic() + max(0.0, seconds)
    while True:
        if is_canceled():
            return True
        remaining = end - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(step, remaining))


class ProgressTracker:
    """Wraps ``report``: clamps to 0..1, never goes backwards, drops exact repeats."""

    def __init__(self, report: ProgressCallback):
        self._report = report
        self.value = 0.0
        self.message = ""
        self._sent = False

    def __call__(self, value: float | None, message: str | None = None) -> None:
        if value is None or not math.isfinite(value):
            value = self.value
        value = min(1.0, max(self.value, float(value)))
        message = self.message if message is None else message
        if self._sent and value == self.value and message == self.message:
            return
        self.value, self.message, self._sent = value, message, True
        self._report(value, message)


# --------------------------------------------------------------------------- the base class

class HttpProvider(Provider):
    """A provider that talks HTTP: typed config, one error mapping, downloads.

    Config keys read here (all optional): ``base_url``, ``api_key_env`` (the *name* of the
    environment variable that holds the key — resolved by the registry into
    ``secrets["api_key"]``), ``timeout_s`` (one HTTP request), ``poll_interval_s``,
    ``max_wait_s`` (the longest ``wait`` follows a job before giving up and canceling it),
    ``poll_retries`` (transient failures tolerated in a row while polling),
    ``max_download_mb``. ``max_concurrency`` belongs to the pipeline and is ignored here.
    """

    #: environment variable that may hold the base URL (read by the registry)
    base_url_env: ClassVar[str | None] = None
    default_base_url: ClassVar[str] = ""
    default_timeout_s: ClassVar[float] = 30.0
    default_poll_interval_s: ClassVar[float] = 1.0
    default_max_wait_s: ClassVar[float] = 3600.0

    def __init__(self, config: dict | None = None, secrets: dict | None = None):
        super().__init__(config, secrets)
        base_url = str(self.config.get("base_url") or self.default_base_url).strip().rstrip("/")
        if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).hostname:
            raise PermanentProviderError(
                f"{self.label}: base_url must be an http(s) URL, got {base_url!r}"
            )
        self.base_url = base_url
        self.timeout_s = self._number("timeout_s", self.default_timeout_s, minimum=0.01)
        self.poll_interval_s = self._number("poll_interval_s", self.default_poll_interval_s, minimum=0.01)
        self.max_wait_s = self._number("max_wait_s", self.default_max_wait_s, minimum=0.1)
        self.poll_retries = int(self._number("poll_retries", 3, minimum=0))
        self.max_download_bytes = int(self._number("max_download_mb", 1024, minimum=0.001) * 1024 * 1024)

    # ---- config
    def _number(self, key: str, default: float, *, minimum: float) -> float:
        raw = self.config.get(key)
        if raw is None or raw == "":
            return float(default)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise PermanentProviderError(f"{self.label}: config {key} must be a number, got {raw!r}") from None
        if not math.isfinite(value) or value < minimum:
            raise PermanentProviderError(f"{self.label}: config {key} must be at least {minimum:g}, got {raw!r}")
        return value

    @property
    def api_key_env(self) -> str:
        return str(self.config.get("api_key_env") or (self.secret_env[0] if self.secret_env else ""))

    def _auth_headers(self) -> dict[str, str]:
        key = self.secrets.get("api_key")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def check_kind(self, kind: str) -> None:
        if kind not in self.kinds:
            supported = ", ".join(sorted(self.kinds))
            raise PermanentProviderError(f"{self.label} cannot render {kind!r}; it supports: {supported}")

    # ---- HTTP
    def _client(self, *, authenticated: bool = True) -> httpx.Client:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if authenticated:
            headers.update(self._auth_headers())
        return httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(self.timeout_s),
        )

    def _send(self, client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; any failure comes out as a ProviderError with a readable message."""
        try:
            response = client.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise TransientProviderError(
                f"{self.label} did not answer within {self.timeout_s:g} s ({method} {self._path(url)})"
            ) from None
        except httpx.TransportError as exc:
            raise TransientProviderError(
                f"Could not reach {self.label} at {self.base_url}: {exc.__class__.__name__}: {excerpt(str(exc))}"
            ) from None
        if response.status_code >= 400:
            raise self._error_for(response)
        return response

    def _json(self, client: httpx.Client, method: str, url: str, **kwargs: Any) -> Any:
        return self._decode_json(self._send(client, method, url, **kwargs))

    def _decode_json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._garbage(response, "something that is not JSON") from None

    def _garbage(self, response: httpx.Response, what: str) -> ProviderError:
        status = response.status_code
        ctype = response.headers.get("content-type", "no content type")
        message = (
            f"{self.label} answered {status} to {response.request.method} {self._path(str(response.request.url))} "
            f"with {what} ({ctype}): {excerpt(response.content) or '(empty body)'}"
        )
        if status >= 500:
            return TransientProviderError(message, details={"status": status})
        return PermanentProviderError(
            f"{message} — is base_url ({self.base_url}) pointing at {self.label}?", details={"status": status}
        )

    def _unexpected(self, response_or_data: Any, what: str) -> PermanentProviderError:
        """A 2xx answer whose JSON does not have the shape the contract promises."""
        body = response_or_data
        return PermanentProviderError(
            f"{self.label} sent an unexpected answer ({what}): {excerpt(repr(body))}",
            details={"body": body if isinstance(body, (dict, list)) else repr(body)},
        )

    def _error_message(self, data: Any) -> str:
        """The back end's own words from an error body; adapters override for their shape."""
        if isinstance(data, dict):
            for key in ("error", "detail", "message"):
                value = data.get(key)
                if isinstance(value, dict):
                    value = value.get("message")
                if isinstance(value, str) and value.strip():
                    return value.strip()
        return ""

    def _is_transient(self, status: int, data: Any) -> bool:
        return status >= 500 or status in TRANSIENT_STATUSES

    def _error_for(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = None
        backend = self._error_message(data) if data is not None else excerpt(response.content)
        transient = self._is_transient(status, data)
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if transient else None
        reason = response.reason_phrase or ""
        if status in (401, 403):
            summary = f"{self.label} refused the credentials ({status} {reason})"
            if self.api_key_env:
                summary += f"; check the key in the environment variable {self.api_key_env}"
        elif status == 404:
            where = f"{response.request.method} {self._path(str(response.request.url))}"
            summary = f"{self.label} has no such resource ({status}, {where})"
        elif status == 429:
            summary = f"{self.label} is rate limiting or out of quota (429)"
        elif status >= 500:
            summary = f"{self.label} failed ({status} {reason})"
        else:
            summary = f"{self.label} rejected the request ({status} {reason})"
        message = f"{summary}: {backend}" if backend else summary
        if retry_after is not None:
            message += f"; retry after {retry_after:g} s"
        details = {"status": status, "body": data if isinstance(data, (dict, list)) else excerpt(response.content)}
        cls = TransientProviderError if transient else PermanentProviderError
        return cls(message, retry_after=retry_after, details=details)

    def _path(self, url: str) -> str:
        return urlsplit(url).path or url

    # ---- waiting
    def _check_canceled(self, ref: str, is_canceled: CancelCheck) -> None:
        """If the job was canceled: ask the back end to stop (best effort), then raise."""
        if is_canceled():
            self._cancel_quietly(ref)
            raise RenderCanceled(f"{self.label} job {ref} canceled")

    def _cancel_quietly(self, ref: str) -> None:
        if not self.supports_cancel:
            return
        try:
            self.cancel(ref)
        except ProviderError as exc:
            logger.warning("%s: could not cancel %s: %s", self.name, ref, exc.message)

    def _check_deadline(self, ref: str, deadline: float) -> None:
        if time.monotonic() > deadline:
            self._cancel_quietly(ref)
            raise PermanentProviderError(
                f"{self.label} did not finish job {ref} within {self.max_wait_s:g} s (config max_wait_s); "
                "it was asked to stop"
            )

    def _poll_json(
        self, client: httpx.Client, method: str, url: str, *, ref: str, is_canceled: CancelCheck, **kwargs: Any
    ) -> Any:
        """A request made while following a job: ride out a few transient failures.

        A blip in the middle of a ten-minute video should not fail the attempt; after
        ``poll_retries`` failures in a row the error goes to the caller (the task retries
        later and resumes from the same reference).
        """
        failures = 0
        while True:
            try:
                return self._json(client, method, url, **kwargs)
            except TransientProviderError as exc:
                failures += 1
                if failures > self.poll_retries:
                    raise
                delay = exc.retry_after if exc.retry_after is not None else self.poll_interval_s * 2**failures
                delay = min(delay, MAX_POLL_BACKOFF_S)
                logger.info("%s: %s (attempt %d, retrying in %.1f s)", self.name, exc.message, failures, delay)
                sleep_unless_canceled(delay, is_canceled)
                self._check_canceled(ref, is_canceled)

    # ---- files
    def _download(self, url: str, dest: Path, *, client: httpx.Client | None = None, **kwargs: Any) -> OutputFile:
        """Stream ``url`` into ``dest`` (extension fixed from the bytes); credentials only
        go to the back end's own origin."""
        if url.startswith("data:"):
            return self._write_data_uri(url, dest)
        absolute = url if "://" in url else self.base_url + url
        own = same_origin(absolute, self.base_url)
        if client is not None and own:
            return self._stream_to(client, url, dest, **kwargs)
        with self._client(authenticated=own) as fresh:
            return self._stream_to(fresh, absolute, dest, **kwargs)

    def _stream_to(self, client: httpx.Client, url: str, dest: Path, **kwargs: Any) -> OutputFile:
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        try:
            with client.stream("GET", url, follow_redirects=True, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._error_for(response)
                written = 0
                head = b""
                with part.open("wb") as fh:
                    for chunk in response.iter_bytes():
                        written += len(chunk)
                        if written > self.max_download_bytes:
                            raise PermanentProviderError(
                                f"{self.label} result {self._path(url)} is larger than "
                                f"{self.max_download_bytes // (1024 * 1024)} MB (config max_download_mb)"
                            )
                        if len(head) < 32:
                            head += chunk[: 32 - len(head)]
                        fh.write(chunk)
                header_type = response.headers.get("content-type", "").split(";")[0].strip()
        except httpx.TimeoutException:
            part.unlink(missing_ok=True)
            raise TransientProviderError(
                f"Downloading a result from {self.label} timed out ({self._path(url)})"
            ) from None
        except httpx.TransportError as exc:
            part.unlink(missing_ok=True)
            raise TransientProviderError(
                f"Downloading a result from {self.label} failed: {excerpt(str(exc))}"
            ) from None
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return self._finish_file(part, dest, head, header_type, source=self._path(url))

    def _write_data_uri(self, uri: str, dest: Path) -> OutputFile:
        header, _, payload = uri.partition(",")
        try:
            data = base64.b64decode(payload, validate=True) if header.endswith(";base64") else unquote(payload).encode()
        except (binascii.Error, ValueError):
            raise PermanentProviderError(f"{self.label} returned a data URI that is not valid base64") from None
        return self.write_bytes(data, dest, header_type=header[5:].split(";")[0])

    def write_bytes(self, data: bytes, dest: Path, *, header_type: str = "") -> OutputFile:
        if len(data) > self.max_download_bytes:
            raise PermanentProviderError(f"{self.label} returned a file larger than config max_download_mb")
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        part.write_bytes(data)
        return self._finish_file(part, dest, data[:32], header_type, source="inline data")

    def _finish_file(self, part: Path, dest: Path, head: bytes, header_type: str, *, source: str) -> OutputFile:
        content_type = sniff_content_type(head)
        if content_type is None:
            part.unlink(missing_ok=True)
            raise PermanentProviderError(
                f"{self.label} returned a file that is not an image or a video ({source}, "
                f"{header_type or 'no content type'}, starts with {head[:16]!r})"
            )
        if dest.suffix.lower() != extension_for(content_type):
            dest = dest.with_name(dest.stem + extension_for(content_type))
        part.replace(dest)
        return OutputFile(path=dest, content_type=content_type)

