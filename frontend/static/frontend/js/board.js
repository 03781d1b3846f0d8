// The board (/p/<id>/): every shot in order, grouped by sequence, with its current take, status,
// assignee, comment and take counts, and a live progress bar while it renders. Filters live in
// the URL (?status=&assignee=&sequence=) and apply in the page, so counts stay complete and live
// updates never need a reload. Directors and artists select shots (click, shift-click for a
// range) and start a batch render.

import { api } from './api.js';
import { formatNumber, formatPercent, nt } from './i18n.js';
import { connectProject } from './live.js';
import { me, presence } from './shell.js';
import {
  STATUSES, avatar, bootData, debounce, displayName, el, icon, progressBar, setProgress, statusLabel, toast, toastError,
} from './ui.js';

const boot = bootData('board-boot');
const project = boot.project;
const can = (capability) => boot.capabilities.includes(capability);
const app = document.getElementById('board-app');
const $ = (role) => app.querySelector(`[data-role="${role}"]`);
const boardEl = $('board');

const ACTIVE = new Set(['queued', 'running']);

const state = {
  sequences: [],
  /** shot id → board row (as GET /board/ returns it, kept current by events) */
  shots: new Map(),
  order: [],
  members: new Map(),
  /** shot id → the last render failure seen live, until a new render starts */
  failures: new Map(),
  /** events up to this seq are already reflected in the last board fetch */
  boardSeq: 0,
  /** jobs seen ending: a late progress tick must not bring them back */
  finished: new Set(),
  selected: new Set(),
  lastClicked: null,
  filters: { status: [], assignee: '', sequence: '' },
};

// --- filters in the URL -----------------------------------------------------------------------------

function readFilters() {
  const params = new URLSearchParams(window.location.search);
  state.filters.status = (params.get('status') || '').split(',').filter((s) => STATUSES.includes(s));
  state.filters.assignee = params.get('assignee') || '';
  state.filters.sequence = params.get('sequence') || '';
}

function writeFilters() {
  const params = new URLSearchParams(window.location.search);
  const set = (key, value) => (value ? params.set(key, value) : params.delete(key));
  set('status', state.filters.status.join(','));
  set('assignee', state.filters.assignee);
  set('sequence', state.filters.sequence);
  const query = params.toString();
  history.replaceState(null, '', `${window.location.pathname}${query ? `?${query}` : ''}`);
}

function matches(shot, { ignoreStatus = false } = {}) {
  const f = state.filters;
  if (!ignoreStatus && f.status.length && !f.status.includes(shot.status)) return false;
  if (f.sequence && String(shot.sequence ?? 'none') !== f.sequence) return false;
  const assignee = shot.assignee ? shot.assignee.id : null;
  if (f.assignee === 'me' && assignee !== me.id) return false;
  if (f.assignee === 'none' && assignee !== null) return false;
  if (f.assignee && !['me', 'none'].includes(f.assignee) && String(assignee) !== f.assignee) return false;
  return true;
}

function visibleShots() {
  return state.order.map((id) => state.shots.get(id)).filter((shot) => shot && matches(shot));
}

function hasFilters() {
  const f = state.filters;
  return Boolean(f.status.length || f.assignee || f.sequence);
}

// --- one shot card ----------------------------------------------------------------------------------

function renderSummary(shot) {
  const jobs = (shot.active_renders || []).filter((job) => ACTIVE.has(job.status));
  if (!jobs.length) return null;
  const running = jobs.filter((job) => job.status === 'running');
  const progress = running.length
    ? jobs.reduce((sum, job) => sum + (Number(job.progress) || 0), 0) / jobs.length
    : null;
  return { jobs, running, progress };
}

