"""Task weightings: how per-task losses and gradients are combined into one update.

Gradient methods (need the Gram matrix of the per-task gradients): MGDA, PCGrad, CAGrad,
GradVac, IMTL-G, Nash-MTL, Aligned-MTL, UPGrad. Loss methods: uncertainty weighting (UW),
DWA, RLW, FAMO, GradNorm (which also reads the gradient norms). See `Weighting` for the
conventions they share.

The supported surface is `__all__`: the classes, `get` and `METHODS`. Each method's maths is a
plain TensorFlow function in the method's module (e.g. `pcgrad_coefficients` in
`keras_mtl.weighting.pcgrad`, `min_norm_weights` in `keras_mtl.weighting.mgda`), tested
against NumPy; they are internal: their signatures may change with the solvers.
"""

import keras

from keras_mtl.weighting.aligned_mtl import AlignedMTLWeighting
from keras_mtl.weighting.cagrad import CAGradWeighting
from keras_mtl.weighting.dwa import DWAWeighting
from keras_mtl.weighting.famo import FAMOWeighting
from keras_mtl.weighting.fixed import FixedWeighting
from keras_mtl.weighting.gradnorm import GradNormWeighting
from keras_mtl.weighting.gradvac import GradVacWeighting
from keras_mtl.weighting.imtl_g import IMTLGWeighting
from keras_mtl.weighting.mgda import MGDAWeighting
from keras_mtl.weighting.nash_mtl import NashMTLWeighting
from keras_mtl.weighting.pcgrad import PCGradWeighting
from keras_mtl.weighting.rlw import RandomLossWeighting
from keras_mtl.weighting.uniform import UniformWeighting
from keras_mtl.weighting.upgrad import UPGradWeighting
from keras_mtl.weighting.uw import UncertaintyWeighting
from keras_mtl.weighting.weighting import Weighting

METHODS = {
    "uniform": UniformWeighting,
    "mgda": MGDAWeighting,
    "pcgrad": PCGradWeighting,
    "cagrad": CAGradWeighting,
    "gradvac": GradVacWeighting,
    "imtl_g": IMTLGWeighting,
    "nash_mtl": NashMTLWeighting,
    "aligned_mtl": AlignedMTLWeighting,
    "upgrad": UPGradWeighting,
    "uw": UncertaintyWeighting,
    "dwa": DWAWeighting,
    "rlw": RandomLossWeighting,
    "famo": FAMOWeighting,
    "gradnorm": GradNormWeighting,
}
"""The weighting classes by the name `compile(loss_weighting=...)` and `get` accept."""
_ALIASES = {"mgda_ub": "mgda"}  # the name the first release accepted


def get(identifier):
    """Returns a `Weighting` from a name, a list of weights, an instance or a config dict.

    Args:
        identifier: None (uniform); one of the names in `METHODS` (with the paper's default
            hyperparameters) or `"fixed"` (which needs the weights: pass a list); a list or
            tuple of T non-negative floats (`FixedWeighting`); a `Weighting` (returned as is);
            or a dict from `keras.saving.serialize_keras_object`.

    Returns:
        A `Weighting` instance.
    """
    if identifier is None:
        return UniformWeighting()
    if isinstance(identifier, Weighting):
        return identifier
    if isinstance(identifier, str):
        name = _ALIASES.get(identifier.lower(), identifier.lower())
        if name == "fixed":
            raise ValueError(
                "Expected the fixed weights as a list of T floats (e.g. "
                "loss_weighting=[1.0, 0.5]). Received: loss_weighting='fixed'"
            )
        if name not in METHODS:
            raise ValueError(
                f"Expected `loss_weighting` to be one of {sorted([*METHODS, 'fixed'])}, a list "
                f"of weights or a Weighting. Received: loss_weighting={identifier!r}"
            )
        return METHODS[name]()
    if isinstance(identifier, (list, tuple)):
        return FixedWeighting(identifier)
    if isinstance(identifier, dict):
        weighting = keras.saving.deserialize_keras_object(identifier)
        if not isinstance(weighting, Weighting):
            raise TypeError(
                "Expected the config of a Weighting. "
                f"Received: loss_weighting={identifier!r} ({type(weighting).__name__})"
            )
        return weighting
    raise TypeError(
        "Expected `loss_weighting` to be a string, a list of floats, a config dict or a "
        f"Weighting. Received: loss_weighting={identifier!r} of type {type(identifier)}"
    )


__all__ = [
    "AlignedMTLWeighting",
    "CAGradWeighting",
    "DWAWeighting",
    "FAMOWeighting",
    "FixedWeighting",
    "GradNormWeighting",
    "GradVacWeighting",
    "IMTLGWeighting",
    "METHODS",
    "MGDAWeighting",
    "NashMTLWeighting",
    "PCGradWeighting",
    "RandomLossWeighting",
    "UPGradWeighting",
    "UncertaintyWeighting",
    "UniformWeighting",
    "Weighting",
    "get",
]
