"""socket.js in a real browser: catch-up, presence, reconnect after the server restarts, revocation.

Debian's Chromium loads the module from the studio itself (so the session cookie and the Origin
are the browser's own) and the test drives the server side from Python.
"""
import time
from pathlib import Path

import pytest

from projects.events import record_event
from projects.models import Membership
from tests.factories import ShotFactory
from tests.realtime.conftest import FAST
from tests.realtime.sockets import joined, open_socket
from tests.servers import session_cookie

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

BOOT = """async ([projectId, after]) => {
  const { ProjectSocket } = await import('/static/frontend/js/socket.js');
  window.log = { events: [], statuses: [], presence: [], notifications: [] };
  const socket = new ProjectSocket(projectId, { after, minDelay: 100, maxDelay: 400 });
  socket.addEventListener('event', (e) => window.log.events.push(e.detail.seq));
  socket.addEventListener('status', (e) => window.log.statuses.push(e.detail));
  socket.addEventListener('presence', (e) => window.log.presence.push(e.detail.users));
  socket.addEventListener('notification', (e) => window.log.notifications.push(e.detail));
  window.socket = socket;
}"""


@pytest.fixture
def chromium(monkeypatch):
    """Playwright's sync API keeps an event loop running in this thread, which makes Django
    refuse ORM calls; the test's own ORM calls between browser steps are plain sync ones."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def browser_page(chromium, server, user):
    context = chromium.new_context()
    name, value = session_cookie(user).split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": server.url}])
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(server.url + "/static/frontend/js/socket.js")  # any document of the studio's origin
    return page


def wait_until(page, expression: str, timeout: float = 10) -> None:
    page.wait_for_function(expression, timeout=timeout * 1000)


def test_socket_js_catches_up_shows_presence_and_survives_a_server_restart(
        chromium, start_studio_server, project, owner, artist, api):
    server = start_studio_server(**FAST)
    shot = ShotFactory(project=project)
    for n in range(3):
        record_event(project.pk, "comment.created", owner, {"n": n})
    page = browser_page(chromium, server, artist)
    page.evaluate(BOOT, [project.pk, 1])  # the page was rendered at seq 1

    wait_until(page, "window.log.statuses.some(s => s.state === 'connected')")
    wait_until(page, "window.log.events.length === 2")
    assert page.evaluate("window.log.events") == [2, 3]

    # Presence: the page says which shot it shows; another member sees it.
    watcher = open_socket(server, project.pk, user=owner)
    joined(watcher)
    page.evaluate(f"window.socket.view({shot.pk})")
    seen = watcher.wait_for(lambda m: m["type"] == "presence" and any(u["shot"] == shot.pk for u in m["data"]["users"]))
    assert [u["id"] for u in seen["data"]["users"] if u["shot"] == shot.pk] == [artist.pk]
    watcher.close()

    # The web process goes away; events keep being written; it comes back on the same port.
    server.stop()
    for n in range(3, 8):
        record_event(project.pk, "comment.created", owner, {"n": n})
    wait_until(page, "window.log.statuses.some(s => s.state === 'reconnecting')")
    time.sleep(0.5)  # a few refused attempts, backing off
    server.start()
    wait_until(page, "window.log.events.length === 7")
    assert page.evaluate("window.log.events") == [2, 3, 4, 5, 6, 7, 8]  # each once, in order
    assert page.evaluate(f"sessionStorage.getItem('studio.seq.{project.pk}')") == "8"
    statuses = page.evaluate("window.log.statuses.map(s => s.state)")
    assert statuses[0] == "connecting" and statuses[-1] == "connected"
    delays = page.evaluate("window.log.statuses.filter(s => s.state === 'reconnecting').map(s => s.delay)")
    assert all(0 < delay <= 400 for delay in delays)
    # After the reconnect it still reports its shot (presence was re-sent on admission).
    watcher = open_socket(server, project.pk, user=owner)
    joined(watcher)
    watcher.wait_for(lambda m: m["type"] == "presence" and any(u["shot"] == shot.pk for u in m["data"]["users"]))
    watcher.close()

    # Live notification, then removal: the page is told it was revoked and stops reconnecting.
    api(owner).patch(f"/api/shots/{shot.pk}/", {"assignee": artist.pk, "version": shot.version}, format="json")
    wait_until(page, "window.log.notifications.length === 1")
    assert page.evaluate("[window.log.notifications[0].unread, window.socket.unread]") == [1, 1]
    membership = Membership.objects.get(project=project, user=artist)
    api(owner).delete(f"/api/projects/{project.pk}/members/{membership.pk}/")
    wait_until(page, "window.log.statuses.some(s => s.state === 'closed')")
    assert page.evaluate("window.log.statuses.at(-1)") == {"state": "closed", "reason": "revoked", "code": 4403}
    time.sleep(0.6)
    assert page.evaluate("window.socket.state") == "closed"  # no reconnect attempt after revocation
    assert page.errors == []
    page.context.close()