class ShotCard {
  constructor(shot) {
    this.id = shot.id;
    this.checkbox = el('input', { type: 'checkbox', class: 'checkbox', dataset: { role: 'select' } });
    this.checkbox.addEventListener('click', (event) => onSelectClick(this.id, event));
    this.selectBox = el('label', { class: 'shot-select' }, this.checkbox);
    this.thumb = el('div', { class: 'thumb thumb-empty' });
    this.takeChip = el('span', { class: 'chip take-chip', hidden: true });
    this.renderBox = el('div', { class: 'thumb-render', hidden: true, dataset: { role: 'render' } });
    this.renderLabel = el('span', { class: 'thumb-render-label' });
    this.bar = progressBar(null, { label: gettext('Render progress') });
    this.renderBox.append(this.renderLabel, this.bar);
    this.viewers = el('span', { class: 'shot-viewers avatar-stack' });
    this.code = el('span', { class: 'shot-code' });
    this.title = el('span', { class: 'shot-title ellipsis' });
    this.statusChip = el('span', { class: 'chip status-chip', dataset: { role: 'status' } });
    this.failChip = el('span', { class: 'chip', hidden: true, style: 'color:var(--danger);background:var(--danger-soft)' }, gettext('Render failed'));
    this.comments = el('span', { class: 'shot-meta', dataset: { role: 'comments' } });
    this.takes = el('span', { class: 'shot-meta', dataset: { role: 'takes' } });
    this.assignee = el('span', { dataset: { role: 'assignee' } });
    this.link = el('a', { class: 'shot-link', href: `/p/${project.id}/shots/${shot.id}/` },
      el('div', { style: 'position:relative' }, this.thumb,
        el('div', { class: 'thumb-overlay-top' }, this.takeChip), this.renderBox, this.viewers),
      el('div', { class: 'shot-body' },
        el('div', { class: 'shot-line1' }, this.code, this.title),
        el('div', { class: 'shot-line2' }, this.statusChip, this.failChip, el('span', { class: 'spacer' }),
          this.comments, this.takes, this.assignee)));
    this.node = el('article', { class: 'shot-card', dataset: { shotId: shot.id } }, this.selectBox, this.link);
    this.imageUrl = undefined;
    this.update(shot);
  }

  update(shot) {
    const take = shot.current_take;
    const url = take ? take.thumbnail_url : null;
    if (url !== this.imageUrl) {
      this.imageUrl = url;
      const fresh = el('div', { class: url ? 'thumb' : 'thumb thumb-empty', dataset: { role: 'thumb' } },
        url ? el('img', { src: url, alt: '', decoding: 'async', loading: 'lazy' }) : icon(take && take.kind === 'video' ? 'film' : 'image'));
      this.thumb.replaceWith(fresh);
      this.thumb = fresh;
    }
    this.takeChip.hidden = !take;
    if (take) {
      this.takeChip.textContent = `T${take.number}`;
      this.takeChip.title = interpolate(gettext('Current take: %(n)s'), { n: take.number }, true);
    }
    this.code.textContent = shot.code;
    this.title.textContent = shot.title || '';
    this.title.title = shot.title || '';
    this.statusChip.dataset.status = shot.status;
    this.statusChip.textContent = statusLabel(shot.status);

    const comments = shot.comment_count || 0;
    this.comments.replaceChildren(icon('comment'), formatNumber(comments));
    this.comments.classList.toggle('has-some', comments > 0);
    this.comments.title = nt(ngettext('%(count)s comment', '%(count)s comments', comments), comments);
    const takes = shot.take_count || 0;
    this.takes.replaceChildren(icon('layers'), formatNumber(takes));
    this.takes.classList.toggle('has-some', takes > 0);
    this.takes.title = nt(ngettext('%(count)s take', '%(count)s takes', takes), takes);
    const person = shot.assignee;
    this.assignee.replaceChildren(avatar(person, 'sm', {
      title: person ? interpolate(gettext('Assigned to %(name)s'), { name: displayName(person) }, true) : gettext('Unassigned'),
    }));

    const failure = state.failures.get(shot.id);
    this.failChip.hidden = !failure;
    if (failure) this.failChip.title = failure;

    const summary = renderSummary(shot);
    this.renderBox.hidden = !summary;
    this.node.classList.toggle('is-rendering', Boolean(summary));
    if (summary) {
      const label = summary.running.length
        ? nt(ngettext('Rendering %(count)s', 'Rendering %(count)s', summary.jobs.length), summary.jobs.length)
        : nt(ngettext('%(count)s queued', '%(count)s queued', summary.jobs.length), summary.jobs.length);
      this.renderLabel.replaceChildren(el('span', { class: 'spinner', 'aria-hidden': 'true' }), label,
        summary.progress === null ? '' : el('span', { class: 'pct', dataset: { role: 'pct' } }, formatPercent(summary.progress)));
      setProgress(this.bar, summary.progress);
      const message = summary.jobs.map((job) => job.message).find(Boolean);
      this.renderBox.title = message || label;
    }

    const status = statusLabel(shot.status);
    this.link.setAttribute('aria-label', [shot.code, shot.title, status,
      person ? interpolate(gettext('assigned to %(name)s'), { name: displayName(person) }, true) : gettext('unassigned'),
      summary ? gettext('rendering') : null].filter(Boolean).join(', '));
    this.checkbox.setAttribute('aria-label', interpolate(gettext('Select %(code)s'), { code: shot.code }, true));
    this.checkbox.checked = state.selected.has(shot.id);
    this.node.classList.toggle('is-selected', this.checkbox.checked);
  }

