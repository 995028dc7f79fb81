// A fake PKCS#11 token for unit tests only (built with KF_BUILD_TESTS as the
// shared library kf_fake_token, never linked into keyferry or keyferryd).
// Its crypto is real (OpenSSL): C_WrapKey/C_UnwrapKey with
// CKM_AES_KEY_WRAP_KWP are RFC 5649 (with CKM_AES_KEY_WRAP_PAD, RFC 3394 over
// PKCS#7 padding), C_Encrypt/C_Decrypt with CKM_AES_GCM are
// AES-GCM, C_Sign with CKM_SHA256_HMAC is HMAC-SHA256, so a test compares
// the token's output with OpenSSL's. Objects live in memory until
// C_Finalize.
//
// One slot (kKfFakeSlot) holds the token "Fake Token"; the user PIN is
// kKfFakePin, there is no SO.
//
// Initialization string: C_Initialize needs CK_C_INITIALIZE_ARGS with
// pReserved pointing at a string of space-separated key=value words, like
// tokens that read their configuration from it; a null pReserved is
// CKR_ARGUMENTS_BAD. The word quirks=q1,q2,... selects the ways the token
// departs from PKCS#11 (an empty list or "none": a conformant token; an
// unknown quirk: CKR_ARGUMENTS_BAD). Other words are ignored.
//   short-size        size queries answer short: C_WrapKey the key's length
//                     (8-16 bytes short), C_Encrypt (GCM) without the tag,
//                     C_Sign half the MAC.
//   ends-on-too-small CKR_BUFFER_TOO_SMALL ends the operation (C_Encrypt,
//                     C_Decrypt, C_Sign): the next call answers
//                     CKR_OPERATION_NOT_INITIALIZED.
//   garbage-length    CKR_BUFFER_TOO_SMALL sets the length to
//                     kKfFakeGarbageLength instead of the length needed.
//   always-too-small  every call with a buffer answers CKR_BUFFER_TOO_SMALL.
//   demand-ec-attr    C_UnwrapKey of an EC private key without the vendor
//                     attribute kKfFakeDbAttribute is CKR_TEMPLATE_INCOMPLETE.
//   demand-attr-all   the same for every private key.
//   no-240-attrs      a token object whose template carries CKA_COPYABLE or
//                     CKA_DESTROYABLE fails with CKR_GENERAL_ERROR.
//
// Counters: the library exports kf_fake_stats (KfFakeStatsFn), which copies
// what the token has seen since the last C_Initialize. The library is linked
// with -z nodelete: once loaded it stays, and so do its counters.
#ifndef KEYFERRY_HSM_TESTING_FAKE_TOKEN_H_
#define KEYFERRY_HSM_TESTING_FAKE_TOKEN_H_

#define KF_FAKE_MAX_SIZES 64
#define KF_FAKE_MAX_INIT 512

inline constexpr unsigned long kKfFakeSlot = 7;
inline constexpr char kKfFakeTokenLabel[] = "Fake Token";
inline constexpr char kKfFakePin[] = "fake-pin";
inline constexpr unsigned long kKfFakeDbAttribute = 0xD5A0DB00UL;
inline constexpr unsigned long kKfFakeGarbageLength = 0x7FFFFFF0UL;

extern "C" {

struct KfFakeStats {
  // C_Initialize calls in this process, successful or not (never reset).
  unsigned long initialize_calls;
  // The pReserved string of the last C_Initialize (truncated to fit), and
  // whether one was given.
  char init_reserved[KF_FAKE_MAX_INIT];
  int init_reserved_given;
  unsigned long encrypt_init_calls, decrypt_init_calls, sign_init_calls;
  // Calls of the two-call functions, size queries included.
  unsigned long encrypt_calls, decrypt_calls, sign_calls, wrap_calls;
  unsigned long unwrap_calls, generate_key_calls, generate_key_pair_calls;
  // CKR_BUFFER_TOO_SMALL answers given.
  unsigned long too_small_answers;
  // The length of every non-null output buffer offered to C_WrapKey,
  // C_Encrypt, C_Decrypt and C_Sign, in order (the first KF_FAKE_MAX_SIZES),
  // and how many were offered.
  unsigned long output_sizes[KF_FAKE_MAX_SIZES];
  unsigned long output_size_count;
  // C_UnwrapKey calls whose template carried kKfFakeDbAttribute, and the
  // value length it had the last time.
  unsigned long unwrap_db_attr_sent;
  unsigned long unwrap_db_attr_len;
  // Objects that exist when the counters are read (session and token).
  unsigned long live_objects;
};

typedef void (*KfFakeStatsFn)(struct KfFakeStats* out);

}  // extern "C"

#endif  // KEYFERRY_HSM_TESTING_FAKE_TOKEN_H_
