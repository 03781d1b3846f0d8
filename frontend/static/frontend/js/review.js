// The review player page (/p/<project>/review/<take>/): player, drawing, frame comments,
// review decisions, current take, assignment, and live comments from teammates.

import { api } from './api.js';
import { Annotator, COLORS } from './annotate.js';
import { CommentPanel, MentionCompleter } from './comments.js';
import { Player, Transport, bindPlayerKeys, shortcutList } from './player.js';
import { ShotControls, decisionLabel, membersOf, notifyError, notifyOk, reviewBadge, takeLabel, takesOfShot, thumbUrl } from './shot_controls.js';
import { timecode } from './timecode.js';
import { bindTabs, displayName, formatDateTime } from './ui.js';

const boot = JSON.parse(document.getElementById('review-boot').textContent);
const app = document.getElementById('review-app');
const $ = (role, root = app) => root.querySelector(`[data-role="${role}"]`);

const project = boot.project;
let take = boot.take;
let shot = boot.shot;
const capabilities = new Set(project.capabilities || []);
const can = (capability) => capabilities.has(capability);
const isVideo = take.kind === 'video';
const fps = take.fps || project.fps || 24;

// --- player, transport and drawing ------------------------------------------------------

const media = $('media');
const player = new Player(media, { fps, frameCount: take.frame_count || 0 });
const transport = new Transport($('transport'), player);
const annotator = new Annotator($('canvas'));
window.studioPlayer = player; // for the browser tests and for a curious console

// Size the frame box to the take's aspect ratio (the stage centres it, letterboxed).
const frameBox = $('frame-box');
function setAspect(width, height) {
  if (width > 0 && height > 0) frameBox.style.setProperty('--ar', `${width} / ${height}`);
}
setAspect(take.width, take.height);
media.addEventListener(isVideo ? 'loadedmetadata' : 'load', () => {
  setAspect(isVideo ? media.videoWidth : media.naturalWidth, isVideo ? media.videoHeight : media.naturalHeight);
  app.classList.remove('is-loading');
});
media.addEventListener('error', () => {
  app.classList.remove('is-loading');
  $('media-error').hidden = false;
});
if ((isVideo && media.readyState >= 1) || (!isVideo && media.complete && media.naturalWidth)) app.classList.remove('is-loading');

// --- drawing tools ------------------------------------------------------------------------

const toolbar = $('draw-tools');
let draftFrame = null; // the frame a drawing in progress belongs to

function updateToolbar() {
  for (const button of toolbar.querySelectorAll('[data-tool]')) {
    const on = button.dataset.tool === annotator.tool;
    button.classList.toggle('is-active', on);
    button.setAttribute('aria-pressed', String(on));
  }
  for (const button of toolbar.querySelectorAll('[data-color]')) {
    const on = button.dataset.color === annotator.color;
    button.classList.toggle('is-active', on);
    button.setAttribute('aria-pressed', String(on));
  }
  $('undo').disabled = !annotator.hasDrawing;
  $('clear').disabled = !annotator.hasDrawing;
  app.classList.toggle('is-drawing', Boolean(annotator.tool));
  updateComposerFrame();
}

function setTool(tool) {
  annotator.setTool(annotator.tool === tool ? null : tool);
  if (annotator.tool) player.pause();
  updateToolbar();
}

for (const button of toolbar.querySelectorAll('[data-tool]')) {
  button.addEventListener('click', () => setTool(button.dataset.tool));
}
const swatches = $('swatches');
for (const color of COLORS) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'rv-swatch';
  button.dataset.color = color;
  button.style.setProperty('--swatch', color);
  button.setAttribute('aria-label', interpolate(gettext('Colour %(color)s'), { color }, true));
  button.title = button.getAttribute('aria-label');
  button.addEventListener('click', () => {
    annotator.setColor(color);
    if (!annotator.tool) setTool('pen');
    updateToolbar();
  });
  swatches.append(button);
}
$('undo').addEventListener('click', () => annotator.undo());
$('clear').addEventListener('click', () => annotator.clear());
annotator.addEventListener('drawstart', () => {
  if (!annotator.hasDrawing) draftFrame = isVideo ? player.currentFrame : null;
  hideShownDrawing();
});
annotator.addEventListener('change', () => {
  if (!annotator.hasDrawing) draftFrame = null;
  updateToolbar();
});

// --- comments -------------------------------------------------------------------------------

const members = [];
const panel = new CommentPanel($('comments'), {
  take, fps, me: boot.me, can, members, notify: notifyError,
});
let shownComment = null;

function hideShownDrawing() {
  if (!shownComment) return;
  shownComment = null;
  annotator.show(null);
  panel.deselect();
}

