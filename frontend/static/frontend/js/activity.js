// The project's activity (/p/<id>/activity/): its event log as sentences, newest first, grouped
// by day, with new events appended live from the project socket.

import { api } from './api.js';
import { dayLabel, formatDateTime } from './i18n.js';
import { connectProject } from './live.js';
import { avatar, bootData, displayName, el, icon, roleLabel, statusLabel, timeAgo } from './ui.js';

const boot = bootData('activity-boot');
const project = boot.project;
const app = document.getElementById('activity-app');
const $ = (role) => app.querySelector(`[data-role="${role}"]`);
const feed = $('feed');

/** shot id → code, sequence id → code: events name objects by id. */
const names = { shots: new Map(), sequences: new Map() };
const memberNames = new Map();
let events = []; // newest first
let previousPage = null;
let lastSeq = 0;

const GROUPS = {
  comments: /^(comment\.|take\.reviewed)/,
  renders: /^(render\.|take\.created)/,
  shots: /^(shot\.|sequence\.|revision\.|asset\.|preset\.)/,
  team: /^(member\.|project\.)/,
};

// --- sentences -----------------------------------------------------------------------------------

function who(event) {
  return event.actor ? displayName(event.actor) : gettext('The studio');
}

function shotLink(id, code) {
  const label = code || names.shots.get(id) || interpolate(gettext('shot %(id)s'), { id }, true);
  return id ? el('a', { href: `/p/${project.id}/shots/${id}/`, class: 'mono' }, label) : el('span', {}, label);
}

/** Build a sentence from a translated template whose %(name)s parts become nodes. */
function sentence(template, parts) {
  const out = [];
  const re = /%\((\w+)\)s/g;
  let last = 0;
  let match;
  while ((match = re.exec(template))) {
    out.push(template.slice(last, match.index));
    const part = parts[match[1]];
    out.push(part instanceof Node ? part : el('strong', {}, part ?? ''));
    last = re.lastIndex;
  }
  out.push(template.slice(last));
  return out;
}

const RENDER_KIND = () => ({ image: gettext('image'), video: gettext('video') });

/** [icon name, sentence nodes, optional quote, optional thumbnail] or null to leave it out. */
function describe(event) {
  const d = event.data || {};
  const actor = who(event);
  const shot = () => shotLink(d.shot, d.code);
  switch (event.type) {
    case 'project.created':
      return ['folder', sentence(gettext('%(actor)s created the project %(name)s'), { actor, name: d.name })];
    case 'project.updated':
      return ['pencil', sentence(gettext('%(actor)s changed the project settings'), { actor })];
    case 'member.added':
      return ['user-plus', sentence(gettext('%(actor)s added %(user)s as %(role)s'), { actor, user: d.username, role: roleLabel(d.role) })];
    case 'member.updated':
      return ['users', sentence(gettext('%(actor)s made %(user)s %(role)s'), { actor, user: d.username, role: roleLabel(d.role) })];
    case 'member.removed':
      return event.actor && event.actor.id === d.user
        ? ['logout', sentence(gettext('%(user)s left the project'), { user: d.username })]
        : ['logout', sentence(gettext('%(actor)s removed %(user)s from the project'), { actor, user: d.username })];
    case 'sequence.created':
      return ['board', sentence(gettext('%(actor)s added sequence %(code)s'), { actor, code: d.code })];
    case 'sequence.updated':
      return ['board', sentence(gettext('%(actor)s updated sequence %(code)s'), { actor, code: names.sequences.get(d.sequence) || '' })];
    case 'shot.created':
      return ['plus', sentence(gettext('%(actor)s added shot %(shot)s'), { actor, shot: shot() })];
    case 'shot.updated': {
      const fields = d.fields || [];
      if (fields.includes('status')) {
        return ['flag', sentence(gettext('%(actor)s moved %(shot)s to %(status)s'), { actor, shot: shot(), status: statusLabel(d.status) })];
      }
      if (fields.includes('assignee')) {
        if (d.assignee === null) return ['flag', sentence(gettext('%(actor)s unassigned %(shot)s'), { actor, shot: shot() })];
        return ['flag', sentence(gettext('%(actor)s assigned %(shot)s to %(user)s'), {
          actor, shot: shot(), user: memberNames.get(d.assignee) || gettext('a teammate'),
        })];
      }
      if (fields.includes('current_take')) {
        return event.actor
          ? ['layers', sentence(gettext('%(actor)s picked a new current take for %(shot)s'), { actor, shot: shot() })]
          : ['layers', sentence(gettext('%(shot)s has its first take'), { shot: shot() })];
      }
      return ['pencil', sentence(gettext('%(actor)s updated %(shot)s'), { actor, shot: shot() })];
    }
    case 'revision.created':
      return ['pencil', sentence(gettext('%(actor)s saved prompt revision %(number)s of %(shot)s'), { actor, number: String(d.number), shot: shot() }), d.note];
    case 'asset.created':
      return ['image', sentence(gettext('%(actor)s uploaded the reference %(name)s'), { actor, name: d.name })];
    case 'preset.created':
      return ['render', sentence(gettext('%(actor)s added the style preset %(name)s'), { actor, name: d.name })];
    case 'comment.created':
      return d.frame !== null && d.frame !== undefined
        ? ['comment', sentence(gettext('%(actor)s commented on %(shot)s at frame %(frame)s'), { actor, shot: shot(), frame: String(d.frame) }), d.body]
        : ['comment', sentence(gettext('%(actor)s commented on %(shot)s'), { actor, shot: shot() }), d.body];
    case 'comment.updated':
      return ['comment', sentence(gettext('%(actor)s edited a comment on %(shot)s'), { actor, shot: shot() })];
    case 'comment.resolved':
      return ['check', sentence(gettext('%(actor)s resolved a comment on %(shot)s'), { actor, shot: shot() })];
    case 'render.state': {
      const kind = RENDER_KIND()[d.kind] || d.kind;
      if (d.status === 'queued') {
        return ['render', sentence(d.retry_of
          ? gettext('%(actor)s retried a %(kind)s render of %(shot)s')
          : gettext('%(actor)s started a %(kind)s render of %(shot)s'), { actor, kind, shot: shot() })];
      }
      if (d.status === 'failed') return ['alert', sentence(gettext('A %(kind)s render of %(shot)s failed'), { kind, shot: shot() }), d.error];
      if (d.status === 'canceled') return ['x', sentence(gettext('%(actor)s canceled a %(kind)s render of %(shot)s'), { actor, kind, shot: shot() })];
      return null;
    }
    case 'take.created': {
      const link = el('a', { href: `/p/${project.id}/review/${d.take}/` }, interpolate(gettext('Take %(n)s'), { n: d.number }, true));
      return ['layers', sentence(gettext('%(take)s of %(shot)s is ready'), { take: link, shot: shot() }), null, d.thumbnail_url];
    }
    case 'take.reviewed': {
      const take = el('a', { href: `/p/${project.id}/review/${d.take}/` }, interpolate(gettext('take %(n)s'), { n: d.number }, true));
      const template = {
        approve: gettext('%(actor)s approved %(take)s of %(shot)s'),
        changes: gettext('%(actor)s asked for changes on %(take)s of %(shot)s'),
        reject: gettext('%(actor)s rejected %(take)s of %(shot)s'),
      }[d.decision] || gettext('%(actor)s reviewed %(take)s of %(shot)s');
      return [d.decision === 'approve' ? 'check-circle' : 'comment', sentence(template, { actor, take, shot: shot() }), d.note, d.thumbnail_url];
    }
    default:
      return ['activity', sentence(gettext('%(actor)s: %(what)s'), { actor, what: event.type })];
  }
}

