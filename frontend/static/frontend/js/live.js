// Open the project's socket for a page and hand it to the shell (bell, presence, live dot).
//
// connectProject() answers at once with a relay that re-dispatches the ProjectSocket's events
// ('event', 'progress', 'presence', 'notification', 'status', 'message') and forwards view(shotId),
// so a page wires its listeners before the socket module has even loaded. If the socket cannot
// be started, the page still works from the API and the live dot says "offline".

import { attachSocket } from './shell.js';

const RELAYED = ['event', 'progress', 'presence', 'notification', 'status', 'message'];

export function connectProject(projectId, options = {}) {
  const relay = new EventTarget();
  relay.socket = null;
  relay.shot = null;
  /** Which shot this page shows (presence); remembered until the socket is up. */
  relay.view = (shotId) => {
    relay.shot = shotId;
    if (relay.socket) relay.socket.view(shotId);
  };
  attachSocket(relay);
  import('./socket.js')
    .then(({ ProjectSocket }) => {
      const socket = new ProjectSocket(projectId, options);
      relay.socket = socket;
      if (relay.shot != null) socket.view(relay.shot);
      for (const type of RELAYED) {
        socket.addEventListener(type, (event) => relay.dispatchEvent(new CustomEvent(type, { detail: event.detail })));
      }
    })
    .catch((error) => {
      console.error('live updates unavailable', error); // eslint-disable-line no-console
      relay.dispatchEvent(new CustomEvent('status', { detail: { state: 'closed' } }));
    });
  return relay;
}
