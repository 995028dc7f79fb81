// The console's only door to keyferryd: the keys REST API and the console's
// JSON API (docs/console.md), on this origin, with the bearer token the
// operator pasted. The token lives in sessionStorage only (gone when the tab
// closes; never localStorage, never in a URL).

export const API_VERSION = '7.4';
const TOKEN_KEY = 'keyferry.console.token';

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}
export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// ApiError is an answer that was not 2xx: Azure's error code and message.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The app registers what to do on a 401 (show the sign-in page again).
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

// url makes a same-origin URL for `path` with api-version and `query`.
function url(path, query = {}, apiVersion = true) {
  const u = new URL(path, location.origin);
  if (apiVersion) u.searchParams.set('api-version', API_VERSION);
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
  }
  return u;
}

async function errorOf(res) {
  let code = `HTTP${res.status}`;
  let message = res.statusText || 'The request failed.';
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch (_) {
    // Not JSON: keep the status line.
  }
  return new ApiError(res.status, code, message);
}

// send performs one request and returns the parsed JSON (null for 204).
// Throws ApiError; a 401 also calls the unauthorized handler.
async function send(method, u, body, auth = true) {
  if (u.origin !== location.origin) {
    throw new ApiError(0, 'CrossOrigin', `refusing to follow a link to ${u.origin}`);
  }
  const headers = {};
  if (auth) headers.Authorization = `Bearer ${getToken() || ''}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(u, {method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer'});
  } catch (e) {
    throw new ApiError(0, 'NetworkError', `keyferryd did not answer (${e.message})`);
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && auth) onUnauthorized(err);
    throw err;
  }
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// keys calls the keys REST API: keys('GET', '/keys', {query}).
export function keys(method, path, {body, query} = {}) {
  return send(method, url(path, query), body);
}

// next follows a nextLink (same origin only).
export function next(link) {
  return send('GET', new URL(link), undefined);
}

// consoleApi calls /console/api/<name>.
export function consoleApi(name, query = {}) {
  return send('GET', url(`/console/api/${name}`, query, false), undefined);
}

// sealStatus is /sys/seal-status (no token needed).
export function sealStatus() {
  return send('GET', url('/sys/seal-status', {}, false), undefined, false);
}

// enc encodes one path segment.
export const enc = encodeURIComponent;

// b64uToBytes / bytesToB64u convert base64url (padded or not).
export function b64uToBytes(s) {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const bin = atob(b64 + '==='.slice((b64.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
export function bytesToB64u(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
