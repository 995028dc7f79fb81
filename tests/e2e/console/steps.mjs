// The console test's steps (console_test.mjs runs them in order).
import {execFileSync} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {b64u, check, OFFICER, openssl, OUT, rest, shoot, VAULT} from './lib.mjs';

const CONSOLE = `${VAULT}/console/`;

// settled waits until the page being shown is fully built (app.js sets
// aria-busy on <main> while it renders). Call it after waiting for
// something of the new page, so the old page's state cannot satisfy it.
async function settled(page) {
  await page.locator('main[aria-busy="false"]').waitFor();
}

async function signIn(page, token) {
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', {name: 'Sign in'}).click();
}

// keyboard: Tab alone reaches the keys page's search, its focus is visible,
// and Enter runs the search.
async function keyboard(page) {
  await page.locator('body').focus();
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.name === 'prefix');
  }
  check('Tab reaches the search field', reached);
  const outline = await page.evaluate(() => {
    const st = getComputedStyle(document.activeElement);
    return `${st.outlineStyle} ${st.outlineWidth} ${st.outlineColor}`;
  });
  // console.css's ring: 3px solid amber (#f59e0b), not the browser default.
  check('the focused field shows the console\'s focus ring', outline === 'solid 3px rgb(245, 158, 11)', outline);
  await page.keyboard.type('zz-none');
  await page.keyboard.press('Enter');
  await page.getByText('No keys match.').waitFor();
  check('Enter in the search field searches', true);
  // The skip link moves the focus to the content without leaving the page.
  await page.getByRole('link', {name: 'Skip to content'}).focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.id === 'main');
  check('the skip link focuses the content and keeps the page',
    await page.getByText('No keys match.').count() === 1);
}

// headersAndSignIn: the security headers, a wrong token, then the officer.
export async function headersAndSignIn(page) {
  const res = await page.goto(CONSOLE);
  check('the console loads over TLS trusted through the CA (no ignored errors)', res.status() === 200);
  const hd = res.headers();
  const csp = hd['content-security-policy'] || '';
  for (const d of ["default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'"]) {
    check(`CSP has ${d}`, csp.includes(d), csp);
  }
  check('CSP allows no unsafe-inline or unsafe-eval', !/unsafe-(inline|eval)/.test(csp), csp);
  check('X-Frame-Options: DENY', hd['x-frame-options'] === 'DENY');
  check('X-Content-Type-Options: nosniff', hd['x-content-type-options'] === 'nosniff');
  check('Referrer-Policy: no-referrer', hd['referrer-policy'] === 'no-referrer');
  check('index is text/html', (hd['content-type'] || '').startsWith('text/html'));
  const js = await page.request.get(`${VAULT}/console/app.js`);
  check('app.js is text/javascript', (js.headers()['content-type'] || '').startsWith('text/javascript'));
  const missing = await page.request.get(`${VAULT}/console/..%2F..%2Fetc%2Fpasswd`);
  check('an unknown or traversing file name is 404', missing.status() === 404);

  await page.getByLabel('Access token').waitFor();
  await shoot(page, '01-sign-in');
  await signIn(page, 'not-a-token');
  await page.getByRole('alert').waitFor();
  const alert = await page.getByRole('alert').textContent();
  check('a wrong token shows the sign-in page again with Azure\'s error', alert.includes('Unauthorized') &&
    await page.getByLabel('Access token').isVisible(), alert);
  check('the refused token is not kept', await page.evaluate(() => sessionStorage.length) === 0);
  await shoot(page, '02-sign-in-refused');
  await signIn(page, OFFICER);
  await page.getByRole('heading', {name: 'Keys of myvault'}).waitFor();
  await settled(page);
  check('the officer signs in and sees the keys page with its create and restore forms',
    await page.getByRole('button', {name: 'Create key', exact: true}).count() === 1 &&
    await page.getByRole('button', {name: 'Restore', exact: true}).count() === 1);
  await keyboard(page);
  check('the token is in sessionStorage, not localStorage', await page.evaluate(
    () => localStorage.length === 0 && Object.keys(sessionStorage).length === 1));
  check('no token in the URL', !page.url().includes(OFFICER.slice(0, 20)));
}

