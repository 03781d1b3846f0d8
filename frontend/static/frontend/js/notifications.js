// Every notification (/notifications/): all or unread, mark one or all as read, newer ones
// arriving through the bell (live on project pages, polled elsewhere).

import { api } from './api.js';
import { nt } from './i18n.js';
import { bell, notificationItem } from './shell.js';
import { el, icon, toastError } from './ui.js';

const app = document.getElementById('notifications-app');
const $ = (role) => app.querySelector(`[data-role="${role}"]`);
const list = $('list');

let items = [];
let next = null;
let filter = 'all';
let unread = 0;

function url() {
  return `/api/notifications/?page_size=30${filter === 'unread' ? '&unread=1' : ''}`;
}

function row(n) {
  const node = notificationItem(n, { onOpen: (item) => { if (!item.read) markRead([item.id], { quiet: true }); } });
  const li = el('li', {}, node);
  if (!n.read) {
    node.append(el('button', {
      type: 'button', class: 'icon-btn', title: gettext('Mark as read'), 'aria-label': gettext('Mark as read'),
      onclick: (event) => { event.preventDefault(); event.stopPropagation(); markRead([n.id]); },
    }, icon('check')));
  } else {
    node.append(el('span'));
  }
  return li;
}

function render() {
  list.setAttribute('aria-busy', 'false');
  const shown = filter === 'unread' ? items.filter((n) => !n.read) : items;
  $('summary').textContent = unread ? nt(ngettext('%(count)s unread', '%(count)s unread', unread), unread) : gettext('All read');
  $('read-all').disabled = unread === 0;
  for (const pill of app.querySelectorAll('[data-filter]')) pill.setAttribute('aria-pressed', String(pill.dataset.filter === filter));
  if (!shown.length) {
    list.replaceChildren(el('li', { class: 'empty-state panel' },
      el('span', { class: 'empty-icon' }, icon('bell')),
      el('h2', {}, filter === 'unread' ? gettext('No unread notifications') : gettext('No notifications yet')),
      el('p', {}, gettext('Assignments, mentions, reviews of your takes and your finished renders show up here.'))));
  } else {
    list.replaceChildren(...shown.map(row));
  }
  $('more').hidden = !next;
}

async function load() {
  try {
    const page = await api.get(url());
    items = page.results;
    next = page.next;
    unread = page.unread_count;
    render();
  } catch (error) {
    list.setAttribute('aria-busy', 'false');
    list.replaceChildren(el('li', { class: 'empty-state' }, el('h2', {}, gettext('Notifications could not be loaded')), el('p', {}, error.message)));
  }
}

async function markRead(ids, { quiet = false } = {}) {
  try {
    const result = await api.post('/api/notifications/read/', ids ? { ids } : { all: true }, { keepalive: true });
    for (const n of items) if (!ids || ids.includes(n.id)) n.read = true;
    unread = result.unread_count;
    bell.setUnread(unread);
    bell.refresh();
    render();
  } catch (error) {
    if (!quiet) toastError(error);
  }
}

$('read-all').addEventListener('click', () => markRead(null));
$('more').addEventListener('click', async () => {
  if (!next) return;
  try {
    const page = await api.get(next);
    items = [...items, ...page.results];
    next = page.next;
    render();
  } catch (error) {
    toastError(error);
  }
});
for (const pill of app.querySelectorAll('[data-filter]')) {
  pill.addEventListener('click', () => { filter = pill.dataset.filter; load(); });
}
bell.addEventListener('notification', () => load());
bell.addEventListener('read', () => load());
load();
