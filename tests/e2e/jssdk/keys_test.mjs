// End to end: the Azure JS SDK (@azure/keyvault-keys with @azure/identity's
// ManagedIdentityCredential, App Service style) against a keyferryd started
// by tests/e2e/js_keys_test.sh. Public-key results are checked with
// node:crypto, outside keyferryd. Prints "js_keys_test: N passed, M failed".
import crypto from "node:crypto";

import { ManagedIdentityCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

const vaultUrl = process.env.KF_VAULT_URL;
const credential = new ManagedIdentityCredential();
const client = new KeyClient(vaultUrl, credential);

let passed = 0;
let failed = 0;
function check(name, cond, detail = "") {
  if (cond) {
    passed++;
  } else {
    failed++;
    console.error(`FAIL ${name} ${detail}`);
  }
}
async function scenario(name, fn) {
  try {
    await fn();
  } catch (e) {
    failed++;
    console.error(`FAIL ${name} threw: ${e.statusCode ?? ""} ${e.code ?? ""} ${e.message}`);
  }
}

const b64u = (buf) => Buffer.from(buf).toString("base64url");
const jwkToNode = (key) => {
  const j = { kty: key.kty.replace("-HSM", "") };
  if (j.kty === "RSA") {
    j.n = b64u(key.n);
    j.e = b64u(key.e);
  } else {
    j.crv = key.crv === "P-256K" ? "secp256k1" : key.crv;
    j.x = b64u(key.x);
    j.y = b64u(key.y);
  }
  return crypto.createPublicKey({ key: j, format: "jwk" });
};
const hashOf = (alg) => ({ "256": "sha256", "384": "sha384", "512": "sha512" })[alg.slice(2, 5)] ?? "sha256";

await scenario("rsa", async () => {
  const key = await client.createRsaKey("js-rsa", { keySize: 2048 });
  check("rsa kid names this vault", key.id.startsWith(`${vaultUrl}/keys/js-rsa/`));
  const key3072 = await client.createRsaKey("js-rsa3072", { keySize: 3072, hsm: true });
  check("rsa3072 size", key3072.key.n.length === 384);
  check("RSA-HSM kty", key3072.keyType === "RSA-HSM");
  const cc = new CryptographyClient(key.id, credential);
  const pub = jwkToNode(key.key);
  for (const alg of ["RS256", "PS256", "RS512"]) {
    const data = Buffer.from(`message for ${alg}`);
    const r = await cc.signData(alg, data);
    const opts = alg.startsWith("PS")
      ? { key: pub, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST }
      : pub;
    check(`${alg} verified by node:crypto`, crypto.verify(hashOf(alg), data, opts, r.result));
    // verify() sends the digest to keyferryd. (verifyData() would run
    // locally, and @azure/keyvault-keys 4.10.2 checks PS* there with
    // PKCS#1 v1.5 padding, so it can never accept a PSS signature.)
    const digest = crypto.createHash(hashOf(alg)).update(data).digest();
    const v = await cc.verify(alg, digest, r.result);
    check(`${alg} verify`, v.result === true);
    const bad = Buffer.from(r.result);
    bad[0] ^= 1;
    check(`${alg} verify rejects`, (await cc.verify(alg, digest, bad)).result === false);
  }
  for (const alg of ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"]) {
    const msg = Buffer.from(`secret for ${alg}`);
    // Encrypted outside keyferryd, decrypted inside.
    const ct = crypto.publicEncrypt(
      alg === "RSA1_5"
        ? { key: pub, padding: crypto.constants.RSA_PKCS1_PADDING }
        : { key: pub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: alg === "RSA-OAEP" ? "sha1" : "sha256" },
      msg,
    );
    const d = await cc.decrypt({ algorithm: alg, ciphertext: ct });
    check(`${alg} decrypts an outside ciphertext`, Buffer.from(d.result).equals(msg));
    const e = await cc.encrypt({ algorithm: alg, plaintext: msg });
    const d2 = await cc.decrypt({ algorithm: alg, ciphertext: e.result });
    check(`${alg} round trip`, Buffer.from(d2.result).equals(msg));
  }
  const w = await cc.wrapKey("RSA-OAEP", Buffer.alloc(32, 7));
  const u = await cc.unwrapKey("RSA-OAEP", w.result);
  check("RSA-OAEP wrap/unwrap", Buffer.from(u.result).equals(Buffer.alloc(32, 7)));
});

await scenario("ec", async () => {
  for (const [crv, alg] of [["P-256", "ES256"], ["P-384", "ES384"], ["P-521", "ES512"], ["P-256K", "ES256K"]]) {
    const key = await client.createEcKey(`js-ec-${crv.toLowerCase()}`, { curve: crv });
    check(`${crv} curve`, key.key.crv === crv);
    const cc = new CryptographyClient(key.id, credential);
    const data = Buffer.from(`ec message ${crv}`);
    const r = await cc.signData(alg, data);
    const ok = crypto.verify(hashOf(alg), data, { key: jwkToNode(key.key), dsaEncoding: "ieee-p1363" }, r.result);
    check(`${alg} verified by node:crypto`, ok);
    const v = await cc.verifyData(alg, data, r.result);
    check(`${alg} verify`, v.result === true);
  }
});

await scenario("oct", async () => {
  for (const size of [128, 256]) {
    const key = await client.createOctKey(`js-aes${size}`, { keySize: size, hsm: true });
    check(`oct${size} kty`, key.keyType === "oct-HSM");
    const cc = new CryptographyClient(key.id, credential);
    const gcm = `A${size}GCM`;
    const msg = Buffer.from("authenticated plaintext");
    const aad = Buffer.from("context");
    const e = await cc.encrypt({ algorithm: gcm, plaintext: msg, additionalAuthenticatedData: aad });
    check(`${gcm} iv and tag`, e.iv?.length === 12 && e.authenticationTag?.length === 16);
    const d = await cc.decrypt({ algorithm: gcm, ciphertext: e.result, iv: e.iv, authenticationTag: e.authenticationTag, additionalAuthenticatedData: aad });
    check(`${gcm} round trip`, Buffer.from(d.result).equals(msg));
    const cbc = `A${size}CBCPAD`;
    const iv = crypto.randomBytes(16);
    const ce = await cc.encrypt({ algorithm: cbc, plaintext: msg, iv });
    const cd = await cc.decrypt({ algorithm: cbc, ciphertext: ce.result, iv });
    check(`${cbc} round trip`, Buffer.from(cd.result).equals(msg));
    const kw = `A${size}KW`;
    const w = await cc.wrapKey(kw, Buffer.alloc(32, 9));
    check(`${kw} output size`, w.result.length === 40);
    const u = await cc.unwrapKey(kw, w.result);
    check(`${kw} unwrap`, Buffer.from(u.result).equals(Buffer.alloc(32, 9)));
  }
});

await scenario("import", async () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-384" });
  const jwk = privateKey.export({ format: "jwk" });
  const key = await client.importKey("js-imported", {
    kty: "EC", crv: "P-384", keyOps: ["sign", "verify"],
    x: Buffer.from(jwk.x, "base64url"), y: Buffer.from(jwk.y, "base64url"), d: Buffer.from(jwk.d, "base64url"),
  });
  const cc = new CryptographyClient(key.id, credential);
  const data = Buffer.from("imported");
  const r = await cc.signData("ES384", data);
  check("imported key signs for the outside public key",
    crypto.verify("sha384", data, { key: publicKey, dsaEncoding: "ieee-p1363" }, r.result));
});

