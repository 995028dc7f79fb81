// What the console test's steps share: the tally, screenshots at both
// sizes, REST calls outside the browser (node's fetch; NODE_EXTRA_CA_CERTS
// trusts keyferryd's CA), and openssl.
import {execFileSync} from 'node:child_process';
import path from 'node:path';

export const VAULT = process.env.KF_VAULT_URL;
export const OUT = process.env.KF_TEST_OUT;
export const OFFICER = process.env.KF_OFFICER_TOKEN;
export const READER = process.env.KF_READER_TOKEN;

let passed = 0;
let failed = 0;
// check records one assertion.
export function check(what, ok, detail = '') {
  if (ok) {
    passed++;
    console.log(`ok: ${what}`);
  } else {
    failed++;
    console.log(`FAIL: ${what}${detail ? ` (${detail})` : ''}`);
  }
  return ok;
}
export function tally() {
  return {passed, failed};
}

export const SIZES = [{name: 'desktop', width: 1280, height: 800}, {name: 'phone', width: 390, height: 844}];

// accessible checks what every page must have: a label for every form
// control, and no clickable element that is not a <button> or a link.
export async function accessible(page, name) {
  const bad = await page.evaluate(() => {
    const unlabelled = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
      .filter((e) => e.labels.length === 0 && !e.getAttribute('aria-label'))
      .map((e) => e.name || e.outerHTML.slice(0, 60));
    const fake = [...document.querySelectorAll('[onclick], [role=button], div[tabindex], span[tabindex]')]
      .map((e) => e.outerHTML.slice(0, 60));
    return [...unlabelled, ...fake];
  });
  check(`${name}: every control is labelled and every action is a button`, bad.length === 0, bad.join(' | '));
}

// shoot saves full-page screenshots of the current page at both sizes,
// after the accessibility check.
export async function shoot(page, name) {
  await accessible(page, name);
  for (const s of SIZES) {
    await page.setViewportSize({width: s.width, height: s.height});
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    check(`${name}: fits ${s.width} px without sideways scrolling`, wide <= s.width, `${wide} px wide`);
    await page.screenshot({path: path.join(OUT, `${name}-${s.width}x${s.height}.png`), fullPage: true});
  }
  await page.setViewportSize({width: 1280, height: 800});
}

// rest calls the keys API directly: {status, body}.
export async function rest(method, p, token, body) {
  const sep = p.includes('?') ? '&' : '?';
  const res = await fetch(`${VAULT}${p}${sep}api-version=7.4`, {
    method,
    headers: {Authorization: `Bearer ${token}`, ...(body ? {'Content-Type': 'application/json'} : {})},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (_) {
    // not JSON
  }
  return {status: res.status, body: json};
}

export function openssl(args, input) {
  return execFileSync('openssl', args, {input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe']});
}

export function b64u(buf) {
  return Buffer.from(buf).toString('base64url');
}
