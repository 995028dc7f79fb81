// JS SDK tests, part 3 (run by keys_test.mjs): concurrent requests, paged
// listings, updates, delete/recover/purge, backup/restore, rotation and its
// policy, random bytes, an older api-version and the second vault.
import assert from "node:assert/strict";
import crypto from "node:crypto";

import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

import {
  vaultUrl,
  otherVaultUrl,
  recoverableDays,
  OAEP_STRONGEST,
  test,
  refused,
  assertStatus,
  wire,
  clientOptions,
  nodePublicKey,
  nodeVerify,
  nodeRsaEncrypt,
  assertKid,
  credential,
  client,
  remoteOnly,
  byId,
  N,
  names,
  created,
  keys,
} from "./common.mjs";

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
