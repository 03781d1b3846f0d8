// Frame comments of a take: the list (threads sorted by frame), the composer with @mention
// completion, replies and resolve. The panel only talks to the API; the review page decides
// what a click on a comment does to the player.

import { api } from './api.js';
import { avatar, timeAgo } from './ui.js';
import { timecode } from './timecode.js';

const MENTION_BEFORE_CARET = /(^|[\s(])@([\w.+-]*)$/u;

/** A comment body as text with @mentions highlighted (never as HTML). */
function bodyNodes(text, mentionNames) {
  const out = document.createDocumentFragment();
  const pattern = /(?<![\w@])@([\w.+-]+)/gu;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const name = match[1].replace(/\.+$/, '');
    if (!mentionNames.has(name)) continue;
    out.append(text.slice(last, match.index));
    const mark = document.createElement('span');
    mark.className = 'rv-mention';
    mark.textContent = `@${name}`;
    out.append(mark);
    last = match.index + name.length + 1;
  }
  out.append(text.slice(last));
  return out;
}

/** Completion of @username in a textarea, from the project's members. */
export class MentionCompleter {
  constructor(textarea, members) {
    this.textarea = textarea;
    this.members = members; // [{id, username, name}]
    this.items = [];
    this.index = 0;
    this.list = document.createElement('ul');
    this.list.className = 'rv-mention-menu';
    this.list.setAttribute('role', 'listbox');
    this.list.id = `mentions-${Math.random().toString(36).slice(2, 8)}`;
    this.list.hidden = true;
    this.list.setAttribute('aria-label', gettext('Members to mention'));
    textarea.setAttribute('aria-autocomplete', 'list');
    textarea.setAttribute('aria-controls', this.list.id);
    textarea.parentElement.append(this.list);
    textarea.addEventListener('input', () => this.refresh());
    textarea.addEventListener('keydown', (event) => this.onKey(event));
    textarea.addEventListener('blur', () => setTimeout(() => this.close(), 150));
  }

  query() {
    const { value, selectionStart } = this.textarea;
    const match = MENTION_BEFORE_CARET.exec(value.slice(0, selectionStart));
    return match ? match[2] : null;
  }

  refresh() {
    const query = this.query();
    if (query === null) return this.close();
    const q = query.toLowerCase();
    this.items = this.members
      .filter((m) => m.username.toLowerCase().startsWith(q) || (m.name || '').toLowerCase().includes(q))
      .slice(0, 6);
    if (!this.items.length) return this.close();
    this.index = Math.min(this.index, this.items.length - 1);
    this.list.replaceChildren(...this.items.map((member, i) => {
      const li = document.createElement('li');
      li.setAttribute('role', 'option');
      li.id = `${this.list.id}-${i}`;
      li.setAttribute('aria-selected', String(i === this.index));
      li.append(avatar(member, 'xs'));
      const name = document.createElement('span');
      name.textContent = member.name && member.name !== member.username ? `${member.name}` : member.username;
      const handle = document.createElement('span');
      handle.className = 'rv-muted';
      handle.textContent = `@${member.username}`;
      li.append(name, handle);
      li.addEventListener('mousedown', (event) => {
        event.preventDefault();
        this.pick(i);
      });
      return li;
    }));
    this.list.hidden = false;
    this.textarea.setAttribute('aria-activedescendant', `${this.list.id}-${this.index}`);
    this.textarea.setAttribute('aria-expanded', 'true');
    return undefined;
  }

  close() {
    this.list.hidden = true;
    this.items = [];
    this.textarea.removeAttribute('aria-activedescendant');
    this.textarea.setAttribute('aria-expanded', 'false');
  }

  onKey(event) {
    if (this.list.hidden) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      this.index = (this.index + (event.key === 'ArrowDown' ? 1 : -1) + this.items.length) % this.items.length;
      this.refresh();
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      event.preventDefault();
      event.stopPropagation();
      this.pick(this.index);
    } else if (event.key === 'Escape') {
      event.stopPropagation();
      this.close();
    }
  }

  pick(i) {
    const member = this.items[i];
    if (!member) return;
    const { value, selectionStart } = this.textarea;
    const before = value.slice(0, selectionStart).replace(/@[\w.+-]*$/u, `@${member.username} `);
    this.textarea.value = before + value.slice(selectionStart).replace(/^\s+/, '');
    this.textarea.setSelectionRange(before.length, before.length);
    this.close();
    this.textarea.dispatchEvent(new Event('input', { bubbles: true }));
  }
}

/**
 * The comments of one take. Emits "select" ({comment}) when a comment is picked, "loaded"
 * ({comments}) after every fetch.
 */
