"""The review player in a real browser, two users at once.

A reviewer steps a real 24 fps H.264 take to frame 36 (typing a frame, then → presses), draws
an arrow and comments, mentioning the director; the director's player — already open — gets
the comment live, and clicking it lands on frame 36 (the displayed number and the video's
currentTime both) with the arrow drawn over the frame.
"""
import pytest

from projects.models import Comment, Role
from tests.browser.review_fixtures import CANVAS_INK, CANVAS_INK_NEAR, frame_of_current_time, make_take, open_ready, wait_for_frame
from tests.factories import CommentFactory, ProjectFactory, RevisionFactory, ShotFactory, member

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARROW_FROM = (0.30, 0.25)
ARROW_TO = (0.56, 0.68)


@pytest.fixture
def review_setup(transactional_db):
    project = ProjectFactory(name="Autumn River promo", fps=24)
    director = member(project, Role.DIRECTOR, username="dina", first_name="Dina", last_name="Chen")
    reviewer = member(project, Role.REVIEWER, username="rob", first_name="Rob", last_name="Li")
    shot = ShotFactory(project=project, code="SH0040", title="Boat at dawn")
    revision = RevisionFactory(shot=shot, number=1, author=director,
                               prompt="ink-wash mountains after rain, a lone fishing boat on a misty river at dawn")
    take = make_take(shot, director, kind="video", seconds=3, fps=24, width=640, height=360, revision=revision)
    return project, director, reviewer, take


def frame_box(page):
    return page.locator(".rv-transport [data-role='frame']")


def drag(page, box, start, end):
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + end[0] * box["width"], box["y"] + end[1] * box["height"], steps=10)
    page.mouse.up()


def test_comment_on_frame_36_with_an_arrow_reaches_the_directors_player(
        open_page, artifacts, review_setup):
    project, director, reviewer, take = review_setup
    path = f"/p/{project.pk}/review/{take.pk}/"
    director_page = open_ready(open_page, director, path)
    reviewer_page = open_ready(open_page, reviewer, path)
    assert take.frame_count == 72

    # Typing a frame (or a timecode) jumps there; Home goes back to the first frame.
    frame_box(reviewer_page).fill("60")
    frame_box(reviewer_page).press("Enter")
    wait_for_frame(reviewer_page, 60)
    assert frame_of_current_time(reviewer_page) == 60
    frame_box(reviewer_page).fill("00:00:01:12")
    frame_box(reviewer_page).press("Enter")
    wait_for_frame(reviewer_page, 36)
    reviewer_page.locator(".rv-stage").click()  # leave the field: the keys go to the player again
    reviewer_page.keyboard.press("Home")
    wait_for_frame(reviewer_page, 0)

    # → exactly one frame per press, however fast they come.
    for _ in range(36):
        reviewer_page.keyboard.press("ArrowRight")
    wait_for_frame(reviewer_page, 36)
    assert frame_box(reviewer_page).input_value() == "36"
    assert reviewer_page.locator("[data-role='timecode']").text_content() == "00:00:01:12"
    assert frame_of_current_time(reviewer_page) == 36
    reviewer_page.keyboard.press("ArrowLeft")
    wait_for_frame(reviewer_page, 35)
    reviewer_page.keyboard.press("ArrowRight")
    wait_for_frame(reviewer_page, 36)

    # Draw an arrow (A picks the tool) and comment, completing the @mention from the members.
    reviewer_page.keyboard.press("a")
    assert reviewer_page.locator("[data-tool='arrow']").get_attribute("aria-pressed") == "true"
    canvas = reviewer_page.locator("[data-role='canvas']")
    drag(reviewer_page, canvas.bounding_box(), ARROW_FROM, ARROW_TO)
    assert canvas.evaluate(CANVAS_INK) > 100
    body = reviewer_page.locator("[data-role='comment-body']")
    body.click()
    body.type("The boat should sit lower in the water. @di")
    reviewer_page.locator(".rv-mention-menu li", has_text="@dina").wait_for()
    body.press("Enter")
    assert body.input_value().endswith("@dina ")
    assert "36" in reviewer_page.locator("[data-role='composer-frame']").text_content()
    reviewer_page.locator("[data-role='comment-submit']").click()
    reviewer_page.locator(".rv-comment", has_text="sit lower").wait_for()

    comment = Comment.objects.get(take=take)
    assert comment.frame == 36
    assert list(comment.mentions.values_list("username", flat=True)) == ["dina"]
    [shape] = comment.annotation["shapes"]
    assert shape["tool"] == "arrow"
    (x0, y0), (x1, y1) = shape["points"][0], shape["points"][-1]
    assert abs(x0 - ARROW_FROM[0]) < 0.02 and abs(y0 - ARROW_FROM[1]) < 0.02
    assert abs(x1 - ARROW_TO[0]) < 0.02 and abs(y1 - ARROW_TO[1]) < 0.02

    # The director's player, open all along at frame 0, gets the comment without a reload.
    assert frame_box(director_page).input_value() == "0"
    card = director_page.locator(".rv-comment", has_text="sit lower")
    card.wait_for(timeout=15_000)
    director_canvas = director_page.locator("[data-role='canvas']")
    assert director_canvas.evaluate(CANVAS_INK) == 0
    director_page.locator(".rv-comment-body", has_text="sit lower").click()
    wait_for_frame(director_page, 36)
    assert frame_box(director_page).input_value() == "36"
    assert director_page.locator("[data-role='timecode']").text_content() == "00:00:01:12"
    assert frame_of_current_time(director_page) == 36
    assert director_page.locator("#review-app").get_attribute("data-shown-comment") == str(comment.pk)
    # The arrow is drawn where it was drawn: ink along its shaft, none far from it.
    assert director_canvas.evaluate(CANVAS_INK) > 100
    middle = ((ARROW_FROM[0] + ARROW_TO[0]) / 2, (ARROW_FROM[1] + ARROW_TO[1]) / 2)
    assert director_canvas.evaluate(CANVAS_INK_NEAR, [middle[0], middle[1]]) > 0
    assert director_canvas.evaluate(CANVAS_INK_NEAR, [0.9, 0.1]) == 0
    director_page.screenshot(path=artifacts / "review-player.png")

    # Stepping away from the comment's frame hides its drawing again.
    director_page.keyboard.press("ArrowRight")
    wait_for_frame(director_page, 37)
    assert director_canvas.evaluate(CANVAS_INK) == 0
    assert not director_page.errors and not reviewer_page.errors


