"""The explorer's state: settings in small parts, composed by :class:`ExplorerState`.

- :mod:`explorer.state.parts`: DataSelection, ModelChoice, GapSettings, OrderSettings,
  ProjectionSettings, Appearance, TextProbe, Interaction (param only);
- :mod:`explorer.state.explorer_state`: ExplorerState, the parts of one explorer and the data
  derived from them (through :mod:`explorer.engine`, shared by all states of a process);
- :mod:`explorer.state.augment`: AugmentState, an augmentation series.

No view is imported here; views depend on the state, never the other way round.
"""

from .augment import AugmentState
from .explorer_state import DEFAULT_DATASET_MODELS, ExplorerState, all_settings, part_of
from .parts import (
                    DEFAULT_SOURCE,
                    PARTS,
                    POINT_COLORS,
                    PROBE_COLOR,
                    PROJECTION_MODES,
                    PROJECTIONS,
                    Appearance,
                    DataSelection,
                    GapSettings,
                    Interaction,
                    ModelChoice,
                    OrderSettings,
                    ProjectionSettings,
                    TextProbe,
)

__all__ = [
    "AugmentState", "DEFAULT_DATASET_MODELS", "DEFAULT_SOURCE", "ExplorerState", "PARTS", "POINT_COLORS", "PROBE_COLOR", "PROJECTIONS",
    "PROJECTION_MODES", "Appearance", "DataSelection", "GapSettings", "Interaction", "ModelChoice", "OrderSettings",
    "ProjectionSettings", "TextProbe", "all_settings", "part_of",
]
