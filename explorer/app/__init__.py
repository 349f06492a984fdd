"""The Panel application: the `Explorer` viewer (Jupyter and `panel serve`), its pages, the
thumbnail HTTP endpoint, offline page resources, and the static HTML report renderer.

Only this package (and :mod:`explorer.views`) imports Panel/Bokeh; the analysis stays UI-free.
"""
