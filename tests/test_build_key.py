"""The build key: one cache never mixes chapters run on different data, versions, devices or code."""

import json
import os
import shutil
from pathlib import Path

import pytest

from dlbook import build

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A scratch repository with dlbook's and the extension's sources, and no DLBOOK_* variables."""
    for k in [k for k in os.environ if k.startswith("DLBOOK_")]:
        monkeypatch.delenv(k)
    shutil.copytree(ROOT / "src" / "dlbook", tmp_path / "src" / "dlbook", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "book" / "_ext", tmp_path / "book" / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_key_changes_with_each_input(repo, monkeypatch):
    base = build.build_key(repo)
    assert build.build_key(repo) == base  # stable
    monkeypatch.setenv("DLBOOK_DATASET", "digits")
    assert build.build_inputs(repo)["data"] == "digits"
    digits = build.build_key(repo)
    assert digits != base
    monkeypatch.setenv("DLBOOK_DEVICE", "cpu")
    assert build.build_key(repo) != digits  # any DLBOOK_* variable
    monkeypatch.delenv("DLBOOK_DEVICE")
    (repo / "src" / "dlbook" / "losses.py").write_text("# changed\n", encoding="utf-8")
    assert build.build_key(repo) != digits
    (repo / "book" / "_ext" / "dlbook_html.py").write_text("# changed\n", encoding="utf-8")
    assert build.build_inputs(repo)["sources"] != build.build_inputs(ROOT)["sources"]
    monkeypatch.setattr("torch.__version__", "0.0.0-other")
    assert build.build_inputs(repo)["torch"] == "0.0.0-other"


def test_the_data_files_are_keyed_by_content_not_by_where_they_lie(repo, tmp_path, monkeypatch):
    """Debian's gzipped files and a decompressed copy of them in the data directory give one key."""
    import gzip

    from dlbook import data

    package = tmp_path / "pkg"
    package.mkdir()
    root = tmp_path / "data"
    for pair in data.MNIST_FILES.values():
        for i, name in enumerate(pair):
            content = bytes([0, 0, 8, 3 - 2 * i]) + b"\x00\x00\x00\x01" * (3 - 2 * i) + b"\x07"
            (package / f"{name}.gz").write_bytes(gzip.compress(content))
    monkeypatch.setenv("DLBOOK_SYSTEM_DATA", str(package))
    monkeypatch.setenv("DLBOOK_DATA", str(root))
    from_package = build.build_inputs(repo)
    assert from_package["data"] == "fashion-mnist" and from_package["data files"] != "none"
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for pair in data.MNIST_FILES.values():
        for name in pair:
            (raw / name).write_bytes(gzip.decompress((package / f"{name}.gz").read_bytes()))
    assert build.build_inputs(repo)["data files"] == from_package["data files"]
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x01\x09")  # other content
    assert build.build_inputs(repo)["data files"] != from_package["data files"]


def test_prepare_build_keeps_a_matching_cache_and_drops_a_stale_one(repo):
    cache, built = repo / ".jupyter_cache", repo / "_build"
    key, message = build.prepare_build(repo)
    assert message.startswith("first build")
    # the key is recorded at once: a build that then fails (a warning) keeps its executed chapters
    assert json.loads((repo / build.BUILD_KEY_FILE).read_text())["key"] == key
    built.mkdir()
    (cache / "executed").mkdir()  # a chapter executed with these inputs
    assert build.prepare_build(repo) == (key, "same data, versions, device and dlbook source as the cached chapters: reusing them")
    assert (cache / "executed").is_dir() and built.is_dir()
    (repo / "src" / "dlbook" / "optim.py").write_text("# changed\n", encoding="utf-8")
    new_key, message = build.prepare_build(repo)
    assert new_key != key and message.startswith("sources changed")
    assert not (cache / "executed").exists() and not built.exists()  # dropped; only the new key is recorded
    assert json.loads((repo / build.BUILD_KEY_FILE).read_text())["key"] == new_key
    assert build.recorded_build_key(repo) == new_key  # what make pdf and the browser tests read
    (repo / build.BUILD_KEY_FILE).write_text("not json")
    assert build.recorded_build_key(repo) is None


def test_a_source_in_a_subpackage_changes_the_key(repo):
    """dlbook's sources include its packages' files (src/dlbook/data/*.py), not only the top level."""
    base = build.build_inputs(repo)["sources"]
    sub = repo / "src" / "dlbook" / "newpackage"
    sub.mkdir()
    (sub / "module.py").write_text("x = 1\n", encoding="utf-8")
    assert build.build_inputs(repo)["sources"] != base


def test_the_parallel_executor_spawns_its_pool_workers_and_restores_the_start_method():
    """jupyter-cache's Pool() forks by default on Linux; a forked worker can inherit a held lock and hang."""
    import multiprocessing

    before = multiprocessing.get_start_method(allow_none=True)
    with build._spawned_pool_workers():
        assert multiprocessing.get_start_method() == "spawn"  # what multiprocessing.Pool() now uses
    assert multiprocessing.get_start_method(allow_none=True) == before