panel.addEventListener('select', async ({ detail: { comment } }) => {
  shownComment = comment;
  annotator.show(comment.annotation);
  app.dataset.shownComment = String(comment.id);
  if (isVideo && comment.frame !== null && comment.frame !== undefined) {
    await player.seekToFrame(comment.frame);
  }
});
panel.addEventListener('loaded', ({ detail: { comments } }) => {
  transport.setMarkers(comments.filter((c) => !c.parent).map((c) => ({
    id: c.id,
    frame: c.frame,
    resolved: c.resolved,
    drawing: Boolean(c.annotation && c.annotation.shapes && c.annotation.shapes.length),
    label: `${c.frame} · ${timecode(c.frame ?? 0, fps)} — ${(c.author && c.author.username) || ''}: ${c.body.slice(0, 80)}`,
  })));
  $('tab-comments-count').textContent = String(comments.filter((c) => !c.parent && !c.resolved).length || '');
});
transport.addEventListener('marker', ({ detail: { id } }) => {
  showTab('comments');
  panel.select(id);
  panel.list.querySelector(`[data-comment-id="${id}"]`)?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
});
for (const type of ['framechange', 'targetchange']) {
  player.addEventListener(type, () => {
    if (shownComment && player.currentFrame !== shownComment.frame) {
      hideShownDrawing();
      delete app.dataset.shownComment;
    }
    updateComposerFrame();
  });
}

const composer = $('composer');
const body = $('comment-body');
const frameChip = $('composer-frame');

function updateComposerFrame() {
  if (!isVideo) {
    frameChip.textContent = annotator.hasDrawing ? gettext('On the image, with a drawing') : gettext('On the image');
    return;
  }
  const frame = draftFrame ?? player.currentFrame;
  const text = interpolate(gettext('At frame %(frame)s · %(tc)s'), { frame, tc: timecode(frame, fps) }, true);
  frameChip.textContent = annotator.hasDrawing ? `${text} · ${gettext('with a drawing')}` : text;
  frameChip.classList.toggle('is-away', draftFrame !== null && draftFrame !== player.currentFrame);
}
frameChip.addEventListener('click', () => {
  if (isVideo && draftFrame !== null) player.seekToFrame(draftFrame);
});

if (!isVideo) {
  body.placeholder = gettext('Comment on this image… (@ to mention, Ctrl+Enter to send)');
  body.setAttribute('aria-label', gettext('Comment on this image'));
}
if (can('comment')) {
  body.addEventListener('focus', () => player.pause());
  body.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  composer.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = body.value.trim();
    if (!text) {
      body.focus();
      $('composer-hint').textContent = gettext('Write a few words to go with your comment.');
      return;
    }
    const submit = $('comment-submit');
    submit.disabled = true;
    const fields = {
      body: text,
      frame: isVideo ? (draftFrame ?? player.currentFrame) : null,
      annotation: annotator.annotation(),
    };
    try {
      const created = await panel.create(fields);
      body.value = '';
      $('composer-hint').textContent = '';
      annotator.clear();
      annotator.setTool(null);
      draftFrame = null;
      updateToolbar();
      panel.select(created.id);
    } catch (error) {
      notifyError(error);
    } finally {
      submit.disabled = false;
    }
  });
} else {
  composer.hidden = true;
  $('composer-readonly').hidden = false;
}

// --- tabs --------------------------------------------------------------------------------------

const showTab = bindTabs(app);

// --- review decisions and current take ---------------------------------------------------------

const statusBadge = $('review-status');
const currentBadge = $('current-badge');
const makeCurrent = $('make-current');

function renderTakeState() {
  reviewBadge(statusBadge, take.review_status);
  const isCurrent = shot.current_take === take.id;
  currentBadge.hidden = !isCurrent;
  makeCurrent.hidden = isCurrent || !can('edit_prompt');
  for (const button of app.querySelectorAll('[data-decision]')) {
    const decision = button.dataset.decision;
    const allowed = decision === 'approve' ? can('approve') : can('review');
    button.hidden = !allowed;
    const state = { approve: 'approved', changes: 'changes', reject: 'rejected' }[decision];
    button.setAttribute('aria-pressed', String(take.review_status === state));
  }
  const note = $('review-note');
  if (take.review_note && take.review_status !== 'pending') {
    note.hidden = false;
    note.textContent = interpolate(gettext('%(who)s: “%(note)s”'),
      { who: take.reviewed_by ? take.reviewed_by.username : '', note: take.review_note }, true);
  } else {
    note.hidden = true;
  }
}

const decisionDialog = $('decision-dialog');
let pendingDecision = null;

async function sendDecision(decision, note) {
  try {
    take = await api.post(`/api/takes/${take.id}/review/`, { decision, note });
    if (decision === 'approve') shot.current_take = take.id;
    renderTakeState();
    notifyOk(decisionLabel(decision));
  } catch (error) {
    notifyError(error);
  }
}

