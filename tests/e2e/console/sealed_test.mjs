// The console of a sealed keyferryd (console_sealed_test.sh: `keyferryd
// init` with 3 shares, 2 needed): its files are served while sealed; a
// signed-in operator sees the 503 as Azure's error with the seal status and
// its progress as shares arrive (submitted with `keyferry vault unseal`,
// never in the browser); after the second share "Try again" opens the vault;
// the parent domain's console lists the vaults.
// Prints "N passed, N failed"; exits 1 on any failure.
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {chromium} from 'playwright-core';
import {check, OFFICER, OUT, shoot, tally, VAULT} from './lib.mjs';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function unseal(share) {
  execFileSync(process.env.KEYFERRY, ['vault', 'unseal', '--share', path.join(process.env.KF_SHARES, share),
    '--passphrase-file', process.env.KF_PASSPHRASE_FILE, '--url', `https://localhost:${process.env.KF_PORT}`,
    '--ca', process.env.KF_CA]);
}

async function steps(page) {
  const res = await page.goto(`${VAULT}/console/`);
  check('the console is served while sealed', res.status() === 200);
  await page.getByLabel('Access token').fill(OFFICER);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByRole('heading', {name: 'Seal status'}).waitFor();
  await page.getByRole('button', {name: 'Try again'}).waitFor();  // rendered last
  const alert = await page.getByRole('alert').textContent();
  check('the 503 is shown as Azure\'s error', alert.includes('ServiceUnavailable') && alert.includes('sealed'), alert);
  let text = await page.locator('main').textContent();
  check('the seal status says sealed, 2 of 3 shares needed, none submitted',
    text.includes('yes: keys cannot be used') && text.includes('2 of 3') && /submitted so far\s*0/.test(text), text);
  check('the token is kept while sealed', await page.evaluate(() => sessionStorage.length) === 1);
  await shoot(page, 'sealed-01');
  unseal('share-1.json');
  await page.getByRole('button', {name: 'Try again'}).click();
  await page.getByText(/submitted so far\s*1/).waitFor();
  check('after one share the page shows the progress', true);
  unseal('share-3.json');
  await page.getByRole('button', {name: 'Try again'}).click();
  await page.getByRole('heading', {name: 'Keys of myvault'}).waitFor();
  check('after the second share the vault opens in the console', true);
  await page.getByRole('link', {name: 'Seal status'}).click();
  await page.getByText('no: unsealed').waitFor();
  check('the seal page says unsealed', true);
  await shoot(page, 'sealed-02-unsealed');

  // The parent domain's console: no vault of its own, the vaults page with a
  // link to each vault's console (sessionStorage is per origin: sign in again).
  await page.goto(`https://localhost:${process.env.KF_PORT}/console/`);
  await page.getByLabel('Access token').fill(OFFICER);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByRole('heading', {name: 'Vaults', exact: true}).waitFor();
  text = await page.locator('main').textContent();
  const links = await page.locator('main table a').evaluateAll((as) => as.map((a) => a.href));
  check('the parent domain\'s console lists the vaults with links to their consoles',
    text.includes('names no vault') && links.includes(`${VAULT}/console/`) &&
    links.some((l) => l.includes('othervault.localhost')), links.join(' '));
  check('the parent domain\'s console offers no keys page',
    await page.getByRole('link', {name: 'Keys', exact: true}).count() === 0);
}

async function main() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kf-console-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium', headless: true, args: ARGS,
    env: {...process.env, HOME: process.env.KF_BROWSER_HOME}, viewport: {width: 1280, height: 800},
  });
  const page = context.pages()[0] || await context.newPage();
  try {
    await steps(page);
  } catch (err) {
    check('the steps ran to the end', false, err.stack);
    await page.screenshot({path: path.join(OUT, 'sealed-failure.png'), fullPage: true}).catch(() => {});
  } finally {
    await context.close();
    fs.rmSync(userDataDir, {recursive: true, force: true});
  }
  const {passed, failed} = tally();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

main().catch((err) => {
  console.log(`FAIL: ${err.stack}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
