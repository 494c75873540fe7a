"""The paper-reproduction experiment (Table 1: base, fixed prompt, TopAccuracy, PAFT), kept apart from the product.

It uses the product — the training hook through ``llamafactory-cli``, the evaluation and report through OpenCompass
— exactly as a user would; nothing in :mod:`paft_ext.pools`, :mod:`paft_ext.core`, :mod:`paft_ext.llamafactory`,
:mod:`paft_ext.rl` or :mod:`paft_ext.evaluation` imports from here.
"""