for (const button of app.querySelectorAll('[data-decision]')) {
  button.addEventListener('click', () => {
    pendingDecision = button.dataset.decision;
    $('decision-title').textContent = decisionLabel(pendingDecision);
    $('decision-note').value = '';
    $('decision-confirm').textContent = decisionLabel(pendingDecision);
    $('decision-confirm').dataset.decision = pendingDecision;
    decisionDialog.showModal();
    $('decision-note').focus();
  });
}
$('decision-form').addEventListener('submit', (event) => {
  if (event.submitter && event.submitter.value === 'cancel') return;
  event.preventDefault();
  decisionDialog.close();
  sendDecision(pendingDecision, $('decision-note').value.trim());
});

makeCurrent.addEventListener('click', async () => {
  try {
    shot = await api.post(`/api/shots/${shot.id}/current-take/`, { take: take.id });
    renderTakeState();
    notifyOk(gettext('This take now represents the shot.'));
  } catch (error) {
    notifyError(error);
  }
});

// --- shot controls (status, assignee), details and other takes -----------------------------------

const shotControls = new ShotControls($('shot-controls'), {
  project, can, me: boot.me, getShot: () => shot, setShot: (s) => { shot = s; renderTakeState(); },
});

function renderDetails(revision) {
  const rows = [
    [gettext('Provider'), take.provider],
    [gettext('Seed'), String(take.seed)],
    [gettext('Size'), take.width && take.height ? `${take.width} × ${take.height}` : '—'],
  ];
  if (isVideo) {
    rows.push([gettext('Frame rate'), `${fps} fps`]);
    rows.push([gettext('Frames'), take.frame_count ? `${take.frame_count} (0–${take.frame_count - 1})` : '—']);
    rows.push([gettext('Duration'), take.duration_s ? `${Number(take.duration_s).toFixed(2)} s` : '—']);
  }
  rows.push([gettext('Rendered by'), take.created_by ? displayName(take.created_by) : '—']);
  rows.push([gettext('Rendered'), formatDateTime(take.created_at)]);
  const dl = $('details-list');
  dl.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    return [dt, dd];
  }));
  const promptBox = $('details-prompt');
  if (revision) {
    $('details-revision').textContent = interpolate(gettext('Prompt, revision %(n)s'), { n: revision.number }, true);
    promptBox.textContent = revision.prompt;
    $('details-negative').textContent = revision.negative_prompt || '';
    $('details-negative-row').hidden = !revision.negative_prompt;
  } else {
    $('details-revision').textContent = gettext('Prompt');
    promptBox.textContent = gettext('This take has no prompt revision.');
  }
  const params = Object.entries(take.params || {}).filter(([k]) => !['seed', 'width', 'height', 'fps', 'frame_count', 'duration_s'].includes(k));
  const table = $('details-params');
  table.replaceChildren(...params.map(([k, v]) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = k;
    const td = document.createElement('td');
    td.textContent = Array.isArray(v) ? v.join(', ') : (typeof v === 'object' && v !== null ? Object.entries(v).map(([a, b]) => `${a}: ${b}`).join(', ') : String(v));
    tr.append(th, td);
    return tr;
  }));
  $('details-params-wrap').hidden = !params.length;
}

async function loadRevision() {
  if (!take.revision) return null;
  const revisions = await api.all(`/api/shots/${shot.id}/revisions/?page_size=200`);
  return revisions.find((r) => r.id === take.revision) || null;
}

async function loadTakes() {
  const takes = await takesOfShot(shot.id);
  const list = $('take-list');
  const others = takes.filter((t) => t.id !== take.id);
  $('compare').disabled = !others.length;
  list.replaceChildren(...takes.map((t) => {
    const li = document.createElement('li');
    const link = document.createElement('a');
    link.href = `/p/${project.id}/review/${t.id}/`;
    link.className = 'rv-take-row';
    if (t.id === take.id) link.setAttribute('aria-current', 'page');
    const img = document.createElement('img');
    img.alt = '';
    img.loading = 'lazy';
    const src = thumbUrl(t);
    if (src) img.src = src;
    const text = document.createElement('span');
    text.className = 'rv-take-row-text';
    const name = document.createElement('strong');
    name.textContent = takeLabel(t);
    const meta = document.createElement('span');
    meta.className = 'rv-muted';
    meta.textContent = [t.provider, t.revision_number ? `r${t.revision_number}` : null, `seed ${t.seed}`].filter(Boolean).join(' · ');
    text.append(name, meta);
    const badge = document.createElement('span');
    reviewBadge(badge, t.review_status);
    link.append(img, text, badge);
    if (shot.current_take === t.id) {
      const star = document.createElement('span');
      star.className = 'rv-current-dot';
      star.title = gettext('Current take');
      star.setAttribute('aria-label', gettext('Current take'));
      link.append(star);
    }
    li.append(link);
    if (t.id !== take.id) {
      const compare = document.createElement('a');
      compare.className = 'rv-link rv-take-compare';
      compare.href = `/p/${project.id}/compare/${take.id}/${t.id}/`;
      compare.textContent = gettext('Compare');
      compare.setAttribute('aria-label', interpolate(gettext('Compare with %(take)s'), { take: takeLabel(t) }, true));
      li.append(compare);
    }
    return li;
  }));
}
$('compare').addEventListener('click', () => {
  showTab('takes');
  $('take-list').querySelector('.rv-take-compare')?.focus();
});