/** Events that say nothing the lines next to them do not: the automatic first take, a render
 *  starting to run or succeeding (its take's line says it better). */
function redundant(event) {
  const d = event.data || {};
  if (event.type === 'render.state') return d.status === 'running' || d.status === 'succeeded';
  return event.type === 'shot.updated' && !event.actor && (d.fields || []).length === 1 && d.fields[0] === 'current_take';
}

const GROUP_WINDOW_MS = 15 * 60 * 1000;

/** Key under which consecutive events fold into one line (a batch's takes, a batch's renders). */
function foldKey(event) {
  const d = event.data || {};
  if (event.type === 'take.created') return `take|${d.batch || ''}`;
  if (event.type === 'render.state' && d.status === 'queued' && d.batch) return `queued|${d.batch}`;
  return null;
}

/** Newest-first events → lines: single events, or folds of several alike. */
function fold(list) {
  const lines = [];
  for (const event of list) {
    const key = foldKey(event);
    const last = lines[lines.length - 1];
    if (key && last && last.key === key
        && Math.abs(new Date(last.events[last.events.length - 1].at) - new Date(event.at)) < GROUP_WINDOW_MS) {
      last.events.push(event);
    } else {
      lines.push({ key, events: [event] });
    }
  }
  return lines;
}

function shotList(events) {
  const codes = [...new Set(events.map((e) => e.data.code || names.shots.get(e.data.shot) || ''))].filter(Boolean);
  const shown = codes.slice(0, 4).join(', ');
  return codes.length > 4 ? interpolate(gettext('%(list)s and %(count)s more'), { list: shown, count: codes.length - 4 }, true) : shown;
}

function describeFold(events) {
  const first = events[0];
  const count = events.length;
  if (first.type === 'take.created') {
    return ['layers', sentence(ngettext('%(count)s new take: %(shots)s', '%(count)s new takes: %(shots)s', count),
      { count: String(count), shots: el('span', { class: 'muted' }, shotList(events)) }), null, events.map((e) => e.data.thumbnail_url).filter(Boolean)];
  }
  const kind = RENDER_KIND()[first.data.kind] || first.data.kind;
  return ['render', sentence(ngettext('%(actor)s started %(count)s %(kind)s render: %(shots)s', '%(actor)s started %(count)s %(kind)s renders: %(shots)s', count),
    { actor: who(first), count: String(count), kind, shots: el('span', { class: 'muted' }, shotList(events)) })];
}

