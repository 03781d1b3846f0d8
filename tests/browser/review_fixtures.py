"""Real takes for the review browser tests: clips and stills rendered by the local provider.

The files go through the same storage, thumbnail and poster helpers as the worker's, so the
player gets a real H.264 MP4 (with the frame number burnt in) served by the media view.
"""
import tempfile
import uuid
from pathlib import Path

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db.models import Max

from projects.models import PromptRevision, Shot
from renders.media import extract_poster, make_thumbnail, probe
from renders.models import Take
from renders.providers.base import RenderRequest
from renders.providers.local import LocalProvider


def _store(project_id: int, path: Path, suffix: str) -> str:
    name = f"projects/{project_id}/takes/{uuid.uuid4().hex}{suffix}"
    with path.open("rb") as fh:
        return default_storage.save(name, File(fh))


def make_take(shot: Shot, user, *, kind: str = "video", seconds: float = 3.0, fps: int = 24, seed: int = 7,
              width: int = 640, height: int = 360, revision: PromptRevision | None = None, prompt: str | None = None) -> Take:
    """Render a take with the local provider and store it as the worker would."""
    revision = revision or shot.revisions.order_by("-number").first()
    prompt = prompt or (revision.prompt if revision else "misty mountains at dawn, a lone boat")
    request = RenderRequest(kind=kind, prompt=prompt, seed=seed, width=width, height=height, duration_s=seconds, fps=fps,
                            params={"motion": "push_in"} if kind == "video" else {})
    provider = LocalProvider({})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ref = provider.submit(request)
        result = provider.wait(ref, request, work, lambda p, m: None, lambda: False)
        out = result.files[0].path
        info = probe(out)
        still = out
        if kind == "video":
            still = work / "poster.jpg"
            extract_poster(out, still)
        thumb = work / "thumb.jpg"
        make_thumbnail(still, thumb)
        media = _store(shot.project_id, out, out.suffix)
        poster = _store(shot.project_id, still, ".jpg") if kind == "video" else ""
        thumbnail = _store(shot.project_id, thumb, ".jpg")
    number = (Take.objects.filter(shot=shot).aggregate(n=Max("number"))["n"] or 0) + 1
    return Take.objects.create(
        project_id=shot.project_id, shot=shot, revision=revision, number=number, kind=kind, media=media,
        thumbnail=thumbnail, poster=poster, content_type=result.files[0].content_type, width=info.width,
        height=info.height, duration_s=info.duration_s, fps=info.fps, frame_count=info.frame_count if kind == "video" else 1,
        seed=seed, params=result.params, provider="local", created_by=user,
    )