// --- shortcuts panel -------------------------------------------------------------------------------

const help = $('shortcuts');
function toggleHelp() {
  if (help.open) help.close(); else help.showModal();
}
$('help').addEventListener('click', toggleHelp);
const drawKeys = [
  [['P'], gettext('Pen')], [['A'], gettext('Arrow')], [['R'], gettext('Rectangle')], [['E'], gettext('Ellipse')],
  [['Ctrl', 'Z'], gettext('Undo the last stroke')], [['Esc'], gettext('Stop drawing')], [['C'], gettext('Write a comment')],
];
$('shortcut-list').replaceChildren(...shortcutList(drawKeys, { transport: isVideo }).map(([keys, what]) => {
  const row = document.createElement('div');
  const dt = document.createElement('dt');
  for (const key of keys) {
    const kbd = document.createElement('kbd');
    kbd.textContent = key;
    dt.append(kbd);
  }
  const dd = document.createElement('dd');
  dd.textContent = what;
  row.append(dt, dd);
  return row;
}));

bindPlayerKeys([player], {
  onHelp: toggleHelp,
  extra: {
    p: () => setTool('pen'),
    a: () => setTool('arrow'),
    r: () => setTool('rect'),
    e: () => setTool('ellipse'),
    c: () => { showTab('comments'); body.focus(); },
    Escape: () => { if (annotator.tool) setTool(annotator.tool); else hideShownDrawing(); },
  },
});
document.addEventListener('keydown', (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'z' && annotator.hasDrawing
      && !(event.target instanceof HTMLTextAreaElement || event.target instanceof HTMLInputElement)) {
    event.preventDefault();
    annotator.undo();
  }
});

// --- live updates --------------------------------------------------------------------------------

let reloadTimer = 0;
function reloadCommentsSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => panel.load().catch(notifyError), 120);
}

async function connect() {
  // Live updates are an addition: if the socket module cannot load, the page still works.
  let socket;
  try {
    const { connectProject } = await import('./live.js');
    socket = connectProject(project.id, { after: boot.last_seq });
    if (typeof socket.view === 'function') socket.view(shot.id);
  } catch (error) {
    console.warn('live updates unavailable', error); // eslint-disable-line no-console
    return null;
  }
  socket.addEventListener('event', async ({ detail: message }) => {
    const data = message.data || {};
    if (message.type.startsWith('comment.') && data.take === take.id) {
      reloadCommentsSoon();
    } else if (message.type === 'take.reviewed' && data.take === take.id) {
      take = await api.get(`/api/takes/${take.id}/`);
      renderTakeState();
    } else if (message.type === 'shot.updated' && data.shot === shot.id) {
      shot = await api.get(`/api/shots/${shot.id}/`);
      renderTakeState();
      shotControls.render();
      loadTakes().catch(() => {});
    } else if (message.type === 'take.created' && data.shot === shot.id) {
      loadTakes().catch(() => {});
    }
  });
  return socket;
}

// --- start ---------------------------------------------------------------------------------------

async function start() {
  renderTakeState();
  updateToolbar();
  updateComposerFrame();
  shotControls.render();
  renderDetails(null);
  try {
    members.splice(0, members.length, ...await membersOf(project.id));
    if (can('comment')) new MentionCompleter(body, members); // eslint-disable-line no-new
    shotControls.setMembers(members);
  } catch (error) {
    notifyError(error);
  }
  await Promise.all([
    panel.load().catch(notifyError),
    loadTakes().catch(notifyError),
    loadRevision().then(renderDetails).catch(() => {}),
  ]);
  connect();
  // A link can name a comment (#comment-12) or a frame (#frame-36).
  const hash = window.location.hash;
  const commentMatch = /^#comment-(\d+)$/.exec(hash);
  const frameMatch = /^#frame-(\d+)$/.exec(hash);
  if (commentMatch) panel.select(Number(commentMatch[1]));
  else if (frameMatch) player.seekToFrame(Number(frameMatch[1]));
  app.dataset.ready = 'true';
}

start();
