// The one frame convention, shared by the player, comments and compare (see CONVENTIONS.md and
// renders/media.py): a frame is an integer, the first frame is 0, frame = floor(t * fps + 1e-6),
// and frame n starts at n / fps. Seeking aims at the middle of a frame, (n + 0.5) / fps, so a
// decoder that rounds either way still lands inside it.

const EPSILON = 1e-6;

function checkFps(fps) {
  if (!(fps > 0) || !Number.isFinite(fps)) throw new RangeError(`fps must be a positive number, not ${fps}`);
  return fps;
}

/** The frame shown at time `t` seconds. */
export function frameAt(t, fps) {
  checkFps(fps);
  return Math.max(0, Math.floor(t * fps + EPSILON));
}

/** When frame `n` starts, in seconds. */
export function timeOfFrame(n, fps) {
  checkFps(fps);
  return n / fps;
}

/** Where to seek to show frame `n`: its middle. */
export function seekTimeOfFrame(n, fps) {
  checkFps(fps);
  return (n + 0.5) / fps;
}

/** Clamp a frame number into 0..frameCount-1. */
export function clampFrame(n, frameCount) {
  const last = Math.max(0, (frameCount || 1) - 1);
  return Math.min(last, Math.max(0, Math.round(n)));
}

function pad(n) {
  return String(n).padStart(2, '0');
}

/** HH:MM:SS:FF, non-drop-frame (23.976 counts in 24s, 29.97 in 30s), like renders.media.timecode. */
export function timecode(frame, fps) {
  checkFps(fps);
  const base = Math.max(1, Math.round(fps));
  const n = Math.max(0, Math.floor(frame));
  const ff = n % base;
  const seconds = Math.floor(n / base);
  const ss = seconds % 60;
  const minutes = Math.floor(seconds / 60);
  return `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}:${pad(ss)}:${pad(ff)}`;
}

/**
 * A frame number from what a person typed: "36", "#36", "1:12" (SS:FF), "00:00:01:12".
 * Returns null when the text is neither.
 */
export function parseFrameInput(text, fps) {
  checkFps(fps);
  const value = String(text ?? '').trim().replace(/^#/, '');
  if (/^\d+$/.test(value)) return parseInt(value, 10);
  if (!/^\d+(:\d+){1,3}$/.test(value)) return null;
  const parts = value.split(':').map((p) => parseInt(p, 10));
  const base = Math.max(1, Math.round(fps));
  const ff = parts.pop();
  if (ff >= base) return null;
  let seconds = 0;
  for (const part of parts) seconds = seconds * 60 + part;
  return seconds * base + ff;
}

/** Seconds as M:SS (or H:MM:SS) for durations in lists. */
export function shortDuration(seconds) {
  const total = Math.max(0, Math.round(seconds || 0));
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600);
  return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}
