// JS SDK tests, part 2 (run by keys_test.mjs): every cryptographic
// operation on the keys keys_create.mjs made (sign/verify, encrypt/decrypt,
// wrap/unwrap; on keyferryd and in the SDK, checked with node:crypto), and
// on keys imported from node:crypto (JWK) or as a BYOK blob.
import assert from "node:assert/strict";
import crypto from "node:crypto";

import {
  HSM,
  RSA_CIPHERS,
  RSA_WRAPS,
  test,
  refused,
  assertStatus,
  wire,
  served,
  b64u,
  fromB64u,
  hashOf,
  digestOf,
  coordLen,
  nodePublicKey,
  nodeVerify,
  nodeRsaEncrypt,
  nodeRsaDecrypt,
  assertNoPrivateMaterial,
  assertKid,
  client,
  remoteOnly,
  byId,
  run,
  N,
  names,
  created,
  keys,
} from "./common.mjs";

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
