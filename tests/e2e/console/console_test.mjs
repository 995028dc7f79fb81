// The web console in Debian's chromium (console_test.sh starts keyferryd,
// mints the tokens and makes the browser's NSS trust store). Steps:
// headers and CSP; a wrong token; sign-in; the BYOK flow (KEK, its PEM
// checked by openssl, a .byok made by Python's cryptography, the structure
// check, the upload, the key); a signature through the REST API verified by
// openssl; expiry, tags, backup; disable and a refused sign; delete,
// recover, purge, restore from the backup; keys paging and prefix search;
// rotation policy and "Rotate now"; seal and audit pages; a Reader sees no
// write buttons and a forged write is refused; sign-out; no request to
// another origin.
// Prints "N passed, N failed"; exits 1 on any failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {chromium} from 'playwright-core';
import {check, OUT, READER, tally, VAULT} from './lib.mjs';
import {byokFlow, headersAndSignIn, keyLifecycle, opsPages, paging, readerView, rotation} from './steps.mjs';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function main() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kf-console-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    env: {...process.env, HOME: process.env.KF_BROWSER_HOME},
    viewport: {width: 1280, height: 800},
    acceptDownloads: true,
  });
  const requests = [];
  const cspViolations = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => cspViolations.push(`page error: ${e.message}`));
  try {
    await headersAndSignIn(page);
    const imported = await byokFlow(page);
    await keyLifecycle(page, imported);
    await paging(page);
    await rotation(page);
    await opsPages(page);
    await readerView(page, READER);
  } catch (err) {
    check(`the steps ran to the end`, false, err.stack);
    await page.screenshot({path: path.join(OUT, 'failure.png'), fullPage: true}).catch(() => {});
  } finally {
    const origin = new URL(VAULT).origin;
    const foreign = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('blob:') && !u.startsWith('data:'));
    check(`every request of the browser (${requests.length}) went to ${origin}`, foreign.length === 0 && requests.length > 0,
      foreign.slice(0, 5).join(' '));
    check('no Content-Security-Policy violation or page error', cspViolations.length === 0, cspViolations.join(' | '));
    await context.close();
    fs.rmSync(userDataDir, {recursive: true, force: true});
  }
  const {passed, failed} = tally();
  console.log(`${passed} passed, ${failed} failed`);
  console.log(`screenshots: ${OUT}`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

main().catch((err) => {
  console.log(`FAIL: ${err.stack}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
