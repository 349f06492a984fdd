"""The report's gap-anatomy section: the measures of explorer.analysis.anatomy computed here on
the re-normalised and the closed embeddings, and its bar chart of the largest coordinates of Δ."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hostile_export import write_export  # noqa: E402
from test_report import bokeh_columns, parse  # noqa: E402

from explorer.analysis import anatomy as A  # noqa: E402
from explorer.analysis.gap import close_gap, normalize_rows  # noqa: E402
from explorer.app import report as R  # noqa: E402
from explorer.sources import open_source  # noqa: E402
from explorer.state import ExplorerState  # noqa: E402


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    export = write_export(tmp_path_factory.mktemp("anat") / "toy", n=40)
    state = ExplorerState(open_source(f"amumo:{export}"), alpha=0.3, loss_variant="article", batch_size=20)
    return state, R.render_report(state, thumbnails=False)


def test_the_anatomy_section_shows_the_measures_before_and_after_closing(report):
    state, html = report
    text = " ".join(parse(html).text)
    assert "Gap anatomy" in text and "linear separability (held-out accuracy)" in text
    assert text.index("Closing the gap") < text.index("Gap anatomy") < text.index("Projection faithfulness")
    for model, emb in state.source_data().embeddings.items():
        x, y = normalize_rows(emb.image), normalize_rows(emb.text)
        xc, yc = close_gap(x, y, 1.0)  # the report closes the whole gap, whatever α the views show
        for value in (A.alignment(x, y), A.alignment(xc, yc), A.mean_pairwise_cosine(x), A.mean_pairwise_cosine(yc),
                      A.effective_rank(y), A.uniformity(xc)):
            assert f"{value:.4f}" in text, (model, value)
        _, shares = A.coordinate_gap_shares(x.mean(axis=0) - y.mean(axis=0))
        assert f"{shares[:10].sum():.4f}" in text, model
        assert f"{model}: Closing only the top-10 coordinates of Δ" in text


def test_the_anatomy_bar_chart_lists_the_largest_coordinates(report):
    state, html = report
    bars = [c for c in bokeh_columns(html) if {"coordinate", "share"} <= set(c)]
    assert len(bars) == len(state.model_names())
    emb = next(iter(state.source_data().embeddings.values()))
    assert all(c["coordinate"] == min(20, emb.image.shape[1]) for c in bars)
    assert "the coordinates that hold the gap" in html
