"""`panel serve apps/explorer_app.py` — the explorer app (same page as `python -m explorer serve`).

    panel serve apps/explorer_app.py                                   # embedded default: shapes:1000, own models
    panel serve apps/explorer_app.py --args --source amumo:../shared/data/amumo/MSCOCO-Val_size-100
    panel serve apps/explorer_app.py --args --source synthetic:1000000 --set aggregation=max

The options after --args are those of `python -m explorer serve --help` (--source, repeatable;
--models; --sample-size; --seed; --series; --set; --title). Callbacks run in 8 threads unless
`--num-threads N` is given to `panel serve`. Image thumbnails are served by the route
/thumb/<token>/<index>.png, mounted by the app itself (or explicitly with
`--plugins explorer.app.routes`). The package must be installed (`make install`).
"""

import sys

from explorer.app.options import parse_app_args
from explorer.app.server import create_page

create_page(parse_app_args(sys.argv[1:])).servable()