  setViewers(people) {
    this.viewers.replaceChildren(...people.slice(0, 3).map((p) => avatar(p.user, 'xs', {
      title: interpolate(gettext('%(name)s is looking at this shot'), { name: displayName(p.user) }, true),
    })));
  }

  flash() {
    this.node.classList.remove('is-flash');
    void this.node.offsetWidth; // restart the animation
    this.node.classList.add('is-flash');
  }
}

const cards = new Map();

function cardFor(shot) {
  let card = cards.get(shot.id);
  if (!card) {
    card = new ShotCard(shot);
    cards.set(shot.id, card);
  }
  return card;
}

function refreshCard(shotId) {
  const shot = state.shots.get(shotId);
  const card = cards.get(shotId);
  if (shot && card) card.update(shot);
  renderCounts();
}

// --- the whole board ----------------------------------------------------------------------------------

function groups() {
  const visible = visibleShots();
  const bySequence = new Map(state.sequences.map((seq) => [seq.id, []]));
  const loose = [];
  for (const shot of visible) {
    if (shot.sequence !== null && bySequence.has(shot.sequence)) bySequence.get(shot.sequence).push(shot);
    else loose.push(shot);
  }
  const result = state.sequences.filter((seq) => bySequence.get(seq.id).length).map((seq) => ({ seq, shots: bySequence.get(seq.id) }));
  if (loose.length) result.push({ seq: null, shots: loose });
  return result;
}

function sequenceHead(seq, shots) {
  const all = [...state.shots.values()].filter((shot) => (seq ? shot.sequence === seq.id : shot.sequence === null));
  const approved = all.filter((shot) => shot.status === 'approved').length;
  const heading = el('h2', {}, seq
    ? [el('span', { class: 'seq-code' }, seq.code), el('span', { class: 'ellipsis' }, seq.title || '')]
    : el('span', { class: 'ellipsis' }, gettext('Not in a sequence')));
  const bar = progressBar(all.length ? approved / all.length : 0, { label: gettext('Approved shots') });
  bar.classList.add('progress-success', 'seq-bar');
  const head = el('div', { class: 'seq-head' }, heading,
    el('span', { class: 'seq-meta' }, nt(ngettext('%(count)s shot', '%(count)s shots', all.length), all.length)),
    bar,
    el('span', { class: 'seq-meta num' }, interpolate(gettext('%(done)s of %(total)s approved'),
      { done: formatNumber(approved), total: formatNumber(all.length) }, true)));
  if (can('render')) {
    const box = el('input', { type: 'checkbox', class: 'checkbox', 'aria-label': seq
      ? interpolate(gettext('Select every shot in %(code)s'), { code: seq.code }, true)
      : gettext('Select every shot not in a sequence') });
    const chosen = shots.filter((shot) => state.selected.has(shot.id)).length;
    box.checked = chosen > 0 && chosen === shots.length;
    box.indeterminate = chosen > 0 && chosen < shots.length;
    box.addEventListener('change', () => {
      for (const shot of shots) {
        if (box.checked) state.selected.add(shot.id); else state.selected.delete(shot.id);
      }
      syncSelection();
    });
    head.append(el('label', { class: 'seq-select row faint', style: 'font-size:var(--fs-xs)' }, box, gettext('Select')));
  }
  return head;
}

