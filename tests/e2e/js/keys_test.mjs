// End to end: the real Azure JS SDK (@azure/keyvault-keys 4.10 with
// @azure/identity 4.13) against a keyferryd started by tests/e2e/js_sdk_test.sh.
//
// Authentication is ManagedIdentityCredential, App Service style: it reads
// IDENTITY_ENDPOINT (https, keyferryd's private CA via NODE_EXTRA_CA_CERTS)
// and IDENTITY_HEADER, then answers keyferryd's bearer challenge.
//
// Results are checked outside keyferryd with node:crypto: signatures are
// verified against the returned JWK, ciphertexts made by node:crypto are
// decrypted by keyferryd, and for imported keys (whose private half the test
// knows) what keyferryd encrypts, wraps or signs is opened by node:crypto.
//
// CryptographyClient runs some public-key operations locally (RSA encrypt
// with RSA1_5/RSA-OAEP, RSA wrapKey, RSA verifyData). Every request that
// reaches keyferryd is recorded by a pipeline policy, and a "remote-only"
// CryptographyClient (built from a KeyVaultKey without key material, so the
// SDK has nothing to compute with locally) forces those operations onto the
// server; the tests assert on the recorded requests that they did.
//
// Prints "js_sdk_test: N passed, M failed" and exits non-zero on failure.
import assert from "node:assert/strict";
import crypto from "node:crypto";

import { ManagedIdentityCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

const vaultUrl = mustEnv("KF_VAULT_URL");
const otherVaultUrl = process.env.KF_OTHER_VAULT_URL;
const resource = mustEnv("KF_RESOURCE");
const recoverableDays = 7; // tests/e2e/harness.sh starts keyferryd with --recoverable-days 7
// KF_CUSTODY=pkcs11: keyferryd keeps its keys in a SoftHSMv2 token, whose
// RSA-OAEP is SHA-1 only (docs/security-model.md §3). RSA-OAEP-256 must then
// be a 400 naming that limit (checked below), never done in software.
const HSM = process.env.KF_CUSTODY === "pkcs11";
const RSA_CIPHERS = HSM ? ["RSA-OAEP", "RSA1_5"] : ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"];
const RSA_WRAPS = HSM ? ["RSA-OAEP"] : ["RSA-OAEP", "RSA-OAEP-256"];
const OAEP_STRONGEST = HSM ? "RSA-OAEP" : "RSA-OAEP-256";

function mustEnv(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`js_sdk_test: ${name} is not set (run through tests/e2e/js_sdk_test.sh)`);
    process.exit(2);
  }
  return v;
}

// ---------------------------------------------------------------- runner

let passed = 0;
let failed = 0;
const failures = [];
const t0 = Date.now();

