"""Trained-model plug-ins.

* :mod:`radcycle.models.protocol`: a model's input contract, its spec, and the
  protocol of a network run on encoded patches;
* :mod:`radcycle.models.registry`: the specs shipped in ``registry.json``, and
  weights loaded only from a local file whose SHA-256 matches;
* :mod:`radcycle.models.encoding`: resampling, intensity normalisation, click maps;
* :mod:`radcycle.models.interactive`: the learned click-to-segment
  :class:`~radcycle.imaging.segmenters.Segmenter` over ONNX Runtime;
* :mod:`radcycle.models.training`: training with MONAI on torch (the ``models`` extra);
* :mod:`radcycle.models.card`: the model card from the registry.
"""
