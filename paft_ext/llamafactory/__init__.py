"""Stage 2 inside stock ``llamafactory-cli train``: the version-gated patches, the hook they call, the ``paft``
dataset converter and row rendering, on the framework-neutral core (:mod:`paft_ext.core`)."""
