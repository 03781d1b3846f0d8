// Open the project's socket for a page and hand it to the shell (bell, presence, live dot).
import { ProjectSocket } from './socket.js';
import { attachSocket } from './shell.js';

export function connectProject(projectId, options = {}) {
  const socket = new ProjectSocket(projectId, options);
  attachSocket(socket);
  return socket;
}
