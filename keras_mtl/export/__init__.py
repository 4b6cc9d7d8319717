"""SavedModel export for TF Serving."""

from keras_mtl.export.serving import export_for_serving, next_version, verify_export

__all__ = ["export_for_serving", "next_version", "verify_export"]
