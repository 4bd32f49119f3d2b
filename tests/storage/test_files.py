"""storage/files.py: content-addressed image files, written atomically."""

import hashlib
from pathlib import Path

import pytest

from storage.files import ImageFiles


def test_image_files_are_content_addressed(tmp_path: Path) -> None:
    files = ImageFiles(tmp_path)
    data = b"\x89PNG fake image bytes"
    digest = hashlib.sha256(data).hexdigest()

    assert files.put(data, "png") == (digest, f"{digest[:2]}/{digest}.png")
    assert files.put(data, "jpeg") == (digest, f"{digest[:2]}/{digest}.jpg")
    assert files.get(f"{digest[:2]}/{digest}.png") == data


def test_putting_the_same_bytes_twice_never_rewrites_the_file(tmp_path: Path) -> None:
    files = ImageFiles(tmp_path)
    _, relative = files.put(b"one", "png")
    (tmp_path / relative).write_bytes(b"marker")  # if put() wrote again, the marker would be gone

    files.put(b"one", "png")

    assert (tmp_path / relative).read_bytes() == b"marker"


def test_failed_write_leaves_neither_the_image_nor_a_temporary_file(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(source: str, target: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("storage.files.os.replace", refuse)

    with pytest.raises(OSError, match="disk full"):
        ImageFiles(tmp_path).put(b"doomed", "png")

    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []

