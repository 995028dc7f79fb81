# Test-only compatibility shim (see azure/keyvault/__init__.py): the track-1
# key identifier classes az's --id validators import (validate_key_id imports
# KeyVaultIdentifier on every `keyvault key` command, even with --vault-name),
# re-exported from az's own vendored track-1 copy
#   azure.cli.command_modules.keyvault.vendored_sdks.azure_keyvault_t1.key_vault_id
#
# That module is loaded from its file rather than imported by name: importing
# it by name first runs azure_keyvault_t1/__init__.py, whose
# key_vault_authentication.py does `from azure.keyvault import
# http_bearer_challenge_cache` (and http_challenge, http_message_security,
# _internal -> azure.keyvault.models), i.e. the very track-1 modules Debian
# lacks. key_vault_id.py itself only needs the standard library.
import importlib.util as _ilu
import os as _os
import sys as _sys

_VENDORED = "azure.cli.command_modules.keyvault.vendored_sdks.azure_keyvault_t1.key_vault_id"


def _load():
    if _VENDORED in _sys.modules:  # the vendored package was imported some other way
        return _sys.modules[_VENDORED]
    vendored_sdks = _ilu.find_spec("azure.cli.command_modules.keyvault.vendored_sdks")
    path = _os.path.join(list(vendored_sdks.submodule_search_locations)[0],
                         "azure_keyvault_t1", "key_vault_id.py")
    spec = _ilu.spec_from_file_location(__name__ + "._vendored", path)
    module = _ilu.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_mod = _load()
KeyVaultCollectionType = _mod.KeyVaultCollectionType
KeyVaultId = _mod.KeyVaultId


class KeyVaultIdentifier(_mod.KeyVaultIdentifier):
    """The vendored KeyVaultIdentifier, keeping the port of the vault URL.

    Track-1 rebuilds the vault as scheme://hostname, so `--id
    https://myvault.localhost:8443/keys/k/<v>` would send the request to port
    443 (real vaults never carry a port). Local vaults do, so keep it."""

    def _parse(self, uri, validation_args):
        super()._parse(uri, validation_args)
        from urllib.parse import urlparse
        parsed = urlparse(uri.strip())
        if parsed.port is not None and getattr(self, "vault", None):
            self.vault = "{}://{}:{}".format(parsed.scheme, parsed.hostname, parsed.port)


KeyId = _mod.KeyId
SecretId = _mod.SecretId
CertificateId = _mod.CertificateId
CertificateOperationId = _mod.CertificateOperationId
CertificateIssuerId = _mod.CertificateIssuerId
StorageAccountId = _mod.StorageAccountId
StorageSasDefinitionId = _mod.StorageSasDefinitionId
del _mod
