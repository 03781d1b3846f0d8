"""Shared pieces of the shot/review browser tests.

Takes are real: clips and stills rendered by the local provider and stored through the same
storage, thumbnail and poster helpers as the worker's, so the player gets a real H.264 MP4
(with the frame number burnt in) served by the media view with HTTP Range.
"""
import atexit
import shutil
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


#: Rendered files by request, reused across tests: the local provider is deterministic by seed.
_RENDERS: dict[tuple, dict] = {}
_RENDER_DIR = Path(tempfile.mkdtemp(prefix="rv-renders-"))
atexit.register(shutil.rmtree, _RENDER_DIR, ignore_errors=True)


def _render(request: RenderRequest) -> dict:
    key = (request.kind, request.prompt, request.seed, request.width, request.height, request.duration_s, request.fps,
           tuple(sorted(request.params.items())))
    if key not in _RENDERS:
        provider = LocalProvider({})
        work = _RENDER_DIR / uuid.uuid4().hex
        ref = provider.submit(request)
        result = provider.wait(ref, request, work, lambda p, m: None, lambda: False)
        media = result.files[0].path
        still = media
        if request.kind == "video":
            still = work / "poster.jpg"
            extract_poster(media, still)
        thumb = work / "thumb.jpg"
        make_thumbnail(still, thumb)
        _RENDERS[key] = {"media": media, "still": still, "thumb": thumb, "info": probe(media),
                         "content_type": result.files[0].content_type, "params": result.params}
    return _RENDERS[key]


def make_take(shot: Shot, user, *, kind: str = "video", seconds: float = 3.0, fps: int = 24, seed: int = 7,
              width: int = 640, height: int = 360, revision: PromptRevision | None = None, prompt: str | None = None) -> Take:
    """Render a take with the local provider and store it as the worker would."""
    revision = revision or shot.revisions.order_by("-number").first()
    prompt = prompt or (revision.prompt if revision else "misty mountains at dawn, a lone boat")
    rendered = _render(RenderRequest(kind=kind, prompt=prompt, seed=seed, width=width, height=height, duration_s=seconds,
                                     fps=fps, params={"motion": "push_in"} if kind == "video" else {}))
    info = rendered["info"]
    media = _store(shot.project_id, rendered["media"], rendered["media"].suffix)
    poster = _store(shot.project_id, rendered["still"], ".jpg") if kind == "video" else ""
    thumbnail = _store(shot.project_id, rendered["thumb"], ".jpg")
    number = (Take.objects.filter(shot=shot).aggregate(n=Max("number"))["n"] or 0) + 1
    return Take.objects.create(
        project_id=shot.project_id, shot=shot, revision=revision, number=number, kind=kind, media=media,
        thumbnail=thumbnail, poster=poster, content_type=rendered["content_type"], width=info.width,
        height=info.height, duration_s=info.duration_s, fps=info.fps, frame_count=info.frame_count if kind == "video" else 1,
        seed=seed, params=rendered["params"], provider="local", created_by=user,
    )


# --- browser -------------------------------------------------------------------------------
# The browser, the servers and signed-in pages come from tests/browser/conftest.py (chromium,
# studio, worker, open_page, artifacts); these helpers add what the player pages need.


def open_ready(open_page, user, path):
    """``open_page`` (conftest) on ``path``, once the page's scripts have loaded what they show."""
    page = open_page(user, path=path)
    page.wait_for_selector("[data-ready='true']", timeout=60_000)
    return page


def wait_for_frame(page, frame: int, player: str = "studioPlayer") -> None:
    """Until the player has settled on ``frame`` (no seek pending); says where it is if it never does."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            f"() => window.{player} && window.{player}.target === null && window.{player}.frame === {frame}"
            f" && !window.{player}.media.seeking", timeout=20_000)
    except PlaywrightTimeout:
        state = page.evaluate(f"""() => {{ const p = window.{player}; return p && {{frame: p.frame, target: p.target,
            time: p.media.currentTime, seeking: p.media.seeking, paused: p.media.paused, ready: p.media.readyState,
            focus: document.activeElement && document.activeElement.outerHTML.slice(0, 120)}}; }}""")
        raise AssertionError(f"the player did not settle on frame {frame}: {state}") from None


def frame_of_current_time(page, player: str = "studioPlayer") -> int:
    """The frame the <video>'s currentTime falls in, by the one convention (floor(t*fps + 1e-6))."""
    return page.evaluate(f"() => Math.floor(window.{player}.media.currentTime * window.{player}.fps + 1e-6)")


CANVAS_INK = """(canvas) => {
  const ctx = canvas.getContext('2d');
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n += 1;
  return n;
}"""

CANVAS_INK_NEAR = """(canvas, [fx, fy]) => {
  const ctx = canvas.getContext('2d');
  const x = Math.round(fx * canvas.width), y = Math.round(fy * canvas.height), r = Math.round(canvas.width * 0.01);
  const data = ctx.getImageData(x - r, y - r, 2 * r + 1, 2 * r + 1).data;
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 40) n += 1;
  return n;
}"""
