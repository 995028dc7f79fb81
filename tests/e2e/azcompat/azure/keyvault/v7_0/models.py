# Test-only compatibility shim: track-1 azure.keyvault.v7_0.models.
from azure.keyvault.keys._generated.v7_0.models import *  # noqa: F401,F403
from azure.core.exceptions import HttpResponseError as _HttpResponseError


class KeyVaultErrorException(_HttpResponseError):
    """Track-1 error class az's keyvault_exception_handler checks with isinstance().

    Without it, cmd.get_models('KeyVaultErrorException') returns None and every
    service error of a track-1-style command (list, delete, recover, download)
    ends in "TypeError: isinstance() arg 2 must be a type". Track-2 raises
    azure.core HttpResponseError subclasses, which az then prints as they are."""
