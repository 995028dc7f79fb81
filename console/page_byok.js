// Bring your own key, as Azure's guide walks it: (1) make a Key Exchange
// Key (RSA-HSM, key_ops exactly ["import"]) and download its public key as
// PEM for the HSM vendor's tool; (2) upload the .byok file that tool made,
// with the target key type: the offline structure check runs first, then
// PUT /keys/{name} with key_hsm; (3) see the imported key.
import {ApiError, bytesToB64u, enc, keys} from './api.js';
import {button, clear, download, field, h} from './dom.js';
import {rsaPublicPem} from './der.js';
import {checkByok, parseByok} from './byok_check.js';

const TARGETS = {
  'RSA-HSM': ['2048', '3072', '4096'],
  'EC-HSM': ['P-256', 'P-384', 'P-521', 'P-256K'],
  'oct-HSM': ['128', '192', '256'],
};

function kekForm(ctx, out) {
  const name = h('input', {name: 'kek-name', required: true, pattern: '[0-9A-Za-z-]{1,127}', value: 'KEKforBYOK'});
  const size = h('select', {name: 'kek-size'}, ['2048', '3072', '4096'].map((s) => h('option', {}, s)));
  return h('form', {class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const bundle = await keys('POST', `/keys/${enc(name.value)}/create`,
        {body: {kty: 'RSA-HSM', key_size: Number(size.value), key_ops: ['import']}});
      clear(out);
      out.append(h('p', {}, 'KEK made: ', h('code', {class: 'kek-kid'}, bundle.key.kid)),
        button('Download KEK public key (PEM)',
          () => download(`${name.value}.pem`, rsaPublicPem(bundle.key), 'application/x-pem-file')));
    } catch (err) {
      ctx.error(err);
    }
  }}, h('h2', {}, '1. Make a Key Exchange Key'),
  h('p', {}, 'An RSA-HSM key that can only import (key_ops ["import"]); give its public key to the tool that wraps your key.'),
  h('div', {class: 'row'}, field('KEK name', name), field('RSA size', size)),
  h('button', {type: 'submit'}, 'Create KEK'), out);
}

function checkList(result) {
  return h('ul', {class: 'checks'}, result.checks.map((c) =>
    h('li', {class: c.ok ? 'pass' : 'fail'}, h('span', {class: 'mark'}, c.ok ? 'ok' : 'FAILED'), ' ', c.text)));
}

function uploadForm(ctx) {
  const name = h('input', {name: 'target-name', required: true, pattern: '[0-9A-Za-z-]{1,127}'});
  const kty = h('select', {name: 'target-kty'}, Object.keys(TARGETS).map((t) => h('option', {}, t)));
  const size = h('select', {name: 'target-size'});
  const fillSizes = () => {
    clear(size);
    for (const s of TARGETS[kty.value]) size.append(h('option', {}, s));
  };
  kty.addEventListener('change', fillSizes);
  fillSizes();
  const file = h('input', {type: 'file', name: 'byok-file', accept: '.byok,application/json'});
  const report = h('div', {class: 'byok-report', 'aria-live': 'polite'});
  const importButton = h('button', {type: 'submit', disabled: true}, 'Import key');
  let checked = null;  // {bytes, result}
  const check = async () => {
    checked = null;
    importButton.disabled = true;
    clear(report);
    if (!file.files[0]) return;
    const bytes = new Uint8Array(await file.files[0].arrayBuffer());
    let result;
    try {
      const doc = parseByok(new TextDecoder().decode(bytes));
      let kek = null;
      const first = checkByok(doc, location.host, null, null);
      if (first.kekName) {
        try {
          kek = await keys('GET', `/keys/${enc(first.kekName)}/${first.kekVersion}`);
        } catch (err) {
          if (!(err instanceof ApiError) || err.status === 401) throw err;
          first.checks.push({ok: false, text: `the KEK ${first.kekName}/${first.kekVersion} is not in this vault (${err.code}: ${err.message})`});
          first.ok = false;
        }
      }
      result = kek ? checkByok(doc, location.host, kek, `${kty.value} ${size.value}`) : first;
    } catch (err) {
      if (err instanceof ApiError) throw err;
      result = {ok: false, checks: [{ok: false, text: err.message}]};
    }
    report.append(h('h3', {}, result.ok ? 'Structure check passed' : 'Structure check failed'), checkList(result));
    if (result.ok) {
      checked = {bytes};
      importButton.disabled = false;
    }
  };
  const recheck = () => check().catch(ctx.error);
  file.addEventListener('change', recheck);
  kty.addEventListener('change', recheck);
  size.addEventListener('change', recheck);
  return h('form', {class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    if (!checked) return;
    const key = {kty: kty.value, key_hsm: bytesToB64u(checked.bytes)};
    if (kty.value === 'EC-HSM') key.crv = size.value;
    try {
      await keys('PUT', `/keys/${enc(name.value)}`, {body: {key, Hsm: true}});
      ctx.go(`#/key/${enc(name.value)}`);
    } catch (err) {
      ctx.error(err);
    }
  }}, h('h2', {}, '2. Upload the .byok file'),
  h('div', {class: 'row'}, field('New key name', name), field('Key type', kty), field('Size or curve', size)),
  field('.byok file', file, 'Checked here first, offline: nothing is sent until you import.'),
  report, importButton);
}

export async function renderByok(main, ctx) {
  main.append(h('h1', {}, 'Bring your own key'),
    h('p', {}, 'Import a key made in your own HSM, wrapped for this vault; the key never travels in the clear.'));
  main.append(kekForm(ctx, h('div', {class: 'kek-result'})), uploadForm(ctx),
    h('section', {class: 'card'}, h('h2', {}, '3. See the imported key'),
      h('p', {}, 'After the import the console opens the new key; it is also listed under ', h('a', {href: '#/keys'}, 'Keys'), '.')));
}
