// The shot's takes and renders: the take strip (variants of one render grouped, review
// badges, the current take marked) and the render form with live progress bars and cancel.

import { api } from './api.js';
import { el, formatPercent, progressBar, setProgress, toast, toastError } from './ui.js';
import { reviewLabel, thumbUrl } from './shot_controls.js';
import { shortDuration } from './timecode.js';

const ACTIVE = new Set(['queued', 'running']);

function kindLabel(kind) {
  return kind === 'video' ? gettext('Video') : gettext('Image');
}

/** Takes grouped by the render request that made them (its batch), newest first. */
export function groupTakes(takes) {
  const groups = [];
  for (const take of takes) {
    const last = groups[groups.length - 1];
    if (last && take.batch && last.batch === take.batch) last.takes.push(take);
    else groups.push({ batch: take.batch, takes: [take] });
  }
  for (const group of groups) group.takes.sort((a, b) => (a.variant ?? 0) - (b.variant ?? 0) || a.number - b.number);
  return groups;
}

export class TakeStrip extends EventTarget {
  constructor(root) {
    super();
    this.root = root;
    this.takes = [];
    this.currentId = null;
    this.selectedId = null;
    root.addEventListener('keydown', (event) => {
      const keys = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -1, ArrowDown: 1 };
      if (!(event.key in keys) && event.key !== 'Enter') return;
      const cards = [...root.querySelectorAll('[data-take]')];
      const index = cards.indexOf(document.activeElement);
      if (index < 0) return;
      event.preventDefault();
      if (event.key === 'Enter') {
        this.open(Number(cards[index].dataset.take));
        return;
      }
      const next = cards[Math.min(cards.length - 1, Math.max(0, index + keys[event.key]))];
      next.focus();
      this.select(Number(next.dataset.take));
    });
  }

  byId(id) {
    return this.takes.find((t) => t.id === id) || null;
  }

  set(takes, currentId) {
    this.takes = takes;
    this.currentId = currentId;
    if (!this.byId(this.selectedId)) this.selectedId = currentId && this.byId(currentId) ? currentId : (takes[0] ? takes[0].id : null);
    this.render();
  }

  setCurrent(currentId) {
    this.currentId = currentId;
    this.render();
  }

  render() {
    if (!this.takes.length) {
      this.root.replaceChildren(el('div', { class: 'rv-empty rv-empty--strip' },
        el('strong', {}, gettext('No takes yet')),
        el('span', {}, gettext('Renders of this shot appear here as they finish.'))));
      return;
    }
    const focusedId = document.activeElement && this.root.contains(document.activeElement) ? document.activeElement.dataset.take : null;
    this.root.replaceChildren(...groupTakes(this.takes).map((group) => {
      const first = group.takes[0];
      const label = [
        first.revision_number ? `r${first.revision_number}` : null,
        kindLabel(first.kind),
        first.provider,
        group.takes.length > 1 ? interpolate(ngettext('%(n)s variant', '%(n)s variants', group.takes.length), { n: group.takes.length }, true) : null,
      ].filter(Boolean).join(' · ');
      return el('div', { class: 'rv-take-group', role: 'group', 'aria-label': label },
        el('div', { class: 'rv-take-group-label', title: label }, label),
        el('div', { class: 'rv-take-group-cards' }, ...group.takes.map((take) => this.card(take))));
    }));
    if (focusedId) this.root.querySelector(`[data-take="${focusedId}"]`)?.focus();
  }

  card(take) {
    const selected = take.id === this.selectedId;
    const current = take.id === this.currentId;
    const src = thumbUrl(take);
    const name = interpolate(gettext('Take %(n)s'), { n: take.number }, true);
    const card = el('button', {
      type: 'button', role: 'option', class: `rv-take${selected ? ' is-selected' : ''}${current ? ' is-current' : ''}`,
      'aria-selected': String(selected), tabindex: selected ? '0' : '-1', dataset: { take: take.id, status: take.review_status },
      'aria-label': [name, kindLabel(take.kind), reviewLabel(take.review_status), current ? gettext('Current take') : null].filter(Boolean).join(', '),
      title: `${name} · ${gettext('seed')} ${take.seed}`,
    },
    el('span', { class: 'rv-take-thumb' },
      src ? el('img', { src, alt: '', loading: 'lazy', decoding: 'async' }) : el('span', { class: 'rv-muted' }, kindLabel(take.kind))),
    el('span', { class: 'rv-take-num' }, `T${take.number}`),
    take.kind === 'video' ? el('span', { class: 'rv-take-dur' }, `▶ ${shortDuration(take.duration_s)}`) : null,
    el('span', { class: 'rv-take-status', dataset: { status: take.review_status }, 'aria-hidden': 'true' }),
    current ? el('span', { class: 'rv-take-star', 'aria-hidden': 'true' }, '★') : null);
    card.addEventListener('click', () => this.select(take.id));
    card.addEventListener('dblclick', () => this.open(take.id));
    return card;
  }

  select(id) {
    if (!this.byId(id)) return;
    this.selectedId = id;
    for (const card of this.root.querySelectorAll('[data-take]')) {
      const on = Number(card.dataset.take) === id;
      card.classList.toggle('is-selected', on);
      card.setAttribute('aria-selected', String(on));
      card.tabIndex = on ? 0 : -1;
    }
    this.dispatchEvent(new CustomEvent('select', { detail: { take: this.byId(id) } }));
  }

  open(id) {
    const take = this.byId(id);
    if (take) this.dispatchEvent(new CustomEvent('open', { detail: { take } }));
  }
}

