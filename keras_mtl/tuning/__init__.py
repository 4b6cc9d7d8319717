"""keras_mtl.tuning."""
