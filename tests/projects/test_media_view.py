"""The members-only media view: ranges (video seeking), traversal, and the project in the path."""
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from projects.models import Role
from tests.factories import ProjectFactory, member

CONTENT = bytes(range(256)) * 4  # 1024 bytes


@pytest.fixture
def stored(project):
    return default_storage.save(f"projects/{project.pk}/takes/clip.mp4", ContentFile(CONTENT))


@pytest.fixture
def viewer(project, browser):
    return browser(member(project, Role.GUEST))


def body(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_whole_file(viewer, stored):
    response = viewer.get(f"/media/{stored}")
    assert response.status_code == 200
    assert body(response) == CONTENT
    assert response["Content-Type"] == "video/mp4" and response["Accept-Ranges"] == "bytes"
    assert "private" in response["Cache-Control"]


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-9", 0, 9),
    ("bytes=1000-", 1000, 1023),
    ("bytes=-24", 1000, 1023),
    ("bytes=1000-5000", 1000, 1023),
])
def test_ranges(viewer, stored, header, start, end):
    response = viewer.get(f"/media/{stored}", HTTP_RANGE=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/1024"
    assert int(response["Content-Length"]) == end - start + 1
    assert body(response) == CONTENT[start:end + 1]


def test_an_unsatisfiable_range(viewer, stored):
    response = viewer.get(f"/media/{stored}", HTTP_RANGE="bytes=2000-")
    assert response.status_code == 416 and response["Content-Range"] == "bytes */1024"


def test_only_reads(viewer, stored):
    assert viewer.post(f"/media/{stored}").status_code == 405
    assert viewer.head(f"/media/{stored}").status_code == 200


@pytest.mark.parametrize("path", [
    "projects/{pk}/../{other}/takes/secret.mp4",
    "projects/{pk}/takes/../../{other}/takes/secret.mp4",
    "projects/{other}/takes/secret.mp4",
    "projects/{pk}",
    "elsewhere/secret.mp4",
])
def test_nothing_outside_my_projects_folder(project, viewer, path):
    other = ProjectFactory()
    default_storage.save(f"projects/{other.pk}/takes/secret.mp4", ContentFile(b"secret"))
    default_storage.save("elsewhere/secret.mp4", ContentFile(b"secret"))
    response = viewer.get("/media/" + path.format(pk=project.pk, other=other.pk))
    assert response.status_code == 404


def test_a_missing_file_of_my_project_is_a_404(project, viewer):
    assert viewer.get(f"/media/projects/{project.pk}/takes/nothing.mp4").status_code == 404