function renderBoard() {
  boardEl.setAttribute('aria-busy', 'false');
  app.dataset.state = 'ready';
  if (!state.shots.size) {
    boardEl.replaceChildren(el('div', { class: 'empty-state', dataset: { role: 'empty' } },
      el('span', { class: 'empty-icon' }, icon('board')),
      el('h2', {}, gettext('No shots yet')),
      el('p', {}, can('plan_shots')
        ? gettext('Break the script into sequences and shots: start with “New shot” above. Everyone on the project sees them appear at once.')
        : gettext('When the director adds shots, they appear here as they are created.'))));
    renderCounts();
    return;
  }
  const list = groups();
  if (!list.length) {
    boardEl.replaceChildren(el('div', { class: 'empty-state', dataset: { role: 'empty' } },
      el('span', { class: 'empty-icon' }, icon('search')),
      el('h2', {}, gettext('No shots match these filters')),
      el('button', { type: 'button', class: 'btn btn-sm', onclick: clearFilters }, gettext('Clear filters'))));
    renderCounts();
    return;
  }
  boardEl.replaceChildren(...list.map(({ seq, shots }) => el('section', {
    class: 'seq', dataset: { sequence: seq ? seq.id : 'none' }, 'aria-label': seq ? `${seq.code} ${seq.title || ''}`.trim() : gettext('Not in a sequence'),
  }, sequenceHead(seq, shots), el('div', { class: 'shot-grid' }, shots.map((shot) => {
    const card = cardFor(shot);
    card.update(shot);
    return card.node;
  })))));
  applyPresence();
  renderCounts();
}

function renderCounts() {
  const base = [...state.shots.values()].filter((shot) => matches(shot, { ignoreStatus: true }));
  for (const node of app.querySelectorAll('[data-count]')) {
    const key = node.dataset.count;
    const n = key === 'all' ? base.length : base.filter((shot) => shot.status === key).length;
    node.textContent = formatNumber(n);
  }
  for (const pill of app.querySelectorAll('[data-role="status-filter"] .filter-pill')) {
    const value = pill.dataset.status;
    pill.setAttribute('aria-pressed', String(value ? state.filters.status.includes(value) : !state.filters.status.length));
  }
  const rendering = [...state.shots.values()].filter((shot) => renderSummary(shot)).length;
  const shown = visibleShots().length;
  const parts = [hasFilters()
    ? interpolate(gettext('%(shown)s of %(total)s shots'), { shown: formatNumber(shown), total: formatNumber(state.shots.size) }, true)
    : nt(ngettext('%(count)s shot', '%(count)s shots', state.shots.size), state.shots.size)];
  if (rendering) parts.push(nt(ngettext('%(count)s rendering', '%(count)s rendering', rendering), rendering));
  $('summary').textContent = parts.join(' · ');
  $('clear-filters').hidden = !hasFilters();
}

function renderFilterOptions() {
  const assignee = $('assignee-filter');
  const keep = [...assignee.options].slice(0, 3);
  const people = [...state.members.values()].sort((a, b) => displayName(a).localeCompare(displayName(b)));
  assignee.replaceChildren(...keep, ...people.filter((u) => u.id !== me.id).map((u) => new Option(displayName(u), String(u.id))));
  assignee.value = state.filters.assignee;
  if (assignee.value !== state.filters.assignee) assignee.value = '';

  const sequence = $('sequence-filter');
  sequence.replaceChildren(new Option(gettext('All sequences'), ''),
    ...state.sequences.map((seq) => new Option(seq.title ? `${seq.code} · ${seq.title}` : seq.code, String(seq.id))));
  if ([...state.shots.values()].some((shot) => shot.sequence === null)) sequence.append(new Option(gettext('Not in a sequence'), 'none'));
  sequence.value = state.filters.sequence;
  if (sequence.value !== state.filters.sequence) sequence.value = '';
}

