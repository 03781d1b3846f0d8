"""How the shot board and the shot list scale with the number of shots.

Seeds projects of 10, 100 and 1000 shots (revisions, comments, takes with tiny files,
finished and active render jobs) in a throwaway database, then requests, through Django's
test client and the whole middleware stack:

- ``GET /api/projects/{id}/board/``            the real board (board_queryset);
- ``GET /api/projects/{id}/shots/``             the shot list, default page (50) and page_size=500;
- ``GET /bench/naive-board/{id}/``              the baseline, measured in the same run: the same
                                                 response built by a deliberately naive loop —
                                                 same serializer, no select_related, no prefetch,
                                                 no annotations (the N+1 a board falls into).

It prints queries per request (the real endpoints must show the same count at every size),
median and p95 latency, the marginal cost per shot, and the 1000-shot/10-shot ratios of
the real board and of the naive one. It also checks that the naive board returns the same
rows as the real one, so the comparison is like for like.

    .venv/bin/python bench/board_queries.py [--sizes 10,100,1000] [--repeat 15]

Default: SQLite in a temp folder. DATABASE_URL=postgres://... runs it on PostgreSQL in a
freshly created database with a unique name, dropped afterwards.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    RUN_ID,
    fmt,
    machine,
    ratio,
    remove_tree,
    say,
    setup_django,
    summary,
    table,
    throwaway_environment,
    write_json,
)

PLACEHOLDER_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc0"
    "00000301010018dd8db00000000049454e44ae426082"
)


# --- the naive baseline -----------------------------------------------------------------------


def naive_board_view():
    """The board's response built one shot at a time: what the endpoint would cost without
    board_queryset's joins, subqueries and prefetch."""
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from projects.api import filter_shots
    from projects.scoping import ScopedParentMixin
    from projects.serializers import BoardShotSerializer, ProjectSerializer, SequenceSerializer

    class NaiveBoard(ScopedParentMixin, APIView):
        def get(self, request, project_id):
            shots = filter_shots(self.project.shots.order_by("sequence__order", "sequence__code", "order", "code", "id"), request)
            shots = list(shots)
            for shot in shots:
                latest = shot.revisions.order_by("-number").first()
                shot.latest_revision_id = latest.pk if latest else None
                shot.latest_revision_number = latest.number if latest else None
                shot.latest_revision_prompt = latest.prompt if latest else None
                shot.comment_count = shot.comments.count()
                shot.take_count = shot.takes.count()
                shot.active_renders = list(shot.render_jobs.active().order_by("id"))
            data = BoardShotSerializer(shots, many=True, context={"request": request}).data
            sequences = self.project.sequences.order_by("order", "code", "id")
            context = {"request": request, "memberships": {self.project.pk: self.membership}}
            return Response({
                "project": ProjectSerializer(self.project, context=context).data,
                "sequences": SequenceSerializer(sequences, many=True).data,
                "shots": data,
                "last_seq": self.project.last_event_seq,
            })

    return NaiveBoard


def bench_urlconf() -> str:
    """The studio's URLs plus the naive board, so both go through the same middleware."""
    import types

    from django.urls import include, path

    import studio.urls

    module = types.ModuleType("bench_board_urls")
    module.urlpatterns = [
        path("bench/naive-board/<int:project_id>/", naive_board_view().as_view()),
        path("", include("studio.urls")),
    ]
    module.handler404 = studio.urls.handler404
    sys.modules[module.__name__] = module
    return module.__name__


# --- data -------------------------------------------------------------------------------------