/** The render form and the list of this shot's renders in flight, updated from the socket. */
export class RenderPanel extends EventTarget {
  constructor(root, { shot, providers, can, getSelectedTake, getRevision }) {
    super();
    this.root = root;
    this.shot = shot;
    this.providers = providers;
    this.getSelectedTake = getSelectedTake;
    this.getRevision = getRevision;
    this.jobs = new Map();
    this.rows = new Map();
    const $ = (role) => root.querySelector(`[data-role="${role}"]`);
    this.$ = $;
    this.form = $('render-form');
    this.provider = $('render-provider');
    this.variants = $('render-variants');
    this.list = $('jobs');
    this.allowed = can('render');
    if (!this.allowed) {
      this.form.hidden = true;
      $('render-readonly').hidden = false;
    }
    this.provider.replaceChildren(...providers.map((p) => new Option(p.label, p.name, p.default, p.default)));
    if (!providers.length) this.provider.append(new Option(gettext('No provider enabled'), ''));
    this.form.addEventListener('change', () => this.update());
    this.variants.addEventListener('input', () => this.update());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  get kind() {
    return this.form.querySelector('input[name="kind"]:checked').value;
  }

  /** What the video would animate, or why it cannot start. */
  source() {
    const take = this.getSelectedTake();
    const revision = this.getRevision();
    if (this.kind !== 'video') return { ok: true, text: '' };
    if (take && take.kind === 'image') {
      return { ok: true, take, text: interpolate(gettext('Animates take %(n)s'), { n: take.number }, true) };
    }
    if (revision && revision.assets && revision.assets.length) {
      return { ok: true, text: gettext('Animates the first reference image') };
    }
    return { ok: false, text: gettext('Pick an image take to animate') };
  }

  update() {
    const kind = this.kind;
    for (const option of this.provider.options) {
      const provider = this.providers.find((p) => p.name === option.value);
      option.disabled = Boolean(provider) && !provider.kinds.includes(kind);
    }
    if (this.provider.selectedOptions[0] && this.provider.selectedOptions[0].disabled) {
      const usable = [...this.provider.options].find((o) => !o.disabled);
      if (usable) this.provider.value = usable.value;
    }
    const n = Math.min(8, Math.max(1, Number(this.variants.value) || 1));
    const source = this.source();
    const revision = this.getRevision();
    const hint = this.$('render-source');
    hint.textContent = revision ? source.text : gettext('Save a prompt first');
    hint.classList.toggle('is-warning', !source.ok || !revision);
    this.$('render-label').textContent = kind === 'video'
      ? interpolate(ngettext('Render %(n)s video', 'Render %(n)s videos', n), { n }, true)
      : interpolate(ngettext('Render %(n)s image', 'Render %(n)s images', n), { n }, true);
    const providerOk = this.provider.value && !this.provider.selectedOptions[0]?.disabled;
    this.$('render-submit').disabled = !revision || !source.ok || !providerOk || this.busy;
  }

  async submit() {
    const revision = this.getRevision();
    const source = this.source();
    const variants = Number(this.variants.value);
    if (!Number.isInteger(variants) || variants < 1 || variants > 8) {
      this.variants.setAttribute('aria-invalid', 'true');
      toast(gettext('Variants must be a whole number from 1 to 8.'), 'warning');
      return;
    }
    this.variants.removeAttribute('aria-invalid');
    if (!revision || !source.ok) return;
    this.busy = true;
    this.update();
    try {
      const body = { provider: this.provider.value, kind: this.kind, variants, revision: revision.id };
      if (this.kind === 'video' && source.take) body.source_take = source.take.id;
      const { jobs } = await api.post(`/api/shots/${this.shot.id}/renders/`, body);
      for (const job of jobs) this.put({ ...job, job: job.id });
      this.dispatchEvent(new CustomEvent('started', { detail: { jobs } }));
    } catch (error) {
      toastError(error);
    } finally {
      this.busy = false;
      this.update();
    }
  }

  async load() {
    const jobs = await api.all(`/api/shots/${this.shot.id}/renders/?status=active&page_size=100`);
    for (const job of jobs.reverse()) this.put({ ...job, job: job.id });
  }

  /** A job's state from the API, a render.state event or a progress digest entry. */
  put(data) {
    const id = data.job ?? data.id;
    if (!id || (data.shot !== undefined && data.shot !== this.shot.id)) return;
    const known = this.jobs.get(id);
    if (!known && !ACTIVE.has(data.status)) return; // someone else's finished job: the strip shows its take
    const job = { ...(known || {}), ...data, id };
    if (known && !ACTIVE.has(known.status) && data.status && ACTIVE.has(data.status)) return; // a late tick
    if (known && typeof known.progress === 'number' && typeof data.progress === 'number' && ACTIVE.has(job.status)) {
      job.progress = Math.max(known.progress, data.progress); // digests may arrive after a state
    }
    this.jobs.set(id, job);
    this.renderJob(job);
  }

  /** A render.progress digest: {jobs: [...]} (or one job's tick). */
  progress(data) {
    const jobs = Array.isArray(data.jobs) ? data.jobs : [data];
    for (const tick of jobs) {
      if (this.jobs.has(tick.job) || tick.shot === this.shot.id) this.put(tick);
    }
  }

  renderJob(job) {
    let row = this.rows.get(job.id);
    if (!row) {
      const bar = progressBar(job.progress ?? null, { label: gettext('Render progress') });
      row = {
        li: el('li', { class: 'rv-job', dataset: { job: job.id } }),
        title: el('span', { class: 'rv-job-title' }),
        message: el('span', { class: 'rv-job-message' }),
        percent: el('span', { class: 'rv-job-percent' }),
        actions: el('span', { class: 'rv-job-actions' }),
        bar,
      };
      row.li.append(el('div', { class: 'rv-job-line' }, row.title, row.message, row.percent, row.actions), bar);
      this.rows.set(job.id, row);
      this.list.prepend(row.li);
    }
    const variant = job.variant !== undefined && job.variant !== null ? ` #${job.variant + 1}` : '';
    row.title.textContent = `${kindLabel(job.kind)}${variant} · ${job.provider || ''}`;
    row.li.dataset.status = job.status;
    const messages = {
      queued: gettext('Waiting for a worker…'),
      succeeded: gettext('Done'),
      canceled: gettext('Canceled'),
    };
    row.message.textContent = job.status === 'failed' ? (job.error || job.message || gettext('Failed'))
      : (job.status === 'running' ? job.message || gettext('Rendering…') : messages[job.status] || job.message || '');
    row.message.title = row.message.textContent;
    const value = job.status === 'succeeded' ? 1 : (job.status === 'queued' && !job.progress ? null : job.progress || 0);
    setProgress(row.bar, value);
    row.bar.classList.toggle('progress-success', job.status === 'succeeded');
    row.bar.classList.toggle('progress-danger', job.status === 'failed');
    row.percent.textContent = ACTIVE.has(job.status) && value !== null ? formatPercent(value) : '';
    row.actions.replaceChildren();
    if (ACTIVE.has(job.status) && this.allowed) {
      row.actions.append(el('button', {
        type: 'button', class: 'rv-link rv-link--danger', onclick: () => this.cancel(job.id),
        'aria-label': interpolate(gettext('Cancel render %(what)s'), { what: row.title.textContent }, true),
      }, gettext('Cancel')));
    } else if (job.status === 'failed') {
      if (this.allowed) {
        row.actions.append(el('button', { type: 'button', class: 'rv-link', onclick: () => this.retry(job.id) }, gettext('Retry')));
      }
      row.actions.append(el('button', { type: 'button', class: 'rv-link', onclick: () => this.remove(job.id) }, gettext('Dismiss')));
    }
    if (job.status === 'succeeded' || job.status === 'canceled') {
      clearTimeout(row.timer);
      row.timer = setTimeout(() => this.remove(job.id), job.status === 'succeeded' ? 2500 : 1500);
    }
    this.root.classList.toggle('has-jobs', this.rows.size > 0);
  }

  remove(id) {
    const row = this.rows.get(id);
    if (row) row.li.remove();
    this.rows.delete(id);
    this.jobs.delete(id);
    this.root.classList.toggle('has-jobs', this.rows.size > 0);
  }

  async cancel(id) {
    try {
      const job = await api.post(`/api/renders/${id}/cancel/`);
      this.put({ ...job, job: job.id });
    } catch (error) {
      toastError(error);
    }
  }

  async retry(id) {
    try {
      const { jobs } = await api.post(`/api/renders/${id}/retry/`);
      this.remove(id);
      for (const job of jobs) this.put({ ...job, job: job.id });
    } catch (error) {
      toastError(error);
    }
  }
}
