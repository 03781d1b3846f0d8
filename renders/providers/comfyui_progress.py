"""Following one ComfyUI prompt over the WebSocket: its messages turned into progress and errors.

What a real server sends is written down in /work/shared/reference/comfyui-observed.md;
older servers (``progress`` without ``prompt_id``, no ``execution_success``) are accepted too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .base import PermanentProviderError


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
