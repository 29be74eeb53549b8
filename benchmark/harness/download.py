"""Fetching datasets: resumable HTTP download, sha256 check, extraction that cannot escape, and the
recorded public sources (``data/sources.json``: per task, files at pinned URLs with their checksums).

Nothing here runs at test or run time on its own: only ``rlbench data download`` calls it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator

from benchmark.api import file_sha256

SOURCES_PATH = Path(__file__).parents[1] / "data" / "sources.json"


class DownloadError(RuntimeError):
    pass


@dataclass(frozen=True)
class SourceFile:
    path: str  # where it goes, relative to the task's folder in the data root
    url: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Source:
    task: str
    target: str  # folder under the data root
    origin: str
    terms: str
    files: tuple[SourceFile, ...]
    not_covered: tuple[str, ...] = ()  # what the task also needs that has no source with a checksum


def load_sources(path: Path | None = None) -> dict[str, Source]:
    raw: dict[str, Any] = json.loads((path or SOURCES_PATH).read_text())
    return {
        task: Source(task, entry["target"], entry["origin"], entry["terms"],
                     tuple(SourceFile(**f) for f in entry["files"]), tuple(entry.get("not_covered", ())))
        for task, entry in raw.items() if not task.startswith("_")
    }


def fetch_source(source: Source, root: Path, on_bytes: Callable[[int], None] | None = None) -> list[Path]:
    """Every file of a recorded source into ``root / source.target``, each checked against its sha256
    (files already there with the right checksum are kept, so an interrupted fetch resumes)."""
    target = root / source.target
    destinations = [_check_member(f.path, target) for f in source.files]  # all checked before any fetch
    return [download(f.url, dest, f.sha256, on_bytes) for f, dest in zip(source.files, destinations)]


def download(url: str, dest: Path, sha256: str, on_bytes: Callable[[int], None] | None = None,
             timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` unless a file with the right checksum is there. An interrupted
    download resumes from its ``.part`` file (HTTP Range); a wrong checksum deletes it and raises."""
    sha256 = sha256.lower()
    if dest.is_file() and file_sha256(dest) == sha256:
        if on_bytes:  # already in place: it counts as done
            on_bytes(dest.stat().st_size)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = offset and response.status == 206
            if resumed and on_bytes:
                on_bytes(offset)
            with open(part, "ab" if resumed else "wb") as f:
                while chunk := response.read(1 << 16):
                    f.write(chunk)
                    if on_bytes:
                        on_bytes(len(chunk))
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"{url}: download failed ({exc}); run the command again to resume") from exc
    actual = file_sha256(part)
    if actual != sha256:
        part.unlink()
        raise DownloadError(f"{url}: sha256 {actual} does not match the expected {sha256}; the file was deleted")
    part.replace(dest)
    return dest


def _check_member(name: str, target: Path) -> Path:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise DownloadError(f"archive member {name!r} would be written outside {target}; refusing to extract")
    out = (target / Path(*path.parts)).resolve()
    if target.resolve() not in (out, *out.parents):
        raise DownloadError(f"archive member {name!r} would be written outside {target}; refusing to extract")
    return out


@contextlib.contextmanager
def _members(archive: Path) -> Iterator[list[tuple[str, bool, Callable]]]:
    """(name, is_dir, open) for every member of a zip or tar archive; links and special files refused."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            yield [(m.filename, m.is_dir(), lambda m=m: z.open(m)) for m in z.infolist()]
        return
    try:
        tar = tarfile.open(archive)
    except tarfile.TarError as exc:
        raise DownloadError(f"{archive}: neither a zip nor a tar archive ({exc})") from exc
    with tar:
        for m in tar.getmembers():
            if m.issym() or m.islnk() or not (m.isfile() or m.isdir()):
                raise DownloadError(f"archive member {m.name!r} is a link or special file; refusing to extract")
        yield [(m.name, m.isdir(), lambda m=m: tar.extractfile(m)) for m in tar.getmembers()]


def safe_extract(archive: Path, target: Path) -> list[Path]:
    """Extract a .zip or .tar(.gz) into ``target``; any member that would land outside it (absolute
    path, "..", or a link) stops the extraction before anything is written."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with _members(archive) as members:
        destinations = [_check_member(name, target) for name, _, _ in members]  # all checked before any write
        for (_, is_dir, open_member), out in zip(members, destinations):
            if is_dir:
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with open_member() as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
            written.append(out)
    return written
