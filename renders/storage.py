"""Moving render files between a worker's scratch folder and Django's storage (local disk or S3)."""
from __future__ import annotations

import mimetypes
import shutil
import uuid
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage

from .models import Take

SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "video/mp4": ".mp4",
            "video/webm": ".webm", "video/quicktime": ".mov", "image/gif": ".gif"}


def suffix_for(path: Path, content_type: str) -> str:
    return SUFFIXES.get(content_type) or path.suffix.lower() or mimetypes.guess_extension(content_type or "") or ""


def content_type_for(path: Path, declared: str = "") -> str:
    return declared or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def store_take_file(project_id: int, path: Path, suffix: str) -> str:
    """Save ``path`` under projects/<id>/takes/ (models.take_upload_to); return the stored name."""
    field = Take._meta.get_field("media")
    name = field.generate_filename(Take(project_id=project_id), f"file{suffix}")
    with open(path, "rb") as fh:
        return field.storage.save(name, File(fh, name=Path(name).name))


def delete_quietly(names) -> None:
    for name in names:
        if name:
            try:
                default_storage.delete(name)
            except Exception:  # noqa: BLE001 - clean-up of an orphan must not hide the real error
                pass


def local_path(field_file, workdir: Path) -> Path:
    """A path a provider can read: the file itself on local storage, a scratch copy on S3."""
    storage = field_file.storage
    try:
        return Path(storage.path(field_file.name))
    except NotImplementedError:
        dest = Path(workdir) / f"in-{uuid.uuid4().hex[:8]}{Path(field_file.name).suffix}"
        with storage.open(field_file.name, "rb") as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
        return dest
