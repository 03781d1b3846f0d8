// Side-by-side compare of two takes (/p/<project>/compare/<a>/<b>/): synced playback and
// stepping (both land on the same frame, by time when their frame rates differ), each pane's
// own frame readout, and what differs between them: prompt diff and parameters.

import { api } from './api.js';
import { Player, Transport, bindPlayerKeys, shortcutList } from './player.js';
import { renderDiff, renderOps } from './revisions.js';
import { reviewBadge } from './shot_controls.js';
import { frameAt, timecode } from './timecode.js';
import { el, toastError } from './ui.js';

const boot = JSON.parse(document.getElementById('compare-boot').textContent);
const app = document.getElementById('compare-app');
const $ = (role, root = app) => root.querySelector(`[data-role="${role}"]`);
const project = boot.project;
const [takeA, takeB] = boot.takes;

/** Two players driven as one: the first video is the master, the other follows it. */
export class SyncedPlayers extends EventTarget {
  constructor(players) {
    super();
    this.players = players;
    const videos = players.filter((p) => p.isVideo);
    this.master = videos[0] || players[0];
    this.followers = players.filter((p) => p !== this.master && p.isVideo);
    for (const player of players) {
      for (const type of ['framechange', 'targetchange', 'statechange', 'ready', 'seeked', 'buffer']) {
        player.addEventListener(type, () => this.dispatchEvent(new CustomEvent(type)));
      }
    }
    this.master.addEventListener('framechange', () => this.keepInStep());
  }

  get isVideo() { return this.master.isVideo; }
  get media() { return this.master.media; }
  get fps() { return this.master.fps; }
  get frameCount() { return this.master.frameCount; }
  get lastFrame() { return this.master.lastFrame; }
  get frame() { return this.master.frame; }
  get target() { return this.master.target; }
  get currentFrame() { return this.master.currentFrame; }
  get playing() { return this.players.some((p) => p.playing); }

  /** The follower's frame showing the same moment as the master's frame `n`. */
  mapFrame(n, follower) {
    if (follower.fps === this.master.fps) return n;
    return frameAt((n + 0.5) / this.master.fps, follower.fps);
  }

  seekToFrame(n) {
    const master = this.master.seekToFrame(n);
    const frame = Math.min(this.master.lastFrame, Math.max(0, Math.round(n)));
    return Promise.all([master, ...this.followers.map((f) => f.seekToFrame(this.mapFrame(frame, f)))]);
  }

  step(delta) { return this.seekToFrame(this.currentFrame + delta); }
  first() { return this.seekToFrame(0); }
  last() { return this.seekToFrame(this.lastFrame); }

  play() {
    if (this.master.frame >= this.master.lastFrame) this.seekToFrame(0);
    for (const player of this.players) player.play();
  }

  pause() {
    for (const player of this.players) player.pause();
  }

  toggle() {
    if (this.playing) this.pause(); else this.play();
  }

  /** While playing, pull a follower that drifted more than a frame back onto the master's time. */
  keepInStep() {
    if (!this.master.playing) return;
    for (const follower of this.followers) {
      const wanted = this.mapFrame(this.master.frame, follower);
      if (Math.abs(follower.frame - wanted) > 1 && wanted <= follower.lastFrame) {
        follower.media.currentTime = this.master.media.currentTime;
      }
    }
  }
}

// --- panes ----------------------------------------------------------------------------------------

const panes = [...app.querySelectorAll('[data-pane]')];
const players = panes.map((pane, i) => {
  const take = boot.takes[i];
  const media = $('media', pane);
  const frameBox = $('frame-box', pane);
  media.addEventListener(take.kind === 'video' ? 'loadedmetadata' : 'load', () => {
    const w = take.kind === 'video' ? media.videoWidth : media.naturalWidth;
    const h = take.kind === 'video' ? media.videoHeight : media.naturalHeight;
    if (w && h) frameBox.style.setProperty('--ar', `${w} / ${h}`);
  });
  reviewBadge($('status', pane), take.review_status);
  const player = new Player(media, { fps: take.fps || project.fps || 24, frameCount: take.frame_count || 0 });
  const readout = $('readout', pane);
  const update = () => {
    if (!player.isVideo) {
      readout.textContent = gettext('Still image');
      return;
    }
    const frame = player.currentFrame;
    readout.textContent = `${frame} · ${timecode(frame, player.fps)}`;
    readout.dataset.frame = String(frame);
  };
  for (const type of ['framechange', 'targetchange', 'ready']) player.addEventListener(type, update);
  update();
  return player;
});
const synced = new SyncedPlayers(players);
window.studioCompare = synced; // for the browser tests
const transport = new Transport($('transport'), synced);
if (!synced.isVideo) $('transport').hidden = true;

