// A small DER encoder, enough to turn an RSA JWK's n and e into a
// SubjectPublicKeyInfo (RFC 5280 §4.1, RFC 8017 A.1.1) and its PEM.
import {b64uToBytes} from './api.js';

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// length encodes a DER length (short form below 128, else long form).
export function derLength(n) {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

export function tlv(tag, content) {
  return concat([Uint8Array.of(tag), derLength(content.length), content]);
}

// integer encodes an unsigned big-endian magnitude as a DER INTEGER: no
// redundant leading zeros, and one 00 when the top bit is set.
export function integer(magnitude) {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  let m = magnitude.subarray(i);
  if (m.length === 0) m = Uint8Array.of(0);
  if (m[0] & 0x80) m = concat([Uint8Array.of(0), m]);
  return tlv(0x02, m);
}

const SEQUENCE = 0x30;
// rsaEncryption 1.2.840.113549.1.1.1, with NULL parameters.
const RSA_ALGORITHM = Uint8Array.of(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48,
  0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00);

// rsaSpki returns the DER SubjectPublicKeyInfo of an RSA JWK {n, e}.
export function rsaSpki(jwk) {
  const rsaKey = tlv(SEQUENCE, concat([integer(b64uToBytes(jwk.n)), integer(b64uToBytes(jwk.e))]));
  const bitString = tlv(0x03, concat([Uint8Array.of(0), rsaKey]));
  return tlv(SEQUENCE, concat([RSA_ALGORITHM, bitString]));
}

// pem wraps DER in PEM armour with 64-character lines.
export function pem(label, der) {
  let bin = '';
  for (const b of der) bin += String.fromCharCode(b);
  const b64 = btoa(bin).replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

// rsaPublicPem is the PEM "PUBLIC KEY" of an RSA JWK.
export function rsaPublicPem(jwk) {
  return pem('PUBLIC KEY', rsaSpki(jwk));
}
