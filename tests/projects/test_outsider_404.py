"""Outside your scope looks like missing: every object route of the API, every method.

The routes are read from the URL configuration, not listed by hand, so a route added later
is swept too: for each one a member reaches it, a signed-in outsider gets exactly the 404 a
missing id gets (for reads and writes, and nothing changes), and an anonymous client is
refused. Media files under /media/projects/<id>/ get the same treatment.
"""
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from projects.models import (
    Asset,
    Comment,
    Event,
    Membership,
    Notification,
    Project,
    PromptRevision,
    Sequence,
    Shot,
    StylePreset,
)
from renders.models import RenderJob, Take
from tests.factories import UserFactory

MISSING = 987654321
WRITE_METHODS = ("post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str
    kwargs: tuple[str, ...]
    methods: tuple[str, ...]

    def __str__(self):
        return f"{self.name}"


def _methods(callback) -> tuple[str, ...]:
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is None:  # a function view (the media view): GET/HEAD only
        return ("get",)
    actions = getattr(callback, "actions", None)  # a viewset route: {"get": "retrieve", ...}
    if actions:
        return tuple(m for m in sorted(actions) if m in cls.http_method_names)
    return tuple(m for m in ("get", *WRITE_METHODS) if m in cls.http_method_names and hasattr(cls, m))


def _walk(patterns, prefix=""):
    for item in patterns:
        if isinstance(item, URLResolver):
            yield from _walk(item.url_patterns, prefix + str(item.pattern))
        elif isinstance(item, URLPattern):
            yield prefix + str(item.pattern), item


def object_routes() -> list[Route]:
    """Every named /api/ and /media/ route that takes an id: the ones that reach a project's objects."""
    routes = []
    for pattern, item in _walk(get_resolver().url_patterns):
        path = pattern.lstrip("^")
        if not (path.startswith("api/") or path.startswith("media/")):
            continue
        kwargs = tuple(item.pattern.regex.groupindex)
        if not kwargs:
            continue  # lists of "mine" (projects, my work, notifications) are tested on their own
        routes.append(Route(item.name, pattern, kwargs, _methods(item.callback)))
    return routes


ROUTES = object_routes()

#: The object a route's path kwarg points at, in the world fixture.
KWARG_VALUES = {
    "project_id": lambda w, r: w.project.pk,
    "pk": lambda w, r: w.project.pk,  # the router's project detail
    "member_id": lambda w, r: w.membership("other_guest").pk,
    "sequence_id": lambda w, r: w.sequence.pk,
    "shot_id": lambda w, r: w.shot.pk,
    "a": lambda w, r: w.rev1.pk,
    "b": lambda w, r: w.rev2.pk,
    "take_id": lambda w, r: w.take.pk,
    "comment_id": lambda w, r: (w.take_comment if "take_id" in r.kwargs else w.shot_comment).pk,
    "asset_id": lambda w, r: w.asset.pk,
    "job_id": lambda w, r: w.job.pk,
    "name": lambda w, r: w.media_name,
}

#: Valid bodies where we know the route, so that a missing scope would really write.
BODIES = {
    "project-detail": lambda w: {"name": "Renamed"},
    "member-list": lambda w: {"username": UserFactory().username, "role": "artist"},
    "member-detail": lambda w: {"role": "reviewer"},
    "sequence-list": lambda w: {"code": "SQ99"},
    "sequence-detail": lambda w: {"title": "Renamed"},
    "shot-list": lambda w: {"code": "SH999"},
    "shot-detail": lambda w: {"title": "Renamed", "version": w.shot.version},
    "revision-list": lambda w: {"prompt": "a new prompt", "base": w.rev2.pk},
    "shot-comment-list": lambda w: {"body": "hello"},
    "shot-comment-detail": lambda w: {"resolved": True},
    "take-comment-list": lambda w: {"body": "hello", "frame": 3},
    "take-comment-detail": lambda w: {"resolved": True},
    "take-review": lambda w: {"decision": "reject", "note": "no"},
    "shot-current-take": lambda w: {"take": w.take.pk},
    "preset-list": lambda w: {"name": "Ink", "prompt": "ink"},
}


def build_url(world, route: Route, missing: bool = False) -> str:
    values = {}
    for kwarg in route.kwargs:
        assert kwarg in KWARG_VALUES, f"route {route.name} ({route.pattern}) takes {kwarg!r}: add it to KWARG_VALUES"
        values[kwarg] = KWARG_VALUES[kwarg](world, route)
    if missing:
        first = route.kwargs[0]
        values[first] = f"projects/{MISSING}/takes/x.mp4" if first == "name" else MISSING
    return reverse(route.name, kwargs=values)


def snapshot(world) -> dict:
    """What an outsider's write must leave exactly as it was."""
    counts = {model.__name__: model.objects.count() for model in (
        Project, Membership, Sequence, Shot, PromptRevision, Comment, Asset, StylePreset, Event, Notification,
        Take, RenderJob)}
    shot = Shot.objects.get(pk=world.shot.pk)
    take = Take.objects.get(pk=world.take.pk)
    job = RenderJob.objects.get(pk=world.job.pk)
    project = Project.objects.get(pk=world.project.pk)
    return {
        **counts,
        "project": (project.name, project.last_event_seq),
        "shot": (shot.version, shot.title, shot.status, shot.current_take_id),
        "take": (take.review_status,),
        "job": (job.status,),
        "roles": sorted(Membership.objects.filter(project=world.project).values_list("user_id", "role")),
        "comments": sorted(Comment.objects.values_list("pk", "resolved", "body")),
    }


def call(client, method, url, body=None):
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, body or {}, format="json")