function clearFilters() {
  state.filters = { status: [], assignee: '', sequence: '' };
  $('assignee-filter').value = '';
  $('sequence-filter').value = '';
  writeFilters();
  renderBoard();
}

app.querySelector('[data-role="status-filter"]').addEventListener('click', (event) => {
  const pill = event.target.closest('.filter-pill');
  if (!pill) return;
  const value = pill.dataset.status;
  const current = new Set(state.filters.status);
  if (!value) current.clear();
  else if (event.shiftKey || event.metaKey || event.ctrlKey) {
    if (current.has(value)) current.delete(value); else current.add(value);
  } else if (current.size === 1 && current.has(value)) current.clear();
  else { current.clear(); current.add(value); }
  state.filters.status = STATUSES.filter((s) => current.has(s));
  writeFilters();
  renderBoard();
});
$('assignee-filter').addEventListener('change', (event) => {
  state.filters.assignee = event.target.value;
  writeFilters();
  renderBoard();
});
$('sequence-filter').addEventListener('change', (event) => {
  state.filters.sequence = event.target.value;
  writeFilters();
  renderBoard();
});
$('clear-filters').addEventListener('click', clearFilters);

// --- selection and batch render ---------------------------------------------------------------------------

function onSelectClick(shotId, event) {
  const visible = visibleShots().map((shot) => shot.id);
  const on = event.target.checked;
  if (event.shiftKey && state.lastClicked !== null && visible.includes(state.lastClicked)) {
    const [a, b] = [visible.indexOf(state.lastClicked), visible.indexOf(shotId)].sort((x, y) => x - y);
    for (const id of visible.slice(a, b + 1)) {
      if (on) state.selected.add(id); else state.selected.delete(id);
    }
  } else if (on) state.selected.add(shotId);
  else state.selected.delete(shotId);
  state.lastClicked = shotId;
  syncSelection();
}

function syncSelection() {
  for (const id of [...state.selected]) if (!state.shots.has(id)) state.selected.delete(id);
  for (const card of cards.values()) {
    const on = state.selected.has(card.id);
    card.checkbox.checked = on;
    card.node.classList.toggle('is-selected', on);
  }
  for (const section of boardEl.querySelectorAll('section.seq')) {
    const ids = [...section.querySelectorAll('.shot-card')].map((node) => Number(node.dataset.shotId));
    const box = section.querySelector('.seq-select input');
    if (!box) continue;
    const chosen = ids.filter((id) => state.selected.has(id)).length;
    box.checked = chosen > 0 && chosen === ids.length;
    box.indeterminate = chosen > 0 && chosen < ids.length;
  }
  const count = state.selected.size;
  boardEl.classList.toggle('is-selecting', count > 0);
  $('bulkbar').hidden = count === 0 || !can('render');
  $('selected-count').textContent = nt(ngettext('%(count)s shot selected', '%(count)s shots selected', count), count);
}

function clearSelection() {
  state.selected.clear();
  state.lastClicked = null;
  syncSelection();
}

function providerOptions() {
  const names = new Set([project.default_provider || 'local', ...Object.keys(project.providers || {})]);
  if (!names.size) names.add('local');
  const select = $('bulk-provider');
  select.replaceChildren(...[...names].map((name) => new Option(name === 'local' ? gettext('Local (offline)') : name, name)));
  select.value = project.default_provider || 'local';
}