def seed_project(n_shots: int, owner, artists):
    """One project of ``n_shots`` shots with what a month of work leaves on a board."""
    from django.core.files.storage import default_storage

    from projects.models import Comment, Membership, Project, PromptRevision, Role, Sequence, Shot, ShotStatus
    from renders.models import RenderJob, RenderKind, RenderStatus, ReviewStatus, Take

    project = Project.objects.create(name=f"Bench {n_shots} shots", created_by=owner)
    Membership.objects.bulk_create(
        [Membership(project=project, user=owner, role=Role.OWNER)]
        + [Membership(project=project, user=u, role=Role.ARTIST) for u in artists]
    )
    sequences = Sequence.objects.bulk_create(
        [Sequence(project=project, code=f"SQ{i:02d}", title=f"Sequence {i}", order=i) for i in range(max(1, n_shots // 25))]
    )
    statuses = list(ShotStatus.values)
    shots = Shot.objects.bulk_create([
        Shot(project=project, sequence=sequences[i % len(sequences)], code=f"SH{i:04d}", title=f"Shot {i}", order=i * 10,
             status=statuses[i % len(statuses)], assignee=artists[i % len(artists)] if i % 5 else None)
        for i in range(n_shots)
    ])
    revisions = PromptRevision.objects.bulk_create([
        PromptRevision(shot=shot, number=r, prompt=f"ink-wash mountains, shot {shot.code}, revision {r}", author=owner)
        for shot in shots for r in (1, 2, 3)
    ])
    latest_revision = {rev.shot_id: rev for rev in revisions if rev.number == 3}

    jobs, takes = [], []
    for shot in shots:
        for number in (1, 2):
            job = RenderJob(project=project, shot=shot, revision=latest_revision[shot.pk], provider="local",
                            kind=RenderKind.IMAGE, status=RenderStatus.SUCCEEDED, progress=1, seed=number)
            jobs.append(job)
    jobs = RenderJob.objects.bulk_create(jobs)
    for index, job in enumerate(jobs):
        base = f"projects/{project.pk}/takes/{RUN_ID}-{job.shot_id}-{index}"
        media = default_storage.save(f"{base}.png", _content(PLACEHOLDER_PNG))
        thumb = default_storage.save(f"{base}.thumb.png", _content(PLACEHOLDER_PNG))
        takes.append(Take(project=project, shot_id=job.shot_id, job=job, revision=job.revision, number=index % 2 + 1,
                          kind=RenderKind.IMAGE, media=media, thumbnail=thumb, content_type="image/png", width=1280,
                          height=720, frame_count=1, seed=job.seed, provider="local",
                          review_status=ReviewStatus.APPROVED if index % 4 == 3 else ReviewStatus.PENDING,
                          created_by=owner))
    takes = Take.objects.bulk_create(takes)
    current = {}
    for take in takes:
        current[take.shot_id] = take  # the later (number 2) wins
    for shot in shots:
        shot.current_take = current[shot.pk]
    Shot.objects.bulk_update(shots, ["current_take"])

    # Active renders on one shot in ten: one running, one queued.
    active = []
    for shot in shots[::10]:
        active.append(RenderJob(project=project, shot=shot, revision=latest_revision[shot.pk], provider="local",
                                kind=RenderKind.VIDEO, status=RenderStatus.RUNNING, progress=0.4,
                                message="Rendering frame 48 of 120"))
        active.append(RenderJob(project=project, shot=shot, revision=latest_revision[shot.pk], provider="local",
                                kind=RenderKind.IMAGE, status=RenderStatus.QUEUED))
    RenderJob.objects.bulk_create(active)

    comments = []
    for shot in shots:
        take = current[shot.pk]
        comments.append(Comment(project=project, shot=shot, author=owner, body="Warmer light, please"))
        comments.append(Comment(project=project, shot=shot, take=take, author=artists[0], body="The boat drifts here", frame=12))
        comments.append(Comment(project=project, shot=shot, take=take, author=owner, body="Agreed", frame=12, resolved=True))
    Comment.objects.bulk_create(comments)
    return project


def _content(data: bytes):
    from django.core.files.base import ContentFile

    return ContentFile(data)


def make_users(n_artists: int):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    password_hash = make_password(None)  # unusable: the client logs in with force_login
    owner = User.objects.create(username=f"{RUN_ID}-owner", password=password_hash)
    artists = User.objects.bulk_create(
        [User(username=f"{RUN_ID}-artist{i}", first_name=f"Artist {i}", password=password_hash) for i in range(n_artists)]
    )
    return owner, artists


# --- measuring --------------------------------------------------------------------------------


class QueryTimer:
    """Counts the queries of a request and times each with perf_counter (Django's captured
    query times are rounded to the millisecond)."""

    def __init__(self):
        self.count, self.seconds = 0, 0.0

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - start


def measure(client, url: str, repeat: int, warmup: int = 2) -> dict:
    """Queries of one request (the same on every request after warm-up) and latency of ``repeat``."""
    from django.db import connection

    for _ in range(warmup):
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}: {response.content[:300]!r}")
    timer = QueryTimer()
    with connection.execute_wrapper(timer):
        response = client.get(url)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - start)
    return {"queries": timer.count, "sql_ms": timer.seconds * 1000, "bytes": len(response.content),
            "body": response.content, **summary(times)}


def compare_rows(real: bytes, naive: bytes) -> str:
    a, b = json.loads(real), json.loads(naive)
    if a == b:
        return "identical"
    if a.get("shots") == b.get("shots"):
        return "same shots (other keys differ)"
    return "DIFFERENT"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000", help="shot counts of the projects (comma-separated)")
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per endpoint and size")
    parser.add_argument("--naive-repeat", type=int, default=5, help="timed requests of the naive board per size")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})

    var_dir = throwaway_environment("board")
    setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment, teardown_test_environment

    engine = connection.vendor
    # A database of our own, never the one DATABASE_URL names: Django's test-database
    # machinery creates it (migrated) under a unique name and drops it at the end.
    connection.settings_dict.setdefault("TEST", {})
    if engine == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = str(var_dir / f"{RUN_ID}.sqlite3")
    else:
        connection.settings_dict["TEST"]["NAME"] = RUN_ID
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        say(f"board_queries: {engine} ({connection.settings_dict['NAME']}), sizes {sizes}, "
            f"{args.repeat} timed requests each ({args.naive_repeat} for the naive board); {machine()}")
        t0 = time.perf_counter()
        owner, artists = make_users(8)
        projects = {n: seed_project(n, owner, artists) for n in sizes}
        say(f"seeded {sum(sizes)} shots in {time.perf_counter() - t0:.1f} s")

        client = Client()
        client.force_login(owner)
        results: dict[str, dict[int, dict]] = {"board": {}, "shots": {}, "shots500": {}, "naive": {}}
        with override_settings(ROOT_URLCONF=bench_urlconf(), DEBUG=False):
            for n, project in projects.items():
                pid = project.pk
                results["board"][n] = measure(client, f"/api/projects/{pid}/board/", args.repeat)
                results["shots"][n] = measure(client, f"/api/projects/{pid}/shots/", args.repeat)
                results["shots500"][n] = measure(client, f"/api/projects/{pid}/shots/?page_size=500", args.repeat)
                results["naive"][n] = measure(client, f"/bench/naive-board/{pid}/", args.naive_repeat, warmup=1)
                results["naive"][n]["same_as_board"] = compare_rows(results["board"][n]["body"], results["naive"][n]["body"])
                say(f"  {n} shots measured")
        return report(results, sizes, engine, args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
        remove_tree(var_dir)


LABELS = {
    "board": "GET board (board_queryset)",
    "shots": "GET shots (page of 50)",
    "shots500": "GET shots?page_size=500",
    "naive": "naive board (N+1 baseline)",
}


def report(results, sizes, engine, args) -> int:
    lo, hi = sizes[0], sizes[-1]
    rows = []
    for key, label in LABELS.items():
        for n in sizes:
            r = results[key][n]
            rows.append([label if n == lo else "", n, r["queries"], r["sql_ms"], r["p50"] * 1000, r["p95"] * 1000,
                         r["bytes"] / 1024, r.get("same_as_board", "")])
    say()
    say(table(["endpoint", "shots", "queries", "SQL ms (1 req)", "p50 ms", "p95 ms", "KiB", "rows vs board"], rows,
              title=f"Board and shot list on {engine} (same process, Django test client, session auth)"))

    summary_rows, figures = [], {}
    for key, label in LABELS.items():
        by = results[key]
        counts = [by[n]["queries"] for n in sizes]
        per_shot_us = (by[hi]["p50"] - by[lo]["p50"]) / (hi - lo) * 1e6 if hi > lo else float("nan")
        figures[key] = {
            "queries": {str(n): by[n]["queries"] for n in sizes},
            "p50_ms": {str(n): round(by[n]["p50"] * 1000, 3) for n in sizes},
            "p95_ms": {str(n): round(by[n]["p95"] * 1000, 3) for n in sizes},
            "constant_queries": len(set(counts)) == 1,
            "per_shot_us": round(per_shot_us, 1),
            "time_ratio_hi_lo": round(ratio(by[hi]["p50"], by[lo]["p50"]), 2),
        }
        summary_rows.append([label, "yes" if len(set(counts)) == 1 else "NO: " + "/".join(map(str, counts)),
                             per_shot_us, ratio(by[hi]["p50"], by[lo]["p50"])])
    say()
    say(table(["endpoint", "constant queries", "µs per extra shot", f"time {hi}/{lo} shots"], summary_rows))
    b, nv = results["board"][hi], results["naive"][hi]
    figures["naive_vs_board_at_max"] = {
        "shots": hi,
        "query_ratio": round(ratio(nv["queries"], b["queries"]), 1),
        "time_ratio": round(ratio(nv["p50"], b["p50"]), 2),
        "same_rows": nv["same_as_board"],
    }
    say()
    say(f"At {hi} shots the naive board makes {nv['queries']} queries against the board's {b['queries']} "
        f"(×{fmt(ratio(nv['queries'], b['queries']))}) and takes {nv['p50'] * 1000:.0f} ms against "
        f"{b['p50'] * 1000:.0f} ms (×{fmt(ratio(nv['p50'], b['p50']))}); rows: {nv['same_as_board']}.")
    problems = [LABELS[k] for k in ("board", "shots", "shots500") if not figures[k]["constant_queries"]]
    if problems:
        say("PROBLEM: query count grows with the number of shots in: " + ", ".join(problems))
    if nv["same_as_board"] == "DIFFERENT":
        say("NOTE: the naive baseline no longer returns the board's rows; update naive_board_view().")
    write_json(args.json, {"benchmark": "board_queries", "engine": engine, "sizes": sizes, "figures": figures,
                           "problems": problems})
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
