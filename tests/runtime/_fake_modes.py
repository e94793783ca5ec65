"""The fake framework modes the runtime suite runs under (shared by its conftest and tests)."""

from __future__ import annotations

#: The fake framework's unsettled behaviours (anekit.testing docstring): every binding rule and every surface
#: rule, each pair once, with and without modelAttributes to bind by. The ANE backend must get the right numbers
#: under all of them.
FAKE_MODES = {
    "decl-exact": {"binding": "declaration", "surfaces": "exact"},
    "alpha-exact-noattrs": {"binding": "alphabetical", "surfaces": "exact", "model_attributes": False},
    "decl-uniform49k-noattrs": {
        "binding": "declaration",
        "surfaces": "uniform",
        "min_surface_bytes": 49152,
        "model_attributes": False,
    },
    "alpha-uniform49k": {"binding": "alphabetical", "surfaces": "uniform", "min_surface_bytes": 49152},
}

#: The fake mode for tests whose subject is not I/O binding or surface layout (the content cache, checkpoints):
#: alphabetical binding and uniform >= 49,152-byte surfaces, the mode furthest from the fake's own defaults.
REPRESENTATIVE_MODE = "alpha-uniform49k"