const help = $('shortcuts');
const toggleHelp = () => (help.open ? help.close() : help.showModal());
$('help').addEventListener('click', toggleHelp);
$('shortcut-list').replaceChildren(...shortcutList().map(([keys, what]) => el('div', {},
  el('dt', {}, ...keys.map((k) => el('kbd', {}, k))), el('dd', {}, what))));
bindPlayerKeys([synced], { onHelp: toggleHelp });
$('swap').addEventListener('click', () => {
  window.location.href = `/p/${project.id}/compare/${takeB.id}/${takeA.id}/${window.location.hash}`;
});

// --- what differs -----------------------------------------------------------------------------------

function valueText(value) {
  if (value === undefined || value === null || value === '') return '—';
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : v)).join(', ');
  if (typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}: ${v}`).join(', ');
  return String(value);
}

function takeFacts(take) {
  return {
    [gettext('Provider')]: take.provider,
    [gettext('Kind')]: take.kind === 'video' ? gettext('Video') : gettext('Image'),
    [gettext('Seed')]: take.seed,
    [gettext('Size')]: take.width && take.height ? `${take.width}×${take.height}` : '',
    [gettext('Frame rate')]: take.kind === 'video' ? take.fps : '',
    [gettext('Frames')]: take.kind === 'video' ? take.frame_count : '',
    [gettext('Prompt revision')]: take.revision_number ? `r${take.revision_number}` : '',
    ...Object.fromEntries(Object.entries(take.params || {})
      .filter(([k]) => !['seed', 'width', 'height', 'fps', 'frame_count'].includes(k))),
  };
}

function renderParams() {
  const a = takeFacts(takeA);
  const b = takeFacts(takeB);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  const rows = keys.map((key) => {
    const va = valueText(a[key]);
    const vb = valueText(b[key]);
    const differs = va !== vb;
    return el('tr', { class: differs ? 'is-different' : '' },
      el('th', { scope: 'row' }, key), el('td', {}, va), el('td', {}, vb));
  }).sort((x, y) => Number(y.classList.contains('is-different')) - Number(x.classList.contains('is-different')));
  const differing = rows.filter((r) => r.classList.contains('is-different')).length;
  $('params-summary').textContent = interpolate(ngettext('%(n)s setting differs', '%(n)s settings differ', differing), { n: differing }, true);
  $('params-body').replaceChildren(...rows);
}

async function revisionOf(take) {
  if (!take.revision) return null;
  const revisions = await api.all(`/api/shots/${take.shot}/revisions/?page_size=200`);
  return revisions.find((r) => r.id === take.revision) || null;
}

async function renderPromptDiff() {
  const box = $('prompt-diff');
  if (!takeA.revision || !takeB.revision) {
    box.replaceChildren(el('p', { class: 'rv-muted' }, gettext('One of these takes has no prompt revision to compare.')));
    return;
  }
  if (takeA.revision === takeB.revision) {
    const revision = await revisionOf(takeA);
    box.replaceChildren(el('p', { class: 'rv-muted rv-small' },
      interpolate(gettext('Both takes use the same prompt (revision %(n)s); only the settings below differ.'), { n: takeA.revision_number }, true)),
    revision ? el('p', { class: 'rv-diff-text' }, revision.prompt) : null);
    return;
  }
  if (takeA.shot === takeB.shot) {
    const diff = await api.get(`/api/shots/${takeA.shot}/revisions/${takeA.revision}/diff/${takeB.revision}/`);
    box.replaceChildren(el('p', { class: 'rv-muted rv-small' },
      interpolate(gettext('From revision %(a)s (left) to revision %(b)s (right)'), { a: diff.from.number, b: diff.to.number }, true)),
    ...renderDiff(diff));
    return;
  }
  // Takes of two different shots: show both prompts side by side.
  const [ra, rb] = await Promise.all([revisionOf(takeA), revisionOf(takeB)]);
  box.replaceChildren(el('div', { class: 'rv-compare-prompts' },
    ...[[takeA, ra], [takeB, rb]].map(([take, revision]) => el('div', {},
      el('h3', { class: 'rv-h rv-h--sub' }, `${boot.shots[take.shot].code} · r${take.revision_number}`),
      revision ? renderOps([{ op: 'equal', text: revision.prompt }]) : el('p', { class: 'rv-muted' }, '—')))));
}

renderParams();
renderPromptDiff().catch(toastError);
transport.update();
app.dataset.ready = 'true';
