"""keras_mtl.export."""
