"""rlbench data download against an HTTP server on loopback: checksum, resume, safe extraction."""

import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest
from test_tvsum_clips import write_fixture
from typer.testing import CliRunner

from benchmark.cli import app
from benchmark.download import DownloadError, download, safe_extract


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
    download(f"{base}/blob.bin", dest, hashlib.sha256(payload).hexdigest())
    assert dest.read_bytes() == payload and not dest.with_name("blob.bin.part").exists()


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


def test_no_recorded_source_says_what_to_pass(tmp_path):
    r = CliRunner().invoke(app, ["data", "download", "tvsum", "--data-root", str(tmp_path)])
    assert r.exit_code == 2 and "pass --url and --sha256" in r.output


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
