"""Pure analysis of paired embeddings (numpy, scipy, scikit-learn; no UI imports).

Every number the tool shows comes from a function here. Formulas follow ../shared/FORMATS.md.
"""
