"""Atomic writes (dae.files): a file is either the old one or the new one, synced to disk."""

import os
import stat

import pytest

from dae.files import atomic_path, write_json


def test_atomic_write_syncs_the_file_then_its_folder(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("old")
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        st = os.fstat(fd)
        synced.append((stat.S_ISDIR(st.st_mode), st.st_ino, target.read_text()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write_json(target, {"new": 1})
    folder_inode = tmp_path.stat().st_ino
    assert [is_dir for is_dir, _, _ in synced] == [False, True]  # the data first, then the folder
    assert synced[1][1] == folder_inode and synced[1][2].startswith('{\n  "new"'), (
        "the folder is synced after the rename"
    )
    assert synced[0][2] == "old", "the file is synced before the rename"


def test_atomic_write_that_fails_leaves_the_old_file(tmp_path):
    target = tmp_path / "weights"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["weights"]
