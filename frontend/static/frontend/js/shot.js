// The shot page (/p/<project>/shots/<shot>/): preview of the selected take, the take strip,
// render controls with live progress, the prompt editor and the revision history.

import { api } from './api.js';
import { PromptEditor } from './prompt_editor.js';
import { RenderPanel, TakeStrip } from './renders.js';
import { RevisionHistory } from './revisions.js';
import {
  ShotControls, membersOf, notifyError, notifyOk, reviewBadge, takeLabel, takesOfShot,
} from './shot_controls.js';
import { bindTabs, el, toast } from './ui.js';

const boot = JSON.parse(document.getElementById('shot-boot').textContent);
const app = document.getElementById('shot-app');
const $ = (role) => app.querySelector(`[data-role="${role}"]`);
const project = boot.project;
let shot = boot.shot;
const capabilities = new Set(project.capabilities || []);
const can = (capability) => capabilities.has(capability);

// --- status and assignee ------------------------------------------------------------------------

const shotControls = new ShotControls($('shot-controls'), {
  project, can, me: boot.me, getShot: () => shot, setShot: (s) => { shot = s; strip.setCurrent(shot.current_take); renderPreview(); },
});

// --- takes: strip and preview ---------------------------------------------------------------------

const strip = new TakeStrip($('strip'));
strip.addEventListener('select', () => {
  renderPreview();
  renders.update();
});
strip.addEventListener('open', ({ detail: { take } }) => {
  window.location.href = `/p/${project.id}/review/${take.id}/`;
});

let previewId = null;
function renderPreview() {
  const take = strip.byId(strip.selectedId);
  const stage = $('preview-stage');
  $('preview-bar').hidden = !take;
  $('preview-empty').hidden = Boolean(take);
  $('preview').classList.toggle('is-empty', !take);
  if (!take) {
    stage.querySelector('.rv-preview-media')?.remove();
    previewId = null;
    return;
  }
  if (previewId !== take.id) {
    stage.querySelector('.rv-preview-media')?.remove();
    const label = `${shot.code} · ${takeLabel(take)}`;
    const media = take.kind === 'video'
      ? el('video', {
        class: 'rv-preview-media', src: take.media_url, poster: take.poster_url || undefined, controls: true,
        preload: 'metadata', playsinline: true, loop: true, muted: true, 'aria-label': label,
      })
      : el('img', { class: 'rv-preview-media', src: take.media_url, alt: label, decoding: 'async' });
    stage.append(media);
    previewId = take.id;
  }
  $('preview-title').textContent = takeLabel(take);
  reviewBadge($('preview-status'), take.review_status);
  const isCurrent = shot.current_take === take.id;
  $('preview-current').hidden = !isCurrent;
  const meta = [
    take.width && take.height ? `${take.width}×${take.height}` : null,
    take.kind === 'video' && take.duration_s ? `${Number(take.duration_s).toFixed(1)} s` : null,
    take.revision_number ? `r${take.revision_number}` : null,
    take.provider,
    `${gettext('seed')} ${take.seed}`,
  ].filter(Boolean).join(' · ');
  $('preview-meta').textContent = meta;
  $('preview-review').href = `/p/${project.id}/review/${take.id}/`;
  $('preview-review').setAttribute('aria-label', interpolate(gettext('Review %(take)s'), { take: takeLabel(take) }, true));
  const makeCurrent = $('preview-make-current');
  makeCurrent.hidden = isCurrent || !can('edit_prompt');
  const compare = $('preview-compare');
  compare.hidden = isCurrent || !shot.current_take;
  if (shot.current_take) compare.href = `/p/${project.id}/compare/${shot.current_take}/${take.id}/`;
}

$('preview-make-current').addEventListener('click', async () => {
  const take = strip.byId(strip.selectedId);
  if (!take) return;
  try {
    shot = await api.post(`/api/shots/${shot.id}/current-take/`, { take: take.id });
    strip.setCurrent(shot.current_take);
    shotControls.render();
    renderPreview();
    notifyOk(interpolate(gettext('%(take)s now represents %(shot)s.'), { take: takeLabel(take), shot: shot.code }, true));
  } catch (error) {
    notifyError(error);
  }
});

