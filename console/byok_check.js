// The offline structure check of a .byok file (docs/byok-format.md §1, §2,
// §4): what `keyferry inspect` checks, without any secret, before the file
// is sent. checkByok returns {ok, checks: [{ok, text}], kid, kekName,
// kekVersion, ciphertextBytes}; `kek` (optional) is the KEK's key bundle.

const KID = /^https:\/\/([^/]+)\/keys\/([0-9a-zA-Z-]{1,127})\/([0-9a-f]{32})$/;
const B64U = /^[A-Za-z0-9_-]+={0,2}$/;

// Plausible payload lengths (bytes of the PKCS#8 or raw key) per target.
export const TARGET_SIZES = {
  'oct-HSM 128': [16, 16], 'oct-HSM 192': [24, 24], 'oct-HSM 256': [32, 32],
  'EC-HSM P-256': [60, 140], 'EC-HSM P-256K': [60, 140], 'EC-HSM P-384': [75, 190],
  'EC-HSM P-521': [95, 245], 'RSA-HSM 2048': [1150, 1260], 'RSA-HSM 3072': [1700, 1850],
  'RSA-HSM 4096': [2300, 2450],
};

function b64uLength(s) {
  const t = s.replace(/=+$/, '');
  return Math.floor((t.length * 3) / 4);
}

// parseByok reads the container (§1); throws an Error naming the problem.
export function parseByok(text) {
  if (text.length > 65536) throw new Error('the file is over 64 KiB: not a .byok blob');
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON: ${err.message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not a JSON object');
  return doc;
}

// checkByok checks the parsed container `doc` against this vault's host
// `host` and, when known, the KEK bundle `kek` and the `target` key type.
export function checkByok(doc, host, kek, target) {
  const checks = [];
  const add = (ok, text) => checks.push({ok, text});
  add(doc.schema_version === '1.0.0', `schema_version is "${doc.schema_version}" (must be "1.0.0")`);
  const header = doc.header && typeof doc.header === 'object' ? doc.header : {};
  add(header.alg === 'dir', `header.alg is "${header.alg}" (must be "dir")`);
  add(header.enc === 'CKM_RSA_AES_KEY_WRAP', `header.enc is "${header.enc}" (must be "CKM_RSA_AES_KEY_WRAP")`);
  const m = typeof header.kid === 'string' ? KID.exec(header.kid) : null;
  add(!!m, `header.kid "${header.kid}" ${m ? 'is' : 'is not'} https://<host>/keys/<name>/<32-hex version>`);
  const result = {checks, kid: header.kid, kekName: m ? m[2] : null, kekVersion: m ? m[3] : null};
  if (m) add(m[1].toLowerCase() === host.toLowerCase(), `the KEK's host ${m[1]} ${m[1].toLowerCase() === host.toLowerCase() ? 'is' : 'is not'} this vault (${host})`);
  const ct = typeof doc.ciphertext === 'string' ? doc.ciphertext : '';
  const alphabet = B64U.test(ct);
  add(alphabet, `ciphertext is ${alphabet ? '' : 'not '}base64url${ct.endsWith('=') ? ' (padded)' : ''}`);
  const total = alphabet ? b64uLength(ct) : 0;
  result.ciphertextBytes = total;
  if (typeof doc.generator === 'string') add(true, `generator: ${doc.generator}`);
  if (kek) checkAgainstKek(add, kek, result, total, target);
  result.ok = checks.every((c) => c.ok);
  return result;
}

function checkAgainstKek(add, kek, result, total, target) {
  const k = kek.key;
  const ops = JSON.stringify(k.key_ops || []);
  add(ops === '["import"]', `the KEK's key_ops are ${ops} (must be exactly ["import"])`);
  add(!!kek.attributes?.enabled, `the KEK is ${kek.attributes?.enabled ? '' : 'not '}enabled`);
  add(k.kid.endsWith(`/${result.kekVersion}`), `the kid names the KEK version ${k.kid.split('/').pop()}`);
  const n = k.n ? Math.floor((k.n.replace(/=+$/, '').length * 3) / 4) : 0;
  add([256, 384, 512].includes(n), `the KEK is RSA-${n * 8} (2048, 3072 or 4096)`);
  const c2 = total - n;
  const lengthOk = c2 >= 16 && c2 % 8 === 0;
  add(lengthOk, `ciphertext is ${total} bytes: C1 ${n} (RSA-OAEP) + C2 ${c2} (AES-KWP) ${lengthOk ? 'fits' : 'does not fit'} |C2| ≥ 16 and a multiple of 8`);
  if (!lengthOk) return;
  const lo = c2 - 15;
  const hi = c2 - 8;
  const fits = Object.entries(TARGET_SIZES).filter(([, [a, b]]) => a <= hi && b >= lo).map(([t]) => t);
  add(true, `the wrapped payload is ${lo}…${hi} bytes: fits ${fits.length ? fits.join(', ') : 'no known target'}`);
  if (target) add(fits.includes(target), `the chosen target ${target} ${fits.includes(target) ? 'fits' : 'does not fit'} that length`);
}
