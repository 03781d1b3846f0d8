// Small DOM building blocks shared by every page: elements, icons, avatars, status chips,
// progress bars, toasts and confirmation dialogs. Avatars use the same colour and initials
// rule as the server's {% avatar %} tag (frontend/templatetags/studio.py).

export { formatDate, formatDateTime, formatNumber, formatPercent, relativeTime, lang } from './i18n.js';
import { formatPercent, relativeTime, formatDateTime } from './i18n.js';

/** el('a', {class: 'x', href, dataset: {id: 1}, onclick}, child, 'text', ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(node.style, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'text') node.textContent = value;
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';

/** An icon from the page's sprite (_icons.html); decorative, so label the control instead. */
export function icon(name, extra = '') {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', `icon${extra ? ` ${extra}` : ''}`);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const use = document.createElementNS(SVG, 'use');
  use.setAttribute('href', `#i-${name}`);
  svg.append(use);
  return svg;
}

// --- people -------------------------------------------------------------------------------------

export function avatarHue(id) {
  return (Number(id || 0) * 137) % 360;
}

export function initials(name) {
  const text = String(name || '').trim();
  if (!text) return '?';
  const han = text.match(/[\u4e00-\u9fff]/);
  if (han) return han[0]; // the family name of a Chinese name
  const words = text.replace(/[_.-]/g, ' ').split(/\s+/).filter(Boolean);
  if (words.length >= 2) return (words[0][0] + words[1][0]).toUpperCase();
  return (words[0] || text).slice(0, 2).toUpperCase();
}

export function displayName(user) {
  return user ? user.name || user.username || '' : '';
}

/** A round avatar for {id, username, name}; ``null`` draws the "nobody" placeholder. */
export function avatar(user, size = '', { title } = {}) {
  const cls = `avatar${size ? ` avatar-${size}` : ''}`;
  if (!user) {
    return el('span', { class: `${cls} avatar-empty`, title: title || gettext('Unassigned'), 'aria-hidden': 'true' }, '–');
  }
  const name = displayName(user);
  const node = el('span', { class: cls, title: title || name, 'aria-hidden': 'true' }, initials(name));
  node.style.setProperty('--avatar-bg', `hsl(${avatarHue(user.id)} 42% 40%)`);
  return node;
}

// --- shot status ----------------------------------------------------------------------------------

export const STATUSES = ['todo', 'in_progress', 'review', 'changes', 'approved'];

export function statusLabel(status) {
  return {
    todo: gettext('To do'),
    in_progress: gettext('In progress'),
    review: gettext('In review'),
    changes: gettext('Changes requested'),
    approved: gettext('Approved'),
  }[status] || status;
}

export function statusChip(status) {
  return el('span', { class: 'chip status-chip', dataset: { status } }, statusLabel(status));
}

export function roleLabel(role) {
  return {
    owner: gettext('Owner'),
    director: gettext('Director'),
    artist: gettext('Artist'),
    reviewer: gettext('Reviewer'),
    guest: gettext('Guest'),
  }[role] || role;
}

// --- progress ---------------------------------------------------------------------------------------

/** A thin progress bar; ``value`` 0..1, or null for "working, amount unknown". */
export function progressBar(value = null, { label } = {}) {
  const bar = el('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100' },
    el('div', { class: 'progress-bar' }));
  if (label) bar.setAttribute('aria-label', label);
  setProgress(bar, value);
  return bar;
}

export function setProgress(bar, value) {
  const known = value !== null && value !== undefined && !Number.isNaN(Number(value));
  bar.classList.toggle('is-indeterminate', !known);
  if (known) {
    const v = Math.max(0, Math.min(1, Number(value)));
    bar.style.setProperty('--p', String(v));
    bar.setAttribute('aria-valuenow', String(Math.round(v * 100)));
    bar.setAttribute('aria-valuetext', formatPercent(v));
  } else {
    bar.removeAttribute('aria-valuenow');
    bar.setAttribute('aria-valuetext', gettext('Working…'));
  }
}

// --- time that stays fresh ----------------------------------------------------------------------------

/** A <time> showing relative time, refreshed every minute while on the page. */
export function timeAgo(value) {
  const node = el('time', { datetime: value, title: formatDateTime(value), class: 'js-timeago' }, relativeTime(value));
  return node;
}

