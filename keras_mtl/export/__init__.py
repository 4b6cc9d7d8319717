"""SavedModel export for TF Serving: `export_for_serving` (its docstring states the contract).

`serving.next_version` and `serving.verify_export`, which `export_for_serving` uses, are
internal.
"""

from keras_mtl.export.serving import export_for_serving

__all__ = ["export_for_serving"]