def client_for(route, api, browser, user):
    """The media view is a plain Django view: it sees the session, as a browser sends it."""
    return browser(user) if route.name == "media" else api(user)


CASES = [(route, method) for route in ROUTES for method in route.methods]


def test_the_sweep_sees_every_object_route():
    """If URL discovery broke, the sweep would pass vacuously; the design's routes must all be found."""
    names = {route.name for route in ROUTES}
    expected = {"project-detail", "member-list", "member-detail", "sequence-list", "sequence-detail", "shot-list",
                "board", "asset-list", "asset-detail", "preset-list", "event-list", "shot-detail", "revision-list",
                "revision-diff", "shot-comment-list", "shot-comment-detail", "shot-take-list", "take-detail",
                "take-review", "shot-current-take", "take-comment-list", "take-comment-detail", "render-detail",
                "media"}
    assert expected <= names, expected - names
    methods = {(route.name, method) for route, method in CASES}
    assert {("shot-detail", "patch"), ("project-detail", "delete"), ("member-detail", "delete"),
            ("revision-list", "post"), ("take-review", "post"), ("asset-list", "post")} <= methods
    assert ("shot-detail", "put") not in methods  # PATCH carries a version; there is no PUT


@pytest.mark.parametrize(("route", "method"), CASES, ids=[f"{r.name}-{m}" for r, m in CASES])
def test_outsider_gets_404_and_changes_nothing(world, api, browser, route, method):
    outsider = UserFactory()
    url = build_url(world, route)
    before = snapshot(world)

    client = client_for(route, api, browser, outsider)
    response = call(client, method, url, BODIES.get(route.name, lambda w: {})(world))

    assert response.status_code == 404, (url, response.status_code, getattr(response, "data", None))
    assert snapshot(world) == before
    if method == "get":  # indistinguishable from an id that does not exist
        missing = call(client, "get", build_url(world, route, missing=True))
        assert missing.status_code == 404
        if route.name == "media":  # the 404 page (it carries a per-request CSRF token)
            assert response["Content-Type"] == missing["Content-Type"] == "text/html; charset=utf-8"
        else:
            assert response.json() == missing.json()


@pytest.mark.parametrize(("route", "method"), CASES, ids=[f"{r.name}-{m}" for r, m in CASES])
def test_a_member_reaches_the_route(world, api, browser, route, method):
    """The control for the sweep: the same URL is not a 404 for the project's owner."""
    url = build_url(world, route)
    client = client_for(route, api, browser, world.users["owner"])
    response = call(client, method, url, BODIES.get(route.name, lambda w: {})(world))
    assert response.status_code != 404, (url, getattr(response, "data", None))
    assert response.status_code < 500


@pytest.mark.parametrize(("route", "method"), CASES, ids=[f"{r.name}-{m}" for r, m in CASES])
def test_anonymous_is_refused(world, api, browser, route, method):
    url = build_url(world, route)
    before = snapshot(world)
    response = call(client_for(route, api, browser, None), method, url, BODIES.get(route.name, lambda w: {})(world))
    if route.name == "media":
        assert response.status_code == 404  # a file view: no hint that the file exists
    else:
        assert response.status_code in (401, 403), (url, response.status_code)
        assert "detail" in response.json()
    assert snapshot(world) == before


def test_an_outsider_member_of_another_project_still_gets_404(world, api, browser):
    """Being a member somewhere is not enough: the scope is this project's membership."""
    from tests.factories import ProjectFactory, member

    elsewhere = member(ProjectFactory(), "owner")
    client = api(elsewhere)
    assert client.get(f"/api/shots/{world.shot.pk}/").status_code == 404
    assert client.get(f"/api/takes/{world.take.pk}/").status_code == 404
    assert browser(elsewhere).get(f"/media/{world.media_name}").status_code == 404


def test_a_removed_member_loses_access_at_once(world, api, browser):
    guest = world.users["guest"]
    client, session = api(guest), browser(guest)
    assert client.get(f"/api/shots/{world.shot.pk}/").status_code == 200
    assert session.get(f"/media/{world.media_name}").status_code == 200
    owner = api(world.users["owner"])
    assert owner.delete(f"/api/projects/{world.project.pk}/members/{world.membership('guest').pk}/").status_code == 204
    assert client.get(f"/api/shots/{world.shot.pk}/").status_code == 404
    assert session.get(f"/media/{world.media_name}").status_code == 404
    assert client.get(f"/api/projects/{world.project.pk}/").status_code == 404


def test_lists_of_mine_never_show_other_projects(world, api):
    outsider = UserFactory()
    client = api(outsider)
    projects = client.get("/api/projects/").json()
    assert projects["count"] == 0 and projects["results"] == []
    assert client.get("/api/me/work/").json()["count"] == 0
    assert client.get("/api/notifications/").json()["count"] == 0
