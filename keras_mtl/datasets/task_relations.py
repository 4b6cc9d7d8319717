"""Ground-truth relations between the tasks of a dataset: related, independent, conflicting.

A generated dataset knows how its attributes were drawn, so it can say which task pairs share a
notion of similarity and which do not (`RetrievalDataset.relations`; `None` for real data,
whose relations nobody knows). Evaluation code uses it to mark pairs in the UCR and gradient
cosine matrices (Zhao et al. 2018, Sec. 3.1 and Table 1: related pairs comply more often).

Kinds of pair:
- `"related"`: the two attributes are strongly dependent, so two images that are similar under
  one task are usually similar under the other: the tasks' triplets pull a shared embedding the
  same way, and their gradients on shared weights tend to agree (Eq. 2, `A > 0`).
- `"independent"`: the attributes are drawn independently, so whether two images agree under
  one task says nothing about the other; a single embedding must spend its distance on both
  and each task's triplets treat the other's attribute as noise to be suppressed, so their
  gradients on shared weights tend to disagree (Veit et al. 2017: one embedding cannot serve
  several notions of similarity).
- `"conflicting"`: the attributes are anti-aligned (similar under one usually means dissimilar
  under the other); available for datasets that have such pairs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

RELATION_KINDS = ("related", "independent", "conflicting")


@dataclasses.dataclass(frozen=True, eq=False)
class TaskRelations:
    """A symmetric T x T table of task-pair relations, with task names.

    Args:
        task_names: the T task names, in task-id order.
        kinds: T x T nested sequence of strings: `"related"`, `"independent"` or
            `"conflicting"` off the diagonal (symmetric), `""` on the diagonal.
        notes: optional one-line explanation per kind of pair or per pair, e.g.
            `{"class/closure": "closure drawn from class with coupling 0.8"}`.

    Example:

    >>> r = TaskRelations.from_pairs(("a", "b", "c"), related=[("a", "b")])
    >>> r.kind("b", "a"), r.kind("a", "c")
    ('related', 'independent')
    >>> r.pairs("independent")
    [('a', 'c'), ('b', 'c')]
    """

    task_names: tuple[str, ...]
    kinds: tuple[tuple[str, ...], ...]
    notes: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        names = tuple(str(n) for n in self.task_names)
        kinds = tuple(tuple(str(k) for k in row) for row in self.kinds)
        object.__setattr__(self, "task_names", names)
        object.__setattr__(self, "kinds", kinds)
        t = len(names)
        if len(set(names)) != t or len(kinds) != t or any(len(row) != t for row in kinds):
            raise ValueError(
                f"Expected distinct task names and a {t} x {t} table of kinds. Received: "
                f"task_names={names}, kinds of shape {[len(row) for row in kinds]}"
            )
        for i in range(t):
            for j in range(t):
                k = kinds[i][j]
                if i == j and k != "":
                    raise ValueError(
                        f"Expected '' on the diagonal. Received: kinds[{i}][{i}]={k!r}"
                    )
                if i != j and (k not in RELATION_KINDS or k != kinds[j][i]):
                    raise ValueError(
                        f"Expected symmetric kinds in {RELATION_KINDS} off the diagonal. "
                        f"Received: kinds[{i}][{j}]={k!r}, kinds[{j}][{i}]={kinds[j][i]!r}"
                    )

    @classmethod
    def from_pairs(
        cls,
        task_names: Sequence[str],
        related: Sequence[tuple[str, str]] = (),
        conflicting: Sequence[tuple[str, str]] = (),
        notes: dict[str, str] | None = None,
    ) -> TaskRelations:
        """Builds the table from the related and conflicting pairs; every other is independent."""
        names = tuple(task_names)
        index = {n: i for i, n in enumerate(names)}
        kinds = [["independent"] * len(names) for _ in names]
        for i in range(len(names)):
            kinds[i][i] = ""
        for kind, pairs in (("related", related), ("conflicting", conflicting)):
            for a, b in pairs:
                if a not in index or b not in index or a == b:
                    raise ValueError(
                        f"Expected pairs of two different names from {names}. "
                        f"Received: ({a!r}, {b!r})"
                    )
                kinds[index[a]][index[b]] = kinds[index[b]][index[a]] = kind
        return cls(names, tuple(tuple(r) for r in kinds), dict(notes or {}))

    @property
    def num_tasks(self) -> int:
        return len(self.task_names)

    def kind(self, a: str, b: str) -> str:
        """The relation of tasks `a` and `b` (names)."""
        return self.kinds[self.task_names.index(a)][self.task_names.index(b)]

    def pairs(self, kind: str) -> list[tuple[str, str]]:
        """The unordered pairs `(a, b)` of one kind, `a` before `b` in task order."""
        if kind not in RELATION_KINDS:
            raise ValueError(f"Expected `kind` in {RELATION_KINDS}. Received: kind={kind!r}")
        t = self.num_tasks
        return [(self.task_names[i], self.task_names[j])
                for i in range(t) for j in range(i + 1, t) if self.kinds[i][j] == kind]

    def mask(self, kind: str) -> np.ndarray:
        """Boolean T x T array, True where the pair is of `kind` (symmetric, False diagonal)."""
        if kind not in RELATION_KINDS:
            raise ValueError(f"Expected `kind` in {RELATION_KINDS}. Received: kind={kind!r}")
        return np.array([[k == kind for k in row] for row in self.kinds])

    def to_dict(self) -> dict:
        """A JSON-ready dict: task names, the table of kinds, the pairs by kind, the notes."""
        return {
            "task_names": list(self.task_names),
            "kinds": [list(row) for row in self.kinds],
            "pairs": {k: [list(p) for p in self.pairs(k)] for k in RELATION_KINDS},
            "notes": dict(self.notes),
        }