async function test(name, fn) {
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

function indent(s) {
  return s
    .split("\n")
    .map((l) => `     ${l}`)
    .join("\n");
}

function clip(s, n = 600) {
  if (s === undefined || s === null) return "";
  s = String(s);
  return s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s;
}

// A failed call is reported with the exact request and response, so a
// server defect can be filed from the log alone.
function describeError(e) {
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
async function refused(promise, what) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail(`${what}: expected keyferryd to refuse, but the call succeeded`);
}

function assertStatus(e, statuses, code, what) {
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
const wire = [];
const recorder = {
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
const clientOptions = {
  additionalPolicies: [{ policy: recorder, position: "perRetry" }],
  retryOptions: { maxRetries: 0 },
};

// Requests recorded since mark, that reached keyferryd and were answered 200,
// for POST /keys/<name>/<version>/<op>.
function served(mark, name, op) {
  const re = new RegExp(`^/keys/${name}/[0-9a-fA-F]*/${op}$`, "i");
  return wire.slice(mark).filter((w) => w.method === "POST" && w.status === 200 && re.test(w.path));
}

// ---------------------------------------------------------------- helpers

const b64u = (u8) => Buffer.from(u8).toString("base64url");
const fromB64u = (s) => Buffer.from(s, "base64url");
const hashOf = (alg) => ({ 256: "sha256", 384: "sha384", 512: "sha512" })[alg.match(/(256|384|512)/)[1]];
const digestOf = (alg, data) => crypto.createHash(hashOf(alg)).update(data).digest();
const coordLen = { "P-256": 32, "P-384": 48, "P-521": 66, "P-256K": 32 };

function nodePublicKey(jwk) {
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

function nodeVerify(alg, pub, data, sig) {
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

function nodeRsaEncrypt(alg, pub, msg) {
  if (alg === "RSA1_5") return crypto.publicEncrypt({ key: pub, padding: crypto.constants.RSA_PKCS1_PADDING }, msg);
  return crypto.publicEncrypt(
    { key: pub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: alg === "RSA-OAEP-256" ? "sha256" : "sha1" },
    msg,
  );
}

function nodeRsaDecrypt(alg, priv, ct) {
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
function assertNoPrivateMaterial(key, what) {
  for (const f of ["d", "p", "q", "dp", "dq", "qi", "k", "t"]) {
    assert.ok(!key.key?.[f] || key.key[f].length === 0, `${what}: response carries private field "${f}"`);
  }
}

function assertKid(key, name, what = name) {
  const re = new RegExp(`^${vaultUrl.replace(/[.]/g, "\\.")}/keys/${name}/[0-9a-f]{32}$`);
  assert.match(key.id, re, `${what}: kid`);
  assert.equal(key.key?.kid, key.id, `${what}: key.kid equals id`);
  assert.equal(key.name, name, `${what}: name`);
  assert.equal(key.properties.vaultUrl, vaultUrl, `${what}: vaultUrl parsed from kid`);
  assert.match(key.properties.version, /^[0-9a-f]{32}$/, `${what}: version`);
}

function assertFreshAttributes(key, what) {
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

const credential = new ManagedIdentityCredential();
const client = new KeyClient(vaultUrl, credential, clientOptions);

// A CryptographyClient that can only go to the server: built from a
// KeyVaultKey without its JSON Web Key, so there is no local provider.
function remoteOnly(key, options = clientOptions) {
  return new CryptographyClient(
    { name: key.name, id: key.id, properties: key.properties, keyOperations: key.keyOperations },
    credential,
    options,
  );
}
// The ordinary way: a CryptographyClient from the key id, which first GETs
// the key and then may run public-key operations locally.
const byId = (key) => new CryptographyClient(key.id, credential, clientOptions);

const run = crypto.randomBytes(3).toString("hex");
const N = (s) => `js-${s}-${run}`;
const names = {
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
const created = new Set(); // every key name this run made in myvault
const keys = {};

// ================================================================ identity

await test("ManagedIdentityCredential (App Service) gets a token from the https IDENTITY_ENDPOINT", async () => {
  assert.match(process.env.IDENTITY_ENDPOINT ?? "", /^https:\/\//, "IDENTITY_ENDPOINT is https");
  assert.ok(process.env.IDENTITY_HEADER, "IDENTITY_HEADER set");
  const tok = await credential.getToken(`${resource}/.default`);
  assert.ok(tok?.token, "a token");
  assert.ok(tok.expiresOnTimestamp > Date.now() + 60_000, `expiresOnTimestamp in the future (${tok.expiresOnTimestamp})`);
  const parts = tok.token.split(".");
  assert.equal(parts.length, 3, "a JWT");
  const header = JSON.parse(fromB64u(parts[0]).toString());
  const claims = JSON.parse(fromB64u(parts[1]).toString());
  assert.equal(header.alg, "ES256", "tokens are ES256");
  assert.ok([resource, `${resource}/`].includes(claims.aud), `aud is the resource (${claims.aud})`);
  assert.ok(claims.tid, "tid claim");
  assert.ok(claims.exp * 1000 > Date.now(), "exp in the future");
});

await test("unauthenticated request gets 401 with the bearer challenge the SDKs accept", async () => {
  const res = await fetch(`${vaultUrl}/keys?api-version=7.5`);
  assert.equal(res.status, 401);
  const www = res.headers.get("www-authenticate") ?? "";
  assert.match(www, /^Bearer /, `challenge: ${www}`);
  assert.match(www, /authorization="https:\/\/login\.microsoftonline\.com\/[^"/]+"/, `authorization=: ${www}`);
  const m = www.match(/resource="([^"]+)"/);
  assert.ok(m, `resource= in ${www}`);
  assert.equal(m[1].replace(/\/$/, ""), resource, "resource is the parent domain");
  assert.ok(new URL(vaultUrl).hostname.endsWith(`.${new URL(m[1]).hostname}`), "vault host is a strict subdomain of the resource host");
  const body = await res.json();
  assert.equal(body?.error?.code, "Unauthorized", `envelope ${JSON.stringify(body)}`);
});

// ================================================================ create / get

await test("createRsaKey RSA 2048: public JWK, kid, attributes, tags", async () => {
  const k = await client.createRsaKey(names.rsa, { keySize: 2048, tags: { suite: "js", kind: "rsa" } });
  created.add(names.rsa);
  keys.rsa = k;
  assertKid(k, names.rsa);
  assert.equal(k.keyType, "RSA");
  assert.equal(k.key.n.length, 256, "2048-bit modulus");
  assert.equal(Buffer.from(k.key.e).toString("hex"), "010001", "e = 65537");
  assert.ok(nodePublicKey(k.key).asymmetricKeyDetails.modulusLength === 2048);
  assert.deepEqual(k.properties.tags, { suite: "js", kind: "rsa" });
  assertNoPrivateMaterial(k, "RSA create");
  assertFreshAttributes(k, "RSA create");
  assert.ok(Array.isArray(k.keyOperations) && k.keyOperations.includes("sign") && k.keyOperations.includes("decrypt"), `key_ops ${k.keyOperations}`);
});

await test("createKey RSA-HSM 3072 with explicit key_ops", async () => {
  const ops = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"];
  const k = await client.createKey(names.rsa3072, "RSA-HSM", { keySize: 3072, keyOps: ops });
  created.add(names.rsa3072);
  keys.rsa3072 = k;
  assertKid(k, names.rsa3072);
  assert.equal(k.keyType, "RSA-HSM");
  assert.equal(k.key.n.length, 384, "3072-bit modulus");
  assert.deepEqual([...k.keyOperations].sort(), [...ops].sort());
  assertNoPrivateMaterial(k, "RSA-HSM create");
});

await test("createEcKey P-256, P-384, P-521, P-256K (P-256K as EC-HSM)", async () => {
  for (const crv of Object.keys(names.ec)) {
    const k = await client.createEcKey(names.ec[crv], { curve: crv, hsm: crv === "P-256K" });
    created.add(names.ec[crv]);
    keys[crv] = k;
    assertKid(k, names.ec[crv], crv);
    assert.equal(k.keyType, crv === "P-256K" ? "EC-HSM" : "EC", `${crv} kty`);
    assert.equal(k.key.crv, crv, `${crv} crv`);
    assert.equal(k.key.x.length, coordLen[crv], `${crv} x length`);
    assert.equal(k.key.y.length, coordLen[crv], `${crv} y length`);
    nodePublicKey(k.key); // a point on the curve, or node:crypto throws
    assertNoPrivateMaterial(k, crv);
    assertFreshAttributes(k, crv);
  }
});

await test("createOctKey 128 (oct) and 256 (oct-HSM): no key material returned", async () => {
  const a = await client.createOctKey(names.oct128, { keySize: 128 });
  created.add(names.oct128);
  const b = await client.createOctKey(names.oct256, { keySize: 256, hsm: true });
  created.add(names.oct256);
  keys.oct128 = a;
  keys.oct256 = b;
  assertKid(a, names.oct128);
  assertKid(b, names.oct256);
  assert.equal(a.keyType, "oct");
  assert.equal(b.keyType, "oct-HSM");
  assertNoPrivateMaterial(a, "oct128");
  assertNoPrivateMaterial(b, "oct256");
  assertFreshAttributes(b, "oct256");
});

await test("getKey latest and by version return the same key", async () => {
  const latest = await client.getKey(names.rsa);
  assert.equal(latest.id, keys.rsa.id);
  assert.deepEqual(Buffer.from(latest.key.n), Buffer.from(keys.rsa.key.n));
  const byVersion = await client.getKey(names.rsa, { version: keys.rsa.properties.version });
  assert.equal(byVersion.id, keys.rsa.id);
  assert.deepEqual(byVersion.properties.tags, { suite: "js", kind: "rsa" });
  const ec = await client.getKey(names.ec["P-384"]);
  assert.deepEqual(Buffer.from(ec.key.x), Buffer.from(keys["P-384"].key.x));
  // The JS SDK asks for the latest with an empty version segment: GET /keys/<n>/
  assert.ok(wire.some((w) => w.method === "GET" && w.path === `/keys/${names.rsa}/` && w.status === 200), "GET /keys/<name>/ served");
});

await test("getKey of an unknown key or version is 404 KeyNotFound", async () => {
  assertStatus(await refused(client.getKey(N("nosuch")), "unknown key"), 404, "KeyNotFound", "unknown key");
  const e = await refused(client.getKey(names.rsa, { version: "0123456789abcdef0123456789abcdef" }), "unknown version");
  assertStatus(e, 404, "KeyNotFound", "unknown version");
});

// ================================================================ sign / verify

await test("RSA sign (RS256, PS256, RS384, PS512) on 2048 and 3072: verified by node:crypto and by keyferryd", async () => {
  for (const [label, key, algs] of [
    ["2048", keys.rsa, ["RS256", "PS256", "RS384", "PS512"]],
    ["3072", keys.rsa3072, ["RS256", "PS256"]],
  ]) {
    const cc = byId(key);
    const pub = nodePublicKey(key.key);
    for (const alg of algs) {
      const data = Buffer.from(`keyferry ${alg} ${label} ${run}`);
      const mark = wire.length;
      const s = await cc.signData(alg, data);
      assert.equal(s.result.length, key.key.n.length, `${alg}/${label} signature length`);
      assert.equal(served(mark, key.name, "sign").length, 1, `${alg}/${label} sign served by keyferryd`);
      assert.ok(nodeVerify(alg, pub, data, s.result), `${alg}/${label} signature verifies with node:crypto`);
      // verify() with a digest always goes to the server.
      const digest = digestOf(alg, data);
      const m2 = wire.length;
      assert.equal((await cc.verify(alg, digest, s.result)).result, true, `${alg}/${label} keyferryd verifies`);
      const bad = Buffer.from(s.result);
      bad[bad.length - 1] ^= 0x01;
      assert.equal((await cc.verify(alg, digest, bad)).result, false, `${alg}/${label} keyferryd rejects a tampered signature`);
      const wrongDigest = digestOf(alg, Buffer.from("something else"));
      assert.equal((await cc.verify(alg, wrongDigest, s.result)).result, false, `${alg}/${label} keyferryd rejects another digest`);
      assert.equal(served(m2, key.name, "verify").length, 3, `${alg}/${label} verify served by keyferryd`);
      // sign() over a digest the caller made is the same server operation.
      const s2 = await cc.sign(alg, digest);
      assert.ok(nodeVerify(alg, pub, data, s2.result), `${alg}/${label} sign(digest) verifies with node:crypto`);
    }
    // verifyData runs locally for RS*: the SDK's own check agrees.
    const data = Buffer.from("local verify");
    const s = await cc.signData("RS256", data);
    assert.equal((await cc.verifyData("RS256", data, s.result)).result, true, `RS256/${label} verifyData (SDK-local)`);
  }
});

await test("EC sign ES256/ES384/ES512/ES256K: r||s verified by node:crypto and by keyferryd", async () => {
  for (const [crv, alg] of [
    ["P-256", "ES256"],
    ["P-384", "ES384"],
    ["P-521", "ES512"],
    ["P-256K", "ES256K"],
  ]) {
    const key = keys[crv];
    const cc = byId(key);
    const pub = nodePublicKey(key.key);
    const data = Buffer.from(`keyferry ${alg} ${run}`);
    const mark = wire.length;
    const s = await cc.signData(alg, data);
    assert.equal(s.result.length, 2 * coordLen[crv], `${alg} signature is raw r||s`);
    assert.ok(nodeVerify(alg, pub, data, s.result), `${alg} verifies with node:crypto`);
    // EC verification has no local provider in the SDK: both go to keyferryd.
    assert.equal((await cc.verifyData(alg, data, s.result)).result, true, `${alg} keyferryd verifies`);
    const bad = Buffer.from(s.result);
    bad[3] ^= 0x40;
    assert.equal((await cc.verifyData(alg, data, bad)).result, false, `${alg} keyferryd rejects a tampered signature`);
    assert.equal(served(mark, key.name, "sign").length, 1, `${alg} sign served`);
    assert.equal(served(mark, key.name, "verify").length, 2, `${alg} verify served`);
    // A signature made by node:crypto with another key is refused.
    const other = crypto.generateKeyPairSync("ec", { namedCurve: crv === "P-256K" ? "secp256k1" : crv });
    const foreign = crypto.sign(hashOf(alg), data, { key: other.privateKey, dsaEncoding: "ieee-p1363" });
    assert.equal((await cc.verifyData(alg, data, foreign)).result, false, `${alg} keyferryd rejects a foreign signature`);
  }
});

await test("sign through KeyClient.getCryptographyClient(name) with no version (POST /keys/<n>//sign)", async () => {
  const cc = client.getCryptographyClient(names.ec["P-256"]);
  const data = Buffer.from("versionless");
  const mark = wire.length;
  const s = await cc.signData("ES256", data);
  assert.ok(nodeVerify("ES256", nodePublicKey(keys["P-256"].key), data, s.result), "verifies with node:crypto");
  assert.equal(served(mark, names.ec["P-256"], "sign").length, 1, "sign served by keyferryd");
});

// ================================================================ encrypt / decrypt

await test("RSA decrypt (RSA-OAEP, RSA-OAEP-256, RSA1_5) of node:crypto ciphertexts", async () => {
  for (const key of [keys.rsa, keys.rsa3072]) {
    const cc = byId(key);
    const pub = nodePublicKey(key.key);
    for (const alg of RSA_CIPHERS) {
      const msg = crypto.randomBytes(48);
      const mark = wire.length;
      const d = await cc.decrypt({ algorithm: alg, ciphertext: nodeRsaEncrypt(alg, pub, msg) });
      assert.deepEqual(Buffer.from(d.result), msg, `${alg}/${key.key.n.length * 8} decrypts`);
      assert.equal(served(mark, key.name, "decrypt").length, 1, `${alg} decrypt served`);
    }
  }
});

// RSA1_5 implicit rejection (draft-irtf-cfrg-rsa-guidance, as OpenSSL 3.2
// and Azure answer): a corrupted ciphertext is not refused (that would be a
// padding oracle) but decrypts to a synthetic message derived from the key
// and the ciphertext: the same every time, at most k - 11 bytes, not the
// message. decrypt and unwrapKey are one operation.
await test("RSA1_5 corrupted ciphertext decrypts to a stable synthetic message, never an error", async () => {
  const key = keys.rsa;
  const cc = remoteOnly(key);
  const msg = Buffer.from(`rsa1_5 implicit rejection ${run}`);
  const bad = Buffer.from(nodeRsaEncrypt("RSA1_5", nodePublicKey(key.key), msg));
  bad[128] ^= 0x01;
  const mark = wire.length;
  const a = Buffer.from((await cc.decrypt({ algorithm: "RSA1_5", ciphertext: bad })).result);
  const b = Buffer.from((await cc.decrypt({ algorithm: "RSA1_5", ciphertext: bad })).result);
  const u = Buffer.from((await cc.unwrapKey("RSA1_5", bad)).result);
  assert.equal(served(mark, key.name, "decrypt").length, 2, "decrypt served by keyferryd");
  assert.deepEqual(b, a, "the same answer twice");
  assert.deepEqual(u, a, "unwrapKey answers as decrypt");
  assert.ok(a.length <= key.key.n.length - 11, `a plausible length (${a.length})`);
  assert.notDeepEqual(a, msg, "not the message");
});

if (HSM) {
  await test("HSM custody: RSA-OAEP-256 is a 400 naming the token's limit", async () => {
    const cc = remoteOnly(keys.rsa);
    const ct = nodeRsaEncrypt("RSA-OAEP-256", nodePublicKey(keys.rsa.key), Buffer.from("x"));
    for (const call of [
      () => cc.decrypt({ algorithm: "RSA-OAEP-256", ciphertext: ct }),
      () => cc.encrypt({ algorithm: "RSA-OAEP-256", plaintext: Buffer.from("x") }),
    ]) {
      await assert.rejects(call, (e) => e.statusCode === 400 && /SHA-1 only/.test(e.message), "400 naming the limit");
    }
  });
}

await test("RSA encrypt on keyferryd (remote-only client) then decrypt on keyferryd; SDK-local encrypt too", async () => {
  const key = keys.rsa;
  const remote = remoteOnly(key);
  const local = byId(key);
  for (const alg of RSA_CIPHERS) {
    const msg = Buffer.from(`plaintext for ${alg} ${run}`);
    const mark = wire.length;
    const e = await remote.encrypt({ algorithm: alg, plaintext: msg });
    assert.equal(served(mark, key.name, "encrypt").length, 1, `${alg} encrypt served by keyferryd`);
    assert.equal(e.result.length, 256, `${alg} ciphertext is one modulus long`);
    assert.deepEqual(Buffer.from((await local.decrypt({ algorithm: alg, ciphertext: e.result })).result), msg, `${alg} server round trip`);
    // RSA-OAEP-256 encrypt goes to the server even from a hybrid client.
    const e2 = await local.encrypt({ algorithm: alg, plaintext: msg });
    assert.deepEqual(Buffer.from((await remote.decrypt({ algorithm: alg, ciphertext: e2.result })).result), msg, `${alg} SDK encrypt round trip`);
    const e3 = await remote.encrypt({ algorithm: alg, plaintext: msg });
    assert.notDeepEqual(Buffer.from(e3.result), Buffer.from(e.result), `${alg} encryption is randomized`);
  }
});

await test("A256GCM with AAD on oct-HSM 256 (keyferryd makes the IV); tag and AAD are checked", async () => {
  const key = keys.oct256;
  const cc = byId(key);
  const msg = Buffer.from(`GCM plaintext ${run} with some length to it`);
  const aad = Buffer.from("associated data");
  const mark = wire.length;
  const e = await cc.encrypt({ algorithm: "A256GCM", plaintext: msg, additionalAuthenticatedData: aad });
  assert.equal(served(mark, key.name, "encrypt").length, 1, "encrypt served");
  assert.equal(e.result.length, msg.length, "GCM ciphertext has the plaintext's length");
  assert.equal(e.iv?.length, 12, "96-bit IV returned");
  assert.equal(e.authenticationTag?.length, 16, "128-bit tag returned");
  const d = await cc.decrypt({
    algorithm: "A256GCM",
    ciphertext: e.result,
    iv: e.iv,
    authenticationTag: e.authenticationTag,
    additionalAuthenticatedData: aad,
  });
  assert.deepEqual(Buffer.from(d.result), msg, "decrypts");
  assert.equal(served(mark, key.name, "decrypt").length, 1, "decrypt served");
  const e2 = await cc.encrypt({ algorithm: "A256GCM", plaintext: msg, additionalAuthenticatedData: aad });
  assert.notDeepEqual(Buffer.from(e2.iv), Buffer.from(e.iv), "a fresh IV per encryption");
  const wrongAad = await refused(
    cc.decrypt({ algorithm: "A256GCM", ciphertext: e.result, iv: e.iv, authenticationTag: e.authenticationTag, additionalAuthenticatedData: Buffer.from("other") }),
    "decrypt with the wrong AAD",
  );
  assertStatus(wrongAad, [400], undefined, "wrong AAD");
  const badTag = Buffer.from(e.authenticationTag);
  badTag[0] ^= 1;
  const wrongTag = await refused(
    cc.decrypt({ algorithm: "A256GCM", ciphertext: e.result, iv: e.iv, authenticationTag: badTag, additionalAuthenticatedData: aad }),
    "decrypt with a bad tag",
  );
  assertStatus(wrongTag, [400], undefined, "bad tag");
});

await test("A128CBCPAD on oct 128: padded ciphertext, round trip", async () => {
  const key = keys.oct128;
  const cc = byId(key);
  for (const len of [0, 15, 16, 33]) {
    const msg = crypto.randomBytes(len);
    const iv = crypto.randomBytes(16);
    const mark = wire.length;
    const e = await cc.encrypt({ algorithm: "A128CBCPAD", plaintext: msg, iv });
    assert.equal(served(mark, key.name, "encrypt").length, 1, "encrypt served");
    assert.equal(e.result.length, (Math.floor(len / 16) + 1) * 16, `PKCS#7 padded length for ${len} bytes`);
    if (e.iv) assert.deepEqual(Buffer.from(e.iv), iv, "the caller's IV is used");
    const d = await cc.decrypt({ algorithm: "A128CBCPAD", ciphertext: e.result, iv });
    assert.deepEqual(Buffer.from(d.result), msg, `round trip of ${len} bytes`);
  }
  // @azure/keyvault-keys 4.10.2 means to make a CBC IV itself but never does
  // (it tests `algorithm in [array]`), so an IV-less request reaches the
  // server: keyferryd must either make and return an IV, or refuse with 400.
  const msg = Buffer.from("no IV from the caller");
  try {
    const e = await cc.encrypt({ algorithm: "A128CBCPAD", plaintext: msg });
    assert.equal(e.iv?.length, 16, "an IV made by keyferryd is returned");
    const d = await cc.decrypt({ algorithm: "A128CBCPAD", ciphertext: e.result, iv: e.iv });
    assert.deepEqual(Buffer.from(d.result), msg, "round trip with keyferryd's IV");
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assertStatus(e, 400, "BadParameter", "CBC encrypt without an IV");
  }
});

// ================================================================ wrap / unwrap

await test("RSA-OAEP wrapKey/unwrapKey (SDK-local wrap and keyferryd wrap); RSA-OAEP-256 too", async () => {
  const key = keys.rsa3072;
  const cek = crypto.randomBytes(32);
  const local = byId(key);
  const remote = remoteOnly(key);
  for (const [label, cc] of [
    ["SDK-local", local],
    ["keyferryd", remote],
  ]) {
    for (const alg of RSA_WRAPS) {
      const mark = wire.length;
      const w = await cc.wrapKey(alg, cek);
      assert.equal(w.result.length, 384, `${alg} wrapped length`);
      const u = await local.unwrapKey(alg, w.result);
      assert.deepEqual(Buffer.from(u.result), cek, `${alg} (${label} wrap) unwraps`);
      assert.equal(served(mark, key.name, "unwrapkey").length, 1, `${alg} unwrap served`);
      if (label === "keyferryd" || alg === "RSA-OAEP-256") {
        assert.equal(served(mark, key.name, "wrapkey").length, 1, `${alg} (${label}) wrap served by keyferryd`);
      }
    }
  }
  // A wrap made by node:crypto unwraps on keyferryd as well.
  const ct = nodeRsaEncrypt("RSA-OAEP", nodePublicKey(key.key), cek);
  assert.deepEqual(Buffer.from((await local.unwrapKey("RSA-OAEP", ct)).result), cek, "node:crypto wrap unwraps");
});

await test("A256KW wrapKey/unwrapKey on oct-HSM 256 (RFC 3394 sizes and integrity)", async () => {
  const key = keys.oct256;
  const cc = byId(key);
  const cek = crypto.randomBytes(32);
  const mark = wire.length;
  const w = await cc.wrapKey("A256KW", cek);
  assert.equal(w.result.length, 40, "RFC 3394 adds 8 bytes");
  const u = await cc.unwrapKey("A256KW", w.result);
  assert.deepEqual(Buffer.from(u.result), cek, "unwraps");
  assert.equal(served(mark, key.name, "wrapkey").length, 1, "wrap served");
  assert.equal(served(mark, key.name, "unwrapkey").length, 1, "unwrap served");
  const bad = Buffer.from(w.result);
  bad[10] ^= 1;
  assertStatus(await refused(cc.unwrapKey("A256KW", bad), "unwrap of a tampered blob"), [400], undefined, "tampered A256KW");
});

// ================================================================ import

await test("importKey RSA JWK from node:crypto: keyferryd signs, encrypts and wraps for the known private key", async () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = privateKey.export({ format: "jwk" });
  const bin = (f) => fromB64u(jwk[f]);
  const imported = await client.importKey(
    names.impRsa,
    { kty: "RSA", n: bin("n"), e: bin("e"), d: bin("d"), p: bin("p"), q: bin("q"), dp: bin("dp"), dq: bin("dq"), qi: bin("qi"), keyOps: ["sign", "verify", "encrypt", "decrypt", "wrapKey", "unwrapKey"] },
    { tags: { origin: "node" } },
  );
  created.add(names.impRsa);
  keys.impRsa = imported;
  assertKid(imported, names.impRsa);
  assert.equal(imported.keyType, "RSA");
  assert.equal(b64u(imported.key.n), jwk.n, "same modulus");
  assert.deepEqual(imported.properties.tags, { origin: "node" });
  assertNoPrivateMaterial(imported, "RSA import");
  const remote = remoteOnly(imported);
  for (const alg of ["RS256", "PS256"]) {
    const data = Buffer.from(`imported ${alg}`);
    const s = await remote.signData(alg, data);
    assert.ok(nodeVerify(alg, publicKey, data, s.result), `${alg} signature verifies with the original public key`);
  }
  for (const alg of RSA_CIPHERS) {
    const msg = Buffer.from(`to node ${alg}`);
    const e = await remote.encrypt({ algorithm: alg, plaintext: msg });
    assert.deepEqual(nodeRsaDecrypt(alg, privateKey, e.result), msg, `${alg} keyferryd ciphertext opens with node:crypto`);
  }
  const cek = crypto.randomBytes(32);
  const w = await remote.wrapKey("RSA-OAEP", cek);
  assert.deepEqual(nodeRsaDecrypt("RSA-OAEP", privateKey, w.result), cek, "RSA-OAEP wrap opens with node:crypto");
});

await test("importKey EC P-256 JWK from node:crypto: keyferryd signs for the known public key", async () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = privateKey.export({ format: "jwk" });
  const imported = await client.importKey(names.impEc, {
    kty: "EC",
    crv: "P-256",
    x: fromB64u(jwk.x),
    y: fromB64u(jwk.y),
    d: fromB64u(jwk.d),
    keyOps: ["sign", "verify"],
  });
  created.add(names.impEc);
  assertKid(imported, names.impEc);
  assert.equal(b64u(imported.key.x), jwk.x);
  assert.equal(b64u(imported.key.y), jwk.y);
  assertNoPrivateMaterial(imported, "EC import");
  assert.deepEqual([...imported.keyOperations].sort(), ["sign", "verify"]);
  const data = Buffer.from("imported EC");
  const s = await byId(imported).signData("ES256", data);
  assert.ok(nodeVerify("ES256", publicKey, data, s.result), "verifies with the original public key");
});

await test("importKey BYOK (t = .byok bytes, hardwareProtected): RSA-HSM, EC-HSM and oct-HSM AES-256 under a KEK", async () => {
  // The KEK: RSA-HSM with key_ops exactly [import].
  const kekName = N("byok-kek");
  const kek = await client.createRsaKey(kekName, { keySize: 2048, hsm: true, keyOps: ["import"] });
  created.add(kekName);
  assert.deepEqual(kek.keyOperations, ["import"]);
  const kekPub = crypto.createPublicKey({ key: { kty: "RSA", n: b64u(kek.key.n), e: b64u(kek.key.e) }, format: "jwk" });
  // A .byok blob made here from the spec: OAEP-SHA1 of a transient AES-256
  // key, then RFC 5649 (OpenSSL's id-aes256-wrap-pad) of the payload.
  const byok = (payload) => {
    const transient = crypto.randomBytes(32);
    const c1 = crypto.publicEncrypt({ key: kekPub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, transient);
    const kwp = crypto.createCipheriv("id-aes256-wrap-pad", transient, Buffer.from("A65959A6", "hex"));
    const c2 = Buffer.concat([kwp.update(payload), kwp.final()]);
    return Buffer.from(JSON.stringify({
      schema_version: "1.0.0",
      header: { kid: kek.id, alg: "dir", enc: "CKM_RSA_AES_KEY_WRAP" },
      ciphertext: b64u(Buffer.concat([c1, c2])),
      generator: "js_sdk_test",
    }));
  };
  const pkcs8 = (k) => k.export({ type: "pkcs8", format: "der" });
  for (const [label, kty, crv, pair, alg] of [
    ["byok-rsa", "RSA-HSM", undefined, crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }), "RS256"],
    ["byok-ec", "EC-HSM", "P-256", crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }), "ES256"],
  ]) {
    const name = N(label);
    const imported = await client.importKey(name, { kty, crv, t: byok(pkcs8(pair.privateKey)), keyOps: ["sign", "verify"] }, { hardwareProtected: true });
    created.add(name);
    assertKid(imported, name);
    assert.equal(imported.keyType, kty);
    assertNoPrivateMaterial(imported, `${label} import`);
    const data = Buffer.from(`byok ${label}`);
    const s = await remoteOnly(imported).signData(alg, data);
    assert.ok(nodeVerify(alg, pair.publicKey, data, s.result), `${label}: signature verifies with the source key`);
  }
  const aes = crypto.randomBytes(32);
  const aesName = N("byok-aes");
  const imported = await client.importKey(aesName, { kty: "oct-HSM", t: byok(aes), keyOps: ["wrapKey", "unwrapKey"] }, { hardwareProtected: true });
  created.add(aesName);
  assert.equal(imported.keyType, "oct-HSM");
  const cek = crypto.randomBytes(32);
  const w = await remoteOnly(imported).wrapKey("A256KW", cek);
  const kw = crypto.createCipheriv("id-aes256-wrap", aes, Buffer.from("A6A6A6A6A6A6A6A6", "hex"));
  assert.deepEqual(Buffer.from(w.result), Buffer.concat([kw.update(cek), kw.final()]), "A256KW equals node:crypto with the known key");
});

await test("importKey oct 256 JWK: keyferryd A256GCM/A256KW/A256CBCPAD interoperate with node:crypto", async () => {
  const k = crypto.randomBytes(32);
  const imported = await client.importKey(names.impOct, { kty: "oct", k, keyOps: ["encrypt", "decrypt", "wrapKey", "unwrapKey"] });
  created.add(names.impOct);
  assertKid(imported, names.impOct);
  assertNoPrivateMaterial(imported, "oct import");
  const cc = remoteOnly(imported);
  const msg = Buffer.from(`oct interop ${run}`);
  const aad = Buffer.from("aad");
  // keyferryd encrypts, node:crypto decrypts.
  const e = await cc.encrypt({ algorithm: "A256GCM", plaintext: msg, additionalAuthenticatedData: aad });
  const dec = crypto.createDecipheriv("aes-256-gcm", k, Buffer.from(e.iv));
  dec.setAAD(aad);
  dec.setAuthTag(Buffer.from(e.authenticationTag));
  assert.deepEqual(Buffer.concat([dec.update(Buffer.from(e.result)), dec.final()]), msg, "GCM ciphertext opens with node:crypto");
  // node:crypto encrypts, keyferryd decrypts.
  const iv = crypto.randomBytes(12);
  const enc = crypto.createCipheriv("aes-256-gcm", k, iv);
  enc.setAAD(aad);
  const ct = Buffer.concat([enc.update(msg), enc.final()]);
  const d = await cc.decrypt({ algorithm: "A256GCM", ciphertext: ct, iv, authenticationTag: enc.getAuthTag(), additionalAuthenticatedData: aad });
  assert.deepEqual(Buffer.from(d.result), msg, "node:crypto GCM ciphertext opens on keyferryd");
  // AES key wrap (RFC 3394).
  const cek = crypto.randomBytes(32);
  const w = await cc.wrapKey("A256KW", cek);
  const kwIv = Buffer.from("A6A6A6A6A6A6A6A6", "hex");
  const unw = crypto.createDecipheriv("id-aes256-wrap", k, kwIv);
  assert.deepEqual(Buffer.concat([unw.update(Buffer.from(w.result)), unw.final()]), cek, "A256KW opens with node:crypto");
  const wr = crypto.createCipheriv("id-aes256-wrap", k, kwIv);
  const nodeWrapped = Buffer.concat([wr.update(cek), wr.final()]);
  assert.deepEqual(Buffer.from(w.result), nodeWrapped, "A256KW is deterministic and equals node:crypto's");
  assert.deepEqual(Buffer.from((await cc.unwrapKey("A256KW", nodeWrapped)).result), cek, "node:crypto wrap unwraps on keyferryd");
  // CBC with PKCS#7 padding.
  const cbcIv = crypto.randomBytes(16);
  const e2 = await cc.encrypt({ algorithm: "A256CBCPAD", plaintext: msg, iv: cbcIv });
  const cbc = crypto.createDecipheriv("aes-256-cbc", k, cbcIv);
  assert.deepEqual(Buffer.concat([cbc.update(Buffer.from(e2.result)), cbc.final()]), msg, "CBCPAD ciphertext opens with node:crypto");
});

// ================================================================ concurrency

await test("concurrent requests: 8 creates and 24 mixed operations at once", async () => {
  const made = await Promise.all(
    Array.from({ length: 8 }, (_, i) => client.createEcKey(N(`par${i}`), { curve: i % 2 ? "P-384" : "P-256" })),
  );
  made.forEach((k) => created.add(k.name));
  assert.equal(new Set(made.map((k) => k.id)).size, 8, "8 distinct keys");
  const jobs = [];
  for (let i = 0; i < 8; i++) {
    const k = made[i];
    const alg = i % 2 ? "ES384" : "ES256";
    const data = Buffer.from(`parallel ${i}`);
    jobs.push(remoteOnly(k).signData(alg, data).then((s) => assert.ok(nodeVerify(alg, nodePublicKey(k.key), data, s.result), `parallel sign ${i}`)));
    const msg = crypto.randomBytes(20);
    jobs.push(
      remoteOnly(keys.rsa)
        .decrypt({ algorithm: OAEP_STRONGEST, ciphertext: nodeRsaEncrypt(OAEP_STRONGEST, nodePublicKey(keys.rsa.key), msg) })
        .then((d) => assert.deepEqual(Buffer.from(d.result), msg, `parallel decrypt ${i}`)),
    );
    jobs.push(
      remoteOnly(keys.oct256)
        .wrapKey("A256KW", msg.subarray(0, 16))
        .then((w) => remoteOnly(keys.oct256).unwrapKey("A256KW", w.result))
        .then((u) => assert.deepEqual(Buffer.from(u.result), msg.subarray(0, 16), `parallel wrap ${i}`)),
    );
  }
  await Promise.all(jobs);
});

// ================================================================ list / update

await test("listPropertiesOfKeys byPage({maxPageSize: 2}) follows nextLink and returns every key once", async () => {
  const mark = wire.length;
  const seen = [];
  let pages = 0;
  for await (const page of client.listPropertiesOfKeys().byPage({ maxPageSize: 2 })) {
    pages++;
    assert.ok(page.length <= 2, `page ${pages} has ${page.length} items`);
    for (const p of page) {
      seen.push(p.name);
      assert.match(p.id, new RegExp(`^${vaultUrl.replace(/[.]/g, "\\.")}/keys/${p.name}$`), `list item id is versionless: ${p.id}`);
      assert.ok(p.createdOn instanceof Date, `${p.name} createdOn`);
    }
  }
  assert.equal(new Set(seen).size, seen.length, `no key twice: ${seen.join(",")}`);
  for (const n of created) assert.ok(seen.includes(n), `${n} listed`);
  assert.ok(pages >= Math.ceil(created.size / 2), `${pages} pages for ${seen.length} keys`);
  const gets = wire.slice(mark).filter((w) => w.method === "GET" && /^\/keys\/?$/.test(w.path) && w.status === 200);
  assert.equal(gets.length, pages, "one GET /keys per page");
  assert.match(gets[0].query, /maxresults=2/, "first page asks for maxresults=2");
  assert.ok(gets.length >= 2, "paging reached a nextLink");
  const all = [];
  for await (const p of client.listPropertiesOfKeys()) all.push(p.name);
  assert.deepEqual([...all].sort(), [...seen].sort(), "unpaged listing agrees");
  const rsaItem = (await collect(client.listPropertiesOfKeys())).find((p) => p.name === names.rsa);
  assert.deepEqual(rsaItem.tags, { suite: "js", kind: "rsa" }, "tags in list items");
});

async function collect(iter) {
  const out = [];
  for await (const x of iter) out.push(x);
  return out;
}

await test("listPropertiesOfKeyVersions: a second version of a key, paged one per page", async () => {
  const name = names.ec["P-256"];
  const v2 = await client.createEcKey(name, { curve: "P-256", tags: { gen: "2" } });
  assert.notEqual(v2.properties.version, keys["P-256"].properties.version, "new version");
  const versions = [];
  let pages = 0;
  for await (const page of client.listPropertiesOfKeyVersions(name).byPage({ maxPageSize: 1 })) {
    pages++;
    for (const p of page) versions.push(p.version);
  }
  assert.deepEqual([...versions].sort(), [keys["P-256"].properties.version, v2.properties.version].sort());
  assert.ok(pages >= 2, `paged versions (${pages} pages)`);
  assert.equal((await client.getKey(name)).id, v2.id, "latest is the new version");
  const old = await client.getKey(name, { version: keys["P-256"].properties.version });
  assert.deepEqual(Buffer.from(old.key.x), Buffer.from(keys["P-256"].key.x), "old version unchanged");
  keys["P-256-v2"] = v2;
});

await test("updateKeyProperties: tags (latest, empty version), enabled=false enforced, re-enabled", async () => {
  const name = names.rsa;
  const updated = await client.updateKeyProperties(name, { tags: { suite: "js", team: "crypto" } });
  assert.deepEqual(updated.properties.tags, { suite: "js", team: "crypto" });
  assert.equal(updated.id, keys.rsa.id);
  assert.ok(wire.some((w) => w.method === "PATCH" && w.path === `/keys/${name}/` && w.status === 200), "PATCH /keys/<n>/ served");
  assert.deepEqual((await client.getKey(name)).properties.tags, { suite: "js", team: "crypto" }, "tags stored");
  const disabled = await client.updateKeyProperties(name, keys.rsa.properties.version, { enabled: false });
  assert.equal(disabled.properties.enabled, false);
  assert.equal((await client.getKey(name)).properties.enabled, false, "disabled stored");
  const e = await refused(remoteOnly(keys.rsa).signData("RS256", Buffer.from("x")), "sign with a disabled key");
  assertStatus(e, 403, "Forbidden", "disabled key"); // Azure: "Operation sign is not allowed on a disabled key."
  const enabled = await client.updateKeyProperties(name, keys.rsa.properties.version, { enabled: true });
  assert.equal(enabled.properties.enabled, true);
  assert.deepEqual(enabled.properties.tags, { suite: "js", team: "crypto" }, "tags kept across updates");
  const s = await remoteOnly(keys.rsa).signData("RS256", Buffer.from("x"));
  assert.ok(nodeVerify("RS256", nodePublicKey(keys.rsa.key), Buffer.from("x"), s.result), "signs again");
});

// ================================================================ lifecycle

await test("beginDeleteKey -> getDeletedKey -> listDeletedKeys -> beginRecoverDeletedKey -> usable", async () => {
  const name = names.life;
  const k = await client.createEcKey(name, { curve: "P-256" });
  created.add(name);
  const poller = await client.beginDeleteKey(name, { intervalInMs: 50 });
  const deleted = await poller.pollUntilDone();
  assert.equal(deleted.name, name);
  assert.equal(deleted.properties.recoveryId, `${vaultUrl}/deletedkeys/${name}`);
  assert.ok(deleted.properties.deletedOn instanceof Date, "deletedOn");
  assert.ok(deleted.properties.scheduledPurgeDate instanceof Date, "scheduledPurgeDate");
  const days = (deleted.properties.scheduledPurgeDate - deleted.properties.deletedOn) / 86_400_000;
  assert.ok(Math.abs(days - recoverableDays) < 0.01, `purge scheduled ${recoverableDays} days on (${days})`);
  assertStatus(await refused(client.getKey(name), "get a deleted key"), 404, "KeyNotFound", "deleted key");
  const gd = await client.getDeletedKey(name);
  assert.equal(gd.id, k.id, "deleted key keeps its kid");
  assert.deepEqual(Buffer.from(gd.key.x), Buffer.from(k.key.x));
  const deletedNames = (await collect(client.listDeletedKeys())).map((d) => d.name);
  assert.ok(deletedNames.includes(name), "listed among deleted keys");
  assert.ok(!(await collect(client.listPropertiesOfKeys())).some((p) => p.name === name), "not listed among keys");
  const conflict = await refused(client.createEcKey(name, { curve: "P-256" }), "create over a deleted key");
  assertStatus(conflict, 409, "Conflict", "name of a deleted key reused");
  const rec = await client.beginRecoverDeletedKey(name, { intervalInMs: 50 });
  const recovered = await rec.pollUntilDone();
  assert.equal(recovered.id, k.id, "recovered with the same version");
  assert.equal((await client.getKey(name)).id, k.id);
  assertStatus(await refused(client.getDeletedKey(name), "get deleted after recover"), 404, undefined, "recovered key no longer deleted");
  const data = Buffer.from("recovered");
  const s = await byId(recovered).signData("ES256", data);
  assert.ok(nodeVerify("ES256", nodePublicKey(k.key), data, s.result), "recovered key signs");
});

await test("delete -> purgeDeletedKey -> gone (getDeletedKey 404), name reusable", async () => {
  const name = names.purge;
  const k = await client.createOctKey(name, { keySize: 128 });
  await (await client.beginDeleteKey(name, { intervalInMs: 50 })).pollUntilDone();
  await client.purgeDeletedKey(name);
  assert.ok(wire.some((w) => w.method === "DELETE" && w.path === `/deletedkeys/${name}` && w.status === 204), "purge answered 204");
  assertStatus(await refused(client.getDeletedKey(name), "getDeletedKey after purge"), 404, undefined, "purged");
  assertStatus(await refused(client.getKey(name), "getKey after purge"), 404, "KeyNotFound", "purged");
  assert.ok(!(await collect(client.listDeletedKeys())).some((d) => d.name === name), "not among deleted keys");
  const again = await client.createOctKey(name, { keySize: 128 });
  assert.notEqual(again.properties.version, k.properties.version, "a new key under the old name");
  created.add(name);
});

await test("backupKey (two versions) -> delete + purge -> restoreKeyBackup -> works", async () => {
  const name = names.backup;
  const v1 = await client.createEcKey(name, { curve: "P-384", tags: { b: "1" } });
  const v2 = await client.rotateKey(name);
  const data = Buffer.from("signed before the backup");
  const sig = (await byId(v2).signData("ES384", data)).result;
  const backup = await client.backupKey(name);
  assert.ok(backup instanceof Uint8Array && backup.length > 64, `backup blob (${backup?.length} bytes)`);
  const conflict = await refused(client.restoreKeyBackup(backup), "restore over an existing key");
  assertStatus(conflict, 409, undefined, "restore over an existing key");
  await (await client.beginDeleteKey(name, { intervalInMs: 50 })).pollUntilDone();
  await client.purgeDeletedKey(name);
  assertStatus(await refused(client.getKey(name), "get after purge"), 404, "KeyNotFound", "purged before restore");
  const tampered = Buffer.from(backup);
  tampered[Math.floor(tampered.length / 2)] ^= 0x01;
  assertStatus(await refused(client.restoreKeyBackup(tampered), "restore a tampered backup"), 400, undefined, "tampered backup");
  const restored = await client.restoreKeyBackup(backup);
  created.add(name);
  assert.equal(restored.name, name);
  assert.equal(restored.id, v2.id, "latest version restored with its kid");
  assert.deepEqual(Buffer.from(restored.key.x), Buffer.from(v2.key.x), "same public key");
  assert.deepEqual(restored.properties.tags ?? {}, (await client.getKey(name)).properties.tags ?? {});
  const versions = (await collect(client.listPropertiesOfKeyVersions(name))).map((p) => p.version).sort();
  assert.deepEqual(versions, [v1.properties.version, v2.properties.version].sort(), "both versions restored");
  const cc = byId(restored);
  assert.equal((await cc.verifyData("ES384", data, sig)).result, true, "old signature verifies on the restored key");
  const s = await cc.signData("ES384", data);
  assert.ok(nodeVerify("ES384", nodePublicKey(v2.key), data, s.result), "restored key signs");
  const old = await byId(await client.getKey(name, { version: v1.properties.version })).signData("ES384", data);
  assert.ok(nodeVerify("ES384", nodePublicKey(v1.key), data, old.result), "restored old version signs");
});

// ================================================================ rotation

await test("rotateKey makes a new version of the same type; old version still works", async () => {
  const name = names.rotate;
  const v1 = await client.createRsaKey(name, { keySize: 2048, keyOps: ["sign", "verify"], tags: { r: "1" } });
  created.add(name);
  const v2 = await client.rotateKey(name);
  assertKid(v2, name);
  assert.notEqual(v2.properties.version, v1.properties.version, "new version");
  assert.notDeepEqual(Buffer.from(v2.key.n), Buffer.from(v1.key.n), "new key material");
  assert.equal(v2.keyType, "RSA");
  assert.equal(v2.key.n.length, 256, "same size");
  assert.deepEqual([...v2.keyOperations].sort(), ["sign", "verify"], "same key_ops");
  assert.equal((await client.getKey(name)).id, v2.id, "latest is the rotated version");
  const versions = (await collect(client.listPropertiesOfKeyVersions(name))).map((p) => p.version).sort();
  assert.deepEqual(versions, [v1.properties.version, v2.properties.version].sort());
  const data = Buffer.from("old version");
  const s = await byId(v1).signData("PS256", data);
  assert.ok(nodeVerify("PS256", nodePublicKey(v1.key), data, s.result), "old version signs");
});

await test("getKeyRotationPolicy / updateKeyRotationPolicy round trip", async () => {
  const name = names.rotate;
  const initial = await client.getKeyRotationPolicy(name);
  assert.ok(initial && typeof initial === "object", "a policy object");
  if (initial.lifetimeActions !== undefined) assert.ok(Array.isArray(initial.lifetimeActions), "lifetimeActions is a list");
  const want = {
    lifetimeActions: [
      { action: "Rotate", timeAfterCreate: "P90D" },
      { action: "Notify", timeBeforeExpiry: "P30D" },
    ],
    expiresIn: "P1Y",
  };
  const set = await client.updateKeyRotationPolicy(name, want);
  const norm = (p) =>
    (p.lifetimeActions ?? [])
      .map((a) => ({ action: a.action, timeAfterCreate: a.timeAfterCreate, timeBeforeExpiry: a.timeBeforeExpiry }))
      .sort((a, b) => a.action.localeCompare(b.action));
  const expected = norm(want);
  assert.deepEqual(norm(set), expected, "lifetimeActions as set");
  assert.equal(set.expiresIn, "P1Y");
  assert.match(set.id ?? "", new RegExp(`/keys/${name}/rotationpolicy$`, "i"), `policy id ${set.id}`);
  const got = await client.getKeyRotationPolicy(name);
  assert.deepEqual(norm(got), expected, "lifetimeActions read back");
  assert.equal(got.expiresIn, "P1Y");
  assert.ok(got.createdOn instanceof Date && got.updatedOn instanceof Date, "policy created/updated times");
  const changed = await client.updateKeyRotationPolicy(name, { lifetimeActions: [{ action: "Rotate", timeBeforeExpiry: "P7D" }], expiresIn: "P60D" });
  assert.deepEqual(norm(changed), [{ action: "Rotate", timeAfterCreate: undefined, timeBeforeExpiry: "P7D" }]);
  assert.equal((await client.getKeyRotationPolicy(name)).expiresIn, "P60D", "policy replaced");
});

// ================================================================ rng, vaults, api versions

await test("getRandomBytes: 32 and 128 bytes, different each time; 129 refused", async () => {
  const a = await client.getRandomBytes(32);
  const b = await client.getRandomBytes(32);
  assert.equal(a.length, 32);
  assert.notDeepEqual(Buffer.from(a), Buffer.from(b), "two draws differ");
  const c = await client.getRandomBytes(128);
  assert.equal(c.length, 128);
  assert.ok(new Set(c).size > 32, "not a constant pattern");
  assertStatus(await refused(client.getRandomBytes(129), "129 random bytes"), 400, undefined, "count over 128");
});

await test("serviceVersion 7.4: get and sign with an older api-version", async () => {
  const opts = { ...clientOptions, serviceVersion: "7.4" };
  const old = new KeyClient(vaultUrl, credential, opts);
  const mark = wire.length;
  const k = await old.getKey(names.ec["P-521"]);
  assert.equal(k.id, keys["P-521"].id);
  const data = Buffer.from("7.4");
  const s = await new CryptographyClient(k.id, credential, opts).signData("ES512", data);
  assert.ok(nodeVerify("ES512", nodePublicKey(k.key), data, s.result));
  assert.ok(wire.slice(mark).every((w) => /api(-|%2D)version=7\.4/i.test(w.query)), "requests carried api-version=7.4");
});

await test("othervault is a separate vault on the same server", async () => {
  assert.ok(otherVaultUrl, "KF_OTHER_VAULT_URL set");
  const other = new KeyClient(otherVaultUrl, credential, clientOptions);
  const name = N("other");
  const k = await other.createEcKey(name, { curve: "P-256" });
  assert.ok(k.id.startsWith(`${otherVaultUrl}/keys/${name}/`), `kid names othervault: ${k.id}`);
  assertStatus(await refused(client.getKey(name), "othervault key from myvault"), 404, "KeyNotFound", "key in the other vault");
  assertStatus(await refused(other.getKey(names.rsa), "myvault key from othervault"), 404, "KeyNotFound", "key in my vault");
  const listed = (await collect(other.listPropertiesOfKeys())).map((p) => p.name);
  assert.ok(listed.includes(name) && !listed.includes(names.rsa), `othervault lists only its keys: ${listed}`);
  const data = Buffer.from("other vault");
  const s = await new CryptographyClient(k.id, credential, clientOptions).signData("ES256", data);
  assert.ok(nodeVerify("ES256", nodePublicKey(k.key), data, s.result));
});

// ================================================================ coverage of the wire

await test("every cryptographic operation reached keyferryd (not only the SDK's local crypto)", async () => {
  for (const op of ["encrypt", "decrypt", "sign", "verify", "wrapkey", "unwrapkey"]) {
    const n = wire.filter((w) => w.method === "POST" && w.status === 200 && new RegExp(`^/keys/[^/]+/[0-9a-f]*/${op}$`, "i").test(w.path)).length;
    assert.ok(n > 0, `${op}: ${n} requests served`);
  }
  for (const [m, re] of [
    ["POST", /^\/keys\/[^/]+\/create$/],
    ["PUT", /^\/keys\/[^/]+$/],
    ["PATCH", /^\/keys\/[^/]+\/[0-9a-f]*$/],
    ["DELETE", /^\/keys\/[^/]+$/],
    ["GET", /^\/deletedkeys\/[^/]+$/],
    ["POST", /^\/deletedkeys\/[^/]+\/recover$/],
    ["POST", /^\/keys\/[^/]+\/backup$/],
    ["POST", /^\/keys\/restore$/],
    ["POST", /^\/keys\/[^/]+\/rotate$/],
    ["PUT", /^\/keys\/[^/]+\/rotationpolicy$/],
    ["POST", /^\/rng$/],
  ]) {
    assert.ok(wire.some((w) => w.method === m && re.test(w.path) && w.status === 200), `${m} ${re} answered 200`);
  }
});

const secs = ((Date.now() - t0) / 1000).toFixed(1);
console.log(`${wire.length} requests to keyferryd in ${secs} s`);
if (failures.length) console.log(`failed: ${failures.join("; ")}`);
console.log(`js_sdk_test: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
