// The frame around every signed-in page: pop-up menus, the notifications bell (unread count,
// recent items, mark as read) and, on project pages, the live indicator and presence avatars.
//
// A page that opens a ProjectSocket hands it to attachSocket(); the bell then updates live from
// the socket's "notification" events and only polls slowly as a safety net. Pages without a
// socket poll.

import { api } from './api.js';
import { avatar, bootData, displayName, el, icon, timeAgo, toast, toastError } from './ui.js';

const boot = bootData('shell-boot') || {};
export const me = boot.user || null;
export const currentProject = boot.project || null;

// --- menus -----------------------------------------------------------------------------------------

function closeMenu(anchor, { focus = false } = {}) {
  const button = anchor.querySelector('[data-menu-button]');
  const panel = anchor.querySelector('[data-menu-panel]');
  if (!panel || panel.hidden) return;
  panel.hidden = true;
  button.setAttribute('aria-expanded', 'false');
  if (focus) button.focus();
}

function openMenu(anchor) {
  for (const other of document.querySelectorAll('[data-menu]')) if (other !== anchor) closeMenu(other);
  const button = anchor.querySelector('[data-menu-button]');
  const panel = anchor.querySelector('[data-menu-panel]');
  panel.hidden = false;
  button.setAttribute('aria-expanded', 'true');
  anchor.dispatchEvent(new CustomEvent('menu:open', { bubbles: true }));
  const first = panel.querySelector('a[href], button:not([disabled])');
  if (first) first.focus({ preventScroll: true });
}

function initMenus() {
  for (const anchor of document.querySelectorAll('[data-menu]')) {
    const button = anchor.querySelector('[data-menu-button]');
    button.addEventListener('click', () => {
      const panel = anchor.querySelector('[data-menu-panel]');
      if (panel.hidden) openMenu(anchor); else closeMenu(anchor);
    });
    anchor.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') closeMenu(anchor, { focus: true });
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        const items = [...anchor.querySelectorAll('[data-menu-panel] .menu-item, [data-menu-panel] a.notif, [data-menu-panel] .btn')];
        if (!items.length || anchor.querySelector('[data-menu-panel]').hidden) return;
        event.preventDefault();
        const index = items.indexOf(document.activeElement);
        const next = event.key === 'ArrowDown' ? (index + 1) % items.length : (index - 1 + items.length) % items.length;
        items[next].focus();
      }
    });
  }
  document.addEventListener('click', (event) => {
    for (const anchor of document.querySelectorAll('[data-menu]')) {
      if (!anchor.contains(event.target)) closeMenu(anchor);
    }
  });
}

// --- notifications -------------------------------------------------------------------------------------

const NOTIFICATION_ICONS = {
  assigned: 'flag', mentioned: 'at', reviewed: 'check-circle', render_succeeded: 'render', render_failed: 'alert',
};

function quoteOf(text) {
  const at = String(text || '').indexOf(': ');
  return at >= 0 ? text.slice(at + 2) : '';
}

/** The notification as a sentence in the reader's language (the stored text is the fallback). */
export function notificationText(n) {
  const actor = n.actor ? displayName(n.actor) : (String(n.text || '').split(' ')[0] || gettext('Someone'));
  const shot = n.shot_code || (n.data && n.data.code) || '';
  const values = { actor, shot };
  switch (n.kind) {
    case 'assigned':
      return interpolate(gettext('%(actor)s assigned %(shot)s to you'), values, true);
    case 'mentioned': {
      const quote = quoteOf(n.text);
      const head = interpolate(gettext('%(actor)s mentioned you on %(shot)s'), values, true);
      return quote ? `${head}: “${quote}”` : head;
    }
    case 'reviewed': {
      const decision = n.data && n.data.decision;
      if (decision === 'approve') return interpolate(gettext('%(actor)s approved your take of %(shot)s'), values, true);
      if (decision === 'changes') return interpolate(gettext('%(actor)s asked for changes on your take of %(shot)s'), values, true);
      if (decision === 'reject') return interpolate(gettext('%(actor)s rejected your take of %(shot)s'), values, true);
      return n.text;
    }
    case 'render_succeeded':
    case 'render_failed': {
      const data = n.data || {};
      if (data.succeeded === undefined) return n.text;
      const ok = Number(data.succeeded) || 0;
      const failed = Number(data.failed) || 0;
      const ready = interpolate(ngettext('%(count)s take ready', '%(count)s takes ready', ok), { count: ok }, true);
      const broken = failed ? interpolate(ngettext('%(count)s render failed', '%(count)s renders failed', failed), { count: failed }, true) : '';
      const what = [ok || !failed ? ready : '', broken].filter(Boolean).join(gettext(', '));
      const error = failed ? (/ failed: (.+)$/.exec(n.text || '') || [])[1] : '';
      const line = shot ? `${shot}: ${what}` : interpolate(gettext('Your renders: %(what)s'), { what }, true);
      return error ? `${line} — ${error}` : line;
    }
    default:
      return n.text;
  }
}