// byokFlow: KEK, PEM, .byok, structure check, upload; returns the key name.
export async function byokFlow(page) {
  await page.getByRole('link', {name: 'Bring your own key'}).click();
  await page.getByLabel('KEK name').fill('kek-console');
  await page.getByLabel('RSA size').selectOption('2048');
  await page.getByRole('button', {name: 'Create KEK'}).click();
  const kid = (await page.locator('.kek-kid').textContent()).trim();
  check('the KEK is made', /\/keys\/kek-console\/[0-9a-f]{32}$/.test(kid), kid);
  const kek = await rest('GET', '/keys/kek-console', OFFICER);
  check('the KEK is RSA-HSM with key_ops exactly ["import"]', kek.body.key.kty === 'RSA-HSM' &&
    JSON.stringify(kek.body.key.key_ops) === '["import"]', JSON.stringify(kek.body.key.key_ops));
  const [dl] = await Promise.all([page.waitForEvent('download'),
    page.getByRole('button', {name: 'Download KEK public key (PEM)'}).click()]);
  const pemPath = path.join(OUT, 'kek-console.pem');
  await dl.saveAs(pemPath);
  const modulus = openssl(['rsa', '-pubin', '-in', pemPath, '-noout', '-modulus']).trim();
  check('openssl parses the PEM and its modulus is the KEK\'s n',
    modulus.toLowerCase() === `modulus=${Buffer.from(kek.body.key.n, 'base64url').toString('hex')}`);
  await shoot(page, '03-byok-kek');

  const byok = path.join(OUT, 'target.byok');
  const targetPub = path.join(OUT, 'target-pub.pem');
  const bad = path.join(OUT, 'bad-alg.byok');
  execFileSync('/usr/bin/python3', ['make_byok.py', pemPath, kid, byok, targetPub]);
  execFileSync('/usr/bin/python3', ['make_byok.py', pemPath, kid, bad, path.join(OUT, 'unused.pem'), '--bad-alg']);

  await page.getByLabel('New key name').fill('byok-imported');
  await page.getByLabel('Key type').selectOption('RSA-HSM');
  await page.getByLabel('Size or curve').selectOption('2048');
  await page.getByLabel('.byok file').setInputFiles(bad);
  await page.getByRole('heading', {name: 'Structure check failed'}).waitFor();
  check('a .byok with alg "RSA-OAEP" fails the offline check and cannot be imported',
    await page.getByRole('button', {name: 'Import key'}).isDisabled() &&
    (await page.locator('.byok-report').textContent()).includes('header.alg is "RSA-OAEP"'));
  await page.getByLabel('.byok file').setInputFiles(byok);
  await page.getByRole('heading', {name: 'Structure check passed'}).waitFor();
  const report = await page.locator('.byok-report').textContent();
  for (const part of ['schema_version is "1.0.0"', 'header.enc is "CKM_RSA_AES_KEY_WRAP"',
    'key_ops are ["import"]', 'C1 256', 'fits RSA-HSM 2048']) {
    check(`the structure check reports ${part}`, report.includes(part), report);
  }
  await shoot(page, '04-byok-checked');
  await page.getByRole('button', {name: 'Import key'}).click();
  await page.getByRole('heading', {name: 'Key byok-imported'}).waitFor();
  check('the imported key is shown', page.url().endsWith('#/key/byok-imported'));
  await shoot(page, '05-key-detail');

  const data = crypto.randomBytes(64);
  const digest = crypto.createHash('sha256').update(data).digest();
  const signed = await rest('POST', '/keys/byok-imported//sign', OFFICER, {alg: 'RS256', value: b64u(digest)});
  check('the imported key signs through the REST API', signed.status === 200, JSON.stringify(signed.body));
  if (signed.status === 200) {
    const dataPath = path.join(OUT, 'data.bin');
    const sigPath = path.join(OUT, 'sig.bin');
    fs.writeFileSync(dataPath, data);
    fs.writeFileSync(sigPath, Buffer.from(signed.body.value, 'base64url'));
    const v = openssl(['dgst', '-sha256', '-verify', targetPub, '-signature', sigPath, dataPath]);
    check('openssl verifies the signature with the target\'s own public key', v.includes('Verified OK'), v);
  }
  return 'byok-imported';
}

