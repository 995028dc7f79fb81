# Test-only compatibility shim (see azure/keyvault/__init__.py): the track-1
# azure.keyvault.v7_0 package, as the track-2 generated v7_0 package, except
# KeyVaultClient (see key_vault_client.py in this directory).
from azure.keyvault.keys._generated.v7_0 import *  # noqa: F401,F403
from .key_vault_client import KeyVaultClient  # noqa: F401
from . import models  # noqa: F401
