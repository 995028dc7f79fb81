# Test-only compatibility shim (see azure/keyvault/__init__.py): the
# unversioned track-1 module name, for profiles that do not rewrite
# azure.keyvault.key_vault_client to a versioned path.
from .v7_0.key_vault_client import KeyVaultClient  # noqa: F401