export class CommentPanel extends EventTarget {
  constructor(root, { take, fps, me, can, members, notify }) {
    super();
    this.root = root;
    this.take = take;
    this.fps = fps;
    this.me = me;
    this.can = can; // (capability) => bool
    this.members = members;
    this.notify = notify;
    this.comments = [];
    this.selectedId = null;
    this.hideResolved = false;
    this.list = root.querySelector('[data-role="comment-list"]');
    this.count = root.querySelector('[data-role="comment-count"]');
    const toggle = root.querySelector('[data-role="hide-resolved"]');
    if (toggle) {
      toggle.addEventListener('change', () => {
        this.hideResolved = toggle.checked;
        this.render();
      });
    }
  }

  get url() {
    return `/api/takes/${this.take.id}/comments/`;
  }

  async load() {
    const comments = await api.all(`${this.url}?page_size=500`);
    this.comments = comments;
    this.render();
    this.dispatchEvent(new CustomEvent('loaded', { detail: { comments } }));
    return comments;
  }

  byId(id) {
    return this.comments.find((c) => c.id === id);
  }

  /** Top-level comments by frame (stills and unframed first), then time; replies by time. */
  threads() {
    const roots = this.comments.filter((c) => !c.parent);
    const replies = new Map();
    for (const c of this.comments) {
      if (c.parent) replies.set(c.parent, [...(replies.get(c.parent) || []), c]);
    }
    const key = (c) => (c.frame === null || c.frame === undefined ? -1 : c.frame);
    roots.sort((a, b) => key(a) - key(b) || a.created_at.localeCompare(b.created_at) || a.id - b.id);
    return roots.map((c) => ({ comment: c, replies: (replies.get(c.id) || []).sort((a, b) => a.id - b.id) }));
  }

  frameLabel(frame) {
    return frame === null || frame === undefined ? '' : `${frame} · ${timecode(frame, this.fps)}`;
  }

  render() {
    const threads = this.threads();
    const open = threads.filter((t) => !t.comment.resolved).length;
    if (this.count) {
      this.count.textContent = interpolate(ngettext('%s thread', '%s threads', threads.length), [threads.length]);
      this.count.title = interpolate(gettext('%(open)s open, %(all)s in all'), { open, all: threads.length }, true);
    }
    const visible = this.hideResolved ? threads.filter((t) => !t.comment.resolved) : threads;
    if (!visible.length) {
      const empty = document.createElement('li');
      empty.className = 'rv-empty';
      const title = document.createElement('strong');
      const hint = document.createElement('span');
      if (threads.length) {
        title.textContent = gettext('Every comment is resolved');
        hint.textContent = gettext('Untick "Hide resolved" to see them.');
      } else {
        title.textContent = gettext('No comments yet');
        hint.textContent = this.take.kind === 'video'
          ? gettext('Pause on a frame, draw on it if it helps, and write what should change.')
          : gettext('Draw on the image if it helps, and write what should change.');
      }
      empty.append(title, hint);
      this.list.replaceChildren(empty);
      return;
    }
    this.list.replaceChildren(...visible.map((thread) => this.renderThread(thread)));
  }

  renderThread({ comment, replies }) {
    const li = document.createElement('li');
    li.className = 'rv-thread';
    li.dataset.commentId = String(comment.id);
    li.append(this.renderComment(comment, false));
    if (replies.length) {
      const ol = document.createElement('ol');
      ol.className = 'rv-replies';
      ol.setAttribute('aria-label', gettext('Replies'));
      for (const reply of replies) {
        const item = document.createElement('li');
        item.append(this.renderComment(reply, true));
        ol.append(item);
      }
      li.append(ol);
    }
    return li;
  }

