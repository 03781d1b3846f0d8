"""ComfyUI workflows: the built-in txt2img graph, validation of API-format workflow JSON,
placeholder injection, and ComfyUI's own validation errors as one readable line.

Workflow injection: any string input of a node may hold placeholders ``{{name}}``. A string
that is exactly one placeholder takes the value with its type (``"{{seed}}"`` becomes the
int seed); placeholders inside a longer string are replaced by text. Names: prompt,
negative_prompt, seed, width, height, duration_s, fps, frames, kind, image (the source
image, or the first reference image), reference_image, reference_image_1..N, checkpoint,
steps, cfg, sampler_name, scheduler, denoise, plus every scalar in ``request.params``.
An unknown placeholder is a permanent error naming it.
"""
from __future__ import annotations

import copy
import json
import re
from typing import Any

from .base import PermanentProviderError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

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
