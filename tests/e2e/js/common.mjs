// What the parts of keys_test.mjs share: the environment of
// tests/e2e/harness.sh, the runner (test, finish), the wire recorder every
// client sends through, node:crypto helpers that check keyferryd's results
// from outside, the clients, and the run's key names and keys (made by
// keys_create.mjs, used by the parts after it).
import assert from "node:assert/strict";
import crypto from "node:crypto";

import { ManagedIdentityCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

export const vaultUrl = mustEnv("KF_VAULT_URL");
export const otherVaultUrl = process.env.KF_OTHER_VAULT_URL;
export const resource = mustEnv("KF_RESOURCE");
export const recoverableDays = 7; // tests/e2e/harness.sh starts keyferryd with --recoverable-days 7
// KF_CUSTODY=pkcs11: keyferryd keeps its keys in a SoftHSMv2 token, whose
// RSA-OAEP is SHA-1 only (docs/security-model.md §3). RSA-OAEP-256 must then
// be a 400 naming that limit (checked below), never done in software.
export const HSM = process.env.KF_CUSTODY === "pkcs11";
export const RSA_CIPHERS = HSM ? ["RSA-OAEP", "RSA1_5"] : ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"];
export const RSA_WRAPS = HSM ? ["RSA-OAEP"] : ["RSA-OAEP", "RSA-OAEP-256"];
export const OAEP_STRONGEST = HSM ? "RSA-OAEP" : "RSA-OAEP-256";

export function mustEnv(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`js_sdk_test: ${name} is not set (run through tests/e2e/js_sdk_test.sh)`);
    process.exit(2);
  }
  return v;
}

// ---------------------------------------------------------------- runner

export let passed = 0;
export let failed = 0;
export const failures = [];
export const t0 = Date.now();

