"""Hover lookup benchmark: the cost and size of the per-pixel hover lookup a heatmap tile carries.

For a tile of the whole similarity matrix at 400 and 1,200 pixels a side, prints the time to build
its lookup (explorer.views.hover.tile_lookup, mean of 5 runs), the time of heatmap_data with it
(the tile itself memoised) and the lookup's size as JSON next to the tile's. The lookup grows with
the pixels, not with the pairs.

    .venv/bin/python benchmarks/hover_lookup.py [--source synthetic:5000]
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    from explorer.state import ExplorerState
    from explorer.views.heatmap import heatmap_data
    from explorer.views.hover import tile_lookup

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default="synthetic:5000")
    args = ap.parse_args()
    st = ExplorerState(source=args.source)
    m = st.model_names()[0]
    n = int(st.active_indices().size)
    for w in (400, 1200):
        v = heatmap_data(st, m, width=w, height=w, size=w)
        t0 = time.perf_counter()
        for _ in range(5):
            look = tile_lookup(st, m, "similarity", v["tile"], v["display_pairs"])
        lookup = (time.perf_counter() - t0) / 5
        t1 = time.perf_counter()
        for _ in range(5):
            heatmap_data(st, m, width=w, height=w, size=w)
        whole = (time.perf_counter() - t1) / 5
        print(f"{args.source}: {w}px tile of the {2 * n:,}×{2 * n:,} matrix: lookup {lookup * 1e3:.1f} ms, heatmap_data with it "
              f"{whole * 1e3:.1f} ms (tile memoised); lookup {len(json.dumps(look)) / 1e3:.0f} kB as JSON, tile {v['tile'].values.nbytes / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
