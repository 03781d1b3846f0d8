// The prompt's revision history and a readable diff between any two revisions. The diff comes
// from the API (word level; one CJK character is one word) and is shown with insertions and
// deletions marked inline.

import { api } from './api.js';
import { avatar, displayName, el, timeAgo, toastError } from './ui.js';

/** Inline insert/delete markup for a list of {op, text} from the diff endpoint. */
export function renderOps(ops, { emptyText } = {}) {
  const box = el('p', { class: 'rv-diff-text' });
  if (!ops.length || ops.every((op) => !op.text)) {
    box.append(el('span', { class: 'rv-muted' }, emptyText || gettext('(empty)')));
    return box;
  }
  for (const op of ops) {
    if (op.op === 'insert') box.append(el('ins', { title: gettext('Added') }, op.text));
    else if (op.op === 'delete') box.append(el('del', { title: gettext('Removed') }, op.text));
    else box.append(op.text);
  }
  return box;
}

function changed(ops) {
  return ops.some((op) => op.op !== 'equal');
}

function valueText(value) {
  if (value === undefined) return '—';
  if (Array.isArray(value)) return value.join(', ');
  if (value && typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}: ${v}`).join(', ');
  return String(value);
}

/** A parameter changes table: key, before → after. */
export function renderParamChanges(changes) {
  const body = el('tbody');
  for (const change of changes) {
    body.append(el('tr', { dataset: { op: change.op } },
      el('th', { scope: 'row' }, change.key),
      el('td', {}, change.op === 'added' ? el('span', { class: 'rv-muted' }, '—') : el('del', {}, valueText(change.old))),
      el('td', {}, change.op === 'removed' ? el('span', { class: 'rv-muted' }, '—') : el('ins', {}, valueText(change.new)))));
  }
  return el('table', { class: 'rv-params rv-params--diff' },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, gettext('Parameter')), el('th', { scope: 'col' }, gettext('Before')),
      el('th', { scope: 'col' }, gettext('After')))), body);
}

/** The whole diff of two revisions, as the history and compare show it. */
export function renderDiff(diff) {
  const parts = [];
  const promptChanged = changed(diff.prompt);
  const negativeChanged = changed(diff.negative_prompt);
  parts.push(el('h3', { class: 'rv-h rv-h--sub' }, gettext('Prompt')),
    promptChanged ? renderOps(diff.prompt) : el('p', { class: 'rv-muted rv-small' }, gettext('No change to the prompt.')));
  if (negativeChanged) {
    parts.push(el('h3', { class: 'rv-h rv-h--sub' }, gettext('Negative prompt')), renderOps(diff.negative_prompt));
  }
  if (diff.params && diff.params.length) {
    parts.push(el('h3', { class: 'rv-h rv-h--sub' }, gettext('Parameters')), renderParamChanges(diff.params));
  }
  const assets = diff.assets || { added: [], removed: [] };
  if (assets.added.length || assets.removed.length) {
    parts.push(el('h3', { class: 'rv-h rv-h--sub' }, gettext('Reference images')),
      el('p', { class: 'rv-diff-text' },
        ...assets.added.map((a) => el('ins', {}, `+ ${a.name}`)),
        ...assets.removed.map((a) => el('del', {}, `− ${a.name}`))));
  }
  return parts;
}

export class RevisionHistory extends EventTarget {
  constructor(root, { shot, canEdit }) {
    super();
    this.root = root;
    this.shot = shot;
    this.canEdit = canEdit;
    this.revisions = [];
    this.to = null; // revision id shown as "after"
    this.from = null; // revision id shown as "before"
    this.list = root.querySelector('[data-role="revisions"]');
    this.diffBox = root.querySelector('[data-role="diff"]');
    this.request = 0;
  }

  async load() {
    // Keep following the newest change unless the person picked another one.
    const followNewest = this.to === null || (this.revisions[0] && this.to === this.revisions[0].id);
    this.revisions = await api.all(`/api/shots/${this.shot.id}/revisions/?page_size=200`);
    if (this.revisions.length && (followNewest || !this.revisions.some((r) => r.id === this.to))) {
      this.show(this.revisions[0].id);
    } else {
      this.render();
    }
    this.dispatchEvent(new CustomEvent('loaded', { detail: { revisions: this.revisions } }));
    return this.revisions;
  }

  revisionBefore(id) {
    const i = this.revisions.findIndex((r) => r.id === id);
    return i >= 0 ? this.revisions[i + 1] || null : null;
  }

  render() {
    if (!this.revisions.length) {
      this.list.replaceChildren(el('li', { class: 'rv-empty' }, el('strong', {}, gettext('No revisions yet')),
        el('span', {}, gettext('Every saved prompt is kept here, with who changed it, when and why.'))));
      this.diffBox.replaceChildren();
      return;
    }
    this.list.replaceChildren(...this.revisions.map((revision) => {
      const selected = revision.id === this.to;
      const isFrom = revision.id === this.from;
      const item = el('li', { class: `rv-revision${selected ? ' is-selected' : ''}${isFrom ? ' is-from' : ''}`, dataset: { revision: revision.id } });
      const open = el('button', {
        type: 'button', class: 'rv-revision-main', 'aria-pressed': String(selected),
        'aria-label': interpolate(gettext('Show what changed in revision %(n)s'), { n: revision.number }, true),
        onclick: () => this.show(revision.id),
      },
      el('span', { class: 'rv-rev-num' }, `r${revision.number}`),
      el('span', { class: 'rv-rev-body' },
        el('span', { class: 'rv-rev-head' }, avatar(revision.author, 'xs'), el('strong', {}, displayName(revision.author) || gettext('Someone')),
          timeAgo(revision.created_at)),
        revision.note ? el('span', { class: 'rv-rev-note' }, revision.note) : null,
        el('span', { class: 'rv-rev-prompt' }, revision.prompt)));
      item.append(open);
      const actions = el('span', { class: 'rv-rev-actions' });
      if (!selected) {
        actions.append(el('button', {
          type: 'button', class: 'rv-link', 'aria-pressed': String(isFrom),
          onclick: () => this.compareWith(revision.id),
        }, isFrom ? gettext('Compared') : gettext('Compare')));
      }
      if (this.canEdit && revision.id !== this.revisions[0].id) {
        actions.append(el('button', {
          type: 'button', class: 'rv-link',
          title: gettext('Copy this text into the editor; saving makes it the newest revision'),
          onclick: () => this.dispatchEvent(new CustomEvent('restore', { detail: { revision } })),
        }, gettext('Restore')));
      }
      item.append(actions);
      return item;
    }));
  }

  /** Show revision `id` against the one before it (or the chosen other one). */
  show(id) {
    this.to = id;
    const before = this.revisionBefore(id);
    this.from = before ? before.id : null;
    this.render();
    this.renderDiff();
  }

  compareWith(id) {
    this.from = id;
    this.render();
    this.renderDiff();
  }

  async renderDiff() {
    const to = this.revisions.find((r) => r.id === this.to);
    if (!to) return;
    const from = this.revisions.find((r) => r.id === this.from);
    const head = el('div', { class: 'rv-diff-head' });
    if (!from) {
      head.append(el('strong', {}, interpolate(gettext('Revision %(n)s'), { n: to.number }, true)),
        el('span', { class: 'rv-muted' }, gettext('the first revision')));
      this.diffBox.replaceChildren(head, el('h3', { class: 'rv-h rv-h--sub' }, gettext('Prompt')),
        el('p', { class: 'rv-diff-text' }, el('ins', {}, to.prompt)),
        ...(to.negative_prompt ? [el('h3', { class: 'rv-h rv-h--sub' }, gettext('Negative prompt')),
          el('p', { class: 'rv-diff-text' }, el('ins', {}, to.negative_prompt))] : []));
      return;
    }
    const [older, newer] = from.number < to.number ? [from, to] : [to, from];
    head.append(el('strong', {}, interpolate(gettext('Revision %(a)s → %(b)s'), { a: older.number, b: newer.number }, true)));
    if (newer.note) head.append(el('span', { class: 'rv-rev-note' }, `“${newer.note}”`));
    const ticket = ++this.request;
    this.diffBox.setAttribute('aria-busy', 'true');
    try {
      const diff = await api.get(`/api/shots/${this.shot.id}/revisions/${older.id}/diff/${newer.id}/`);
      if (ticket !== this.request) return;
      this.diffBox.replaceChildren(head, ...renderDiff(diff));
    } catch (error) {
      toastError(error);
    } finally {
      this.diffBox.removeAttribute('aria-busy');
    }
  }
}