async function startBatch() {
  const shots = state.order.filter((id) => state.selected.has(id));
  if (!shots.length) return;
  const button = $('bulk-render');
  button.disabled = true;
  try {
    const body = {
      shots,
      provider: $('bulk-provider').value,
      kind: $('bulk-kind').value,
      variants: Number($('bulk-variants').value),
    };
    const result = await api.post(`/api/projects/${project.id}/renders/batch/`, body);
    const jobs = (result && result.jobs) || [];
    for (const job of jobs) trackJob(job);
    toast(nt(ngettext('Started %(count)s render', 'Started %(count)s renders', jobs.length), jobs.length), 'success');
    clearSelection();
  } catch (error) {
    toastError(error);
  } finally {
    button.disabled = false;
  }
}

$('bulk-render').addEventListener('click', startBatch);
$('bulk-clear').addEventListener('click', clearSelection);
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && state.selected.size && !document.querySelector('dialog[open]')) clearSelection();
});

// --- a new shot (directors) -------------------------------------------------------------------------

/** "SH080" → "SH090": the next code after the last one, in steps of ten like a shot list. */
function nextCode(codes, prefix = 'SH') {
  const last = codes.filter(Boolean).sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).pop();
  const match = last ? /^(.*?)(\d+)$/.exec(last) : null;
  if (!match) return `${prefix}010`;
  const width = match[2].length;
  return `${match[1]}${String(Number(match[2]) + 10 - (Number(match[2]) % 10)).padStart(width, '0')}`;
}

function initNewShot() {
  const open = $('new-shot');
  const dialog = document.querySelector('[data-role="new-shot-dialog"]');
  if (!open || !dialog) return;
  const form = dialog.querySelector('form');
  const sequence = form.elements.sequence;
  const errorBox = dialog.querySelector('[data-role="new-shot-error"]');
  const newField = dialog.querySelector('[data-role="new-sequence-field"]');
  const showError = (message) => { errorBox.textContent = message || ''; errorBox.hidden = !message; };
  const suggest = () => {
    const id = Number(sequence.value);
    newField.hidden = sequence.value !== 'new';
    const codes = [...state.shots.values()].filter((shot) => shot.sequence === id).map((shot) => shot.code);
    form.elements.code.value = nextCode(codes);
  };
  open.addEventListener('click', () => {
    sequence.replaceChildren(...state.sequences.map((seq) => new Option(seq.title ? `${seq.code} · ${seq.title}` : seq.code, String(seq.id))),
      new Option(gettext('New sequence…'), 'new'));
    const wanted = state.filters.sequence && state.filters.sequence !== 'none' ? state.filters.sequence : null;
    sequence.value = wanted || (state.sequences.length ? String(state.sequences[state.sequences.length - 1].id) : 'new');
    form.elements.sequence_code.value = nextCode(state.sequences.map((seq) => seq.code), 'SQ');
    form.elements.title.value = '';
    showError('');
    suggest();
    dialog.showModal();
    form.elements.code.select();
  });
  sequence.addEventListener('change', suggest);
  dialog.querySelector('[data-role="new-shot-cancel"]').addEventListener('click', () => dialog.close());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const code = form.elements.code.value.trim();
    if (!code) { showError(gettext('Give the shot a code, e.g. SH010.')); return; }
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      let sequenceId = Number(sequence.value);
      if (sequence.value === 'new') {
        const seqCode = form.elements.sequence_code.value.trim();
        if (!seqCode) { showError(gettext('Give the new sequence a code, e.g. SQ010.')); return; }
        const order = Math.max(0, ...state.sequences.map((seq) => seq.order || 0)) + 1;
        const created = await api.post(`/api/projects/${project.id}/sequences/`, { code: seqCode, order });
        state.sequences.push(created);
        sequenceId = created.id;
      }
      const siblings = [...state.shots.values()].filter((shot) => shot.sequence === sequenceId);
      const order = Math.max(0, ...siblings.map((shot) => shot.order || 0)) + 10;
      const shot = await api.post(`/api/projects/${project.id}/shots/`, {
        sequence: sequenceId, code, title: form.elements.title.value.trim(), order,
      });
      dialog.close();
      toast(interpolate(gettext('Shot %(code)s added.'), { code: shot.code }, true), 'success');
      refetch();
    } catch (error) {
      showError(error.message);
    } finally {
      submit.disabled = false;
    }
  });
}

