"""The diff of two prompt revisions: word-level ops (one CJK character a word), params and
reference assets, through GET /api/shots/{id}/revisions/{a}/diff/{b}/."""
import pytest

from projects.diff import text_ops, tokenize
from tests.factories import AssetFactory, RevisionFactory, ShotFactory


def rebuild(ops, side):
    keep = {"a": ("equal", "delete"), "b": ("equal", "insert")}[side]
    return "".join(op["text"] for op in ops if op["op"] in keep)


def test_word_level_ops_in_english():
    ops = text_ops("a small boat on the river", "a small red boat on the frozen river")
    assert [(op["op"], op["text"].strip()) for op in ops if op["op"] != "equal"] == [
        ("insert", "red"), ("insert", "frozen")]
    ops = text_ops("moonlight over water", "moonlight over snow")
    assert {"op": "delete", "text": "water"} in ops and {"op": "insert", "text": "snow"} in ops
    assert not any(op["text"] in ("w", "s") for op in ops)  # whole words, not letters


def test_chinese_is_diffed_a_character_at_a_time():
    a, b = "床前明月光，疑是地上霜", "床前明月光，疑是窗外霜"
    ops = text_ops(a, b)
    assert {"op": "delete", "text": "地上"} in ops and {"op": "insert", "text": "窗外"} in ops
    assert rebuild(ops, "a") == a and rebuild(ops, "b") == b
    assert tokenize("举头望明月 low angle") == ["举", "头", "望", "明", "月", " ", "low", " ", "angle"]


@pytest.mark.parametrize(("a", "b"), [
    ("", "new prompt"), ("old prompt", ""), ("same", "same"),
    ("ink-wash, 4k; --ar 16:9", "ink-wash, 8k; --ar 21:9"),
    ("静夜思 Quiet Night Thought", "静夜思 — Thoughts on a Quiet Night 🌙"),
])
def test_ops_always_rebuild_both_sides(a, b):
    ops = text_ops(a, b)
    assert rebuild(ops, "a") == a and rebuild(ops, "b") == b


def test_the_diff_endpoint(project, guest, api):
    shot = ShotFactory(project=project)
    moon, boat = AssetFactory(project=project, name="Moon"), AssetFactory(project=project, name="Boat")
    first = RevisionFactory(shot=shot, number=1, prompt="床前明月光 moonlight on the floor", negative_prompt="blurry",
                            params={"seed": 1, "steps": 20, "sampler": "euler"})
    first.assets.set([moon])
    second = RevisionFactory(shot=shot, number=2, prompt="床前明月光 cold moonlight on the floor", negative_prompt="",
                             params={"seed": 2, "steps": 20, "cfg": 7}, note="colder", parent=first)
    second.assets.set([boat])

    response = api(guest).get(f"/api/shots/{shot.pk}/revisions/{first.pk}/diff/{second.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["from"] == {"id": first.pk, "number": 1} and body["to"] == {"id": second.pk, "number": 2}
    assert [(op["op"], op["text"].strip()) for op in body["prompt"] if op["op"] != "equal"] == [("insert", "cold")]
    assert body["negative_prompt"] == [{"op": "delete", "text": "blurry"}]
    assert body["params"] == [
        {"key": "cfg", "op": "added", "new": 7},
        {"key": "sampler", "op": "removed", "old": "euler"},
        {"key": "seed", "op": "changed", "old": 1, "new": 2},
    ]
    assert body["assets"] == {"added": [{"id": boat.pk, "name": "Boat"}], "removed": [{"id": moon.pk, "name": "Moon"}]}
    assert body["note"] == "colder"

    backwards = api(guest).get(f"/api/shots/{shot.pk}/revisions/{second.pk}/diff/{first.pk}/").json()
    assert [(op["op"], op["text"].strip()) for op in backwards["prompt"] if op["op"] != "equal"] == [("delete", "cold")]


def test_a_revision_of_another_shot_is_a_404(project, guest, api):
    shot, other = ShotFactory(project=project), ShotFactory(project=project)
    mine = RevisionFactory(shot=shot, number=1)
    theirs = RevisionFactory(shot=other, number=1)
    response = api(guest).get(f"/api/shots/{shot.pk}/revisions/{mine.pk}/diff/{theirs.pk}/")
    assert response.status_code == 404


def test_revision_list_newest_first_with_authors(world, api):
    body = api(world.users["guest"]).get(f"/api/shots/{world.shot.pk}/revisions/").json()
    assert [r["number"] for r in body["results"]] == [2, 1]
    assert body["results"][0]["author"]["id"] == world.users["artist"].pk
    assert body["results"][0]["parent"] == world.rev1.pk
    assert "base" not in body["results"][0]  # write-only: the base is what you edited
