"""End to end: Debian's Azure Python SDK (python3-azure: azure-keyvault-keys
4.8.0b3, azure-core) against a keyferryd started by python_sdk_test.sh.

KeyClient and CryptographyClient drive every keys operation across RSA, EC
and oct keys; every result the vault computes is checked independently with
the `cryptography` package (signatures verified with the returned public key,
ciphertexts opened with a key imported from outside, and so on). Negative
cases use the SDK where it can express the request and raw HTTPS where it
cannot, and after each one the store is compared with its state before.

Needs the environment of tests/e2e/harness.sh (kf_start): KEYFERRYD,
KF_DATA_DIR, KF_PORT, KF_VAULT_URL, KF_OTHER_VAULT_URL, KF_RESOURCE, KF_CA,
REQUESTS_CA_BUNDLE. Run with /usr/bin/python3 (Debian's interpreter, which
has azure and cryptography). Prints one line
"python_sdk_test: N passed, M failed" and exits non-zero on any failure.

The scenarios live in three parts, registered in this order with @case and
run one after the other against the same keyferryd: python_sdk_keys.py
(creation, every operation, imports), python_sdk_lifecycle.py (versions,
paging, delete/recover/purge, backup, rotation, vaults) and
python_sdk_access.py (authentication, RBAC, key state, bad requests, the
identity endpoint). sdk_common.py holds what they share, e2e_runner.py the
runner (check, @case). KF_TEST_ONLY=a,b
runs only the named scenarios; KF_TEST_VERBOSE=1 prints their times.
"""

import sys

import e2e_runner
import sdk_common
# Each import registers that part's scenarios (sdk_common.case); the order
# of these imports is the order they run in.
import python_sdk_keys  # noqa: F401
import python_sdk_lifecycle  # noqa: F401
import python_sdk_access  # noqa: F401


def main():
    sdk_common.run_cases()
    print(f"python_sdk_test: {e2e_runner.passed} passed, "
          f"{e2e_runner.failed} failed")
    return 1 if e2e_runner.failed or e2e_runner.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
