"""Model index, checksummed downloads and the cache (local addresses only)."""
import functools
import hashlib
import http.server
import threading

import pytest

from wsvision.apis import CheckpointError, init_model
from wsvision.apis.hub import download, find_entry, load_model_index

from .helpers import (save_training_checkpoint, write_model_index,
                      write_tiny_seg_config)


@pytest.fixture
def served(tmp_path):
    """(folder, base URL) of an HTTP server on 127.0.0.1 in a thread."""
    folder = tmp_path / 'served'
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs=dict(poll_interval=0.05), daemon=True)
    thread.start()
    yield folder, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / 'cache'
    monkeypatch.setenv('WSVISION_HOME', str(folder))
    return folder / 'checkpoints'


def test_http_download_is_verified_and_cached(served, cache):
    folder, url = served
    payload = b'weights' * 1000
    (folder / 'model.pth').write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    path = download(f'{url}/model.pth', digest, progress=False)
    assert path == str(cache / 'model.pth')
    assert open(path, 'rb').read() == payload
    (folder / 'model.pth').unlink()  # the second call must not download
    assert download(f'{url}/model.pth', digest, progress=False) == path


def test_sha_mismatch_deletes_the_download(served, cache):
    folder, url = served
    (folder / 'model.pth').write_bytes(b'not the published weights')
    with pytest.raises(CheckpointError,
                       match='tampered with.*expected 0{64}.*deleted'):
        download(f'{url}/model.pth', '0' * 64, progress=False)
    assert list(cache.iterdir()) == []


def test_stale_cached_file_is_downloaded_again(served, cache):
    folder, url = served
    (folder / 'model.pth').write_bytes(b'good')
    cache.mkdir(parents=True)
    (cache / 'model.pth').write_bytes(b'corrupted')
    path = download(f'{url}/model.pth', hashlib.sha256(b'good').hexdigest(),
                    progress=False)
    assert open(path, 'rb').read() == b'good'


def test_file_url_name_hash_is_checked(tmp_path, cache):
    good = tmp_path / 'model-{}.pth'.format(
        hashlib.sha256(b'abc').hexdigest()[:8])
    good.write_bytes(b'abc')
    assert open(download(good.as_uri(), progress=False), 'rb').read() == b'abc'
    bad = tmp_path / 'other-00000000.pth'
    bad.write_bytes(b'abc')
    with pytest.raises(CheckpointError, match='tampered'):
        download(bad.as_uri(), progress=False)
    assert not (cache / bad.name).exists()


def test_init_model_by_name_downloads_from_index(tmp_path, served, cache):
    folder, url = served
    config = write_tiny_seg_config(tmp_path)
    model = init_model(config, checkpoint=None)
    checkpoint = save_training_checkpoint(model, config,
                                          str(folder / 'tiny.pth'))
    digest = hashlib.sha256(open(checkpoint, 'rb').read()).hexdigest()
    index = write_model_index(tmp_path, [dict(
        Name='tiny', Config='tiny_seg.py', Weights=f'{url}/tiny.pth',
        Sha256=digest)])
    loaded = init_model('tiny', index_file=index, progress=False)
    assert (cache / 'tiny.pth').is_file()
    assert loaded.dataset_meta['classes'][0] == 'background'
    # Published in the repository: a path relative to the index.
    (tmp_path / 'checkpoints').mkdir()
    (tmp_path / 'checkpoints' / 'tiny.pth').write_bytes(
        open(checkpoint, 'rb').read())
    index = write_model_index(tmp_path, [dict(
        Name='tiny', Config='tiny_seg.py', Weights='checkpoints/tiny.pth',
        Sha256=digest)])
    assert init_model('tiny', index_file=index).dataset_meta
    (tmp_path / 'checkpoints' / 'tiny.pth').write_bytes(b'tampered')
    with pytest.raises(CheckpointError, match='tampered'):
        init_model('tiny', index_file=index)


def test_index_errors(tmp_path):
    index = write_model_index(tmp_path, [dict(Name='a', Config='a.py'),
                                         dict(Name='b', Config='b.py')])
    assert sorted(load_model_index(index)) == ['a', 'b']
    with pytest.raises(LookupError, match="no model named 'c'"):
        find_entry('c', index)
    with pytest.raises(CheckpointError, match='no published weights'):
        init_model('a', index_file=index)
    index = write_model_index(tmp_path, [dict(Name='a', Config='a.py',
                                              Weights='a.pth')])
    with pytest.raises(ValueError, match='needs a `Sha256`'):
        load_model_index(index)


def test_glob_import_finds_every_metafile_and_refuses_duplicates(tmp_path):
    for method in ('one', 'two'):
        (tmp_path / method).mkdir()
        write_model_index(tmp_path / method, [dict(Name=f'{method}_model',
                                                   Config='x.py')])
    index = tmp_path / 'model-index.yml'
    index.write_text('Import:\n  - "*/metafile.yml"\n')
    assert sorted(load_model_index(str(index))) == ['one_model', 'two_model']
    write_model_index(tmp_path / 'two', [dict(Name='one_model',
                                              Config='x.py')])
    with pytest.raises(ValueError, match="'one_model' is defined twice"):
        load_model_index(str(index))
