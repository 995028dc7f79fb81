# Test-only compatibility shim (see azure/keyvault/__init__.py).
#
# az registers `keyvault key list|list-versions|list-deleted|show-deleted|delete|
# purge|recover|backup|restore` with the operation template
#   azure.keyvault.key_vault_client#KeyVaultClient.<operation>
# which its loader rewrites to the profile's version (7.0):
#   azure.keyvault.v7_0.key_vault_client#KeyVaultClient.<operation>
# It takes that attribute as an UNBOUND function, reads its signature for the
# command's arguments and its docstring for help, and calls it with
# self=<whatever azure.keyvault.KeyVaultClient(...) returned>, i.e. the track-2
# generated multi-API client at api-version 7.3.
#
# Re-exporting the generated v7_0 class as it is (reference item 5) breaks those
# calls: its operations read `self.<operation>.metadata["url"]`, and on the
# multi-API client `self.get_keys` is the version dispatcher, which has no
# `.metadata` -> "'function' object has no attribute 'metadata'". That is why
# `list` (and delete/recover) fail with items 1-5 alone.
#
# So the class exported here is the generated v7_0 class whose public
# operations are replaced by forwarders with the same signature and docstring:
# forwarder(client, *a, **kw) -> client.<operation>(*a, **kw), which runs the
# operation of the client's own API version (7.3) in its own pipeline.
import inspect as _inspect

from azure.keyvault.keys._generated.v7_0 import KeyVaultClient as _GeneratedV70


def _forwarder(name, original):
    signature = _inspect.signature(original)
    named = {p.name for p in signature.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}

    def forward(self, *args, **kwargs):
        # az passes every CLI argument of the command as a keyword (identifier,
        # hsm_name, include_managed, ...). Track-1 swallowed them in
        # **operation_config; track-2 hands **kwargs to the HTTP transport
        # ("Session.request() got an unexpected keyword argument 'identifier'"),
        # so keep only the operation's own parameters.
        kwargs = {k: v for k, v in kwargs.items() if k in named}
        if isinstance(self, KeyVaultClient):  # a real v7_0 client: run the original
            return original(self, *args, **kwargs)
        return getattr(self, name)(*args, **kwargs)

    forward.__name__ = name
    forward.__qualname__ = "KeyVaultClient." + name
    forward.__doc__ = original.__doc__
    forward.__signature__ = signature
    forward.__wrapped_operation__ = original
    return forward


class KeyVaultClient(_GeneratedV70):  # pylint: disable=too-many-ancestors
    __doc__ = _GeneratedV70.__doc__


for _name, _member in _inspect.getmembers(_GeneratedV70, _inspect.isfunction):
    if not _name.startswith("_"):
        setattr(KeyVaultClient, _name, _forwarder(_name, _member))
del _name, _member