function thumbStrip(urls) {
  if (!urls || !urls.length) return null;
  const list = Array.isArray(urls) ? urls : [urls];
  return el('span', { class: 'feed-thumbs' }, ...list.slice(0, 8).map((url) => el('img', { src: url, alt: '', loading: 'lazy' })),
    list.length > 8 ? el('span', { class: 'feed-more' }, `+${list.length - 8}`) : null);
}

function item(line, { fresh = false } = {}) {
  const event = line.events[0];
  const described = line.events.length > 1 ? describeFold(line.events) : describe(event);
  if (!described) return null;
  const [iconName, parts, quote, thumbs] = described;
  const lead = event.actor ? avatar(event.actor, 'lg') : el('span', { class: 'feed-icon' }, icon(iconName));
  return el('li', { class: `feed-item${fresh ? ' is-new' : ''}`, dataset: { seq: event.seq, type: event.type } },
    lead,
    el('div', { class: 'feed-text' }, ...parts,
      quote ? el('span', { class: 'feed-quote' }, quote) : null,
      thumbStrip(thumbs)),
    el('span', { class: 'feed-time', title: formatDateTime(event.at) }, timeAgo(event.at)));
}

function visible(event) {
  const filter = $('filter').value;
  return !redundant(event) && (!filter || GROUPS[filter].test(event.type));
}

function render(freshSeqs = new Set()) {
  feed.setAttribute('aria-busy', 'false');
  const nodes = [];
  let day = null;
  // Only events that make a sentence take part in folding: a silent one (a render moving to
  // "running", say) between two takes of one batch must not split their line.
  for (const line of fold(events.filter((event) => visible(event) && describe(event)))) {
    const event = line.events[0];
    const node = item(line, { fresh: line.events.some((e) => freshSeqs.has(e.seq)) });
    if (!node) continue;
    const label = dayLabel(event.at);
    if (label !== day) {
      day = label;
      nodes.push(el('li', { class: 'feed-day' }, label));
    }
    nodes.push(node);
  }
  if (!nodes.length) {
    nodes.push(el('li', { class: 'empty-state' }, el('span', { class: 'empty-icon' }, icon('activity')),
      el('h2', {}, gettext('Nothing here yet')),
      el('p', {}, gettext('Comments, renders, reviews and changes to shots will appear here as they happen.'))));
  }
  feed.replaceChildren(...nodes);
  $('more').hidden = !previousPage;
}

async function loadNames() {
  const [shots, sequences, members] = await Promise.all([
    api.all(`/api/projects/${project.id}/shots/?page_size=500`),
    api.all(`/api/projects/${project.id}/sequences/?page_size=500`),
    api.all(`/api/projects/${project.id}/members/?page_size=500`),
  ]);
  for (const shot of shots) names.shots.set(shot.id, shot.code);
  for (const seq of sequences) names.sequences.set(seq.id, seq.code);
  for (const m of members) memberNames.set(m.user.id, displayName(m.user));
}

async function loadLatest() {
  const page = await api.get(`/api/projects/${project.id}/events/?page=last&page_size=100`);
  let results = page.results;
  previousPage = page.previous;
  if (results.length < 100 && previousPage) {
    // The last page may hold only a few events; the one before completes a screenful.
    const before = await api.get(previousPage);
    results = [...before.results, ...results];
    previousPage = before.previous;
  }
  events = [...results].reverse();
  lastSeq = events.length ? events[0].seq : 0;
}

$('more').addEventListener('click', async () => {
  if (!previousPage) return;
  const button = $('more');
  button.disabled = true;
  try {
    const page = await api.get(previousPage);
    events = [...events, ...[...page.results].reverse()];
    previousPage = page.previous;
    render();
  } finally {
    button.disabled = false;
  }
});
$('filter').addEventListener('change', () => render());

function onLive(message) {
  if (!message.seq || message.seq <= lastSeq) return;
  lastSeq = message.seq;
  if (message.type === 'shot.created' && message.data) names.shots.set(message.data.shot, message.data.code);
  if (message.type === 'sequence.created' && message.data) names.sequences.set(message.data.sequence, message.data.code);
  if (message.type === 'member.added' && message.data) memberNames.set(message.data.user, message.data.username);
  events.unshift(message);
  render(new Set([message.seq]));
}

async function start() {
  try {
    await Promise.all([loadNames(), loadLatest()]);
    render();
  } catch (error) {
    feed.setAttribute('aria-busy', 'false');
    feed.replaceChildren(el('li', { class: 'empty-state' }, el('h2', {}, gettext('The activity could not be loaded')), el('p', {}, error.message)));
    return;
  }
  const socket = connectProject(project.id, { after: lastSeq || boot.last_seq });
  socket.addEventListener('event', (event) => onLive(event.detail));
  app.dataset.ready = 'true';
}

start();
