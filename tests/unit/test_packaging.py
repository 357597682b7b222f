"""Packaging files: the desktop entry is valid and resources are found from source and frozen."""

import configparser
import json
import sys
from pathlib import Path

import pytest

from app import resources

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "packaging" / "fleet-console.desktop"
# freedesktop.org Desktop Menu Specification, "Main Categories" and the additional ones we use.
REGISTERED_CATEGORIES = {
    "AudioVideo",
    "Audio",
    "Video",
    "Development",
    "Education",
    "Game",
    "Graphics",
    "Network",
    "Office",
    "Science",
    "Settings",
    "System",
    "Utility",
    "Monitor",
    "Maps",
}
REQUIRED_KEYS = {"Type", "Name", "Exec", "Icon"}


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read_string(DESKTOP.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return parser["Desktop Entry"]


def test_desktop_entry_follows_the_specification():
    entry = desktop_entry()
    assert set(entry) >= REQUIRED_KEYS
    assert entry["Type"] == "Application"
    assert entry["Version"] in {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}
    assert entry["Terminal"] in {"true", "false"}
    categories = entry["Categories"].split(";")
    assert categories[-1] == "", "the Categories list must end with a semicolon"
    assert set(categories[:-1]) <= REGISTERED_CATEGORIES
    assert entry["Keywords"].endswith(";")
    assert entry["Exec"].split()[0] == entry["TryExec"] == "fleet-console"
    field_codes = [part for part in entry["Exec"].split() if part.startswith("%")]
    assert set(field_codes) <= {"%f", "%F", "%u", "%U"}


def test_desktop_icon_is_shipped():
    icon = desktop_entry()["Icon"]
    assert (ROOT / "resources" / "icons" / f"{icon}.svg").is_file()


def test_resources_found_from_source():
    assert resources.resources_root() == ROOT / "resources"
    assert resources.resource_path("icons", "fleet-console.svg").is_file()


def test_resources_found_when_frozen(tmp_path, monkeypatch):
    (tmp_path / "resources" / "icons").mkdir(parents=True)
    (tmp_path / "resources" / "icons" / "x.svg").write_text("<svg/>")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.resource_path("icons", "x.svg") == tmp_path / "resources" / "icons" / "x.svg"
    with pytest.raises(FileNotFoundError, match="resource missing"):
        resources.resource_path("icons", "missing.svg")


def test_web_packages_found_from_source_and_frozen(tmp_path, monkeypatch):
    assert resources.web_packages_root() == ROOT / "web" / "node_modules"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.web_packages_root() == tmp_path / "web"


def test_drawing_plugin_is_pinned_and_ignored_by_git():
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())
    wanted = json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]
    installed = lock["packages"]["node_modules/@geoman-io/leaflet-geoman-free"]["version"]
    assert wanted["@geoman-io/leaflet-geoman-free"] == installed  # an exact pin
    assert "web/node_modules/" in (ROOT / ".gitignore").read_text().splitlines()


def test_spec_bundles_the_migrations_and_resources():
    spec = (ROOT / "packaging" / "fleet-console.spec").read_text()
    assert '"app" / "models" / "migrations"' in spec and '"resources"' in spec
    assert "xstatic.pkg.leaflet.BASE_DIR" in spec
    assert '"web/@geoman-io/leaflet-geoman-free/dist"' in spec
