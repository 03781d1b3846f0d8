// A frame-accurate player over an HTML5 <video> (or a still <img>), and its transport controls.
//
// The displayed frame follows one rule (timecode.js): frame = floor(t * fps + 1e-6), first
// frame 0. Seeks aim at the middle of the wanted frame, (n + 0.5) / fps, so the decoder
// lands inside it whichever way it rounds; when the browser tells us which frame it actually
// presented (requestVideoFrameCallback's mediaTime), that is what the player shows.

import { clampFrame, frameAt, parseFrameInput, seekTimeOfFrame, timecode } from './timecode.js';

const HAS_RVFC = typeof HTMLVideoElement !== 'undefined' && 'requestVideoFrameCallback' in HTMLVideoElement.prototype;

export class Player extends EventTarget {
  /**
   * @param {HTMLVideoElement|HTMLImageElement} media
   * @param {{fps?: number, frameCount?: number}} options from the take (fps, frame_count)
   */
  constructor(media, { fps, frameCount } = {}) {
    super();
    this.media = media;
    this.isVideo = media instanceof HTMLVideoElement;
    this.fps = fps > 0 ? fps : 24;
    this.frameCount = this.isVideo ? (frameCount || 0) : 1;
    this.frame = 0; // the frame on screen
    this.target = null; // the frame a pending seek is heading to
    this._waiters = [];
    this._rafId = 0;
    if (this.isVideo) {
      this._bindVideo();
      // The metadata may have arrived before this module ran.
      if (media.readyState >= 1) this._onMetadata();
    }
  }

  _onMetadata() {
    const video = this.media;
    if (!this.frameCount && Number.isFinite(video.duration)) this.frameCount = Math.max(1, Math.round(video.duration * this.fps));
    this._emit('ready');
    this.seekToFrame(this.target ?? this.frame);
  }

  get lastFrame() {
    return Math.max(0, (this.frameCount || 1) - 1);
  }

  get playing() {
    return this.isVideo && !this.media.paused && !this.media.ended;
  }

  get ready() {
    return !this.isVideo || this.media.readyState >= 1;
  }

  /** The frame a step or a comment should start from: a pending seek's target, else what is shown. */
  get currentFrame() {
    return this.target ?? this.frame;
  }

