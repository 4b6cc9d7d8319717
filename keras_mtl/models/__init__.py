"""keras_mtl.models."""