setInterval(() => {
  for (const node of document.querySelectorAll('time.js-timeago')) node.textContent = relativeTime(node.dateTime);
}, 60000);

// --- toasts -----------------------------------------------------------------------------------------

const TOAST_ICONS = { success: 'check-circle', error: 'x-circle', warning: 'alert', info: 'info' };

/** Show a short message: kind ∈ info, success, warning, error. Errors stay until closed or 8 s. */
export function toast(message, kind = 'info', { timeout } = {}) {
  let box = document.getElementById('toasts');
  if (!box) {
    box = el('div', { class: 'toasts', id: 'toasts', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const close = el('button', { type: 'button', class: 'icon-btn', 'aria-label': gettext('Dismiss') }, icon('x', 'icon-sm'));
  const node = el('div', { class: 'toast', dataset: { kind }, role: kind === 'error' ? 'alert' : 'status' },
    el('span', { class: 'toast-icon' }, icon(TOAST_ICONS[kind] || 'info')),
    el('div', {}, String(message)),
    close);
  const remove = () => {
    node.classList.add('is-leaving');
    setTimeout(() => node.remove(), 200);
  };
  close.addEventListener('click', remove);
  box.append(node);
  const ms = timeout ?? (kind === 'error' ? 8000 : 4500);
  if (ms > 0) setTimeout(remove, ms);
  while (box.children.length > 4) box.firstElementChild.remove();
  return node;
}

/** Toast an error from api.js (or anything with a message). */
export function toastError(error) {
  toast(error && error.message ? error.message : gettext('Something went wrong. Try again.'), 'error');
}

// --- dialogs ----------------------------------------------------------------------------------------

/** A modal yes/no question. Resolves true when confirmed. */
export function confirmDialog({ title, body = '', confirm = gettext('Confirm'), cancel = gettext('Cancel'), danger = false }) {
  return new Promise((resolve) => {
    const ok = el('button', { type: 'button', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, value: 'ok' }, confirm);
    const no = el('button', { type: 'button', class: 'btn', value: 'cancel' }, cancel);
    const heading = el('h2', { id: `dlg-${Date.now()}` }, title);
    const dialog = el('dialog', { class: 'dialog', 'aria-labelledby': heading.id },
      el('div', { class: 'dialog-body' }, heading, body ? el('p', {}, body) : null),
      el('div', { class: 'dialog-actions' }, no, ok));
    let answer = false;
    ok.addEventListener('click', () => { answer = true; dialog.close(); });
    no.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => { dialog.remove(); resolve(answer); });
    document.body.append(dialog);
    dialog.showModal();
    (danger ? no : ok).focus();
  });
}

// --- misc -------------------------------------------------------------------------------------------

export function debounce(fn, ms = 200) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** The JSON a page template put in <script type="application/json" id=...>. */
export function bootData(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

/** A thumbnail box: the image, or a calm placeholder when there is none. */
export function thumb(url, { alt = '', kind = 'image' } = {}) {
  if (url) {
    return el('div', { class: 'thumb' }, el('img', { src: url, alt, loading: 'lazy', decoding: 'async' }));
  }
  return el('div', { class: 'thumb thumb-empty' }, icon(kind === 'video' ? 'film' : 'image'));
}

/**
 * ARIA tabs inside ``root``: each [role=tab] has data-tab and aria-controls; click or ←/→
 * switches. Returns show(name) for pages that switch tabs themselves.
 */
export function bindTabs(root) {
  const tabs = () => [...root.querySelectorAll('[role="tab"]')];
  const show = (name) => {
    for (const tab of tabs()) {
      const on = tab.dataset.tab === name;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      document.getElementById(tab.getAttribute('aria-controls')).hidden = !on;
    }
  };
  for (const tab of tabs()) {
    tab.addEventListener('click', () => show(tab.dataset.tab));
    tab.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
      event.preventDefault();
      event.stopPropagation();
      const all = tabs();
      const step = event.key === 'ArrowRight' ? 1 : all.length - 1;
      const next = all[(all.indexOf(tab) + step) % all.length];
      next.focus();
      show(next.dataset.tab);
    });
  }
  return show;
}