// --- data and live updates -----------------------------------------------------------------------------------

function ingest(board) {
  const previous = state.shots;
  state.sequences = board.sequences;
  state.shots = new Map();
  state.order = [];
  for (const shot of board.shots) {
    const old = previous.get(shot.id);
    if (old) {
      // Progress ticks are not stored: keep the live value when it is ahead of the database.
      const live = new Map((old.active_renders || []).map((job) => [job.id, job]));
      shot.active_renders = (shot.active_renders || []).map((job) => {
        const seen = live.get(job.id);
        return seen && seen.status === job.status ? { ...job, progress: Math.max(job.progress || 0, seen.progress || 0) } : job;
      });
    }
    shot.active_renders = (shot.active_renders || []).filter((job) => !state.finished.has(job.id));
    state.shots.set(shot.id, shot);
    state.order.push(shot.id);
  }
  for (const id of [...cards.keys()]) if (!state.shots.has(id)) cards.delete(id);
  state.boardSeq = Math.max(state.boardSeq, board.last_seq || 0);
}

async function loadBoard() {
  const board = await api.get(`/api/projects/${project.id}/board/`);
  ingest(board);
  return board;
}

async function loadMembers() {
  const members = await api.all(`/api/projects/${project.id}/members/?page_size=500`);
  state.members = new Map(members.map((m) => [m.user.id, m.user]));
}

const refetch = debounce(async () => {
  try {
    await loadBoard();
    renderFilterOptions();
    renderBoard();
    syncSelection();
  } catch (error) {
    toastError(error);
  }
}, 250);

const refetchMembers = debounce(() => loadMembers().then(renderFilterOptions).catch(() => {}), 250);

/** A job we learnt about (batch answer, render.state, a progress digest), onto its shot's row. */
function trackJob(job) {
  const id = job.job ?? job.id;
  if (state.finished.has(id)) return null;
  const shotId = job.shot;
  let shot = shotId !== undefined ? state.shots.get(shotId) : null;
  if (!shot) shot = [...state.shots.values()].find((s) => (s.active_renders || []).some((j) => j.id === id));
  if (!shot) return null;
  const jobs = shot.active_renders || (shot.active_renders = []);
  let entry = jobs.find((j) => j.id === id);
  if (!entry) {
    if (job.status && !ACTIVE.has(job.status)) {
      state.finished.add(id);
      if (job.status === 'failed') state.failures.set(shot.id, job.error || job.message || gettext('Render failed'));
      return shot;
    }
    entry = { id, kind: job.kind || 'image', provider: job.provider || '', status: job.status || 'queued', progress: 0, message: '' };
    jobs.push(entry);
    state.failures.delete(shot.id);
  }
  if (job.status) entry.status = job.status;
  if (job.progress !== undefined && job.progress !== null) entry.progress = Math.max(Number(entry.progress) || 0, Number(job.progress));
  if (job.message !== undefined) entry.message = job.message || '';
  if (entry.status === 'queued' && entry.progress > 0) entry.status = 'running';
  if (!ACTIVE.has(entry.status)) {
    state.finished.add(id);
    shot.active_renders = jobs.filter((j) => j !== entry);
    if (entry.status === 'failed') state.failures.set(shot.id, job.error || job.message || gettext('Render failed'));
  }
  return shot;
}

function onProgress(data) {
  const jobs = Array.isArray(data) ? data : data.jobs || data.renders || (data.job !== undefined || data.id !== undefined ? [data] : []);
  const touched = new Set();
  for (const job of jobs) {
    const shot = trackJob(job);
    if (shot) touched.add(shot.id);
  }
  for (const id of touched) refreshCard(id);
}

