"""zh-Hans and en: the browser's language by default, the switcher in the top bar, strings from
templates and from scripts both translated, dates and numbers in the reader's format."""
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ALL_IMAGES_LOADED = ("[...document.querySelectorAll('.shot-card img')]"
                     ".every((img) => img.complete && img.naturalWidth > 0)")


def test_a_chinese_browser_gets_the_studio_in_chinese(film, open_page, artifacts):
    page = open_page(film.artist, lang="zh-CN,zh;q=0.9", path=f"/p/{film.project.pk}/")
    page.wait_for_selector("#board-app[data-ready='true']")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    tabs = page.locator(".subbar .tab").all_inner_texts()
    assert [t.strip() for t in tabs] == ["看板", "动态", "成员"]  # from the template catalogue
    assert page.locator("[data-role='summary']").inner_text() == "10 个镜头"  # from the JavaScript catalogue
    status = page.locator(f".shot-card[data-shot-id='{film.shots[0].pk}'] [data-role='status']").inner_text()
    assert status == "已通过"
    assert "我的任务" in page.locator(".topbar").inner_text()
    page.wait_for_function(ALL_IMAGES_LOADED)
    page.screenshot(path=str(artifacts / "board-zh-Hans-1280.png"))

    members = open_page(film.artist, lang="zh-CN", path=f"/p/{film.project.pk}/members/")
    members.wait_for_selector("tr[data-username='director']")
    joined = members.locator("tr[data-username='director'] td").nth(2).inner_text()
    year = film.director.memberships.get().created_at.year
    assert joined.startswith(f"{year}年"), joined  # Intl.DateTimeFormat in zh-Hans
    assert not page.errors and not members.errors, page.errors + members.errors


def test_the_switcher_changes_the_language_and_it_sticks(film, open_page):
    page = open_page(film.artist, lang="en", path=f"/p/{film.project.pk}/")
    page.wait_for_selector("#board-app[data-ready='true']")
    assert page.locator(".subbar .tab").first.inner_text().strip() == "Board"
    page.locator("[data-testid='lang-button']").click()
    page.locator("#lang-menu button[value='zh-hans']").click()
    page.wait_for_selector("#board-app[data-ready='true']")
    assert page.url.endswith(f"/p/{film.project.pk}/")  # back where the reader was
    assert page.locator(".subbar .tab").first.inner_text().strip() == "看板"
    page.goto("/me/work/")
    assert page.locator("h1").inner_text() == "我的任务"
    page.locator("[data-testid='lang-button']").click()
    page.locator("#lang-menu button[value='en']").click()
    page.wait_for_selector("h1:text('My work')")


def test_the_sign_in_page_follows_the_browser_language(film, open_page):
    page = open_page(None, lang="zh-Hans", path="/login/")
    assert page.locator("h1").inner_text() == "登录 Shot Studio"
    assert page.locator("label[for='id_password']").inner_text() == "密码"
