"""Serve the interactive explorer (Panel) on http://localhost:PORT/.

Pages: Explore (one model's full similarity heatmap, projection with pair edges, numbers, tapped
items, selection, clusters, difference heatmap, loss landscape, histograms), Compare (2-4 models
side by side) and Augment (augmentation series of one image). The default source is the
project's embedded shapes world with its own three models; nothing is downloaded. The page loads
no resource from the internet.

Examples:
  python -m explorer serve                                   # = make serve
  python -m explorer serve --source amumo:../shared/data/amumo/MSCOCO-Val_size-100
  python -m explorer serve --source shapes:5000 --models own:clip,own:cloob --port 8080
  python -m explorer serve --source store:KEY --source amumo:DIR     # a menu of two sources
Same app without this command:  panel serve apps/explorer_app.py --args --source amumo:DIR
"""

from __future__ import annotations

import argparse

from ..app.options import add_app_arguments, options_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_app_arguments(p)
    p.add_argument("--port", type=int, default=5006, help="port (default 5006)")
    p.add_argument("--address", default=None, help="address to listen on (default: all interfaces, as Bokeh)")
    p.add_argument("--show", action="store_true", help="open the page in a browser")
    p.add_argument("--allow-websocket-origin", action="append", default=None, metavar="HOST[:PORT]",
                   help="hosts allowed to connect (default localhost:PORT and 127.0.0.1:PORT)")
    p.add_argument("--num-threads", type=int, default=8,
                   help="threads for callbacks and the views' computations, so long work in one session does not stall "
                   "others (default 8)")
    p.add_argument("--session-lifetime", type=float, default=15.0, metavar="SECONDS",
                   help="how long a closed browser session is kept before its memory is released (default 15 s, Bokeh's)")
    p.add_argument("--no-warm", dest="warm", action="store_false",
                   help="listen at once instead of first opening the source and computing its first views (a large "
                   "source's first visitor then waits for them)")


def run(args: argparse.Namespace) -> int:
    from ..app.server import serve

    options = options_from_args(args)
    # check the source specs before starting the server (a typo is a one-line error, not a broken page)
    from ..sources import normalized_spec

    for spec in options.sources + options.series:
        normalized_spec(spec)
    if args.num_threads < 1:
        from ..errors import SpecError

        raise SpecError("--num-threads must be at least 1: the views compute their data in these threads")
    serve(options, port=args.port, address=args.address, show=args.show,
          allow_websocket_origin=args.allow_websocket_origin, num_threads=args.num_threads,
          session_lifetime=args.session_lifetime, warm=args.warm)
    return 0
