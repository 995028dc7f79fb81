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
// The tests live in three parts, run here in this order against the same
// keyferryd (later parts use the keys earlier ones made): keys_create.mjs
// (identity, creating and reading keys), keys_crypto.mjs (every
// cryptographic operation, imports) and keys_lifecycle.mjs (listing,
// updates, delete/recover, backup, rotation, vaults). common.mjs holds what
// they share.
//
// Prints "js_sdk_test: N passed, M failed" and exits non-zero on failure.
import assert from "node:assert/strict";

import { finish, test, wire } from "./common.mjs";

// One after the other: a part's tests run as it is evaluated (top-level
// await), and statically imported siblings would start before the previous
// one's awaits are done.
await import("./keys_create.mjs");
await import("./keys_crypto.mjs");
await import("./keys_lifecycle.mjs");

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

finish();
