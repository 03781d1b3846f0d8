// The one way scripts talk to the studio's REST API: same-origin session cookie, CSRF token
// from the cookie, JSON in and out, and errors as ApiError with a sentence a person can read
// (the API's ``detail``), never raw JSON.

export class ApiError extends Error {
  constructor(message, { status = 0, data = null } = {}) {
    super(message);
    this.name = 'ApiError';
    /** HTTP status, 0 when the server could not be reached. */
    this.status = status;
    /** The parsed error body ({detail, <field>: [...], current?}) or null. */
    this.data = data;
  }

  /** Field errors of a 400 as {field: "first message"}. */
  get fields() {
    const fields = {};
    if (this.data && typeof this.data === 'object') {
      for (const [key, value] of Object.entries(this.data)) {
        if (key === 'detail' || key === 'current') continue;
        const first = Array.isArray(value) ? value[0] : value;
        if (typeof first === 'string') fields[key] = first;
      }
    }
    return fields;
  }
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
  return input ? input.value : '';
}

function fallbackMessage(status) {
  if (status === 0) return gettext('Cannot reach the studio. Check your connection and try again.');
  if (status === 401) return gettext('Your session has ended. Sign in again.');
  if (status === 403) return gettext('You do not have permission to do this.');
  if (status === 404) return gettext('This no longer exists, or you do not have access to it.');
  if (status === 409) return gettext('Someone changed this a moment ago. Reload and try again.');
  if (status === 413) return gettext('That file is too large.');
  if (status === 429) return gettext('Too many requests. Wait a moment and try again.');
  if (status >= 500) return gettext('The studio had a problem answering. Try again in a moment.');
  return gettext('Something went wrong. Try again.');
}

/** A readable sentence for a failed response; never shows a JSON structure. */
export function readableMessage(status, data) {
  if (status === 403 && data && typeof data.detail === 'string' && /credentials|authenticat/i.test(data.detail)) {
    return fallbackMessage(401);
  }
  if (status === 404) return fallbackMessage(404);
  if (data && typeof data === 'object') {
    if (typeof data.detail === 'string' && data.detail) return data.detail;
    for (const [key, value] of Object.entries(data)) {
      const first = Array.isArray(value) ? value[0] : value;
      if (typeof first === 'string' && first) return key === 'non_field_errors' ? first : `${first}`;
    }
  }
  return fallbackMessage(status);
}

/** ``options``: signal (AbortSignal), headers, keepalive (the request outlives the page, e.g.
 *  "mark as read" on a link that navigates away). */
async function request(method, url, body, { signal, headers = {}, keepalive = false } = {}) {
  const init = { method, credentials: 'same-origin', signal, keepalive, headers: { Accept: 'application/json', ...headers } };
  if (body !== undefined && body !== null) {
    if (body instanceof FormData) {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
  }
  if (!['GET', 'HEAD'].includes(method)) init.headers['X-CSRFToken'] = csrfToken();
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error && error.name === 'AbortError') throw error;
    throw new ApiError(fallbackMessage(0), { status: 0 });
  }
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  let data = null;
  if (type.includes('json')) {
    data = await response.json().catch(() => null);
  }
  if (!response.ok) throw new ApiError(readableMessage(response.status, data), { status: response.status, data });
  if (data === null && !type.includes('json')) {
    // A page instead of JSON (e.g. a login redirect): not something a script can use.
    throw new ApiError(response.redirected ? fallbackMessage(401) : fallbackMessage(500), { status: response.status });
  }
  return data;
}

/** Every item of a paginated list, following ``next``. */
async function all(url, options) {
  const items = [];
  let next = url;
  while (next) {
    // eslint-disable-next-line no-await-in-loop
    const page = await request('GET', next, undefined, options);
    items.push(...page.results);
    next = page.next;
  }
  return items;
}

export const api = {
  get: (url, options) => request('GET', url, undefined, options),
  post: (url, body, options) => request('POST', url, body ?? {}, options),
  patch: (url, body, options) => request('PATCH', url, body, options),
  put: (url, body, options) => request('PUT', url, body, options),
  delete: (url, options) => request('DELETE', url, undefined, options),
  all,
  request,
};

export default api;