/** Where a notification leads: the take's review page, else the shot, else the project. */
export function notificationUrl(n) {
  const data = n.data || {};
  const project = n.project;
  if (!project) return '/notifications/';
  if (data.take) return `/p/${project}/review/${data.take}/${data.comment ? `#comment-${data.comment}` : ''}`;
  if (Array.isArray(data.takes) && data.takes.length === 1) return `/p/${project}/review/${data.takes[0]}/`;
  const shot = n.shot || data.shot;
  if (shot) return `/p/${project}/shots/${shot}/`;
  return `/p/${project}/`;
}

export function notificationItem(n, { tag = 'a', onOpen } = {}) {
  const unread = !n.read;
  const item = el(tag, {
    class: `notif${unread ? ' is-unread' : ''}`,
    href: tag === 'a' ? notificationUrl(n) : null,
    dataset: { id: n.id },
  },
  el('span', { class: 'notif-icon', dataset: { kind: n.kind } }, icon(NOTIFICATION_ICONS[n.kind] || 'bell')),
  el('div', {},
    el('div', { class: 'notif-text' }, notificationText(n)),
    el('div', { class: 'notif-meta' }, n.project_name ? `${n.project_name} · ` : '', timeAgo(n.created_at))));
  if (unread) item.setAttribute('aria-label', `${gettext('Unread')}: ${notificationText(n)}`);
  if (onOpen) item.addEventListener('click', (event) => onOpen(n, event));
  return item;
}

class Bell extends EventTarget {
  constructor() {
    super();
    this.button = document.getElementById('notif-button');
    this.badge = document.querySelector('[data-role="notif-count"]');
    this.list = document.querySelector('[data-role="notif-list"]');
    this.readAll = document.querySelector('[data-role="notif-read-all"]');
    this.items = [];
    this.unread = 0;
    this.socket = null;
    this.pollTimer = 0;
    if (!this.button) return;
    this.button.closest('[data-menu]').addEventListener('menu:open', () => this.refresh());
    this.readAll.addEventListener('click', () => this.markRead(null));
    this.refresh();
    this.schedulePoll();
    document.addEventListener('visibilitychange', () => { if (!document.hidden) this.refresh(); });
  }

  schedulePoll() {
    clearTimeout(this.pollTimer);
    // With a live socket the poll is only a safety net.
    const ms = this.socket ? 120000 : 30000;
    this.pollTimer = setTimeout(() => { if (!document.hidden) this.refresh(); this.schedulePoll(); }, ms);
  }

  setUnread(count) {
    this.unread = Math.max(0, Number(count) || 0);
    this.badge.hidden = this.unread === 0;
    this.badge.textContent = this.unread > 99 ? '99+' : String(this.unread);
    this.button.setAttribute('aria-label', this.unread
      ? interpolate(ngettext('Notifications, %(count)s unread', 'Notifications, %(count)s unread', this.unread), { count: this.unread }, true)
      : gettext('Notifications'));
    this.readAll.disabled = this.unread === 0;
    this.dispatchEvent(new CustomEvent('unread', { detail: this.unread }));
  }

  async refresh() {
    try {
      const page = await api.get('/api/notifications/?page_size=8');
      this.items = page.results;
      this.setUnread(page.unread_count);
      this.render();
    } catch (error) {
      if (error.status && error.status !== 0) this.renderError(error);
    }
  }

  render() {
    if (!this.items.length) {
      this.list.replaceChildren(el('li', { class: 'empty-state', style: 'padding:28px 16px' },
        el('span', { class: 'empty-icon' }, icon('bell')),
        el('h3', {}, gettext('You are all caught up')),
        el('p', { class: 'muted' }, gettext('Assignments, mentions, reviews and finished renders show up here.'))));
      return;
    }
    this.list.replaceChildren(...this.items.map((n) => el('li', {}, notificationItem(n, {
      onOpen: (item) => { if (!item.read) this.markRead([item.id], { quiet: true }); },
    }))));
  }

  renderError(error) {
    this.list.replaceChildren(el('li', { class: 'empty-state', style: 'padding:24px 16px' }, el('p', {}, error.message)));
  }

  async markRead(ids, { quiet = false } = {}) {
    try {
      const body = ids ? { ids } : { all: true };
      const result = await api.post('/api/notifications/read/', body, { keepalive: true });
      for (const n of this.items) if (!ids || ids.includes(n.id)) n.read = true;
      this.setUnread(result.unread_count);
      this.render();
      this.dispatchEvent(new CustomEvent('read', { detail: { ids } }));
    } catch (error) {
      if (!quiet) toastError(error);
    }
  }

  /** A notification pushed over the socket ({id, kind, text, data, unread, ...}). */
  receive(payload) {
    if (!payload || !payload.id) return;
    if (!this.items.some((n) => n.id === payload.id)) {
      this.items.unshift({ read: false, ...payload, project_name: payload.project_name || (currentProject && payload.project === currentProject.id ? currentProject.name : '') });
      this.items = this.items.slice(0, 8);
    }
    this.setUnread(payload.unread ?? this.unread + 1);
    this.render();
    this.dispatchEvent(new CustomEvent('notification', { detail: payload }));
  }