// keyLifecycle: disable (sign refused), delete, recover, purge in the page.
export async function keyLifecycle(page, name) {
  await page.getByLabel('Expires on (UTC)').fill('2030-01-01');
  await page.getByRole('button', {name: 'Set expiry'}).click();
  await page.getByRole('status').filter({hasText: 'Expiry set.'}).waitFor();
  const withExp = await rest('GET', `/keys/${name}`, OFFICER);
  check('the expiry set in the page is the key\'s exp', withExp.body.attributes.exp === 1893456000,
    JSON.stringify(withExp.body.attributes));
  await page.getByLabel('Tags (JSON object of strings)').fill('{"owner": "console-test"}');
  await page.getByRole('button', {name: 'Save tags'}).click();
  await page.getByRole('status').filter({hasText: 'Tags saved.'}).waitFor();
  check('the tags saved in the page are the key\'s', (await rest('GET', `/keys/${name}`, OFFICER)).body.tags?.owner === 'console-test');
  const [dl] = await Promise.all([page.waitForEvent('download'),
    page.getByRole('button', {name: 'Download backup'}).click()]);
  const backup = path.join(OUT, `${name}.keybackup`);
  await dl.saveAs(backup);
  check('the backup downloads', fs.statSync(backup).size > 100, String(fs.statSync(backup).size));
  await page.getByRole('button', {name: 'Disable key'}).click();
  await page.getByRole('status').filter({hasText: 'Key disabled.'}).waitFor();
  const refused = await rest('POST', `/keys/${name}//sign`, OFFICER, {alg: 'RS256', value: b64u(Buffer.alloc(32))});
  check('a disabled key\'s sign is refused', refused.status >= 400 && refused.body?.error?.code,
    `${refused.status} ${JSON.stringify(refused.body)}`);
  await page.getByRole('button', {name: 'Enable key'}).waitFor();
  await page.getByRole('button', {name: 'Delete key'}).click();
  await page.getByRole('heading', {name: 'Deleted keys of myvault'}).waitFor();
  await page.getByRole('button', {name: `Recover ${name}`}).waitFor();
  await shoot(page, '06-deleted-keys');
  check('a deleted key is listed as deleted', (await rest('GET', `/deletedkeys/${name}`, OFFICER)).status === 200);
  await page.getByRole('button', {name: `Recover ${name}`}).click();
  await page.getByRole('status').filter({hasText: `Key ${name} recovered.`}).waitFor();
  check('the key is recovered', (await rest('GET', `/keys/${name}`, OFFICER)).status === 200);
  await page.goto(`${CONSOLE}#/key/${name}`);
  await page.getByRole('button', {name: 'Delete key'}).click();
  await page.getByRole('button', {name: `Purge ${name}`}).click();
  await page.getByRole('status').filter({hasText: `Key ${name} purged.`}).waitFor();
  const gone = await rest('GET', `/deletedkeys/${name}`, OFFICER);
  const gone2 = await rest('GET', `/keys/${name}`, OFFICER);
  check('the key is purged', gone.status === 404 && gone2.status === 404, `${gone.status} ${gone2.status}`);
  await page.getByRole('link', {name: 'Keys', exact: true}).click();
  await page.getByLabel('Backup file').setInputFiles(backup);
  await page.getByRole('button', {name: 'Restore', exact: true}).click();
  await page.getByRole('heading', {name: `Key ${name}`}).waitFor();
  const back = await rest('GET', `/keys/${name}`, OFFICER);
  check('the backup restores through the page, the same key', back.status === 200 &&
    back.body.key.n === withExp.body.key.n && back.body.tags?.owner === 'console-test');
}

// rotation: a rotation policy saved in the page, and "Rotate now".
export async function rotation(page) {
  await page.goto(`${CONSOLE}#/key/page-00`);
  await page.getByRole('heading', {name: 'Key page-00'}).waitFor();
  const policy = {lifetimeActions: [{trigger: {timeAfterCreate: 'P90D'}, action: {type: 'Rotate'}}],
    attributes: {expiryTime: 'P1Y'}};
  await page.getByLabel(/^Policy/).fill(JSON.stringify(policy));
  await page.getByRole('button', {name: 'Save policy'}).click();
  await page.getByRole('status').filter({hasText: 'Rotation policy saved.'}).waitFor();
  const got = await rest('GET', '/keys/page-00/rotationpolicy', OFFICER);
  check('the rotation policy saved in the page is the key\'s', got.body.attributes?.expiryTime === 'P1Y' &&
    got.body.lifetimeActions.some((a) => a.action.type === 'Rotate' && a.trigger.timeAfterCreate === 'P90D'),
  JSON.stringify(got.body));
  await page.getByRole('button', {name: 'Rotate now'}).click();
  await page.getByRole('status').filter({hasText: 'Rotated'}).waitFor();
  const versions = await rest('GET', '/keys/page-00/versions', OFFICER);
  check('"Rotate now" made a second version', versions.body.value.length === 2, JSON.stringify(versions.body.value.length));
  await page.getByRole('table', {name: 'Versions'}).locator('tbody tr').nth(1).waitFor();
  check('the key page lists both versions', await page.getByRole('table', {name: 'Versions'}).locator('tbody tr').count() === 2);
}