await scenario("list and versions", async () => {
  await client.createEcKey("js-ec-p-256", { curve: "P-256", tags: { gen: "2" } });
  const versions = [];
  for await (const v of client.listPropertiesOfKeyVersions("js-ec-p-256")) versions.push(v.version);
  check("two versions", versions.length === 2);
  const names = [];
  let pages = 0;
  for await (const page of client.listPropertiesOfKeys().byPage({ maxPageSize: 2 })) {
    pages++;
    check("page size <= 2", page.length <= 2);
    for (const p of page) names.push(p.name);
  }
  check("paged through nextLink", pages >= 4, `pages=${pages}`);
  check("every key once", new Set(names).size === names.length && names.includes("js-imported"));
  const updated = await client.updateKeyProperties("js-rsa", { tags: { team: "crypto" }, enabled: true });
  check("update tags", updated.properties.tags?.team === "crypto");
  const got = await client.getKey("js-rsa");
  check("tags kept", got.properties.tags?.team === "crypto");
});

await scenario("delete, recover, purge, backup, restore", async () => {
  await client.createEcKey("js-life", { curve: "P-256" });
  const del = await client.beginDeleteKey("js-life");
  const deleted = await del.pollUntilDone();
  check("deleted key has recoveryId", deleted.properties.recoveryId?.endsWith("/deletedkeys/js-life"), JSON.stringify(deleted.properties));
  check("scheduled purge 7 days on", deleted.properties.scheduledPurgeDate - deleted.properties.deletedOn === 7 * 86400 * 1000);
  const gd = await client.getDeletedKey("js-life");
  check("get deleted", gd.name === "js-life");
  const rec = await client.beginRecoverDeletedKey("js-life");
  await rec.pollUntilDone();
  check("recovered", (await client.getKey("js-life")).name === "js-life");
  const backup = await client.backupKey("js-life");
  await (await client.beginDeleteKey("js-life")).pollUntilDone();
  await client.purgeDeletedKey("js-life");
  try {
    await client.getDeletedKey("js-life");
    check("purged", false);
  } catch (e) {
    check("purged", e.statusCode === 404);
  }
  const restored = await client.restoreKeyBackup(backup);
  check("restored", restored.name === "js-life");
  const cc = new CryptographyClient(restored.id, credential);
  const s = await cc.sign("ES256", Buffer.alloc(32, 1));
  check("restored key signs", s.result.length === 64);
});

await scenario("rotate, policy, random", async () => {
  const before = await client.getKey("js-rsa");
  const rotated = await client.rotateKey("js-rsa");
  check("rotate makes a new version", rotated.properties.version !== before.properties.version);
  const policy = await client.updateKeyRotationPolicy("js-rsa", {
    lifetimeActions: [{ action: "Rotate", timeAfterCreate: "P30D" }],
    expiresIn: "P90D",
  });
  check("policy stored", policy.lifetimeActions?.[0]?.timeAfterCreate === "P30D");
  const got = await client.getKeyRotationPolicy("js-rsa");
  check("policy read back", got.expiresIn === "P90D");
  const rnd = await client.getRandomBytes(32);
  check("random bytes", rnd.length === 32);
});

await scenario("errors", async () => {
  try {
    await client.getKey("js-no-such-key");
    check("unknown key -> 404", false);
  } catch (e) {
    check("unknown key -> 404 KeyNotFound", e.statusCode === 404 && e.code === "KeyNotFound", `${e.statusCode} ${e.code}`);
  }
});

console.log(`js_keys_test: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
