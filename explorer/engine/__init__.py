"""The scale engine: everything the views show, computed from the embeddings without ever
materialising the 2N×2N similarity matrix (pure numpy / scipy / scikit-learn; no UI imports).

- :mod:`~explorer.engine.space`: `PairSpace` (the shown pairs of one model, read in chunks from
  memory-mapped arrays; gap closing by per-pair weights) and `Shown` (+ display order);
- :mod:`~explorer.engine.tiles`: heatmap tiles at screen resolution (exact mean per pixel by bin
  means, exact max by blocked products within a cell budget, the pair diagonal);
- :mod:`~explorer.engine.numbers`: gap, loss, landscape, R@k, consistency, histograms;
- :mod:`~explorer.engine.ordering`: cluster orderings in D dimensions (exact or two-level);
- :mod:`~explorer.engine.projection`: PCA by covariance, UMAP / t-SNE on samples;
- :mod:`~explorer.engine.colour`: heatmap colour limits;
- :mod:`~explorer.engine.memo`: the process-wide, size-bounded, single-flight cache of all of it;
- :mod:`~explorer.engine.backend`: where dense products run (numpy, or torch on a GPU).
"""
