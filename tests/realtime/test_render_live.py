"""A render watched from the project socket, end to end: the API on uvicorn queues it, a real
Celery worker runs the local provider, and the page's socket sees progress digests, the state
events and the take, in seq order, plus the requester's notification."""
import httpx
from rest_framework.authtoken.models import Token

from tests.factories import RevisionFactory, ShotFactory
from tests.realtime.sockets import joined, open_socket


def test_a_render_is_watched_live(server, start_celery_worker, project, owner):
    project.width, project.height = 160, 90
    project.save(update_fields=["width", "height"])
    shot = ShotFactory(project=project)
    RevisionFactory(shot=shot, number=1, prompt="孤舟蓑笠翁，独钓寒江雪")
    token = Token.objects.create(user=owner).key
    start_celery_worker(LOCAL_PROVIDER_LATENCY_S="1.5")
    socket = open_socket(server, project.pk, user=owner)
    last_seq = joined(socket)["data"]["last_seq"]

    response = httpx.post(f"{server.url}/api/shots/{shot.pk}/renders/", headers={"Authorization": f"Token {token}"},
                          json={"provider": "local", "kind": "image", "variants": 1}, timeout=10)
    assert response.status_code == 202, response.text
    job = response.json()["jobs"][0]["id"]

    def seen(type):
        return any(m["type"] == type for m in socket.messages)

    while not (seen("take.created") and seen("notification")):
        socket.recv(timeout=40)
    events = [m for m in socket.messages if "seq" in m]
    assert [m["seq"] for m in events] == list(range(last_seq + 1, last_seq + 1 + len(events)))
    states = [m["data"]["status"] for m in events if m["type"] == "render.state" and m["data"]["job"] == job]
    assert states[-1] == "succeeded" and "running" in states

    digests = [m for m in socket.messages if m["type"] == "render.progress"]
    assert digests and all("seq" not in m for m in digests)
    ticks = [tick["progress"] for m in digests for tick in m["data"]["jobs"] if tick["job"] == job]
    assert ticks == sorted(ticks) and 0 < ticks[-1] <= 1  # live, in order, never backwards
    notification = next(m for m in socket.messages if m["type"] == "notification")
    assert (notification["data"]["kind"], notification["data"]["unread"]) == ("render_succeeded", 1)
    socket.close()
