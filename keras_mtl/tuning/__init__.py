"""KerasTuner hypermodels over the keras_mtl builders.

Importing this package imports `keras_tuner`; `import keras_mtl` does not.
"""

from keras_mtl.tuning.retrieval_hypermodel import RetrievalHyperModel
from keras_mtl.tuning.trials_summary import trials_summary

__all__ = ["RetrievalHyperModel", "trials_summary"]
