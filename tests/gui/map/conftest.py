"""Map tests: the URL schemes must be registered before pytest-qt creates QApplication.

pytest imports every conftest while collecting, and the ``qapp`` fixture creates the
application only when the first test asks for it, so registering here at import time
comes early enough (the app does the same in main.py before QApplication()).
"""

from __future__ import annotations

import pytest

from app.views.map_scheme import register_schemes
from app.views.map_tiles import TileCache

register_schemes()


@pytest.fixture
def tile_cache(tmp_path):
    return TileCache(tmp_path / "tiles")
