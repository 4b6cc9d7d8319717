"""Shape checks for T task columns given as a list or stacked along axis 1."""

from __future__ import annotations

from collections.abc import Sequence

from keras import ops

from keras_mtl.layers.types import Shape, Tensor


def is_shape_list(shapes: Shape | Sequence[Shape]) -> bool:
    """True when `shapes` is a list/tuple of shapes (not a single shape)."""
    return isinstance(shapes, list | tuple) and bool(shapes) and isinstance(
        shapes[0], list | tuple
    )


def column_shape(
    shapes: Shape | Sequence[Shape], num_tasks: int, min_stacked_rank: int = 3
) -> Shape:
    """Returns one column's shape `(batch, ...)`, checking the number of columns.

    Args:
        shapes: a list of T column shapes, or one stacked shape `(batch, T, ...)`.
        num_tasks: the expected number of columns T.
        min_stacked_rank: minimum rank of the stacked form.
    """
    if is_shape_list(shapes):
        if len(shapes) != num_tasks:
            raise ValueError(
                f"Expected {num_tasks} task columns (num_tasks={num_tasks}). "
                f"Received: {len(shapes)} columns."
            )
        if len({tuple(s)[1:] for s in shapes}) != 1:
            raise ValueError(
                "Expected all task columns to have the same shape. "
                f"Received: shapes={[tuple(s) for s in shapes]}"
            )
        return tuple(shapes[0])
    shape = tuple(shapes)
    if len(shape) < min_stacked_rank or shape[1] != num_tasks:
        raise ValueError(
            f"Expected stacked columns of shape (batch, num_tasks={num_tasks}, ...) or a list "
            f"of {num_tasks} columns. Received: shape={shape}"
        )
    return (shape[0],) + shape[2:]


def stack_columns(
    columns: Tensor | Sequence[Tensor], num_tasks: int, min_stacked_rank: int = 3
) -> tuple[Tensor, bool]:
    """Checks `columns` (list or stacked) and returns `(stacked, given_as_list)`.

    Args:
        columns: a list of T tensors `(batch, ...)`, or one stacked tensor `(batch, T, ...)`.
        num_tasks: the expected number of columns T.
        min_stacked_rank: minimum rank of the stacked form.
    """
    if isinstance(columns, list | tuple):
        column_shape([tuple(c.shape) for c in columns], num_tasks, min_stacked_rank)
        return ops.stack(list(columns), axis=1), True
    column_shape(tuple(columns.shape), num_tasks, min_stacked_rank)
    return columns, False