  _bindVideo() {
    const video = this.media;
    video.addEventListener('loadedmetadata', () => this._onMetadata());
    video.addEventListener('seeked', () => this._settle());
    video.addEventListener('play', () => {
      this.target = null;
      this._emit('statechange');
      if (!HAS_RVFC) this._pollWhilePlaying();
    });
    video.addEventListener('pause', () => {
      this._emit('statechange');
      // Park on the middle of the frame on screen, so currentTime and the frame number agree.
      if (!video.seeking && this.target === null) this.seekToFrame(this.frame);
    });
    video.addEventListener('ended', () => this._emit('statechange'));
    video.addEventListener('progress', () => this._emit('buffer'));
    video.addEventListener('error', () => this._emit('mediaerror'));
    if (HAS_RVFC) {
      const onFrame = (_now, metadata) => {
        this._presented(metadata.mediaTime);
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  }

  _pollWhilePlaying() {
    cancelAnimationFrame(this._rafId);
    const loop = () => {
      if (!this.playing) return;
      this._presented(this.media.currentTime);
      this._rafId = requestAnimationFrame(loop);
    };
    this._rafId = requestAnimationFrame(loop);
  }

  _presented(mediaTime) {
    const video = this.media;
    if (video.seeking) return; // a frame from before the seek
    const frame = clampFrame(frameAt(mediaTime, this.fps), this.frameCount || Infinity);
    // Paused, the frame that stays on screen is the one at currentTime: a callback for an
    // older frame that arrives late (after quick steps) must not move the readout back.
    if (video.paused && frame !== clampFrame(frameAt(video.currentTime, this.fps), this.frameCount || Infinity)) return;
    this._setFrame(frame);
  }

  _setFrame(frame) {
    if (frame === this.frame) return;
    this.frame = frame;
    this._emit('framechange');
  }

  _settle() {
    const video = this.media;
    if (video.seeking) return;
    const frame = clampFrame(frameAt(video.currentTime, this.fps), this.frameCount || Infinity);
    if (this.target !== null && frame !== this.target) return; // a newer seek is on its way
    this.target = null;
    this._setFrame(frame);
    const waiters = this._waiters;
    this._waiters = [];
    for (const resolve of waiters) resolve(frame);
    this._emit('seeked');
  }

  /** Show frame `n` (clamped to the take); resolves with the frame once it is on screen. */
  seekToFrame(n) {
    if (!this.isVideo) return Promise.resolve(0);
    const frame = clampFrame(n, this.frameCount || Infinity);
    this.target = frame;
    this._emit('targetchange');
    const promise = new Promise((resolve) => this._waiters.push(resolve));
    if (this.media.readyState < 1) return promise; // loadedmetadata seeks to the target
    if (!this.media.paused) this.media.pause();
    const time = seekTimeOfFrame(frame, this.fps);
    if (Math.abs(this.media.currentTime - time) < 1e-4 && !this.media.seeking) {
      this._settle();
    } else {
      this.media.currentTime = time;
    }
    return promise;
  }

  step(delta) {
    return this.seekToFrame(this.currentFrame + delta);
  }

  first() {
    return this.seekToFrame(0);
  }

  last() {
    return this.seekToFrame(this.lastFrame);
  }

  play() {
    if (!this.isVideo) return;
    if (this.frame >= this.lastFrame) this.media.currentTime = 0;
    this.target = null;
    this.media.play().catch(() => {});
  }

  pause() {
    if (this.isVideo && !this.media.paused) this.media.pause();
  }

  toggle() {
    if (this.playing) this.pause(); else this.play();
  }

  _emit(type) {
    this.dispatchEvent(new CustomEvent(type, { detail: { frame: this.frame, target: this.target } }));
  }
}

/** The clip's fraction (0..1) where frame `n` sits on a scrub bar. */
export function framePosition(n, frameCount) {
  return frameCount > 1 ? n / (frameCount - 1) : 0;
}

/**
 * Transport controls bound to a Player: buttons, frame box, timecode, and a scrub bar with
 * comment markers. Markup: elements with data-role="first|back|play|forward|last|frame|
 * timecode|last-frame|scrub|scrub-fill|scrub-buffer|scrub-head|markers" inside `root`.
 */
export class Transport extends EventTarget {
  constructor(root, player) {
    super();
    this.root = root;
    this.player = player;
    this.markers = [];
    const $ = (role) => root.querySelector(`[data-role="${role}"]`);
    this.el = {
      first: $('first'), back: $('back'), play: $('play'), forward: $('forward'), last: $('last'),
      frame: $('frame'), timecode: $('timecode'), lastFrame: $('last-frame'), scrub: $('scrub'),
      fill: $('scrub-fill'), buffer: $('scrub-buffer'), head: $('scrub-head'), markers: $('markers'),
    };
    this._bind();
    this.update();
  }

  _bind() {
    const { player, el } = this;
    el.first?.addEventListener('click', () => player.first());
    el.back?.addEventListener('click', () => player.step(-1));
    el.play?.addEventListener('click', () => player.toggle());
    el.forward?.addEventListener('click', () => player.step(1));
    el.last?.addEventListener('click', () => player.last());
    for (const type of ['framechange', 'targetchange', 'statechange', 'ready', 'seeked']) {
      player.addEventListener(type, () => this.update());
    }
    player.addEventListener('buffer', () => this._updateBuffer());
    if (el.frame) {
      el.frame.addEventListener('keydown', (event) => {
        if (event.key === 'Enter') {
          event.preventDefault();
          this._goToTyped();
          el.frame.select();
        } else if (event.key === 'Escape') {
          el.frame.value = String(player.currentFrame);
          el.frame.blur();
        }
        event.stopPropagation();
      });
      el.frame.addEventListener('change', () => this._goToTyped());
      el.frame.addEventListener('blur', () => this.update());
    }
    if (el.scrub) this._bindScrub(el.scrub);
  }

  _goToTyped() {
    const frame = parseFrameInput(this.el.frame.value, this.player.fps);
    if (frame === null) {
      this.el.frame.setAttribute('aria-invalid', 'true');
      return;
    }
    this.el.frame.removeAttribute('aria-invalid');
    this.player.seekToFrame(frame);
  }

  _frameFromPointer(event) {
    const rect = this.el.scrub.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
    return Math.round(x * this.player.lastFrame);
  }

  _bindScrub(scrub) {
    let dragging = false;
    scrub.addEventListener('pointerdown', (event) => {
      if (event.button !== 0 || event.target.closest('[data-marker]')) return;
      dragging = true;
      scrub.setPointerCapture(event.pointerId);
      scrub.classList.add('is-dragging');
      this.player.seekToFrame(this._frameFromPointer(event));
    });
    scrub.addEventListener('pointermove', (event) => {
      const frame = this._frameFromPointer(event);
      scrub.title = `${frame} · ${timecode(frame, this.player.fps)}`;
      if (dragging) this.player.seekToFrame(frame);
    });
    const stop = () => {
      dragging = false;
      scrub.classList.remove('is-dragging');
    };
    scrub.addEventListener('pointerup', stop);
    scrub.addEventListener('pointercancel', stop);
    scrub.addEventListener('keydown', (event) => {
      const moves = { ArrowLeft: -1, ArrowRight: 1, PageDown: -10, PageUp: 10 };
      if (event.key in moves) {
        event.preventDefault();
        event.stopPropagation();
        this.player.step(moves[event.key]);
      }
    });
  }

  /** Comment markers on the scrub bar: [{id, frame, resolved, drawing, label}]. */
  setMarkers(markers) {
    this.markers = markers;
    const box = this.el.markers;
    if (!box) return;
    box.replaceChildren();
    for (const marker of markers) {
      if (marker.frame === null || marker.frame === undefined) continue;
      const button = document.createElement('button');
      button.type = 'button';
      button.className = `scrub-marker${marker.resolved ? ' is-resolved' : ''}${marker.drawing ? ' has-drawing' : ''}`;
      button.dataset.marker = String(marker.id);
      button.style.left = `${framePosition(marker.frame, this.player.frameCount) * 100}%`;
      button.setAttribute('aria-label', marker.label);
      button.title = marker.label;
      button.addEventListener('click', (event) => {
        event.stopPropagation();
        this.dispatchEvent(new CustomEvent('marker', { detail: { id: marker.id } }));
      });
      box.append(button);
    }
  }

  _updateBuffer() {
    const { player, el } = this;
    if (!el.buffer || !player.isVideo) return;
    const video = player.media;
    let end = 0;
    for (let i = 0; i < video.buffered.length; i += 1) end = Math.max(end, video.buffered.end(i));
    el.buffer.style.width = `${Number.isFinite(video.duration) && video.duration ? (end / video.duration) * 100 : 0}%`;
  }

  update() {
    const { player, el } = this;
    const frame = player.currentFrame;
    if (el.frame && document.activeElement !== el.frame) el.frame.value = String(frame);
    if (el.timecode) el.timecode.textContent = timecode(frame, player.fps);
    if (el.lastFrame) el.lastFrame.textContent = String(player.lastFrame);
    const position = `${framePosition(frame, player.frameCount) * 100}%`;
    if (el.fill) el.fill.style.width = position;
    if (el.head) el.head.style.left = position;
    if (el.scrub) {
      el.scrub.setAttribute('aria-valuemin', '0');
      el.scrub.setAttribute('aria-valuemax', String(player.lastFrame));
      el.scrub.setAttribute('aria-valuenow', String(frame));
      el.scrub.setAttribute('aria-valuetext', `${frame} · ${timecode(frame, player.fps)}`);
    }
    if (el.play) {
      const playing = player.playing;
      el.play.classList.toggle('is-playing', playing);
      el.play.setAttribute('aria-label', playing ? gettext('Pause (Space)') : gettext('Play (Space)'));
      el.play.title = el.play.getAttribute('aria-label');
      el.play.setAttribute('aria-pressed', String(playing));
    }
    this.root.classList.toggle('is-still', !player.isVideo);
    this.dispatchEvent(new CustomEvent('update', { detail: { frame } }));
  }
}

/** True when a key press belongs to a text field, so player shortcuts keep out of its way. */
export function isTyping(event) {
  const el = event.target;
  return el instanceof HTMLElement && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))
    && !(el instanceof HTMLInputElement && ['button', 'checkbox', 'radio', 'range'].includes(el.type));
}

