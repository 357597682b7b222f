"""The fleet list's proxy model is also a QObject: ``parent()`` without an index is its owner."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, QObject, QStringListModel

from app.views.item_models.vehicle_filter_proxy import VehicleFilterProxy
from app.views.item_models.vehicle_table_model import VehicleTableModel

pytestmark = pytest.mark.gui


def test_parent_without_an_index_is_the_owner_and_with_one_the_flat_root(qtbot):
    owner = QObject()
    proxy = VehicleFilterProxy(owner)
    proxy.setSourceModel(VehicleTableModel(owner))

    assert proxy.parent() is owner
    assert proxy.parent(proxy.index(0, 0)) == QModelIndex()


def test_only_a_vehicle_table_model_can_be_its_source(qtbot):
    proxy = VehicleFilterProxy()

    with pytest.raises(TypeError, match="needs a VehicleTableModel"):
        proxy.setSourceModel(QStringListModel(["not a vehicle"]))
