"""Type aliases of the public signatures (as `keras_rs.src.types`).

`Tensor` is any tensor the backend accepts: a backend tensor (`tf.Tensor`), a
`keras.KerasTensor` while a functional model is built, a NumPy array or a nested list. Keras
has no public union of these, so the alias is `Any` and documents intent only.
"""

from typing import Any, TypeAlias

Tensor: TypeAlias = Any
Shape: TypeAlias = tuple[int | None, ...]
"""A static shape, `None` for an unknown dimension (the batch, usually)."""