/**
 * The player's keyboard shortcuts. `players` are stepped together (compare drives two).
 * Returns the list shown in the shortcuts panel.
 */
export function bindPlayerKeys(players, { onHelp, extra = {} } = {}) {
  const each = (fn) => players.forEach(fn);
  const actions = {
    ArrowLeft: (e) => each((p) => p.step(e.shiftKey ? -10 : -1)),
    ArrowRight: (e) => each((p) => p.step(e.shiftKey ? 10 : 1)),
    ',': () => each((p) => p.step(-1)),
    '.': () => each((p) => p.step(1)),
    ' ': () => {
      const playing = players.some((p) => p.playing);
      each((p) => (playing ? p.pause() : p.play()));
    },
    k: () => each((p) => p.pause()),
    Home: () => each((p) => p.first()),
    End: () => each((p) => p.last()),
    '?': () => onHelp && onHelp(),
    ...extra,
  };
  document.addEventListener('keydown', (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || isTyping(event)) return;
    // A dialog that is open keeps its keys (Escape closes it), except "?" which toggles the help.
    if (document.querySelector('dialog[open]') && event.key !== '?') return;
    const action = actions[event.key] || actions[event.key.toLowerCase()];
    if (!action) return;
    event.preventDefault();
    action(event);
  });
}

/** The list of shortcuts, for the "?" panel: [[keys], description]; stills have no transport keys. */
export function shortcutList(extra = [], { transport = true } = {}) {
  const moves = transport ? [
    [['←', '→'], gettext('Previous / next frame')],
    [['Shift', '←/→'], gettext('Back / forward 10 frames')],
    [[','], gettext('Previous frame')],
    [['.'], gettext('Next frame')],
    [[gettext('Space')], gettext('Play / pause')],
    [['Home'], gettext('First frame')],
    [['End'], gettext('Last frame')],
  ] : [];
  return [...moves, ...extra, [['?'], gettext('Show or hide these shortcuts')]];
}
