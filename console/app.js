// The console's shell: sign-in, the navigation, and the page router (the
// part of the URL after '#': never a token). See docs/console.md.
import {ApiError, clearToken, consoleApi, getToken, setToken, setUnauthorizedHandler} from './api.js';
import {button, clear, field, h} from './dom.js';
import {renderVaults} from './page_vaults.js';
import {renderKeys} from './page_keys.js';
import {renderKey} from './page_key.js';
import {renderDeleted} from './page_deleted.js';
import {renderByok} from './page_byok.js';
import {renderSeal, renderAudit} from './page_ops.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const alertBox = document.getElementById('alert');
const noticeBox = document.getElementById('notice');

// showError shows Azure's error code and message (or any error's message).
export function showError(err) {
  clear(alertBox);
  const code = err instanceof ApiError ? err.code : 'ConsoleError';
  alertBox.append(h('strong', {class: 'code'}, code), ' ', err.message || String(err));
  alertBox.hidden = false;
}
export function showNotice(text) {
  noticeBox.textContent = text;
  noticeBox.hidden = false;
}
function clearMessages() {
  alertBox.hidden = true;
  noticeBox.hidden = true;
}

let me = null;  // whoami: {principal, vault, operator, vaults: [...]}

// ctx is what pages get: the principal, this host's vault and its rights.
function context() {
  const entry = me.vaults.find((v) => v.name === me.vault);
  const allowed = new Set(entry ? entry.allowed : []);
  return {
    me,
    vault: me.vault,
    can: (op) => allowed.has(op),
    error: showError,
    notice: showNotice,
    go: (hash) => {
      if (location.hash === hash) route();
      else location.hash = hash;
    },
  };
}

const PAGES = [
  {hash: '#/vaults', label: 'Vaults', show: () => true, render: renderVaults},
  {hash: '#/keys', label: 'Keys', show: (c) => c.vault && c.can('list'), render: renderKeys},
  {hash: '#/deleted', label: 'Deleted keys', show: (c) => c.vault && c.can('listdeleted'), render: renderDeleted},
  {hash: '#/byok', label: 'Bring your own key', show: (c) => c.vault && c.can('create') && c.can('import'), render: renderByok},
  {hash: '#/seal', label: 'Seal status', show: () => true, render: renderSeal},
  {hash: '#/audit', label: 'Audit log', show: (c) => c.me.operator, render: renderAudit},
];

function renderNav(ctx) {
  clear(nav);
  const list = h('ul', {});
  for (const p of PAGES) {
    if (!p.show(ctx)) continue;
    const current = location.hash.startsWith(p.hash) ? 'page' : false;
    list.append(h('li', {}, h('a', {href: p.hash, 'aria-current': current}, p.label)));
  }
  nav.append(list);
  clear(who);
  who.append(h('span', {}, `${me.principal}${me.vault ? ` @ ${me.vault}` : ''}`), ' ',
    button('Sign out', () => signOut()));
}

async function route() {
  if (!me) return;
  clearMessages();
  const ctx = context();
  renderNav(ctx);
  const home = ctx.vault && ctx.can('list') ? '#/keys' : '#/vaults';
  const hash = location.hash.startsWith('#/') ? location.hash : home;
  // aria-busy tells assistive technology (and the browser test) that the
  // page is still being built.
  main.setAttribute('aria-busy', 'true');
  clear(main);
  try {
    if (hash.startsWith('#/key/')) {
      await renderKey(main, ctx, decodeURIComponent(hash.slice('#/key/'.length)));
    } else {
      // A page this principal may not see (after signing in as another)
      // falls back to the home page.
      const page = PAGES.find((p) => hash.startsWith(p.hash) && p.show(ctx)) ||
        PAGES.find((p) => p.hash === home);
      await page.render(main, ctx);
    }
  } catch (err) {
    showError(err);
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
  main.focus();
}

function signOut(error) {
  clearToken();
  me = null;
  renderSignIn(error);
}

function renderSignIn(error) {
  clear(nav);
  clear(who);
  clear(main);
  clearMessages();
  if (error) showError(error);
  const input = h('input', {type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true});
  const form = h('form', {class: 'card signin', onsubmit: async (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    await start();
  }},
  h('h1', {}, 'Sign in'),
  h('p', {}, 'Paste an access token made by ', h('code', {}, 'keyferryd token --principal NAME'),
    '. It is kept in this tab only (sessionStorage) and sent only to this server.'),
  field('Access token', input),
  h('button', {type: 'submit'}, 'Sign in'));
  main.append(form);
  input.focus();
}

async function start() {
  if (!getToken()) {
    renderSignIn();
    return;
  }
  try {
    me = await consoleApi('whoami');
  } catch (err) {
    if (err instanceof ApiError && err.status === 503) {
      await renderUnavailable(err);
    } else {
      signOut(err);
    }
    return;
  }
  await route();
}

// renderUnavailable is what a signed-in operator sees while keyferryd
// answers 503 (sealed, or its audit log cannot be written): the error, the
// seal status (which needs no token) and a way to try again.
async function renderUnavailable(err) {
  clear(nav);
  clear(who);
  clear(main);
  clearMessages();
  showError(err);
  who.append(button('Sign out', () => signOut()));
  try {
    await renderSeal(main);
  } catch (sealErr) {
    main.append(h('p', {}, `${sealErr.code || 'Error'}: ${sealErr.message}`));
  }
  main.append(h('div', {class: 'row'}, button('Try again', () => start())));
  main.focus();
}

setUnauthorizedHandler((err) => signOut(err));
// Page addresses are '#/…'; other fragments (the skip link's '#main') only
// move the focus, as the browser does by itself.
window.addEventListener('hashchange', () => {
  if (location.hash === '' || location.hash.startsWith('#/')) route();
});
start();
