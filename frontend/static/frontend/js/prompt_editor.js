// The shot's prompt editor: prompt, negative prompt, note, parameters from presets, reference
// images. Saving writes a new revision on top of the one the editor started from (`base`);
// if a teammate saved first the API answers 409 with their revision, and the editor shows it
// beside what was typed — nothing typed is lost — and offers to rebase onto it.

import { api } from './api.js';
import { confirmDialog, displayName, el, relativeTime, toast, toastError } from './ui.js';

function sameSet(a, b) {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

function sameParams(a, b) {
  return JSON.stringify(Object.entries(a || {}).sort()) === JSON.stringify(Object.entries(b || {}).sort());
}

/** Append `fragment` to a comma-separated prompt (or remove it when it is already there). */
export function toggleFragment(text, fragment) {
  const piece = (fragment || '').trim();
  if (!piece) return text;
  const current = text || '';
  const at = current.indexOf(piece);
  if (at >= 0) {
    const before = current.slice(0, at).replace(/[,，、\s]*$/u, '');
    const after = current.slice(at + piece.length).replace(/^[,，、\s]*/u, '');
    return [before, after].filter(Boolean).join(', ');
  }
  const trimmed = current.replace(/\s+$/u, '');
  if (!trimmed) return piece;
  return /[,，、]$/u.test(trimmed) ? `${trimmed} ${piece}` : `${trimmed}, ${piece}`;
}

function paramText(value) {
  if (Array.isArray(value)) return value.join(', ');
  if (value && typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}: ${v}`).join(', ');
  return String(value);
}

export class PromptEditor extends EventTarget {
  constructor(root, { project, shot, can }) {
    super();
    this.root = root;
    this.project = project;
    this.shot = shot;
    this.can = can;
    this.base = null; // the revision this editor started from
    this.latest = null; // the newest revision we know of
    this.params = {};
    this.assets = new Set();
    this.allAssets = [];
    this.presets = [];
    this.saving = false;
    this.conflict = null; // the revision that won a race, while it is shown
    const $ = (role) => root.querySelector(`[data-role="${role}"]`);
    this.$ = $;
    this.form = $('editor-form');
    this.prompt = $('prompt');
    this.negative = $('negative');
    this.note = $('note');
    this.saveButton = $('save');
    this.status = $('editor-status');
    this.readOnly = !can('edit_prompt');
    if (this.readOnly) {
      for (const field of this.form.querySelectorAll('textarea, input, select, button')) field.disabled = true;
      this.saveButton.hidden = true;
      $('editor-readonly').hidden = false;
      $('asset-upload-toggle').hidden = true;
    }
    for (const field of [this.prompt, this.negative]) field.addEventListener('input', () => this.changed());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.save();
    });
    this.form.addEventListener('keydown', (event) => {
      const key = event.key.toLowerCase();
      if ((event.ctrlKey || event.metaKey) && (key === 's' || key === 'enter')) {
        event.preventDefault();
        this.save();
      }
    });
    $('discard').addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: gettext('Discard your changes?'),
        body: gettext('The editor goes back to the saved revision. What you typed is lost.'),
        confirm: gettext('Discard'),
        danger: true,
      });
      if (ok) this.load(this.latest);
    });
    $('conflict-rebase').addEventListener('click', () => this.rebase());
    $('conflict-take-theirs').addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: gettext('Replace your text with theirs?'),
        body: gettext('What you typed will be lost. Copy it first if you want to keep any of it.'),
        confirm: gettext('Use their text'),
        danger: true,
      });
      if (ok) this.load(this.conflict);
    });
    this.bindAssets();
    window.addEventListener('beforeunload', (event) => {
      if (this.dirty) {
        event.preventDefault();
        event.returnValue = '';
      }
    });
  }

  get dirty() {
    const base = this.base || { prompt: '', negative_prompt: '', params: {}, assets: [] };
    return this.prompt.value !== base.prompt
      || this.negative.value !== (base.negative_prompt || '')
      || !sameParams(this.params, base.params)
      || !sameSet(this.assets, new Set(base.assets || []));
  }

  /** Put `revision` (or nothing) in the editor and edit on top of it. */
  load(revision) {
    this.base = revision || null;
    this.prompt.value = revision ? revision.prompt : '';
    this.negative.value = revision ? revision.negative_prompt || '' : '';
    this.params = { ...(revision ? revision.params || {} : {}) };
    this.assets = new Set(revision ? revision.assets || [] : []);
    this.note.value = '';
    this.hideConflict();
    this.$('newer').hidden = true;
    this.renderParams();
    this.renderAssets();
    this.renderBasedOn();
    this.changed();
  }

  /** The revisions of the shot (newest first) as the history knows them. */
  setRevisions(revisions) {
    const newest = revisions[0] || null;
    const first = this.latest === null && this.base === null;
    const moved = newest && (!this.latest || newest.id !== this.latest.id);
    this.latest = newest;
    if (first || (moved && !this.dirty && !this.conflict)) {
      this.load(newest);
    } else if (moved && this.base && newest.id !== this.base.id && !this.conflict) {
      const notice = this.$('newer');
      notice.replaceChildren(
        el('span', {}, interpolate(gettext('%(user)s saved revision %(n)s while you were editing.'),
          { user: displayName(newest.author) || gettext('Someone'), n: newest.number }, true)),
        el('button', { type: 'button', class: 'rv-link', onclick: () => this.showConflict(newest) }, gettext('Show it')),
      );
      notice.hidden = false;
    }
    this.renderBasedOn();
  }

  setPresets(presets) {
    this.presets = presets;
    const box = this.$('presets');
    this.$('presets-wrap').hidden = !presets.length;
    box.replaceChildren(...presets.map((preset) => {
      const button = el('button', {
        type: 'button',
        class: 'rv-chip rv-chip--preset',
        dataset: { preset: preset.id, kind: preset.kind },
        title: [preset.prompt, preset.negative_prompt ? `− ${preset.negative_prompt}` : ''].filter(Boolean).join('\n'),
        disabled: this.readOnly,
      }, preset.name);
      button.addEventListener('click', () => this.applyPreset(preset));
      return button;
    }));
    this.renderPresets();
  }

  applyPreset(preset) {
    const removing = preset.prompt && this.prompt.value.includes(preset.prompt.trim());
    this.prompt.value = toggleFragment(this.prompt.value, preset.prompt);
    if (preset.negative_prompt) {
      const has = this.negative.value.includes(preset.negative_prompt.trim());
      if (has === removing) this.negative.value = toggleFragment(this.negative.value, preset.negative_prompt);
    }
    for (const [key, value] of Object.entries(preset.params || {})) {
      if (removing) {
        if (JSON.stringify(this.params[key]) === JSON.stringify(value)) delete this.params[key];
      } else {
        this.params[key] = value;
      }
    }
    this.renderParams();
    this.changed();
    this.prompt.focus();
  }

  renderPresets() {
    for (const chip of this.$('presets').querySelectorAll('[data-preset]')) {
      const preset = this.presets.find((p) => String(p.id) === chip.dataset.preset);
      const on = Boolean(preset && preset.prompt && this.prompt.value.includes(preset.prompt.trim()));
      chip.classList.toggle('is-applied', on);
      chip.setAttribute('aria-pressed', String(on));
      chip.setAttribute('aria-label', interpolate(on ? gettext('Remove “%(name)s” from the prompt') : gettext('Add “%(name)s” to the prompt'),
        { name: preset ? preset.name : '' }, true));
    }
  }

  renderParams() {
    const entries = Object.entries(this.params);
    this.$('params-wrap').hidden = !entries.length;
    this.$('params').replaceChildren(...entries.map(([key, value]) => el('span', { class: 'rv-chip rv-chip--param' },
      el('span', { class: 'rv-muted' }, `${key}:`), ` ${paramText(value)}`,
      this.readOnly ? null : el('button', {
        type: 'button', class: 'rv-chip-x', 'aria-label': interpolate(gettext('Remove parameter %(key)s'), { key }, true),
        onclick: () => { delete this.params[key]; this.renderParams(); this.changed(); },
      }, '×'))));
  }

  // --- reference images ------------------------------------------------------------------------

  bindAssets() {
    const toggle = this.$('asset-upload-toggle');
    const box = this.$('asset-upload');
    toggle.addEventListener('click', () => {
      box.hidden = !box.hidden;
      toggle.setAttribute('aria-expanded', String(!box.hidden));
      if (!box.hidden) this.$('asset-file').focus();
    });
    this.$('asset-file').addEventListener('change', () => {
      const file = this.$('asset-file').files[0];
      const name = this.$('asset-name');
      if (file && !name.value) name.value = file.name.replace(/\.[^.]+$/, '').replace(/[_-]+/g, ' ');
    });
    this.$('asset-upload-submit').addEventListener('click', () => this.upload());
  }

  setAssets(assets) {
    this.allAssets = assets;
    this.renderAssets();
  }

  renderAssets() {
    const grid = this.$('assets');
    if (!this.allAssets.length) {
      grid.replaceChildren(el('p', { class: 'rv-muted rv-small rv-assets-empty' },
        gettext('No reference images in this project yet. Upload a character, a location or a style frame.')));
      return;
    }
    grid.replaceChildren(...this.allAssets.map((asset) => {
      const on = this.assets.has(asset.id);
      const button = el('button', {
        type: 'button',
        class: `rv-asset${on ? ' is-selected' : ''}`,
        'aria-pressed': String(on),
        title: `${asset.name} · ${asset.kind}`,
        'aria-label': interpolate(on ? gettext('Stop using %(name)s') : gettext('Use %(name)s as a reference'), { name: asset.name }, true),
        disabled: this.readOnly,
        dataset: { asset: asset.id },
      }, el('img', { src: asset.image, alt: '', loading: 'lazy' }), el('span', { class: 'rv-asset-name' }, asset.name));
      button.addEventListener('click', () => {
        if (this.assets.has(asset.id)) this.assets.delete(asset.id); else this.assets.add(asset.id);
        this.renderAssets();
        this.changed();
      });
      return button;
    }));
  }

  async upload() {
    const file = this.$('asset-file').files[0];
    const name = this.$('asset-name').value.trim();
    if (!file || !name) {
      toast(gettext('Choose an image and give it a name.'), 'warning');
      return;
    }
    const form = new FormData();
    form.append('image', file);
    form.append('name', name);
    form.append('kind', this.$('asset-kind').value);
    const button = this.$('asset-upload-submit');
    button.disabled = true;
    try {
      const asset = await api.post(`/api/projects/${this.project.id}/assets/`, form);
      this.allAssets = [...this.allAssets, asset];
      this.assets.add(asset.id);
      this.renderAssets();
      this.changed();
      this.$('asset-file').value = '';
      this.$('asset-name').value = '';
      this.$('asset-upload').hidden = true;
      this.$('asset-upload-toggle').setAttribute('aria-expanded', 'false');
      toast(interpolate(gettext('%(name)s uploaded and added to this prompt.'), { name: asset.name }, true), 'success');
    } catch (error) {
      toastError(error);
    } finally {
      button.disabled = false;
    }
  }

  // --- state, saving, conflicts --------------------------------------------------------------

  changed() {
    const dirty = this.dirty;
    const count = this.prompt.value.length;
    this.$('prompt-count').textContent = count > 6000 ? `${count} / 8000` : '';
    this.$('discard').hidden = !dirty || this.readOnly;
    const next = (this.latest ? this.latest.number : 0) + 1;
    const target = this.base ? this.base.number + 1 : 1;
    this.saveButton.textContent = interpolate(gettext('Save as revision %(n)s'), { n: Math.max(target, 1) }, true);
    // While a conflict is shown the person chooses first: rebase onto it, or take theirs.
    this.saveButton.disabled = this.saving || Boolean(this.conflict) || !this.prompt.value.trim() || (!dirty && this.base !== null);
    this.saveButton.title = next !== target ? gettext('A newer revision exists; saving will ask you to rebase.') : '';
    this.renderPresets();
    this.dispatchEvent(new CustomEvent('dirtychange', { detail: { dirty } }));
  }

  renderBasedOn() {
    const line = this.$('based-on');
    line.replaceChildren();
    if (!this.base) {
      line.textContent = gettext('No prompt yet: saving creates revision 1.');
      return;
    }
    const who = displayName(this.base.author) || gettext('someone');
    line.append(interpolate(gettext('Editing revision %(n)s by %(who)s'), { n: this.base.number, who }, true), ' · ',
      relativeTime(this.base.created_at));
    if (this.latest && this.base.id !== this.latest.id) {
      line.append(' · ', el('strong', { class: 'rv-warn-text' },
        interpolate(gettext('revision %(n)s is newer'), { n: this.latest.number }, true)));
    }
  }

  async save() {
    if (this.readOnly || this.saving || !this.prompt.value.trim()) return;
    this.saving = true;
    this.changed();
    this.status.textContent = gettext('Saving…');
    this.status.classList.remove('is-error');
    try {
      const revision = await api.post(`/api/shots/${this.shot.id}/revisions/`, {
        prompt: this.prompt.value,
        negative_prompt: this.negative.value,
        params: this.params,
        assets: [...this.assets],
        note: this.note.value.trim(),
        base: this.base ? this.base.id : null,
      });
      this.latest = revision;
      this.load(revision);
      this.status.textContent = interpolate(gettext('Saved as revision %(n)s.'), { n: revision.number }, true);
      this.dispatchEvent(new CustomEvent('saved', { detail: { revision } }));
    } catch (error) {
      if (error.status === 409 && error.data && error.data.current) {
        this.status.textContent = '';
        this.showConflict(error.data.current);
        this.dispatchEvent(new CustomEvent('conflict', { detail: { current: error.data.current } }));
      } else {
        this.status.textContent = error.message;
        this.status.classList.add('is-error');
      }
    } finally {
      this.saving = false;
      this.changed();
    }
  }

  showConflict(current) {
    this.conflict = current;
    this.latest = current.number >= (this.latest ? this.latest.number : 0) ? current : this.latest;
    const who = displayName(current.author) || gettext('Someone');
    this.$('newer').hidden = true;
    this.$('conflict-title').textContent = interpolate(gettext('%(user)s saved revision %(n)s first.'), { user: who, n: current.number }, true);
    this.$('conflict-text').textContent = gettext('Your text is still in the editor and was not saved. Their revision is below: rebase to save your text on top of it, or use theirs.');
    this.$('conflict-caption').textContent = interpolate(gettext('Revision %(n)s by %(user)s, %(when)s'),
      { n: current.number, user: who, when: relativeTime(current.created_at) }, true)
      + (current.note ? ` — “${current.note}”` : '');
    this.$('conflict-prompt').textContent = current.prompt;
    const negative = this.$('conflict-negative');
    negative.textContent = current.negative_prompt ? `− ${current.negative_prompt}` : '';
    negative.hidden = !current.negative_prompt;
    this.$('conflict-rebase').textContent = interpolate(gettext('Keep my text, rebase onto revision %(n)s'), { n: current.number }, true);
    this.$('conflict').hidden = false;
    this.renderBasedOn();
    this.changed();
  }

  hideConflict() {
    this.conflict = null;
    this.$('conflict').hidden = true;
  }

  /** Keep what was typed, now on top of the revision that won the race. */
  rebase() {
    const current = this.conflict;
    if (!current) return;
    this.base = current;
    this.hideConflict();
    this.renderBasedOn();
    this.changed();
    this.status.textContent = interpolate(gettext('Your text now builds on revision %(n)s. Save when ready.'), { n: current.number }, true);
    this.saveButton.focus();
  }
}
