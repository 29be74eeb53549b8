"""rlbench data download against an HTTP server on loopback: checksum, resume, safe extraction."""

import hashlib
import http.server
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest
from test_tvsum_clips import write_fixture
from typer.testing import CliRunner

from benchmark.cli import app
from benchmark.harness.download import DownloadError, download, safe_extract


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files from its directory, honouring 'Range: bytes=N-' like the real sources do."""

    def do_GET(self):
        path = Path(self.directory) / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if self.headers.get("Range", "").startswith("bytes="):
            start = int(self.headers["Range"][6:].split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            lambda *a: RangeHandler(*a, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def make_tar(path: Path, source: Path, prefix: str) -> str:
    with tarfile.open(path, "w:gz") as tar:
        tar.add(source, arcname=prefix)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_extract_and_verify_through_the_cli(tmp_path, server):
    served, base = server
    write_fixture(tmp_path / "src")
    digest = make_tar(served / "tvsum.tar.gz", tmp_path / "src", "tvsum")
    root = tmp_path / "data"
    r = CliRunner().invoke(app, ["data", "download", "tvsum-clips", "--url", f"{base}/tvsum.tar.gz",
                                 "--sha256", digest, "--data-root", str(root)])
    assert r.exit_code == 0, r.output
    assert "status: OK" in r.output and (root / "tvsum" / "tvsum_anno.json").is_file()


def test_resume_from_a_partial_file(tmp_path, server):
    served, base = server
    payload = bytes(range(256)) * 400
    (served / "blob.bin").write_bytes(payload)
    dest = tmp_path / "dl" / "blob.bin"
    dest.parent.mkdir()
    dest.with_name("blob.bin.part").write_bytes(payload[:30_000])  # an interrupted earlier attempt
    counted = []
    download(f"{base}/blob.bin", dest, hashlib.sha256(payload).hexdigest(), on_bytes=counted.append)
    assert dest.read_bytes() == payload and not dest.with_name("blob.bin.part").exists()
    assert sum(counted) == len(payload)  # the resumed part counts towards the progress bar too
    counted.clear()
    download(f"{base}/blob.bin", dest, hashlib.sha256(payload).hexdigest(), on_bytes=counted.append)
    assert counted == [len(payload)]  # already in place: nothing fetched, all counted


def test_wrong_checksum_deletes_and_names_it(tmp_path, server):
    served, base = server
    (served / "blob.bin").write_bytes(b"hello")
    with pytest.raises(DownloadError, match="does not match the expected"):
        download(f"{base}/blob.bin", tmp_path / "blob.bin", "0" * 64)
    assert not (tmp_path / "blob.bin").exists() and not (tmp_path / "blob.bin.part").exists()


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "ok/../../evil.txt"])
def test_extraction_cannot_escape(tmp_path, name):
    archive = tmp_path / "bad.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo(name)
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(DownloadError, match="outside"):
        safe_extract(archive, tmp_path / "target")
    assert not (tmp_path / "evil.txt").exists()


def test_links_are_refused(tmp_path):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("data/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(DownloadError, match="link"):
        safe_extract(archive, tmp_path / "target")


@pytest.mark.parametrize("task, hint", [("pmemo", "Google Drive links in the HuiZhangDB/PMEmo README"),
                                        ("liris-accede", "request it at liris-accede.ec-lyon.fr")])
def test_no_recorded_source_says_where_to_get_it(tmp_path, task, hint):
    r = CliRunner().invoke(app, ["data", "download", task, "--data-root", str(tmp_path)])
    assert r.exit_code == 2 and hint in r.output and "pass --url and --sha256" in r.output
    r = CliRunner().invoke(app, ["data", "download", task, "--url", "http://127.0.0.1:9/x.zip"])
    assert r.exit_code == 2 and "--url and --sha256 go together" in r.output


def _manifest(tmp_path, served: Path, base: str) -> Path:
    files = sorted(p for p in served.rglob("*") if p.is_file())
    entry = {"target": "tvsum", "origin": "loopback", "terms": "test", "not_covered": ["nothing"],
             "files": [{"path": str(p.relative_to(served)), "url": f"{base}/{p.relative_to(served)}",
                        "sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "bytes": p.stat().st_size}
                       for p in files]}
    path = tmp_path / "sources.json"
    path.write_text(json.dumps({"_about": "test", "tvsum-clips": entry}))
    return path


def test_recorded_source_fetches_every_file_checked_then_verifies(tmp_path, server, monkeypatch):
    import benchmark.harness.download as dl

    served, base = server
    write_fixture(served)
    monkeypatch.setattr(dl, "SOURCES_PATH", _manifest(tmp_path, served, base))
    root = tmp_path / "data"
    r = CliRunner().invoke(app, ["data", "download", "tvsum-clips", "--data-root", str(root)])
    assert r.exit_code == 0, r.output
    assert "status: OK" in r.output and (root / "tvsum" / "tvsum_anno.json").is_file()
    assert (root / "tvsum" / "video_features").is_dir()
    # a file changed at the source fails its checksum, is deleted, and the message names it
    victim = next((served / "audio_features").iterdir())
    victim.write_bytes(victim.read_bytes() + b"tampered")
    (root / "tvsum" / "audio_features" / victim.name).unlink()
    r = CliRunner().invoke(app, ["data", "download", "tvsum-clips", "--data-root", str(root)])
    assert r.exit_code == 2 and victim.name in r.output and "does not match" in r.output
    assert not (root / "tvsum" / "audio_features" / victim.name).exists()


def test_recorded_source_paths_cannot_escape(tmp_path):
    from benchmark.harness.download import Source, SourceFile, fetch_source

    bad = Source("x", "tvsum", "o", "t", (SourceFile("../evil.npy", "http://127.0.0.1:9/e", "0" * 64, 1),))
    with pytest.raises(DownloadError, match="outside"):
        fetch_source(bad, tmp_path)


def test_committed_sources_are_pinned_and_match_the_local_copy(shared_data):
    import re

    from benchmark.harness.download import load_sources
    from benchmark.api import file_sha256

    sources = load_sources()
    clips = sources["tvsum-clips"]
    paths = {f.path for f in clips.files}
    assert "tvsum_anno.json" in paths and len(paths) == 151  # the annotations + rgb, flow, audio of 50 videos
    for source in sources.values():
        for f in source.files:
            assert re.fullmatch(r"https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/.+", f.url), f.url
            assert re.fullmatch(r"[0-9a-f]{64}", f.sha256) and f.bytes > 0
            local = shared_data / source.target / f.path
            if local.is_file():  # the shared copy was taken from the same public blobs
                assert local.stat().st_size == f.bytes and file_sha256(local) == f.sha256, f.path


def test_zip_archives_extract_and_refuse_escapes(tmp_path):
    import zipfile

    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("tvsum/readme.txt", "hi")
        z.writestr("tvsum/empty/", "")
    assert safe_extract(good, tmp_path / "out") == [(tmp_path / "out" / "tvsum" / "readme.txt").resolve()]
    assert (tmp_path / "out" / "tvsum" / "empty").is_dir()
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("../evil.txt", "x")
    with pytest.raises(DownloadError, match="outside"):
        safe_extract(bad, tmp_path / "out2")
    assert not (tmp_path / "evil.txt").exists()