  renderComment(comment, isReply) {
    const card = document.createElement('article');
    card.className = 'rv-comment';
    card.dataset.commentId = String(comment.id);
    card.classList.toggle('is-reply', isReply);
    card.classList.toggle('is-resolved', comment.resolved);
    card.classList.toggle('is-selected', comment.id === this.selectedId);
    const head = document.createElement('header');
    head.append(avatar(comment.author));
    const who = document.createElement('strong');
    who.textContent = comment.author ? comment.author.name || comment.author.username : gettext('Someone');
    head.append(who, timeAgo(comment.created_at));
    if (!isReply && comment.frame !== null && comment.frame !== undefined && this.take.kind === 'video') {
      const chip = document.createElement('button');
      chip.type = 'button';
      chip.className = 'rv-chip rv-chip--frame';
      chip.dataset.role = 'frame-chip';
      chip.textContent = this.frameLabel(comment.frame);
      chip.setAttribute('aria-label', interpolate(gettext('Go to frame %(frame)s'), { frame: comment.frame }, true));
      chip.addEventListener('click', (event) => {
        event.stopPropagation();
        this.select(comment.id);
      });
      head.append(chip);
    }
    if (comment.annotation && comment.annotation.shapes && comment.annotation.shapes.length) {
      const mark = document.createElement('span');
      mark.className = 'rv-drawing-mark';
      mark.title = gettext('Has a drawing');
      mark.setAttribute('aria-label', gettext('Has a drawing'));
      mark.setAttribute('role', 'img');
      head.append(mark);
    }
    if (comment.resolved) {
      const badge = document.createElement('span');
      badge.className = 'rv-badge rv-badge--resolved';
      badge.textContent = gettext('Resolved');
      head.append(badge);
    }
    const body = document.createElement('p');
    body.className = 'rv-comment-body';
    body.append(bodyNodes(comment.body, new Set((comment.mentions || []).map((m) => m.username))));
    card.append(head, body);
    const actions = document.createElement('footer');
    if (!isReply && this.can('comment')) {
      actions.append(this.actionButton(gettext('Reply'), () => this.openReply(card, comment)));
    }
    const mayResolve = comment.author && comment.author.id === this.me.id ? true : this.can('review');
    if (!isReply && mayResolve) {
      actions.append(this.actionButton(comment.resolved ? gettext('Reopen') : gettext('Resolve'),
        () => this.setResolved(comment, !comment.resolved)));
    }
    if (actions.childElementCount) card.append(actions);
    if (!isReply) {
      card.tabIndex = 0;
      card.setAttribute('aria-label', comment.frame !== null && comment.frame !== undefined && this.take.kind === 'video'
        ? interpolate(gettext('Comment by %(who)s at frame %(frame)s'), { who: who.textContent, frame: comment.frame }, true)
        : interpolate(gettext('Comment by %(who)s'), { who: who.textContent }, true));
      card.addEventListener('click', (event) => {
        if (event.target.closest('button, a, textarea, input, form')) return;
        this.select(comment.id);
      });
      card.addEventListener('keydown', (event) => {
        if ((event.key === 'Enter' || event.key === ' ') && event.target === card) {
          event.preventDefault();
          this.select(comment.id);
        }
      });
    }
    return card;
  }

  actionButton(label, onClick) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'rv-link';
    button.textContent = label;
    button.addEventListener('click', (event) => {
      event.stopPropagation();
      onClick();
    });
    return button;
  }

  select(id) {
    this.selectedId = id;
    for (const el of this.list.querySelectorAll('.rv-comment')) {
      el.classList.toggle('is-selected', el.dataset.commentId === String(id));
    }
    const comment = this.byId(id);
    if (comment) this.dispatchEvent(new CustomEvent('select', { detail: { comment } }));
  }

  /** Forget the highlighted comment (the player moved away from its frame). */
  deselect() {
    if (this.selectedId === null) return;
    this.selectedId = null;
    for (const el of this.list.querySelectorAll('.rv-comment.is-selected')) el.classList.remove('is-selected');
  }

  openReply(card, comment) {
    const thread = card.closest('.rv-thread');
    let form = thread.querySelector('.rv-reply-form');
    if (form) {
      form.querySelector('textarea').focus();
      return;
    }
    form = document.createElement('form');
    form.className = 'rv-reply-form';
    const textarea = document.createElement('textarea');
    textarea.rows = 2;
    textarea.required = true;
    textarea.placeholder = gettext('Reply… (@ to mention)');
    textarea.setAttribute('aria-label', gettext('Reply'));
    const wrap = document.createElement('div');
    wrap.className = 'rv-textarea-wrap';
    wrap.append(textarea);
    const row = document.createElement('div');
    row.className = 'rv-row rv-row--end';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.className = 'rv-btn rv-btn--ghost';
    cancel.textContent = gettext('Cancel');
    cancel.addEventListener('click', () => form.remove());
    const send = document.createElement('button');
    send.type = 'submit';
    send.className = 'rv-btn rv-btn--primary';
    send.textContent = gettext('Reply');
    row.append(cancel, send);
    form.append(wrap, row);
    thread.append(form);
    new MentionCompleter(textarea, this.members); // eslint-disable-line no-new
    textarea.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) form.requestSubmit();
      if (event.key === 'Escape') form.remove();
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!textarea.value.trim()) return;
      send.disabled = true;
      try {
        await this.create({ body: textarea.value, parent: comment.id, frame: comment.frame });
        form.remove();
      } catch (error) {
        this.notify(error);
        send.disabled = false;
      }
    });
    textarea.focus();
  }

  async create(fields) {
    const created = await api.post(this.url, fields);
    if (!this.byId(created.id)) this.comments.push(created);
    this.render();
    this.dispatchEvent(new CustomEvent('loaded', { detail: { comments: this.comments } }));
    return created;
  }

  async setResolved(comment, resolved) {
    try {
      const updated = await api.patch(`${this.url}${comment.id}/`, { resolved });
      Object.assign(comment, updated);
      this.render();
      this.dispatchEvent(new CustomEvent('loaded', { detail: { comments: this.comments } }));
    } catch (error) {
      this.notify(error);
    }
  }
}
