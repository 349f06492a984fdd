"""`panel serve apps/explorer.py` — the explorer app (same page as `python -m explorer serve`).

    panel serve apps/explorer.py                                   # embedded default: shapes:1000, own models
    panel serve apps/explorer.py --args --source amumo:../shared/data/amumo/MSCOCO-Val_size-100
    panel serve apps/explorer.py --args --source store:KEY --models own:clip,own:cloob

The options after --args are those of `python -m explorer serve --help` (--source, repeatable;
--models; --sample-size; --seed; --series; --title). Callbacks run in 4 threads unless
`--num-threads N` is given to `panel serve`. Image thumbnails are served by the route
/thumb/<token>/<index>.png, mounted by the app itself (or explicitly with
`--plugins explorer.app.routes`). Run from the project root (or with the package installed) so
`explorer` is importable.
"""

import sys
from pathlib import Path

APPS = Path(__file__).resolve().parent
ROOT = APPS.parent
# Bokeh puts this script's folder first on sys.path, where `explorer` would mean this very file:
# drop it, and put the project root first (a checkout without `pip install -e .` works too).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != APPS]
sys.path.insert(0, str(ROOT))
if "explorer" in sys.modules and not hasattr(sys.modules["explorer"], "__path__"):
    del sys.modules["explorer"]

from explorer.app.options import parse_app_args  # noqa: E402
from explorer.app.server import create_page  # noqa: E402

create_page(parse_app_args(sys.argv[1:])).servable()