export async function test(name, fn) {
  const start = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - start} ms)`);
  } catch (e) {
    failed++;
    failures.push(name);
    console.log(`FAIL ${name} (${Date.now() - start} ms)`);
    console.log(indent(describeError(e)));
  }
}

export function indent(s) {
  return s
    .split("\n")
    .map((l) => `     ${l}`)
    .join("\n");
}

export function clip(s, n = 600) {
  if (s === undefined || s === null) return "";
  s = String(s);
  return s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s;
}

// A failed call is reported with the exact request and response, so a
// server defect can be filed from the log alone.
export function describeError(e) {
  const lines = [];
  if (e?.name === "RestError" || e?.statusCode !== undefined) {
    lines.push(`RestError ${e.statusCode ?? "-"} ${e.code ?? "-"}: ${clip(e.message, 400)}`);
    if (e.request) {
      lines.push(`request:  ${e.request.method} ${e.request.url}`);
      if (typeof e.request.body === "string" && e.request.body) lines.push(`          body ${clip(e.request.body, 400)}`);
    }
    // The SDK's RestError drops the raw answer; the wire recorder kept it.
    const url = e.request?.url ? new URL(e.request.url) : undefined;
    const seen = url && [...wire].reverse().find((w) => w.path === url.pathname && w.status === e.statusCode);
    const body = e.response?.bodyAsText || seen?.responseBody || (e.details ? JSON.stringify(e.details) : "");
    lines.push(`response: ${e.statusCode ?? e.response?.status} ${clip(body, 800)}`);
    if (seen?.requestBody && !(typeof e.request?.body === "string")) lines.push(`request body: ${clip(seen.requestBody, 400)}`);
    if (seen?.wwwAuthenticate) lines.push(`          WWW-Authenticate: ${seen.wwwAuthenticate}`);
  } else {
    lines.push(clip(e?.stack ?? String(e), 1500));
  }
  if (e?.cause) lines.push(`cause: ${clip(e.cause?.stack ?? e.cause, 600)}`);
  const recent = wire.slice(-4).map((w) => `${w.method} ${w.path} -> ${w.status}`);
  if (recent.length) lines.push(`last requests on the wire: ${recent.join(" | ")}`);
  return lines.join("\n");
}

// Awaits a call that must be refused, and returns its error.
export async function refused(promise, what) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail(`${what}: expected keyferryd to refuse, but the call succeeded`);
}

export function assertStatus(e, statuses, code, what) {
  const list = Array.isArray(statuses) ? statuses : [statuses];
  assert.ok(
    list.includes(e?.statusCode),
    `${what}: expected HTTP ${list.join(" or ")}${code ? ` ${code}` : ""}, got ${e?.statusCode} ${e?.code ?? ""}: ${clip(e?.message, 300)}`,
  );
  if (code) assert.equal(e.code, code, `${what}: error code`);
}

// ---------------------------------------------------------------- wire log

// Every request the SDK sends (after the challenge handshake is resolved,
// so retries with the token show up too) is recorded here.
export const wire = [];
export const recorder = {
  name: "keyferryWireRecorder",
  async sendRequest(request, next) {
    const u = new URL(request.url);
    const entry = { method: request.method, host: u.host, path: u.pathname, query: u.search, status: 0 };
    wire.push(entry);
    const response = await next(request);
    entry.status = response.status;
    if (response.status >= 400) {
      // Kept for the failure report: the exact request and answer.
      entry.requestBody = typeof request.body === "string" ? request.body : undefined;
      entry.responseBody = response.bodyAsText;
      entry.wwwAuthenticate = response.headers.get("www-authenticate");
    }
    return response;
  },
};
export const clientOptions = {
  additionalPolicies: [{ policy: recorder, position: "perRetry" }],
  retryOptions: { maxRetries: 0 },
};

// Requests recorded since mark, that reached keyferryd and were answered 200,
// for POST /keys/<name>/<version>/<op>.
export function served(mark, name, op) {
  const re = new RegExp(`^/keys/${name}/[0-9a-fA-F]*/${op}$`, "i");
  return wire.slice(mark).filter((w) => w.method === "POST" && w.status === 200 && re.test(w.path));
}

// ---------------------------------------------------------------- helpers

export const b64u = (u8) => Buffer.from(u8).toString("base64url");
export const fromB64u = (s) => Buffer.from(s, "base64url");
export const hashOf = (alg) => ({ 256: "sha256", 384: "sha384", 512: "sha512" })[alg.match(/(256|384|512)/)[1]];
export const digestOf = (alg, data) => crypto.createHash(hashOf(alg)).update(data).digest();
export const coordLen = { "P-256": 32, "P-384": 48, "P-521": 66, "P-256K": 32 };

export function nodePublicKey(jwk) {
  const kty = jwk.kty.replace("-HSM", "");
  if (kty === "RSA") {
    return crypto.createPublicKey({ format: "jwk", key: { kty, n: b64u(jwk.n), e: b64u(jwk.e) } });
  }
  if (kty === "EC") {
    const crv = jwk.crv === "P-256K" ? "secp256k1" : jwk.crv;
    return crypto.createPublicKey({ format: "jwk", key: { kty, crv, x: b64u(jwk.x), y: b64u(jwk.y) } });
  }
  throw new Error(`no public key for kty ${jwk.kty}`);
}

export function nodeVerify(alg, pub, data, sig) {
  if (alg.startsWith("ES")) {
    return crypto.verify(hashOf(alg), data, { key: pub, dsaEncoding: "ieee-p1363" }, Buffer.from(sig));
  }
  if (alg.startsWith("PS")) {
    // Azure signs PS* with the salt as long as the digest.
    return crypto.verify(
      hashOf(alg),
      data,
      { key: pub, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST },
      Buffer.from(sig),
    );
  }
  return crypto.verify(hashOf(alg), data, pub, Buffer.from(sig));
}

export function nodeRsaEncrypt(alg, pub, msg) {
  if (alg === "RSA1_5") return crypto.publicEncrypt({ key: pub, padding: crypto.constants.RSA_PKCS1_PADDING }, msg);
  return crypto.publicEncrypt(
    { key: pub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: alg === "RSA-OAEP-256" ? "sha256" : "sha1" },
    msg,
  );
}

export function nodeRsaDecrypt(alg, priv, ct) {
  if (alg === "RSA1_5") {
    // Node 20 refuses PKCS#1 v1.5 private decryption (CVE-2023-46809), so
    // take the raw RSA result and check the type 2 block by hand:
    // 00 02 <at least 8 nonzero bytes> 00 <message>.
    const em = crypto.privateDecrypt({ key: priv, padding: crypto.constants.RSA_NO_PADDING }, Buffer.from(ct));
    assert.equal(em[0], 0x00, "RSA1_5 block starts 00");
    assert.equal(em[1], 0x02, "RSA1_5 block type 2");
    const sep = em.indexOf(0x00, 2);
    assert.ok(sep >= 10, `RSA1_5 padding string of ${sep - 2} nonzero bytes`);
    return em.subarray(sep + 1);
  }
  return crypto.privateDecrypt(
    { key: priv, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: alg === "RSA-OAEP-256" ? "sha256" : "sha1" },
    Buffer.from(ct),
  );
}

// The JSON Web Key a key bundle carries must hold the public half only.
export function assertNoPrivateMaterial(key, what) {
  for (const f of ["d", "p", "q", "dp", "dq", "qi", "k", "t"]) {
    assert.ok(!key.key?.[f] || key.key[f].length === 0, `${what}: response carries private field "${f}"`);
  }
}

export function assertKid(key, name, what = name) {
  const re = new RegExp(`^${vaultUrl.replace(/[.]/g, "\\.")}/keys/${name}/[0-9a-f]{32}$`);
  assert.match(key.id, re, `${what}: kid`);
  assert.equal(key.key?.kid, key.id, `${what}: key.kid equals id`);
  assert.equal(key.name, name, `${what}: name`);
  assert.equal(key.properties.vaultUrl, vaultUrl, `${what}: vaultUrl parsed from kid`);
  assert.match(key.properties.version, /^[0-9a-f]{32}$/, `${what}: version`);
}

export function assertFreshAttributes(key, what) {
  const p = key.properties;
  assert.equal(p.enabled, true, `${what}: enabled`);
  assert.ok(p.createdOn instanceof Date && Math.abs(p.createdOn - Date.now()) < 10 * 60_000, `${what}: createdOn is now (${p.createdOn})`);
  assert.ok(p.updatedOn instanceof Date && p.updatedOn >= p.createdOn, `${what}: updatedOn`);
  assert.ok(
    [
      "Purgeable",
      "Recoverable+Purgeable",
      "Recoverable",
      "Recoverable+ProtectedSubscription",
      "CustomizedRecoverable+Purgeable",
      "CustomizedRecoverable",
      "CustomizedRecoverable+ProtectedSubscription",
    ].includes(p.recoveryLevel),
    `${what}: recoveryLevel ${p.recoveryLevel}`,
  );
  assert.match(p.recoveryLevel, /Purgeable/, `${what}: keys are purgeable here (recoveryLevel ${p.recoveryLevel})`);
  assert.equal(p.recoverableDays, recoverableDays, `${what}: recoverableDays`);
}

// ---------------------------------------------------------------- clients

export const credential = new ManagedIdentityCredential();
export const client = new KeyClient(vaultUrl, credential, clientOptions);

// A CryptographyClient that can only go to the server: built from a
// KeyVaultKey without its JSON Web Key, so there is no local provider.
export function remoteOnly(key, options = clientOptions) {
  return new CryptographyClient(
    { name: key.name, id: key.id, properties: key.properties, keyOperations: key.keyOperations },
    credential,
    options,
  );
}
// The ordinary way: a CryptographyClient from the key id, which first GETs
// the key and then may run public-key operations locally.
export const byId = (key) => new CryptographyClient(key.id, credential, clientOptions);

export const run = crypto.randomBytes(3).toString("hex");
export const N = (s) => `js-${s}-${run}`;
export const names = {
  rsa: N("rsa2048"),
  rsa3072: N("rsahsm3072"),
  ec: { "P-256": N("ec-p256"), "P-384": N("ec-p384"), "P-521": N("ec-p521"), "P-256K": N("ec-p256k") },
  oct128: N("oct128"),
  oct256: N("octhsm256"),
  impRsa: N("imp-rsa"),
  impEc: N("imp-ec"),
  impOct: N("imp-oct"),
  life: N("life"),
  purge: N("purge"),
  backup: N("backup"),
  rotate: N("rotate"),
};
export const created = new Set(); // every key name this run made in myvault
export const keys = {};

// ---------------------------------------------------------------- summary

// Prints the run's summary line and exits: non-zero when a test failed.
export function finish() {
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`${wire.length} requests to keyferryd in ${secs} s`);
  if (failures.length) console.log(`failed: ${failures.join("; ")}`);
  console.log(`js_sdk_test: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
