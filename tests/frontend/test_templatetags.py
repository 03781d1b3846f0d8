"""The shell's template helpers: avatars look the same drawn by the server or by ui.js."""
import pytest

from frontend.templatetags.studio import avatar, avatar_hue, bcp47, initials
from tests.factories import UserFactory


@pytest.mark.parametrize(("name", "expected"), [
    ("Mei Lin", "ML"),
    ("director", "DI"),
    ("artist_two", "AT"),
    ("林导演 Director Lin", "林"),
    ("王小明", "王"),
    ("", "?"),
])
def test_initials(name, expected):
    assert initials(name) == expected


def test_avatar_colour_is_stable_per_user_and_differs_between_neighbours():
    assert avatar_hue(7) == avatar_hue(7)
    assert len({avatar_hue(i) for i in range(1, 9)}) == 8


@pytest.mark.django_db
def test_avatar_escapes_the_name():
    user = UserFactory(username="x", first_name='<script>"')
    html = str(avatar(user, "sm"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "avatar-sm" in html and f"hsl({avatar_hue(user.pk)} " in html


def test_avatar_for_nobody_is_the_placeholder():
    assert "avatar-empty" in str(avatar(None))


@pytest.mark.parametrize(("code", "tag"), [("zh-hans", "zh-Hans"), ("en", "en"), ("pt-br", "pt-BR"), ("", "en")])
def test_bcp47(code, tag):
    assert bcp47(code) == tag
