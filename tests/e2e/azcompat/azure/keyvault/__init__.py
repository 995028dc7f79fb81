# Test-only compatibility shim for Debian 12's azure-cli 2.45 (NOT product code).
#
# Debian's python3-azure ships only the track-2 packages under azure/keyvault/
# (keys, secrets, certificates, administration) and no azure/keyvault/__init__.py,
# while az's `keyvault key` data-plane commands still import the track-1 names
#   azure.keyvault.{KeyVaultAuthentication, KeyVaultClient}
#   azure.keyvault.key_vault_id.KeyVaultIdentifier
#   azure.keyvault.key_vault_client#KeyVaultClient.<op>        (list, delete, recover, ...)
#   azure.keyvault.v7_0.key_vault_client#KeyVaultClient.<op>   (help text)
#   azure.keyvault.v7_0.models#KeyVaultErrorException           (error handler)
# (upstream Azure/azure-cli#13101). Put the directory holding this `azure/`
# first on PYTHONPATH; Debian's azure/__init__.py is a pkgutil namespace, so
# this regular package wins for `azure.keyvault`, and it extends its own
# __path__ over every azure/keyvault directory on sys.path so that the distro's
# azure.keyvault.keys, .secrets, ... still import.
# See /work/shared/reference/akv-keys-api.md section 10.
import os as _os
import sys as _sys

__path__ = list(__path__)  # noqa: F821 (set by the import system)
_seen = {_os.path.realpath(p) for p in __path__}
for _entry in _sys.path:
    _d = _os.path.join(_entry or _os.getcwd(), "azure", "keyvault")
    if _os.path.isdir(_d) and _os.path.realpath(_d) not in _seen:
        _seen.add(_os.path.realpath(_d))
        __path__.append(_d)

# The track-1 API versions az asks for (7.0 from its profile, 2016-10-01 for
# Azure Stack) are mapped onto one the track-2 generated client knows well.
COMPAT_API_VERSION = "7.3"


def _jwt_exp(token):
    """Expiry of a JWT without verifying it (only to schedule a refresh)."""
    import base64
    import json
    import time
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return int(json.loads(base64.urlsafe_b64decode(payload))["exp"])
    except Exception:  # pylint: disable=broad-except
        return int(time.time()) + 300


class KeyVaultAuthentication(object):
    """Track-1 KeyVaultAuthentication(callback) adapted to a track-2 TokenCredential.

    az's callback takes (server, resource, scope) and returns a tuple whose second
    element is the access token ('Bearer', token, token_entry)."""

    def __init__(self, authorization_callback=None, credentials=None):
        self._callback = authorization_callback
        self._credentials = credentials

    def get_token(self, *scopes, **kwargs):  # pylint: disable=unused-argument
        from azure.core.credentials import AccessToken
        scope = scopes[0] if scopes else ""
        resource = scope[: -len("/.default")] if scope.endswith("/.default") else scope
        if self._callback is None:
            raise ValueError("KeyVaultAuthentication needs an authorization callback")
        result = self._callback(None, resource, scope)
        token = result[1]
        entry = result[2] if len(result) > 2 and isinstance(result[2], dict) else {}
        expires_on = entry.get("expires_on") or _jwt_exp(token)
        return AccessToken(token, int(expires_on))


def KeyVaultClient(credentials, api_version=None, **kwargs):  # pylint: disable=invalid-name,unused-argument
    """Track-1 KeyVaultClient(credentials, api_version=...) factory.

    Returns the track-2 generated multi-API client of a KeyClient: it has the
    track-1 operation names and signatures (get_key(vault_base_url, key_name,
    key_version), get_keys(vault_base_url, maxresults), delete_key, ...), and it
    runs in KeyClient's pipeline with challenge authentication."""
    from azure.keyvault.keys import KeyClient
    # vault_url only seeds KeyClient; every generated operation takes vault_base_url.
    key_client = KeyClient("https://compat.invalid", credential=credentials,
                           api_version=COMPAT_API_VERSION)
    client = key_client._client  # pylint: disable=protected-access
    client._compat_key_client = key_client  # keep the owner (and its pipeline) alive
    return client


def __getattr__(name):
    # Storage account / SAS definition ids (reference item 6) resolve lazily from
    # the vendored track-1 copy in az, only if a command needs them.
    if name in ("StorageAccountId", "StorageSasDefinitionId", "KeyVaultId", "KeyId"):
        from azure.keyvault import key_vault_id
        return getattr(key_vault_id, name)
    raise AttributeError("module 'azure.keyvault' has no attribute '{}'".format(name))
