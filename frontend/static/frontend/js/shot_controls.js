// Pieces the shot page, the review player and compare share: take labels and badges, the
// shot's status and assignee controls (PATCH with the version read; 409 when stale), and
// readable notices.

import { api } from './api.js';
import { STATUSES, statusLabel, toast, toastError } from './ui.js';

const REVIEW_LABELS = {
  pending: gettext('Pending review'),
  approved: gettext('Approved'),
  changes: gettext('Changes requested'),
  rejected: gettext('Rejected'),
};

export function reviewLabel(status) {
  return REVIEW_LABELS[status] || status;
}

/** Fill `el` as the badge of a take's review status. */
export function reviewBadge(el, status) {
  el.className = `rv-badge rv-badge--${status}`;
  el.textContent = reviewLabel(status);
  el.dataset.status = status;
  return el;
}

export function decisionLabel(decision) {
  return { approve: gettext('Approve'), changes: gettext('Needs changes'), reject: gettext('Reject') }[decision] || decision;
}

export function takeLabel(take) {
  const kind = take.kind === 'video' ? gettext('video') : gettext('image');
  return interpolate(gettext('Take %(n)s (%(kind)s)'), { n: take.number, kind }, true);
}

export function thumbUrl(take) {
  return take.thumbnail_url || take.poster_url || (take.kind === 'image' ? take.media_url : null);
}

/** Every take of a shot, newest first. */
export function takesOfShot(shotId) {
  return api.all(`/api/shots/${shotId}/takes/?page_size=200`);
}

/** Every member of a project as {id, username, name, role}. */
export async function membersOf(projectId) {
  const members = await api.all(`/api/projects/${projectId}/members/?page_size=500`);
  return members.map((m) => ({ ...m.user, role: m.role }));
}

export const notifyError = toastError;

export function notifyOk(message) {
  toast(message, 'success');
}

/**
 * Status and assignee selects of a shot. Directors change both; an artist changes the status
 * of a shot assigned to them; everyone else sees them read-only. The server decides.
 */
export class ShotControls {
  constructor(root, { project, can, getShot, setShot, me }) {
    this.root = root;
    this.project = project;
    this.can = can;
    this.getShot = getShot;
    this.setShot = setShot;
    this.me = me;
    this.members = [];
    this.status = root.querySelector('[data-role="shot-status"]');
    this.assignee = root.querySelector('[data-role="shot-assignee"]');
    this.status.replaceChildren(...STATUSES.map((value) => new Option(statusLabel(value), value)));
    this.status.addEventListener('change', () => this.save({ status: this.status.value }));
    this.assignee.addEventListener('change', () => this.save({ assignee: this.assignee.value ? Number(this.assignee.value) : null }));
  }

  setMembers(members) {
    this.members = members;
    this.render();
  }

  render() {
    const shot = this.getShot();
    this.status.value = shot.status;
    const mayPlan = this.can('assign');
    const mayStatus = mayPlan || (this.can('edit_prompt') && this.me && shot.assignee === this.me.id);
    this.status.disabled = !mayStatus;
    const options = [new Option(gettext('Unassigned'), '')];
    for (const m of this.members) options.push(new Option(m.name && m.name !== m.username ? `${m.name} (@${m.username})` : m.username, String(m.id)));
    if (shot.assignee && !this.members.some((m) => m.id === shot.assignee)) options.push(new Option('…', String(shot.assignee)));
    this.assignee.replaceChildren(...options);
    this.assignee.value = shot.assignee ? String(shot.assignee) : '';
    this.assignee.disabled = !mayPlan;
  }

  async save(changes) {
    const shot = this.getShot();
    try {
      const updated = await api.patch(`/api/shots/${shot.id}/`, { ...changes, version: shot.version });
      this.setShot(updated);
      this.render();
    } catch (error) {
      if (error.status === 409) {
        // Someone changed the shot first: show what it is now and let the person decide again.
        const fresh = await api.get(`/api/shots/${shot.id}/`).catch(() => null);
        if (fresh) this.setShot(fresh);
        this.render();
        toast(gettext('A teammate changed this shot a moment ago. It now shows their change; make yours again if it still applies.'), 'warning');
      } else {
        notifyError(error);
        this.render();
      }
    }
  }
}
