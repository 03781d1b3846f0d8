// The live connection of one open project page (DESIGN.md "Real-time"). A native ES module.
//
//   import { ProjectSocket } from './socket.js';
//   const socket = new ProjectSocket(project.id, { after: boot.last_seq });
//   socket.addEventListener('event', (e) => e.detail);        // {seq, type, project, at, actor, data}
//   socket.addEventListener('progress', (e) => e.detail);     // {jobs: [{job, shot, progress, message, ...}]}
//   socket.addEventListener('presence', (e) => e.detail);     // {users: [{id, username, name, shot, since}]}
//   socket.addEventListener('notification', (e) => e.detail); // {id, kind, text, shot, project, ..., unread}
//   socket.addEventListener('status', (e) => e.detail);       // {state: 'connecting'|'connected'|'reconnecting'|'closed', ...}
//   socket.view(shot.id);   // tell the team which shot this page shows (null: none)
//   socket.close();
//
// 'event' fires once per stored event, in seq order, with no gap: the socket keeps the last seq
// it delivered (also in sessionStorage, per tab and project), reconnects from it with
// exponential backoff and jitter, and drops anything it has already delivered. Pass `after`
// = the seq the page's data was rendered at (the pages get it as `last_seq`); without it the
// socket resumes from the seq this tab stored, else from the project's start.
//
// 'status' details: {state: 'connected', user, role, unread} once admitted and caught up
// from; {state: 'reconnecting', attempt, delay, code} while away; {state: 'closed', reason}
// when it gives up: 'revoked' (no longer a member) or 'closed' (socket.close()).

const CLOSE_REVOKED = 4403;
const STORAGE_PREFIX = 'studio.seq.';

function storage() {
  try {
    return window.sessionStorage;
  } catch (error) {
    return null; // storage disabled: the seq is kept in memory only
  }
}

export class ProjectSocket extends EventTarget {
  /**
   * @param {number} projectId
   * @param {{after?: number, url?: string, minDelay?: number, maxDelay?: number,
   *          heartbeatMs?: number, connect?: boolean}} [options]
   *   url: the ws:// or wss:// origin (default: this page's); minDelay/maxDelay: reconnect
   *   backoff bounds in ms; heartbeatMs: overrides the server's heartbeat interval.
   */
  constructor(projectId, options = {}) {
    super();
    this.projectId = Number(projectId);
    this.options = { minDelay: 500, maxDelay: 30000, ...options };
    this.storageKey = `${STORAGE_PREFIX}${this.projectId}`;
    const stored = Number(storage()?.getItem(this.storageKey));
    this.lastSeq = Number.isInteger(options.after) ? options.after : (Number.isInteger(stored) ? stored : 0);
    this.state = 'idle';
    this.user = null;
    this.role = null;
    this.unread = null;
    this.presence = [];
    this.shot = null;
    this.ws = null;
    this.attempt = 0;
    this.retryTimer = 0;
    this.heartbeatTimer = 0;
    this.stopped = false;
    this.onOnline = () => this.reconnectNow();
    this.onVisible = () => { if (document.visibilityState === 'visible') this.reconnectNow(); };
    window.addEventListener('online', this.onOnline);
    document.addEventListener('visibilitychange', this.onVisible);
    // Connect on the next microtask, so listeners added right after `new` see 'connecting'.
    if (options.connect !== false) queueMicrotask(() => this.connect());
  }

  /** Open the socket (done by the constructor unless {connect: false}). */
  connect() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.retryTimer);
    const origin = this.options.url
      || `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}`;
    const ws = new WebSocket(`${origin}/ws/projects/${this.projectId}/?after=${this.lastSeq}`);
    this.ws = ws;
    if (this.state !== 'reconnecting') this.setState('connecting');
    ws.addEventListener('message', (message) => { if (ws === this.ws) this.receive(message.data); });
    ws.addEventListener('close', (event) => { if (ws === this.ws) this.closed(event.code); });
  }

  /** Say which shot this page is showing (null when none); re-sent after every reconnect. */
  view(shotId) {
    this.shot = shotId == null ? null : Number(shotId);
    this.send({ type: 'presence', shot: this.shot });
  }

  /** Stop for good: no reconnect, no more events. */
  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeatTimer);
    window.removeEventListener('online', this.onOnline);
    document.removeEventListener('visibilitychange', this.onVisible);
    const { ws } = this;
    this.ws = null;
    if (ws) ws.close(1000);
    this.setState('closed', { reason: 'closed' });
  }

  get connected() {
    return this.state === 'connected';
  }

  // --- internals ------------------------------------------------------------------------------

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.state === 'connected') {
      this.ws.send(JSON.stringify(message));
    }
  }

  receive(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch (error) {
      return;
    }
    if (typeof message.seq === 'number') {
      this.deliver(message);
      return;
    }
    const data = message.data || {};
    switch (message.type) {
      case 'session':
        this.admitted(data);
        break;
      case 'render.progress':
        this.emit('progress', data);
        break;
      case 'presence':
        this.presence = data.users || [];
        this.emit('presence', data);
        break;
      case 'notification':
        if (typeof data.unread === 'number') this.unread = data.unread;
        this.emit('notification', data);
        break;
      default:
        this.emit('message', message);
    }
  }

  deliver(message) {
    if (message.seq <= this.lastSeq) return; // delivered before (a reconnect overlaps)
    if (message.seq > this.lastSeq + 1) {
      // The server never skips one; if it ever did, resync from what we have.
      this.ws.close(4000);
      return;
    }
    this.lastSeq = message.seq;
    try {
      storage()?.setItem(this.storageKey, String(this.lastSeq));
    } catch (error) {
      // quota or privacy mode: memory is enough
    }
    this.emit('event', message);
  }

  admitted(data) {
    // The server starts from min(our seq, its last): a smaller one means its log was reset.
    if (typeof data.after === 'number' && data.after < this.lastSeq) this.lastSeq = data.after;
    this.attempt = 0;
    this.user = data.user || null;
    this.role = data.role || null;
    if (typeof data.unread === 'number') this.unread = data.unread;
    const every = this.options.heartbeatMs || Math.max(1000, (data.heartbeat_s || 15) * 1000);
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.send({ type: 'heartbeat' }), every);
    this.setState('connected', { user: this.user, role: this.role, unread: this.unread });
    if (this.shot != null) this.send({ type: 'presence', shot: this.shot });
  }

  closed(code) {
    clearInterval(this.heartbeatTimer);
    this.ws = null;
    if (this.stopped) return;
    if (code === CLOSE_REVOKED) {
      this.stopped = true;
      this.setState('closed', { reason: 'revoked', code });
      return;
    }
    // Exponential backoff with "equal jitter": half fixed, half random, so a server restart
    // does not bring every page back in the same instant.
    const ceiling = Math.min(this.options.maxDelay, this.options.minDelay * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.attempt += 1;
    this.setState('reconnecting', { attempt: this.attempt, delay, code });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.state === 'reconnecting' && !this.stopped) {
      clearTimeout(this.retryTimer);
      this.connect();
    }
  }

  setState(state, detail = {}) {
    this.state = state;
    this.emit('status', { state, ...detail });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

export default ProjectSocket;
