// My work (/me/work/): the shots assigned to me in every project, grouped by how soon they
// are due (overdue, this week, later, no date), from GET /api/me/work/.

import { api } from './api.js';
import { formatDate, nt, toDate } from './i18n.js';
import { bell } from './shell.js';
import { el, icon, statusChip, thumb } from './ui.js';

const app = document.getElementById('work-app');
const $ = (role) => app.querySelector(`[data-role="${role}"]`);
const list = $('list');
const showApproved = $('show-approved');

let shots = [];

function daysUntil(due) {
  const date = toDate(due);
  if (!date) return null;
  const today = new Date();
  const start = new Date(today.getFullYear(), today.getMonth(), today.getDate());
  return Math.round((date - start) / 86400000);
}

function bucket(shot) {
  const days = daysUntil(shot.due_date);
  if (days === null) return 'none';
  if (days < 0) return shot.status === 'approved' ? 'week' : 'overdue';
  if (days <= 7) return 'week';
  return 'later';
}

const BUCKETS = () => [
  ['overdue', gettext('Overdue')],
  ['week', gettext('Due this week')],
  ['later', gettext('Later')],
  ['none', gettext('No due date')],
];

function dueLabel(shot) {
  const days = daysUntil(shot.due_date);
  if (days === null) return null;
  let text;
  if (days === 0) text = gettext('Due today');
  else if (days === 1) text = gettext('Due tomorrow');
  else if (days < 0) text = nt(ngettext('%(count)s day overdue', '%(count)s days overdue', -days), -days);
  else text = interpolate(gettext('Due %(date)s'), { date: formatDate(shot.due_date, { month: 'short', day: 'numeric' }) }, true);
  const cls = shot.status !== 'approved' && days < 0 ? ' is-overdue' : (shot.status !== 'approved' && days <= 2 ? ' is-soon' : '');
  return el('span', { class: `due${cls}`, title: formatDate(shot.due_date, { dateStyle: 'full' }) }, icon('clock', 'icon-sm'), ' ', text);
}

function item(shot) {
  const take = shot.current_take;
  return el('a', { class: 'work-item', href: `/p/${shot.project}/shots/${shot.id}/`, dataset: { shotId: shot.id } },
    thumb(take ? take.thumbnail_url : null, { kind: take ? take.kind : 'image' }),
    el('div', { class: 'work-main' },
      el('div', { class: 'work-title' },
        el('span', { class: 'shot-code' }, shot.code),
        el('span', { class: 'ellipsis' }, shot.title || '')),
      el('div', { class: 'faint ellipsis', style: 'font-size:var(--fs-sm)' },
        [shot.project_name, shot.sequence_code].filter(Boolean).join(' · ')),
      el('div', { class: 'row' }, statusChip(shot.status))),
    el('div', { class: 'work-side' }, dueLabel(shot)));
}

function render() {
  list.setAttribute('aria-busy', 'false');
  const shown = shots.filter((shot) => showApproved.checked || shot.status !== 'approved');
  const open = shots.filter((shot) => shot.status !== 'approved').length;
  $('summary').textContent = shots.length
    ? interpolate(gettext('%(open)s open of %(total)s assigned to you, soonest due first.'), { open, total: shots.length }, true)
    : gettext('Shots assigned to you in every project, soonest due first.');
  if (!shown.length) {
    list.replaceChildren(el('div', { class: 'empty-state panel' },
      el('span', { class: 'empty-icon' }, icon('inbox')),
      el('h2', {}, shots.length ? gettext('Everything assigned to you is approved') : gettext('Nothing assigned to you')),
      el('p', {}, shots.length
        ? gettext('Nice work. Tick “Show approved” to see those shots again.')
        : gettext('When a director assigns you a shot, it shows up here with its due date.'))));
    return;
  }
  const groups = new Map(BUCKETS().map(([key]) => [key, []]));
  for (const shot of shown) groups.get(bucket(shot)).push(shot);
  const nodes = [];
  for (const [key, label] of BUCKETS()) {
    const members = groups.get(key);
    if (!members.length) continue;
    nodes.push(el('h2', { class: 'group-head', style: 'font-size:var(--fs)' }, label, el('span', { class: 'chip' }, String(members.length))));
    nodes.push(...members.map(item));
  }
  list.replaceChildren(...nodes);
}

async function load() {
  try {
    shots = await api.all('/api/me/work/?page_size=200');
    render();
  } catch (error) {
    list.setAttribute('aria-busy', 'false');
    list.replaceChildren(el('div', { class: 'empty-state panel' }, el('h2', {}, gettext('Your work could not be loaded')), el('p', {}, error.message)));
  }
}

showApproved.addEventListener('change', render);
// An assignment arriving while the page is open: show it.
bell.addEventListener('notification', (event) => { if (event.detail.kind === 'assigned') load(); });
load();
