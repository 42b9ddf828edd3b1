"""The one dispatcher of the data layer: a layout is a finder and a reader, added with one registration.

A layout written here (one ``<task>.tsv`` of text-only items) plugs in through `sources.register` and is found
by `load_task` in a local folder and in a Hub snapshot (whose download asks for the layout's files), in its place
among the built-in layouts.
"""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest
from fake_release import COMMIT, fake_snapshot

from s2sbench_hf.data import hub_snapshot, sources
from s2sbench_hf.data.hub_folder import write_dataset_folder
from s2sbench_hf.data.loaded import DataSourceError, Layout, LoadedTask, Source, check_limit
from s2sbench_hf.tasks import Item, ItemError, get_task


def find_tsv(folder: Path, task_id: str) -> Path | None:
    path = folder / f"{task_id}.tsv"
    return path if path.is_file() else None


def read_tsv(task_id: str, path: Path, source: Source, limit: int | None) -> LoadedTask:
    """``context<TAB>choice<TAB>choice<TAB>label`` per line; the items are made and checked here."""
    task, items, errors = get_task(task_id), [], []
    check_limit(limit)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()[:limit]):
        context, *choices, label = line.split("\t")
        try:
            items.append(Item(task_id, f"t{number}", context, choices, int(label)).validate(task))
        except ItemError as err:
            errors.append(err)
    info = {"source": source.label, "revision": source.revision, "format": "tsv"}
    return LoadedTask(task=task, items=items, errors=errors, info=info)


TSV = Layout(name="tsv", find=find_tsv, read=read_tsv, patterns=lambda task_id: [f"{task_id}.tsv"])


@pytest.fixture
def layouts(monkeypatch):
    """`sources.LAYOUTS` as registered, restored after the test."""
    monkeypatch.setattr(sources, "LAYOUTS", list(sources.LAYOUTS))
    return sources.LAYOUTS


def write_tsv(folder: Path, task_id: str = "sstorycloze") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        "Tom baked bread.\tIt smelled good.\tIt flew away.\t0",
        "Ann lost her key.\tShe found it.\tShe found it.\t0",  # identical endings: an item error
    ]
    (folder / f"{task_id}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_a_layout_plugs_in_with_one_registration(layouts, tmp_path):
    folder = write_tsv(tmp_path / "tsv")
    with pytest.raises(DataSourceError, match=" is not a dataset folder"):  # no layout of the package reads it
        sources.load_task("sstorycloze", str(folder))

    built_in = [layout.name for layout in layouts]
    sources.register(TSV)
    assert [layout.name for layout in layouts] == [*built_in, "tsv"]
    loaded = sources.load_task("sstorycloze", str(folder))
    assert loaded.info == {"source": str(folder), "revision": None, "format": "tsv"}
    assert [item.choices for item in loaded.items] == [["It smelled good.", "It flew away."]]
    assert [err.item_id for err in loaded.errors] == ["t1"]  # its checks run where its items are made
    assert len(sources.load_task("sstorycloze", str(folder), limit=1).errors) == 0
    with pytest.raises(DataSourceError, match="limit must be an integer >= 1"):
        sources.load_task("sstorycloze", str(folder), limit=0)

    with pytest.raises(ValueError, match="'tsv' is registered already"):
        sources.register(TSV)
    with pytest.raises(ValueError, match="no layout named 'nope'"):
        sources.register(Layout(name="other", find=find_tsv, read=read_tsv), before="nope")


def test_a_registered_layout_takes_its_place_in_the_order(layouts, tmp_path):
    folder = write_dataset_folder(tmp_path / "both", {"sstorycloze": []}, {"source": "x"})  # an empty config
    write_tsv(folder)
    sources.register(TSV)
    with pytest.raises(DataSourceError, match="has no rows"):  # the dataset layout comes first: its reader reads
        sources.load_task("sstorycloze", str(folder))
    layouts.remove(TSV)
    sources.register(TSV, before="dataset")
    assert [layout.name for layout in layouts][:3] == ["release", "tsv", "dataset"]
    assert sources.load_task("sstorycloze", str(folder)).info["format"] == "tsv"


def test_a_hub_source_downloads_the_files_a_registered_layout_looks_at(layouts, tmp_path, monkeypatch):
    cache = tmp_path / "hf-hub"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    write_tsv(fake_snapshot(cache, "org/tsv-set"))
    asked: list[list[str]] = []
    download = hub_snapshot.snapshot_download

    def recording(repo_id, **kwargs):
        asked.append(kwargs["allow_patterns"])
        return download(repo_id, **kwargs)

    monkeypatch.setattr(hub_snapshot, "snapshot_download", recording)
    sources.register(TSV)
    loaded = sources.load_task("sstorycloze", "org/tsv-set")
    assert loaded.info == {"source": "org/tsv-set", "revision": COMMIT, "format": "tsv"}
    assert len(asked) == 1 and "sstorycloze.tsv" in asked[0] and "README.md" in asked[0]