async function loadTakes() {
  const takes = await takesOfShot(shot.id);
  strip.set(takes, shot.current_take);
  $('take-count').textContent = takes.length ? String(takes.length) : '';
  renderPreview();
  renders.update();
}

// --- renders ---------------------------------------------------------------------------------------

let revisions = [];
const renders = new RenderPanel($('render'), {
  shot, providers: boot.providers || [], can,
  getSelectedTake: () => strip.byId(strip.selectedId),
  getRevision: () => revisions[0] || null,
});

// --- prompt and history ------------------------------------------------------------------------------

const editor = new PromptEditor($('editor'), { project, shot, can });
const history = new RevisionHistory($('history'), { shot, canEdit: can('edit_prompt') });

editor.addEventListener('dirtychange', ({ detail: { dirty } }) => {
  $('dirty-dot').hidden = !dirty;
});
editor.addEventListener('saved', () => loadRevisions());
editor.addEventListener('conflict', () => loadRevisions());
history.addEventListener('restore', ({ detail: { revision } }) => {
  editor.prompt.value = revision.prompt;
  editor.negative.value = revision.negative_prompt || '';
  editor.params = { ...(revision.params || {}) };
  editor.assets = new Set(revision.assets || []);
  editor.note.value = interpolate(gettext('Back to revision %(n)s'), { n: revision.number }, true);
  editor.renderParams();
  editor.renderAssets();
  editor.changed();
  showTab('prompt');
  toast(interpolate(gettext('Revision %(n)s is in the editor. Save to make it the newest.'), { n: revision.number }, true), 'info');
});

async function loadRevisions() {
  revisions = await history.load();
  editor.setRevisions(revisions);
  $('revision-count').textContent = revisions.length ? String(revisions.length) : '';
  renders.update();
}

// --- tabs ----------------------------------------------------------------------------------------------

const showTab = bindTabs(app);

// --- live ----------------------------------------------------------------------------------------------

let takesTimer = 0;
function reloadTakesSoon() {
  clearTimeout(takesTimer);
  takesTimer = setTimeout(() => loadTakes().catch(notifyError), 150);
}

async function connect() {
  // Live updates are an addition: if the socket module cannot load, the page still works.
  let socket;
  try {
    const { connectProject } = await import('./live.js');
    socket = connectProject(project.id, { after: boot.last_seq });
  } catch (error) {
    console.warn('live updates unavailable', error); // eslint-disable-line no-console
    return null;
  }
  if (typeof socket.view === 'function') socket.view(shot.id);
  // A digest is {jobs: [...]} (the socket hands over the message's data).
  socket.addEventListener('progress', ({ detail }) => renders.progress((detail && (detail.jobs ? detail : detail.data)) || {}));
  socket.addEventListener('event', async ({ detail: message }) => {
    const data = message.data || {};
    if (data.shot !== shot.id) return;
    switch (message.type) {
      case 'render.state':
        renders.put(data);
        break;
      case 'take.created':
      case 'take.reviewed':
        reloadTakesSoon();
        break;
      case 'revision.created':
        if (!message.actor || message.actor.id !== boot.me.id) loadRevisions().catch(notifyError);
        break;
      case 'shot.updated':
        if (data.version !== shot.version) {
          shot = await api.get(`/api/shots/${shot.id}/`);
          shotControls.render();
          strip.setCurrent(shot.current_take);
          renderPreview();
        }
        break;
      default:
        break;
    }
  });
}

// --- start ------------------------------------------------------------------------------------------------

async function start() {
  shotControls.render();
  renders.update();
  connect();
  const results = await Promise.allSettled([
    loadRevisions(),
    loadTakes(),
    renders.load(),
    api.all(`/api/projects/${project.id}/presets/?page_size=200`).then((presets) => editor.setPresets(presets)),
    api.all(`/api/projects/${project.id}/assets/?page_size=200`).then((assets) => editor.setAssets(assets)),
    membersOf(project.id).then((members) => shotControls.setMembers(members)),
  ]);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) notifyError(failed.reason);
  app.dataset.ready = 'true';
}

start();
