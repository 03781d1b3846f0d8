// Members of a project (/p/<id>/members/): invite an existing user by username with a role,
// change a role, remove someone, or leave. Directors and owners manage; only an owner grants or
// changes the owner role; everyone else sees the list. The server checks every change again and
// its refusals are shown as sentences, next to the control that caused them.

import { api } from './api.js';
import { formatDate, nt } from './i18n.js';
import { connectProject } from './live.js';
import { me } from './shell.js';
import { avatar, bootData, confirmDialog, displayName, el, icon, roleLabel, toast, toastError } from './ui.js';

const boot = bootData('members-boot');
const project = boot.project;
const myRole = boot.role;
const canManage = boot.capabilities.includes('manage_members');
const app = document.getElementById('members-app');
const $ = (role) => app.querySelector(`[data-role="${role}"]`);

let members = [];

/** Roles this member may hand out (or take away): an owner any, a director all but owner. */
function canTouch(role) {
  if (!canManage) return false;
  return myRole === 'owner' || role !== 'owner';
}

function roleOptions(current) {
  return boot.roles
    .filter((role) => myRole === 'owner' || role.value !== 'owner' || role.value === current)
    .map((role) => {
      const option = new Option(role.label, role.value);
      if (role.value === current) option.selected = true;
      return option;
    });
}

function row(member) {
  const user = member.user;
  const isMe = user.id === me.id;
  const name = el('div', { class: 'member-row' }, avatar(user, 'lg'),
    el('div', { class: 'stack', style: 'gap:0;min-width:0' },
      el('span', { class: 'member-name ellipsis' }, displayName(user),
        isMe ? el('span', { class: 'chip member-you' }, gettext('you')) : null),
      el('span', { class: 'faint', style: 'font-size:var(--fs-sm)' }, `@${user.username}`)));

  let roleCell;
  if (canTouch(member.role) && !(isMe && member.role === 'owner' && ownerCount() === 1)) {
    const select = el('select', {
      class: 'select select-sm', 'aria-label': interpolate(gettext('Role of %(name)s'), { name: displayName(user) }, true),
      dataset: { role: 'member-role' },
    }, ...roleOptions(member.role));
    select.addEventListener('change', () => changeRole(member, select));
    roleCell = select;
  } else {
    roleCell = el('span', { class: 'role-badge', dataset: { role: member.role } }, roleLabel(member.role));
  }

  let action = null;
  if (isMe && !(member.role === 'owner' && ownerCount() === 1)) {
    action = el('button', {
      type: 'button', class: 'icon-btn', 'aria-label': gettext('Leave this project'), title: gettext('Leave this project'),
      onclick: () => remove(member),
    }, icon('logout'));
  } else if (!isMe && canTouch(member.role)) {
    action = el('button', {
      type: 'button', class: 'icon-btn', dataset: { role: 'remove' },
      'aria-label': interpolate(gettext('Remove %(name)s from the project'), { name: displayName(user) }, true),
      title: gettext('Remove from the project'),
      onclick: () => remove(member),
    }, icon('trash'));
  }

  return el('tr', { dataset: { memberId: member.id, username: user.username } },
    el('td', {}, name),
    el('td', {}, roleCell),
    el('td', { class: 'muted num' }, formatDate(member.created_at)),
    el('td', { style: 'text-align:right' }, action));
}

function ownerCount() {
  return members.filter((m) => m.role === 'owner').length;
}

const ROLE_ORDER = ['owner', 'director', 'artist', 'reviewer', 'guest'];

function render() {
  const sorted = [...members].sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role)
    || displayName(a.user).localeCompare(displayName(b.user)));
  $('members-body').replaceChildren(...sorted.map(row));
  $('members-table').closest('.panel').setAttribute('aria-busy', 'false');
  $('member-count').textContent = nt(ngettext('%(count)s member', '%(count)s members', members.length), members.length);
}

async function load() {
  members = await api.all(`/api/projects/${project.id}/members/?page_size=500`);
  render();
}

async function changeRole(member, select) {
  const previous = member.role;
  select.disabled = true;
  try {
    const updated = await api.patch(`/api/projects/${project.id}/members/${member.id}/`, { role: select.value });
    Object.assign(member, updated);
    toast(interpolate(gettext('%(name)s is now %(role)s.'), { name: displayName(member.user), role: roleLabel(member.role) }, true), 'success');
    if (member.user.id === me.id) window.location.reload(); // my own rights changed
    render();
  } catch (error) {
    select.value = previous;
    toastError(error);
  } finally {
    select.disabled = false;
  }
}

async function remove(member) {
  const isMe = member.user.id === me.id;
  const ok = await confirmDialog(isMe ? {
    title: gettext('Leave this project?'),
    body: gettext('You will no longer see its shots. A director can invite you again.'),
    confirm: gettext('Leave'),
    danger: true,
  } : {
    title: interpolate(gettext('Remove %(name)s?'), { name: displayName(member.user) }, true),
    body: gettext('Their shots become unassigned. Their comments and takes stay.'),
    confirm: gettext('Remove'),
    danger: true,
  });
  if (!ok) return;
  try {
    await api.delete(`/api/projects/${project.id}/members/${member.id}/`);
    if (isMe) {
      window.location.href = '/';
      return;
    }
    members = members.filter((m) => m.id !== member.id);
    render();
    toast(interpolate(gettext('%(name)s was removed from the project.'), { name: displayName(member.user) }, true), 'success');
  } catch (error) {
    toastError(error);
  }
}

const form = $('invite-form');
if (form) {
  const input = form.querySelector('[name="username"]');
  const errorBox = $('invite-error');
  const showError = (message) => {
    errorBox.textContent = message;
    errorBox.hidden = !message;
    input.setAttribute('aria-invalid', message ? 'true' : 'false');
  };
  input.addEventListener('input', () => showError(''));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = input.value.trim();
    const role = form.querySelector('[name="role"]').value;
    if (!username) {
      showError(gettext('Type the username of the person to invite.'));
      input.focus();
      return;
    }
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const added = await api.post(`/api/projects/${project.id}/members/`, { username, role });
      members.push(added);
      render();
      input.value = '';
      showError('');
      toast(interpolate(gettext('%(name)s joined as %(role)s.'), { name: displayName(added.user), role: roleLabel(added.role) }, true), 'success');
    } catch (error) {
      if (error.status === 400) showError(error.fields.username || error.fields.role || error.message);
      else toastError(error);
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
}

load().then(() => {
  const socket = connectProject(project.id, { after: boot.last_seq });
  socket.addEventListener('event', (event) => {
    if (String(event.detail.type || '').startsWith('member.')) load().catch(() => {});
  });
}).catch((error) => {
  $('members-body').replaceChildren(el('tr', {}, el('td', { colspan: '4' },
    el('div', { class: 'empty-state' }, el('h3', {}, gettext('The members could not be loaded')), el('p', {}, error.message)))));
});
