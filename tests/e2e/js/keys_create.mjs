// JS SDK tests, part 1 (run by keys_test.mjs): ManagedIdentityCredential's
// token and the bearer challenge, then the keys every later part uses
// (common.mjs keys): RSA, RSA-HSM, EC on four curves, oct and oct-HSM,
// read back by getKey.
import assert from "node:assert/strict";

import {
  vaultUrl,
  resource,
  test,
  refused,
  assertStatus,
  wire,
  fromB64u,
  coordLen,
  nodePublicKey,
  assertNoPrivateMaterial,
  assertKid,
  assertFreshAttributes,
  credential,
  client,
  N,
  names,
  created,
  keys,
} from "./common.mjs";

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
