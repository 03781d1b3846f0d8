"""The demo seed: 《山居秋暝》 built once through the services, with random logins that work."""
import json
import re
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from projects import demo
from projects.models import (
    Comment,
    Event,
    Membership,
    Notification,
    Project,
    PromptRevision,
    Role,
    Sequence,
    Shot,
    ShotStatus,
    StylePreset,
)
from renders.providers.local import MOTIONS
from tests.factories import PASSWORD, UserFactory

User = get_user_model()
CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_WORDS = re.compile(r"[A-Za-z]{4,}(?:[ ,.:;-]+[A-Za-z]{2,}){3,}")


@pytest.fixture
def var_dir(settings, tmp_path):
    """The logins file goes to a temporary VAR_DIR, never the checkout's var/."""
    settings.VAR_DIR = tmp_path / "var"
    return settings.VAR_DIR


def seed_demo(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def saved_logins(var_dir) -> dict:
    return json.loads((var_dir / "demo_logins.json").read_text(encoding="utf-8"))


def row_counts() -> dict:
    models = (User, Token, Project, Membership, Sequence, Shot, PromptRevision, StylePreset, Comment, Event, Notification)
    return {model.__name__: model.objects.count() for model in models}


def test_seed_builds_the_poem_film(db, var_dir):
    project, logins = demo.seed()

    assert project.name == "山居秋暝 · Autumn Dusk in the Mountains"
    assert (project.fps, project.width, project.height) == (24, 1280, 720)
    assert "王维" in project.description and "Wang Wei" in project.description
    assert "明月松间照" in project.description
    assert list(project.sequences.values_list("code", flat=True)) == ["SQ010", "SQ020", "SQ030"]

    shots = list(project.shots.select_related("sequence", "assignee"))
    assert 20 <= len(shots) <= 30
    assert all(shot.code.startswith(f"{shot.sequence.code}_SH") for shot in shots)
    assert all(Decimal(5) <= shot.duration_s <= Decimal(10) for shot in shots)
    assert Decimal(170) <= sum(shot.duration_s for shot in shots) <= Decimal(190)
    for shot in shots:
        zh, _, en = shot.title.partition(" · ")
        assert CJK.search(zh) and en and not CJK.search(en), shot.title
        assert CJK.search(shot.description) and ENGLISH_WORDS.search(shot.description), shot.code

        first = shot.revisions.get(number=1)
        assert first.note == "初稿 first draft" and first.parent is None
        zh_part, _, en_part = first.prompt.partition("\n\n")
        assert CJK.search(zh_part) and "镜头" in zh_part and "光线" in zh_part, shot.code
        assert ENGLISH_WORDS.search(en_part) and "Camera:" in en_part and "Lighting:" in en_part, shot.code
        assert not CJK.search(en_part.replace("山居秋暝", "")), shot.code  # the title card quotes the title
        assert CJK.search(first.negative_prompt) and "low quality" in first.negative_prompt
        assert first.params["aspect"] == "16:9" and first.params["camera"]
        # Renders on the offline provider take the camera move from the revision's params.
        assert first.params["motion"] in MOTIONS
        assert first.presets.exists()

    # A few shots carry a second revision on top of the first, by someone, with a reason.
    refined = PromptRevision.objects.filter(shot__project=project, number=2).select_related("parent", "author")
    assert 2 <= refined.count() <= 8
    for revision in refined:
        assert revision.parent.number == 1 and revision.parent.shot_id == revision.shot_id
        assert revision.prompt != revision.parent.prompt and revision.note and revision.note != "初稿 first draft"
    assert {revision.author.username for revision in refined} >= {"artist", "director"}
    assert not PromptRevision.objects.filter(shot__project=project, number__gt=2).exists()

    presets = {preset.name: preset.kind for preset in project.presets.all()}
    assert presets["国风水墨 Guofeng ink wash"] == StylePreset.Kind.STYLE
    assert presets["工笔重彩 Gongbi colour"] == StylePreset.Kind.STYLE
    assert presets["电影感光影 Cinematic light"] == StylePreset.Kind.STYLE
    assert presets["通用负面 Common negative"] == StylePreset.Kind.SNIPPET
    assert presets["角色：浣女 Character: washing girl"] == StylePreset.Kind.SNIPPET

    statuses = {shot.status for shot in shots}
    assert statuses == {ShotStatus.TODO, ShotStatus.IN_PROGRESS, ShotStatus.REVIEW}
    by_assignee = {}
    for shot in shots:
        by_assignee.setdefault(shot.assignee.username if shot.assignee else None, []).append(shot)
    assert 0.4 <= len(by_assignee["artist"]) / len(shots) <= 0.6
    assert by_assignee["director"]
    today = timezone.localdate()
    due_dates = [shot.due_date for shot in shots if shot.assignee]
    assert all(today < due <= today + timedelta(days=28) for due in due_dates)
    assert max(due_dates) - min(due_dates) >= timedelta(days=21)  # spread, not bunched
    assert set(logins) >= {"director", "artist", "reviewer"}


def test_comments_mention_teammates_and_notify_them(db, var_dir):
    project, _ = demo.seed()

    comments = list(Comment.objects.filter(project=project).prefetch_related("mentions"))
    assert len(comments) >= 2
    assert all(comment.take_id is None for comment in comments)  # shot-level: there are no takes yet
    for comment in comments:
        mentioned = list(comment.mentions.all())
        assert mentioned and all(f"@{user.username}" in comment.body for user in mentioned)
        for user in mentioned:
            assert Notification.objects.filter(
                user=user, project=project, kind=Notification.Kind.MENTIONED, data__comment=comment.pk
            ).exists()
    # Assigning a shot to someone else notified them, as assigning through the API does.
    artist = User.objects.get(username="artist")
    assert Notification.objects.filter(user=artist, kind=Notification.Kind.ASSIGNED).count() == (
        Shot.objects.filter(project=project, assignee=artist).count()
    )


def test_logins_are_random_private_and_work(db, var_dir):
    output = seed_demo()

    path = var_dir / "demo_logins.json"
    assert path.stat().st_mode & 0o777 == 0o600
    logins = saved_logins(var_dir)
    project = Project.objects.get(name=demo.PROJECT_NAME)
    roles = {"director": Role.OWNER, "artist": Role.ARTIST, "reviewer": Role.REVIEWER}
    for username, role in roles.items():
        password = logins[username]["password"]
        user = authenticate(username=username, password=password)
        assert user is not None and user.username == username
        assert Membership.objects.get(project=project, user=user).role == role
        assert Token.objects.filter(user=user).exists()
        assert re.search(rf"^  {username} +{re.escape(password)}", output, re.MULTILINE)
    passwords = [entry["password"] for entry in logins.values()]
    assert len(set(passwords)) == len(passwords) and all(len(password) >= 12 for password in passwords)
    assert "Demo logins (saved in " in output and "demo_logins.json" in output
    assert re.search(r"^  director .*\(owner\)$", output, re.MULTILINE)
    assert User.objects.get(username="director").get_full_name() == "林导演 Director Lin"
    assert User.objects.get(username="reviewer").get_full_name() == "王审阅 Reviewer Wang"

    # Another installation gets other passwords: nothing is a fixed credential.
    other = demo.new_password()
    assert other not in passwords and re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", other)


def test_second_run_changes_nothing_and_prints_the_same_logins(db, var_dir):
    seed_demo()
    before = row_counts()
    file_bytes = (var_dir / "demo_logins.json").read_bytes()
    last_seq = Project.objects.get(name=demo.PROJECT_NAME).last_event_seq

    output = seed_demo()

    assert row_counts() == before
    assert (var_dir / "demo_logins.json").read_bytes() == file_bytes
    assert Project.objects.get(name=demo.PROJECT_NAME).last_event_seq == last_seq
    assert "already exists; nothing changed" in output
    for entry in json.loads(file_bytes).values():
        assert entry["password"] in output


def test_events_are_recorded_with_consecutive_seq(db, var_dir):
    project, _ = demo.seed()
    project.refresh_from_db()

    events = list(Event.objects.filter(project=project).order_by("seq"))
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert project.last_event_seq == len(events)
    assert events[0].type == "project.created"
    types = [event.type for event in events]
    assert types.count("shot.created") == project.shots.count()
    assert types.count("revision.created") == PromptRevision.objects.filter(shot__project=project).count()
    assert types.count("comment.created") == project.comments.count()
    assert types.count("preset.created") == project.presets.count()
    assert types.count("member.added") == project.memberships.count() - 1
    # Shots in progress or in review were moved there by an event, by their assignee.
    moved = [event for event in events if event.type == "shot.updated" and "status" in event.data["fields"]]
    assert {event.data["shot"] for event in moved} == set(
        project.shots.exclude(status=ShotStatus.TODO).values_list("pk", flat=True)
    )
    assert all(event.actor_id == event.data["assignee"] for event in moved)


def test_quiet_prints_nothing_and_print_logins_only_prints(db, var_dir):
    assert "No demo logins saved" in seed_demo("--print-logins")
    assert not Project.objects.exists() and not (var_dir / "demo_logins.json").exists()

    assert seed_demo("--quiet") == ""
    assert Project.objects.filter(name=demo.PROJECT_NAME).count() == 1
    before = row_counts()

    output = seed_demo("--print-logins")
    assert "already exists" not in output and "Seeded" not in output
    for entry in saved_logins(var_dir).values():
        assert entry["password"] in output
    assert row_counts() == before


def test_an_existing_account_keeps_its_password(db, var_dir):
    UserFactory(username="reviewer")  # someone's real account, not in the logins file

    output = seed_demo()

    assert authenticate(username="reviewer", password=PASSWORD) is not None
    assert saved_logins(var_dir)["reviewer"]["password"] is None
    assert re.search(r"^  reviewer +\(existing account; password unchanged\)$", output, re.MULTILINE)
    project = Project.objects.get(name=demo.PROJECT_NAME)
    assert project.memberships.get(user__username="reviewer").role == Role.REVIEWER


def test_passwords_saved_by_an_interrupted_run_are_reused(db, var_dir):
    var_dir.mkdir(parents=True)
    (var_dir / "demo_logins.json").write_text(json.dumps({"director": {"password": "kept-from-before"}}))

    seed_demo("--quiet")

    assert authenticate(username="director", password="kept-from-before") is not None
    logins = saved_logins(var_dir)
    assert logins["director"]["password"] == "kept-from-before"
    assert authenticate(username="artist", password=logins["artist"]["password"]) is not None


def test_an_unreadable_logins_file_stops_the_seed_before_anything_is_written(db, var_dir):
    var_dir.mkdir(parents=True)
    (var_dir / "demo_logins.json").write_text("{not json")

    with pytest.raises(CommandError, match="demo_logins.json"):
        seed_demo()

    assert not Project.objects.exists() and not User.objects.exists()
    assert (var_dir / "demo_logins.json").read_text() == "{not json"
