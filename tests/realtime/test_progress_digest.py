"""Render progress reaches a socket as a digest of every running job, at most ~4 times a second."""
import time

from projects.events import publish_ephemeral
from tests.realtime.sockets import joined, open_socket


def test_progress_ticks_are_coalesced_per_job(server, project, owner):
    socket = open_socket(server, project.pk, user=owner)
    joined(socket)
    socket.wait_for_type("presence")
    jobs = (11, 12, 13)
    started = time.monotonic()
    for step in range(1, 101):  # 300 ticks in about a second
        for job in jobs:
            tick = {"job": job, "shot": 5, "status": "running", "progress": step / 100, "message": f"step {step}"}
            publish_ephemeral(project.pk, "render.progress", tick)
        time.sleep(0.01)

    final, digests = {}, []  # the latest tick seen per job
    while any(final.get(job, {}).get("progress", 0) < 1.0 for job in jobs):
        digest = socket.wait_for_type("render.progress", timeout=3)
        digests.append(digest)
        for tick in digest["data"]["jobs"]:
            final[tick["job"]] = tick
    elapsed = time.monotonic() - started

    assert all("seq" not in digest and digest["project"] == project.pk for digest in digests)
    assert len(digests) <= elapsed * 4 + 2, f"{len(digests)} digests in {elapsed:.2f} s"
    assert len(digests) >= 3  # live along the way, not one message at the end
    assert all(len({tick["job"] for tick in d["data"]["jobs"]}) == len(d["data"]["jobs"]) for d in digests)
    assert final[11] == {"job": 11, "shot": 5, "status": "running", "progress": 1.0, "message": "step 100"}
    socket.close()
