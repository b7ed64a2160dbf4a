"""Analysis of teacher and student BERT models for the TinyBERT reproduction.

* :mod:`analysis.extract` -- attention probabilities, pre-softmax scores and hidden states
  per example, piece- and word-level.
* :mod:`analysis.plots` -- attention-map figures; :mod:`analysis.interactive` -- the same as
  an offline HTML page (plotly); :mod:`analysis.bertviz_view` -- the same
  data in bertviz (optional ``viz`` extra, Jupyter only).
* :mod:`analysis.heads` -- per-head statistics and head clusters (Clark et al. 2019).
* :mod:`analysis.layer_mapping` -- layer-pair CKA / attention MSE and the best mapping.
* :mod:`analysis.tables` -- run results aggregated over seeds beside the paper's tables.
* :mod:`analysis.attention` -- ``python -m analysis attention``: any model's heads on a
  sentence of your own (:mod:`analysis.models` finds the model).
* :mod:`analysis.demo` -- every figure for a teacher/student pair in one call.
"""
