"""Weights files: the checked download (against a server on 127.0.0.1) and the safe unpickler."""

from __future__ import annotations

import hashlib
import http.server
import os
import pickle
import socket
import threading

import numpy as np
import pytest

from horsehuman_gui.core import weights
from horsehuman_gui.core.errors import DownloadCancelled, WeightsUnavailable
from horsehuman_gui.core.safe_pickle import UnsafePickleError, load_arrays_pickle, sha256_of

PUBLISHED = "https://storage.example.invalid/keras-applications/net/net_no_top.h5"
PAYLOAD = np.random.default_rng(0).bytes(600_000)
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class _Server:
    """Serves ``files`` ({path: bytes}) on 127.0.0.1; ``claimed`` overrides a Content-Length."""

    def __init__(self):
        self.files, self.claimed, self.requests = {}, {}, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(server.claimed.get(self.path, len(body))))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Quiet(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that cancels closes its end: the write fails, as expected

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mirror"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server(monkeypatch):
    served = _Server()
    served.files["/mirror/net_no_top.h5"] = PAYLOAD
    monkeypatch.setenv(weights.ENV_VAR, served.url)
    monkeypatch.setattr(weights, "CHUNK_BYTES", 64 * 1024)
    yield served
    served.close()
    weights.set_base_url(None)


def _cache_contents():
    return sorted(p.name for p in weights.cache_dir().iterdir())


def test_download_reports_progress_and_caches_the_checked_file(server, monkeypatch):
    monkeypatch.setattr(weights, "PROGRESS_INTERVAL", 0.0)
    progress = []
    path = weights.fetch(PUBLISHED, MD5, "Net", on_progress=lambda *a: progress.append(a))

    assert path.read_bytes() == PAYLOAD and path.parent == weights.cache_dir()
    assert _cache_contents() == ["net_no_top.h5"]  # no temporary file left beside it
    assert progress[0] == (0, len(PAYLOAD)) and progress[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert len(progress) >= 10
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert server.requests == ["/mirror/net_no_top.h5"]
    # Cached: no second request.
    assert weights.fetch(PUBLISHED, MD5, "Net") == path and len(server.requests) == 1


def test_progress_is_throttled_but_the_first_and_last_reports_always_come(server, monkeypatch):
    monkeypatch.setattr(weights, "PROGRESS_INTERVAL", 60.0)
    progress = []
    weights.fetch(PUBLISHED, MD5, "Net", on_progress=lambda *a: progress.append(a))
    assert progress == [(0, len(PAYLOAD)), (len(PAYLOAD), len(PAYLOAD))]


def test_cancel_stops_between_chunks_and_keeps_nothing(server):
    checks = []

    def should_stop():
        checks.append(1)
        return len(checks) > 3

    with pytest.raises(DownloadCancelled):
        weights.fetch(PUBLISHED, MD5, "Net", should_stop=should_stop)
    assert len(checks) == 4 and _cache_contents() == []


def test_a_wrong_file_is_refused_and_removed(server):
    with pytest.raises(WeightsUnavailable, match="not the published file"):
        weights.fetch(PUBLISHED, hashlib.md5(b"another file").hexdigest(), "Net")
    assert _cache_contents() == []


def test_a_truncated_download_is_refused_and_removed(server):
    server.claimed["/mirror/net_no_top.h5"] = len(PAYLOAD) + 1000
    with pytest.raises(WeightsUnavailable, match="ended early"):
        weights.fetch(PUBLISHED, MD5, "Net")
    assert _cache_contents() == []


def test_sha256_hashes_are_checked_too(server):
    path = weights.fetch(PUBLISHED, hashlib.sha256(PAYLOAD).hexdigest(), "Net")
    assert path.read_bytes() == PAYLOAD
    with pytest.raises(ValueError, match="file_hash"):
        weights.fetch(PUBLISHED, "abc", "Net")


def test_offline_gives_one_plain_sentence_and_offers_squeezenet(monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(weights.ENV_VAR, f"http://127.0.0.1:{port}")
    with pytest.raises(WeightsUnavailable) as caught:
        weights.fetch(PUBLISHED, MD5, "MobileNetV3-Large")
    assert str(caught.value) == ("Could not download the MobileNetV3-Large weights (no internet "
                                 "connection?). The offline SqueezeNet model works without a "
                                 "download.")
    assert caught.value.fallback == "squeezenet" and _cache_contents() == []


def test_a_server_error_is_named(server):
    with pytest.raises(WeightsUnavailable, match="answered 404"):
        weights.fetch(PUBLISHED.replace("net_no_top", "missing"), MD5, "Net")


def test_a_damaged_cached_file_is_downloaded_again(server):
    (weights.cache_dir() / "net_no_top.h5").write_bytes(PAYLOAD[:1000])
    assert weights.fetch(PUBLISHED, MD5, "Net").read_bytes() == PAYLOAD
    assert len(server.requests) == 1


def test_the_mirror_setting_wins_over_the_environment_and_defaults_to_published(monkeypatch):
    monkeypatch.delenv(weights.ENV_VAR, raising=False)
    assert weights.source_url(PUBLISHED) == PUBLISHED
    monkeypatch.setenv(weights.ENV_VAR, "http://mirror.example/weights/")
    assert weights.source_url(PUBLISHED) == "http://mirror.example/weights/net_no_top.h5"
    weights.set_base_url("http://company.example/w")
    try:
        assert weights.source_url(PUBLISHED) == "http://company.example/w/net_no_top.h5"
    finally:
        weights.set_base_url(None)
    assert weights.base_url() == "http://mirror.example/weights/"


def test_the_cache_is_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HORSEHUMAN_DATA_DIR", str(tmp_path))
    assert weights.cache_dir() == tmp_path / "weights" and weights.cache_dir().is_dir()


# ---------------------------------------------------------------------------------------------
# The restricted unpickler


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _write(path, obj):
    data = pickle.dumps(obj, protocol=3)
    path.write_bytes(data)
    return sha256_of(data)


def test_arrays_load_after_the_checksum(tmp_path):
    arrays = {"conv": [np.ones((1, 1, 3, 2), "float32"), np.zeros(2, "float32")]}
    digest = _write(tmp_path / "w.pkl", arrays)
    loaded = load_arrays_pickle(tmp_path / "w.pkl", digest)
    np.testing.assert_array_equal(loaded["conv"][0], arrays["conv"][0])


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "ran"
    digest = _write(tmp_path / "evil.pkl", {"conv": [_RunsCode(marker)]})
    with pytest.raises(UnsafePickleError, match="posix.system|os.system|nt.system"):
        load_arrays_pickle(tmp_path / "evil.pkl", digest)
    assert not marker.exists()


def test_object_arrays_are_refused(tmp_path):
    digest = _write(tmp_path / "objects.pkl", {"x": np.array([1, "a"], dtype=object)})
    with pytest.raises(UnsafePickleError, match="objects"):
        load_arrays_pickle(tmp_path / "objects.pkl", digest)


def test_a_file_with_the_wrong_hash_is_refused_before_unpickling(tmp_path):
    marker = tmp_path / "ran"
    _write(tmp_path / "evil.pkl", _RunsCode(marker))
    with pytest.raises(UnsafePickleError, match="SHA-256"):
        load_arrays_pickle(tmp_path / "evil.pkl", "0" * 64)
    assert not marker.exists()