function onEvent(message) {
  const data = message.data || {};
  const fresh = !message.seq || message.seq > state.boardSeq;
  switch (message.type) {
    case 'render.progress':
      onProgress(data);
      break;
    case 'render.state':
    case 'render.created':
    case 'render.queued': {
      if (!fresh) break;
      const known = state.finished.has(data.job ?? data.id);
      const shot = trackJob(data);
      if (shot) refreshCard(shot.id);
      else if (!known) refetch(); // a shot this page does not have yet
      break;
    }
    case 'take.created': {
      if (!fresh) break;
      const shot = state.shots.get(data.shot);
      if (shot) {
        shot.take_count = (shot.take_count || 0) + 1;
        if (data.job !== undefined) trackJob({ job: data.job, shot: data.shot, status: 'succeeded' });
        refreshCard(shot.id);
        cards.get(shot.id)?.flash();
      }
      refetch(); // the current take (and its thumbnail) may have changed with it
      break;
    }
    case 'shot.updated': {
      const shot = state.shots.get(data.shot);
      if (!shot) { refetch(); break; }
      if (!fresh && (data.version || 0) <= (shot.version || 0)) break;
      const relayout = (data.order !== undefined && data.order !== shot.order) || (data.sequence !== undefined && data.sequence !== shot.sequence);
      if (data.status) shot.status = data.status;
      if ('assignee' in data) shot.assignee = data.assignee === null ? null : (state.members.get(data.assignee) || { id: data.assignee, username: '', name: '' });
      if (data.order !== undefined) shot.order = data.order;
      if (data.sequence !== undefined) shot.sequence = data.sequence;
      if (data.version) shot.version = data.version;
      const takeChanged = 'current_take' in data && (data.current_take || null) !== (shot.current_take ? shot.current_take.id : null);
      if (relayout || takeChanged) refetch();
      else if (matches(shot) === Boolean(cards.get(shot.id)?.node.isConnected)) refreshCard(shot.id);
      else renderBoard();
      break;
    }
    case 'comment.created': {
      if (!fresh) break;
      const shot = state.shots.get(data.shot);
      if (shot) {
        shot.comment_count = (shot.comment_count || 0) + 1;
        refreshCard(shot.id);
      }
      break;
    }
    case 'shot.created':
    case 'shot.deleted':
    case 'sequence.created':
    case 'sequence.updated':
    case 'take.reviewed':
      if (fresh) refetch();
      break;
    case 'member.added':
    case 'member.updated':
    case 'member.removed':
      refetchMembers();
      if (message.type === 'member.removed') refetch();
      break;
    default:
      break;
  }
}

// --- presence on cards -----------------------------------------------------------------------------------

function applyPresence() {
  const byShot = new Map();
  for (const person of presence.others()) {
    if (!person.shot) continue;
    const id = Number(person.shot);
    if (!byShot.has(id)) byShot.set(id, []);
    byShot.get(id).push(person);
  }
  for (const card of cards.values()) card.setViewers(byShot.get(card.id) || []);
}
presence.addEventListener('change', applyPresence);
presence.shotCode = (id) => state.shots.get(id)?.code || null;

// --- start ---------------------------------------------------------------------------------------------------

async function start() {
  readFilters();
  providerOptions();
  initNewShot();
  try {
    const [board] = await Promise.all([loadBoard(), loadMembers()]);
    renderFilterOptions();
    renderBoard();
    syncSelection();
    const socket = connectProject(project.id, { after: board.last_seq });
    socket.addEventListener('event', (event) => onEvent(event.detail));
    socket.addEventListener('progress', (event) => {
      const message = event.detail || {};
      onProgress(message.data || message);
    });
    app.dataset.ready = 'true';
  } catch (error) {
    boardEl.setAttribute('aria-busy', 'false');
    boardEl.replaceChildren(el('div', { class: 'empty-state' },
      el('span', { class: 'empty-icon' }, icon('alert')),
      el('h2', {}, gettext('The board could not be loaded')),
      el('p', {}, error.message),
      el('button', { type: 'button', class: 'btn btn-sm', onclick: () => window.location.reload() }, gettext('Try again'))));
  }
}

start();