  attach(socket) {
    this.socket = socket;
    socket.addEventListener('notification', (event) => {
      const message = event.detail || {};
      // Actor and shot code are not in the pushed payload; fetch the stored one for a full sentence.
      this.receive(message.data || message);
      this.refresh();
    });
    // Marked read on another page or tab: follow its unread count.
    socket.addEventListener('message', (event) => {
      const message = event.detail || {};
      if (message.type !== 'notifications.read') return;
      this.setUnread(message.data?.unread ?? 0);
      this.refresh();
    });
    this.schedulePoll();
  }
}

export const bell = new Bell();

// --- presence and the live indicator ---------------------------------------------------------------------

/** Who has the project open: user id → {user, shot}. Pages listen for 'change'. */
class Presence extends EventTarget {
  constructor() {
    super();
    this.people = new Map();
    this.root = document.querySelector('[data-role="presence"]');
    /** Set by a page that knows shot codes (the board): id → code, for "viewing SH010". */
    this.shotCode = null;
  }

  /** Accepts a full list ({members|users|present: [...]}) or one change ({user, state|action, shot}). */
  apply(data) {
    if (!data) return;
    const list = data.members || data.users || data.present || data.here || (Array.isArray(data) ? data : null);
    if (list) {
      this.people = new Map();
      for (const entry of list) this.put(entry);
    } else {
      const state = data.state || data.action || data.event || 'join';
      const entry = data.user && typeof data.user === 'object' ? { ...data.user, shot: data.shot } : data;
      const id = entry.id ?? entry.user_id ?? entry.user;
      if (['leave', 'left', 'gone', 'expired'].includes(state)) this.people.delete(Number(id));
      else this.put(entry);
    }
    this.render();
    this.dispatchEvent(new CustomEvent('change', { detail: this.people }));
  }

  put(entry) {
    const user = entry.user && typeof entry.user === 'object' ? entry.user : entry;
    const id = Number(user.id ?? user.user_id ?? entry.user);
    if (!id) return;
    this.people.set(id, {
      user: { id, username: user.username || '', name: user.name || user.username || '' },
      shot: entry.shot ?? entry.shot_id ?? null,
    });
  }

  others() {
    return [...this.people.values()].filter((p) => !me || p.user.id !== me.id);
  }

  render() {
    if (!this.root) return;
    const others = this.others();
    const stack = this.root.querySelector('[data-role="presence-avatars"]');
    const label = this.root.querySelector('[data-role="presence-label"]');
    stack.replaceChildren(...others.slice(0, 6).map((p) => {
      const code = p.shot && this.shotCode ? this.shotCode(Number(p.shot)) : null;
      const where = !p.shot ? displayName(p.user)
        : code ? interpolate(gettext('%(name)s · viewing %(shot)s'), { name: displayName(p.user), shot: code }, true)
          : interpolate(gettext('%(name)s · viewing a shot'), { name: displayName(p.user) }, true);
      const node = avatar(p.user, 'sm', { title: where });
      node.classList.add('presence-dot');
      node.removeAttribute('aria-hidden');
      node.setAttribute('role', 'img');
      node.setAttribute('aria-label', where);
      node.dataset.userId = p.user.id;
      return node;
    }));
    if (others.length > 6) stack.append(el('span', { class: 'avatar avatar-sm avatar-empty' }, `+${others.length - 6}`));
    label.textContent = others.length
      ? interpolate(ngettext('%(count)s other here', '%(count)s others here', others.length), { count: others.length }, true)
      : '';
  }
}

export const presence = new Presence();

function setLiveState(state) {
  const node = document.querySelector('[data-role="live-state"]');
  if (!node) return;
  const shown = state === 'connected' ? 'open' : state;
  node.dataset.state = shown;
  const label = {
    open: gettext('Live: changes appear as they happen'),
    connecting: gettext('Connecting…'),
    reconnecting: gettext('Reconnecting…'),
    closed: gettext('Offline: reload the page if this lasts'),
  }[shown] || gettext('Live updates');
  node.title = label;
  node.setAttribute('aria-label', label);
}

/** Wire a page's ProjectSocket (or live.js's relay of one) into the shell: bell, presence, live dot. */
export function attachSocket(socket) {
  bell.attach(socket);
  socket.addEventListener('presence', (event) => {
    const message = event.detail || {};
    presence.apply(message.data || message);
  });
  socket.addEventListener('status', (event) => {
    const detail = event.detail || {};
    const state = detail.state || String(detail);
    setLiveState(state);
    if (typeof detail.unread === 'number') bell.setUnread(detail.unread);
    if (state === 'closed' && detail.reason === 'revoked') {
      toast(gettext('You are no longer a member of this project.'), 'warning', { timeout: 0 });
      setTimeout(() => { window.location.href = '/'; }, 2500);
    }
  });
  setLiveState('connecting');
  return socket;
}

initMenus();
