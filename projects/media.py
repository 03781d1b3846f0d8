"""Media for members only: every stored file lives under projects/<id>/.

Locally this view streams the file (with HTTP Range, which video seeking needs); on S3 the
API hands out short-lived signed URLs instead and this view redirects to one.
"""
import mimetypes
import re

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.views.decorators.http import require_safe

from .permissions import membership_for

PATH_RE = re.compile(r"^projects/(?P<project_id>\d+)/[\w./-]+$")
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def _ranged(fileobj, start, length):
    fileobj.seek(start)
    remaining = length
    try:
        while remaining > 0:
            chunk = fileobj.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        fileobj.close()


def _is_local(storage, name: str) -> bool:
    """Every Storage has ``path`` (the base class raises NotImplementedError), so ask, don't look."""
    try:
        storage.path(name)
    except NotImplementedError:
        return False
    return True


@require_safe
def serve_media(request, name):
    match = PATH_RE.match(name)
    if not match or ".." in name.split("/"):
        raise Http404
    membership_for(request.user, int(match["project_id"]))  # 404 for non-members
    if not default_storage.exists(name):
        raise Http404
    if not _is_local(default_storage, name):
        response = HttpResponseRedirect(default_storage.url(name))
        response["Cache-Control"] = "private, no-store"  # the signed URL expires; never reuse the redirect
        return response
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    size = default_storage.size(name)
    header = request.headers.get("Range", "")
    range_match = RANGE_RE.match(header.strip()) if header else None
    if range_match and (range_match[1] or range_match[2]):
        if range_match[1]:
            start = int(range_match[1])
            end = int(range_match[2]) if range_match[2] else size - 1
        else:  # suffix range: the last N bytes
            start = max(size - int(range_match[2]), 0)
            end = size - 1
        end = min(end, size - 1)
        if start > end or start >= size:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        length = end - start + 1
        response = StreamingHttpResponse(_ranged(default_storage.open(name, "rb"), start, length), status=206,
                                         content_type=content_type)
        response["Content-Length"] = str(length)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
