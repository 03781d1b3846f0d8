"""zh-Hans and en through Django i18n: the browser's language by default, the switcher, the
JavaScript catalogue, and committed catalogues that are complete and compiled."""
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from projects.models import Role
from tests.factories import ProjectFactory, member

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


@pytest.fixture
def board_url(db):
    project = ProjectFactory()
    return project, reverse("board-page", args=[project.pk])


def test_the_browsers_language_is_the_default(client, board_url):
    project, url = board_url
    client.force_login(member(project, Role.ARTIST))
    zh = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5").content.decode()
    assert '<html lang="zh-Hans">' in zh
    assert "看板" in zh and "成员" in zh  # Board, Members
    en = client.get(url, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9").content.decode()
    assert '<html lang="en">' in en and "看板" not in en


def test_the_switcher_sets_the_language_for_the_next_pages(client, board_url):
    project, url = board_url
    client.force_login(member(project, Role.ARTIST))
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": url}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == url
    page = client.get(reverse("my-work-page"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-Hans">' in page and "我的任务" in page


def test_the_javascript_catalogue_is_translated(client):
    js = client.get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    for chinese in ("刚刚", "%(count)s 个镜头"):  # "just now", and a plural form
        assert chinese in js or json.dumps(chinese)[1:-1] in js, chinese


def po_entries(path):
    """(msgid, msgstr) pairs of a .po file; plural entries give their first form."""
    text = path.read_text(encoding="utf-8")
    entries = []
    for block in text.split("\n\n")[1:]:
        if block.lstrip().startswith("#~"):
            continue
        def joined(key):
            match = re.search(rf'^{key} ((?:".*"\n?)+)', block + "\n", re.M)
            if not match:
                return None
            quoted = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1)))
            return quoted.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
        msgid = joined("msgid")
        msgstr = joined(r"msgstr(?:\[0\])?")
        plural = joined("msgid_plural")
        if msgid:
            entries.append((msgid, plural, msgstr))
    return entries


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_catalogues_are_complete_and_compiled(domain):
    po = LOCALE / f"{domain}.po"
    assert (LOCALE / f"{domain}.mo").exists(), f"{domain}.mo is not committed"
    entries = po_entries(po)
    assert len(entries) > 100
    missing = [msgid for msgid, _plural, msgstr in entries if not msgstr]
    assert not missing, f"untranslated in {domain}.po: {missing[:10]}"
    if domain == "django":
        # The compiled catalogue is the current one: every entry of the .po translates.
        with translation.override("zh-hans"):
            stale = [msgid for msgid, plural, msgstr in entries if "%" not in msgid and
                     (translation.ngettext(msgid, plural, 1) if plural else translation.gettext(msgid)) != msgstr]
        assert not stale, f"django.mo is older than django.po (recompile): {stale[:5]}"