def test_shortcuts_are_listed_and_decisions_follow_the_role(open_page, artifacts, review_setup):
    project, director, reviewer, take = review_setup
    path = f"/p/{project.pk}/review/{take.pk}/"
    page = open_ready(open_page, reviewer, path)
    # A reviewer may ask for changes or reject, not approve (the server decides either way).
    assert page.locator("[data-decision='approve']").is_hidden()
    assert page.locator("[data-decision='changes']").is_visible()
    page.keyboard.press("?")
    shortcuts = page.locator("[data-role='shortcuts']")
    assert shortcuts.is_visible()
    assert "Next frame" in shortcuts.text_content()
    page.keyboard.press("Escape")

    page.locator("[data-decision='changes']").click()
    page.locator("[data-role='decision-note']").fill("Slower push-in, please")
    page.locator("[data-role='decision-confirm']").click()
    page.locator("[data-role='review-status'][data-status='changes']").wait_for()
    take.refresh_from_db()
    assert take.review_status == "changes" and take.review_note == "Slower push-in, please"
    assert not page.errors


def test_compare_steps_and_plays_both_takes_together(open_page, artifacts, review_setup):
    project, director, reviewer, take = review_setup
    other = make_take(take.shot, director, kind="video", seconds=3, fps=24, width=640, height=360, seed=99,
                      prompt="ink-wash mountains in snow, a lone boat on a frozen river")
    page = open_ready(open_page, director, f"/p/{project.pk}/compare/{take.pk}/{other.pk}/")
    for _ in range(12):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => studioCompare.players.every((p) => p.target === null && p.frame === 12 && !p.media.seeking)")
    frames = page.evaluate("() => studioCompare.players.map((p) => Math.floor(p.media.currentTime * p.fps + 1e-6))")
    assert frames == [12, 12]
    assert [r.text_content() for r in page.locator("[data-role='readout']").all()] == ["12 · 00:00:00:12"] * 2
    # Both settings tables name what differs: the seeds at least.
    seed_row = page.locator(".rv-params--compare tr.is-different", has_text="Seed")
    assert seed_row.locator("td").all_text_contents() == [str(take.seed), "99"]
    page.screenshot(path=artifacts / "compare.png")

    # Played together and paused, they stop on the same frame (or one apart at most).
    page.keyboard.press(" ")
    page.wait_for_function("() => studioCompare.players.every((p) => p.frame > 20)", timeout=10_000)
    page.keyboard.press(" ")
    page.wait_for_function("() => studioCompare.players.every((p) => p.media.paused && !p.media.seeking && p.target === null)")
    a, b = page.evaluate("() => studioCompare.players.map((p) => p.frame)")
    assert abs(a - b) <= 1
    assert not page.errors


def test_threads_replies_and_resolve(open_page, artifacts, review_setup):
    project, director, reviewer, take = review_setup
    CommentFactory(shot=take.shot, take=take, author=reviewer, body="Horizon tilts here", frame=20)
    page = open_ready(open_page, director, f"/p/{project.pk}/review/{take.pk}/")
    thread = page.locator(".rv-thread", has_text="Horizon tilts here")
    assert "20 · 00:00:00:20" in thread.locator("[data-role='frame-chip']").text_content()

    thread.get_by_role("button", name="Reply").click()
    reply = thread.locator(".rv-reply-form textarea")
    reply.type("Fixed in the next take, @ro")
    thread.locator(".rv-mention-menu li", has_text="@rob").click()
    assert reply.input_value() == "Fixed in the next take, @rob "
    reply.press("Control+Enter")
    nested = thread.locator(".rv-replies .rv-comment", has_text="Fixed in the next take")
    nested.wait_for()
    assert nested.locator(".rv-mention").text_content() == "@rob"
    saved = Comment.objects.get(parent__isnull=False)
    assert saved.parent.body == "Horizon tilts here" and saved.frame == 20

    thread.get_by_role("button", name="Resolve").click()
    page.locator(".rv-thread .rv-badge--resolved").wait_for()
    assert Comment.objects.get(body="Horizon tilts here").resolved
    page.locator("[data-role='hide-resolved']").check()
    page.locator(".rv-empty", has_text="Every comment is resolved").wait_for()
    assert not page.errors
