"""The package builds without setuptools warnings and with every file it needs: each folder under
controller/ holding files (templates and schemas too, which have no __init__.py) is a package of
the configuration, and every data file is matched by package_data."""

import fnmatch
from pathlib import Path

from setuptools.config.setupcfg import read_configuration

ROOT = Path(__file__).resolve().parent.parent


def tracked_folders() -> set[str]:
    return {".".join(p.relative_to(ROOT).parts) for p in (ROOT / "controller").rglob("*")
            if p.is_dir() and "__pycache__" not in p.parts and any(f.is_file() for f in p.iterdir())}


def test_every_folder_of_the_package_is_in_the_packages_configuration() -> None:
    options = read_configuration(str(ROOT / "setup.cfg"))["options"]
    packages = set(options["packages"])
    assert tracked_folders() - packages == set()
    assert not any("__pycache__" in p for p in packages)


def test_every_data_file_is_in_package_data() -> None:
    patterns = read_configuration(str(ROOT / "setup.cfg"))["options"]["package_data"]["controller"]
    data = [p.relative_to(ROOT / "controller").as_posix() for p in (ROOT / "controller").rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert data and [f for f in data if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)] == []