// paging: 30 keys, a prefix search, next and previous pages.
export async function paging(page) {
  for (let i = 0; i < 30; i++) {
    const r = await rest('POST', `/keys/page-${String(i).padStart(2, '0')}/create`, OFFICER, {kty: 'EC', crv: 'P-256'});
    if (r.status !== 200) throw new Error(`create page-${i}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  await page.getByRole('link', {name: 'Keys', exact: true}).click();
  await page.getByLabel('Name starts with').fill('page-');
  await page.getByRole('button', {name: 'Search'}).click();
  await page.getByRole('table', {name: 'Keys starting with "page-"'}).waitFor();
  const rows = page.locator('#key-results tbody tr');
  check('the first page holds 25 keys', await rows.count() === 25, String(await rows.count()));
  await shoot(page, '07-keys');
  await page.getByRole('button', {name: 'Next page'}).click();
  await page.getByRole('link', {name: 'page-29', exact: true}).waitFor();
  check('the next page holds the other 5', await rows.count() === 5, String(await rows.count()));
  await page.getByRole('button', {name: 'Previous page'}).click();
  await page.getByRole('link', {name: 'page-00', exact: true}).waitFor();
  check('the previous page is back', await rows.count() === 25);
  await page.getByLabel('Name starts with').fill('page-1');
  await page.getByRole('button', {name: 'Search'}).click();
  await page.getByRole('table', {name: 'Keys starting with "page-1"'}).waitFor();
  const names = await page.locator('#key-results tbody tr td:first-child').allTextContents();
  check('a prefix search lists exactly the matching keys', names.length === 10 && names.every((n) => n.startsWith('page-1')),
    names.join(' '));
}

// opsPages: vaults, seal status and the audit log.
export async function opsPages(page) {
  await page.getByRole('link', {name: 'Vaults', exact: true}).click();
  await page.getByRole('heading', {name: 'Vaults', exact: true}).waitFor();
  await settled(page);
  const vaults = await page.locator('main table').textContent();
  check('the vaults page lists both vaults', vaults.includes('myvault') && vaults.includes('othervault'));
  await shoot(page, '08-vaults');
  await page.getByRole('link', {name: 'Seal status'}).click();
  await page.getByRole('heading', {name: 'Seal status'}).waitFor();
  await settled(page);
  check('the seal page says how this keyferryd is sealed', (await page.locator('main').textContent()).includes('Not sealed with key shares'));
  await shoot(page, '09-seal');
  await page.getByRole('link', {name: 'Audit log'}).click();
  await page.locator('#chain-state').waitFor();
  await settled(page);
  const state = await page.locator('#chain-state').textContent();
  check('the audit page says the chain verifies', state.startsWith('Chain verified'), state);
  const audit = await page.locator('main table').textContent();
  check('the audit page lists the console\'s recent work (the purge, the last key made)',
    audit.includes('purge') && audit.includes('page-29'));
  await shoot(page, '10-audit');
}

// readerView: sign out, sign in as Reader: no write buttons, forged writes 403.
export async function readerView(page, readerToken) {
  await page.getByRole('button', {name: 'Sign out'}).click();
  await page.getByLabel('Access token').waitFor();
  check('sign-out clears the token', await page.evaluate(() => sessionStorage.length) === 0);
  await signIn(page, readerToken);
  await page.getByRole('heading', {name: 'Keys of myvault'}).waitFor();
  await settled(page);
  const nav = await page.locator('nav').textContent();
  check('a Reader sees no BYOK or audit pages', !nav.includes('Bring your own key') && !nav.includes('Audit log'), nav);
  check('a Reader sees no create or restore form', await page.getByRole('button', {name: 'Create key', exact: true}).count() === 0 &&
    await page.getByRole('button', {name: 'Restore', exact: true}).count() === 0);
  await page.goto(`${CONSOLE}#/key/kek-console`);
  await page.getByRole('heading', {name: 'Key kek-console'}).waitFor();
  await settled(page);
  check('a Reader sees the key\'s versions and rotation policy', await page.getByRole('table', {name: 'Versions'}).count() === 1 &&
    await page.getByRole('heading', {name: 'Rotation policy'}).count() === 1);
  for (const b of ['Disable key', 'Delete key', 'Download backup', 'Rotate now', 'Save tags', 'Set expiry']) {
    check(`a Reader sees no "${b}" button`, await page.getByRole('button', {name: b, exact: true}).count() === 0);
  }
  await shoot(page, '11-reader-key');
  const forged = await page.evaluate(async () => {
    const token = sessionStorage.getItem('keyferry.console.token');
    const r = await fetch('/keys/forged/create?api-version=7.4', {method: 'POST',
      headers: {Authorization: `Bearer ${token}`, 'Content-Type': 'application/json'},
      body: JSON.stringify({kty: 'EC', crv: 'P-256'})});
    const d = await fetch('/keys/kek-console?api-version=7.4', {method: 'DELETE',
      headers: {Authorization: `Bearer ${token}`}});
    return [r.status, (await r.json()).error?.code, d.status];
  });
  check('a forged create and delete with the Reader\'s token are refused with 403', forged[0] === 403 &&
    forged[1] === 'Forbidden' && forged[2] === 403, JSON.stringify(forged));
  const audit = await page.evaluate(async () => (await fetch('/console/api/audit',
    {headers: {Authorization: `Bearer ${sessionStorage.getItem('keyferry.console.token')}`}})).status);
  check('the Reader cannot read the audit log (403)', audit === 403, String(audit));
}
