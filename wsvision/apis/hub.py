"""The model zoo: the model index, checksummed downloads and the cache.

``model-index.yml`` (repository root) lists metafiles in the OpenMMLab
model-index style; its ``Import`` entries may be glob patterns, so the
metafile of a new method (``configs/<method>/metafile.yml``) is found without
touching the index or the code. Each metafile's ``Models`` entry has
``Name``, ``Config`` (repository-relative), ``Weights`` (a ``http(s)://`` or
``file://`` URL, or a repository-relative path), ``Sha256``, ``Results``
(``Metrics``) and ``Metadata`` (``Training Data``).

Downloads go to ``$WSVISION_HOME/checkpoints`` (default
``~/.cache/wsvision``) through a ``.part`` file, and become visible under
their final name only once their sha256 matches; a mismatch deletes the file.
"""
import glob
import hashlib
import os
import os.path as osp
import re
import shutil
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import yaml
from tqdm import tqdm

#: The repository root: where ``model-index.yml`` and ``configs/`` live.
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: ``$WSVISION_MODEL_INDEX`` points at another index (e.g. a private zoo).
INDEX_ENV = 'WSVISION_MODEL_INDEX'
#: A published file is named ``<name>-<first 8 hex digits of its sha256>.pth``.
HASH_IN_NAME = re.compile(r'-([0-9a-f]{8})\.pth$')


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, tampered with or does not fit."""


@dataclass
class ZooEntry:
    """One ``Models`` entry of a metafile; paths are absolute."""
    name: str
    config: str
    weights: Optional[str]
    sha256: Optional[str]
    metrics: Dict[str, float] = field(default_factory=dict)
    training_data: Optional[str] = None
    metafile: str = ''


def cache_dir() -> str:
    """``$WSVISION_HOME`` or ``~/.cache/wsvision``."""
    return os.environ.get('WSVISION_HOME') or osp.join(
        osp.expanduser('~'), '.cache', 'wsvision')


def default_index() -> str:
    return os.environ.get(INDEX_ENV) or osp.join(REPO_ROOT, 'model-index.yml')


def is_url(text: str) -> bool:
    return urllib.parse.urlparse(text).scheme in ('http', 'https', 'file')


def _read_yaml(path: str):
    if not osp.isfile(path):
        raise FileNotFoundError(f'metafile not found: {path}')
    with open(path) as f:
        return yaml.safe_load(f) or {}


def _entry(model: dict, metafile: str, root: str) -> ZooEntry:
    where = f'{metafile}: model {model.get("Name", "?")!r}'
    for key in ('Name', 'Config'):
        if key not in model:
            raise ValueError(f'{where}: missing key {key!r}')
    weights = model.get('Weights')
    if weights and not is_url(weights):
        weights = osp.join(root, weights)
    if weights and not model.get('Sha256'):
        raise ValueError(f'{where}: `Weights` needs a `Sha256`')
    metrics = {}
    for result in model.get('Results') or []:
        metrics.update(result.get('Metrics') or {})
    return ZooEntry(
        name=model['Name'], config=osp.join(root, model['Config']),
        weights=weights, sha256=model.get('Sha256'), metrics=metrics,
        training_data=(model.get('Metadata') or {}).get('Training Data'),
        metafile=metafile)


def load_model_index(index_file: Optional[str] = None) -> Dict[str, ZooEntry]:
    """{model name: entry} over every metafile that ``index_file`` (default:
    ``default_index()``) imports."""
    index_file = index_file or default_index()
    if not osp.isfile(index_file):
        raise FileNotFoundError(
            f'model index not found: {index_file}; model names need a '
            f'repository checkout (pip install -e .) or ${INDEX_ENV}')
    root = osp.dirname(osp.abspath(index_file))
    entries: Dict[str, ZooEntry] = {}
    for pattern in _read_yaml(index_file).get('Import') or []:
        metafiles = sorted(glob.glob(osp.join(root, pattern)))
        if not metafiles and not glob.has_magic(pattern):
            raise FileNotFoundError(f'{index_file}: imported metafile not '
                                    f'found: {pattern}')
        for metafile in metafiles:
            for model in _read_yaml(metafile).get('Models') or []:
                entry = _entry(model, metafile, root)
                if entry.name in entries:
                    raise ValueError(
                        f'model name {entry.name!r} is defined twice: in '
                        f'{entries[entry.name].metafile} and {metafile}')
                entries[entry.name] = entry
    return entries


def find_entry(name: str, index_file: Optional[str] = None) -> ZooEntry:
    index_file = index_file or default_index()
    entries = load_model_index(index_file)
    if name not in entries:
        import difflib
        close = difflib.get_close_matches(name, list(entries), n=3)
        hint = f' (did you mean {", ".join(close)}?)' if close else ''
        raise LookupError(f'no model named {name!r} in {index_file}{hint}')
    return entries[name]


def entry_for_config(config: str,
                     index_file: Optional[str] = None) -> Optional[ZooEntry]:
    """The zoo entry whose ``Config`` is ``config`` (first one), if any."""
    config = osp.realpath(config)
    for entry in load_model_index(index_file).values():
        if osp.realpath(entry.config) == config:
            return entry
    return None


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str, expected: Optional[str],
                  delete_on_mismatch: bool = False) -> None:
    """Check ``path`` against the full ``expected`` hex digest, or, without
    one, against the 8-digit prefix in a published file's name."""
    if expected is None:
        match = HASH_IN_NAME.search(osp.basename(path))
        if match is None:
            return
        expected = match.group(1)
    actual = sha256_of(path)
    if actual.startswith(expected.lower()):
        return
    if delete_on_mismatch:
        os.remove(path)
    raise CheckpointError(
        f'checkpoint {path} is corrupt or has been tampered with: its sha256 '
        f'is {actual}, expected {expected}'
        + (' (the file was deleted)' if delete_on_mismatch else ''))


def download(url: str, sha256: Optional[str] = None,
             dst_dir: Optional[str] = None, progress: bool = True) -> str:
    """Download ``url`` into the cache (once) and return the local path.

    A cached file whose sha256 does not match is downloaded again; a
    download whose sha256 does not match is deleted and raises
    ``CheckpointError``.
    """
    dst_dir = dst_dir or osp.join(cache_dir(), 'checkpoints')
    name = osp.basename(urllib.parse.urlparse(url).path)
    if not name:
        raise ValueError(f'URL has no file name: {url}')
    dst = osp.join(dst_dir, name)
    if sha256 is None:  # a published name carries the first 8 hex digits
        match = HASH_IN_NAME.search(name)
        sha256 = match.group(1) if match else None
    if osp.isfile(dst):
        try:
            verify_sha256(dst, sha256)
            return dst
        except CheckpointError:
            os.remove(dst)
    os.makedirs(dst_dir, exist_ok=True)
    part = dst + '.part'
    try:
        with urllib.request.urlopen(url) as response, open(part, 'wb') as out:
            total = response.headers.get('Content-Length')
            with tqdm(total=int(total) if total else None, unit='B',
                      unit_scale=True, unit_divisor=1024, desc=name,
                      disable=not progress) as bar:
                for chunk in iter(lambda: response.read(1 << 16), b''):
                    out.write(chunk)
                    bar.update(len(chunk))
        verify_sha256(part, sha256, delete_on_mismatch=True)
    except BaseException:
        if osp.exists(part):
            os.remove(part)
        raise
    shutil.move(part, dst)
    return dst


def resolve_checkpoint(location: str, sha256: Optional[str] = None,
                       progress: bool = True) -> str:
    """A local, verified checkpoint path from a path or URL."""
    if is_url(location):
        return download(location, sha256, progress=progress)
    if not osp.isfile(location):
        raise CheckpointError(f'checkpoint not found: {location}')
    verify_sha256(location, sha256)
    return location


def list_models(index_file: Optional[str] = None) -> List[str]:
    return sorted(load_model_index(index_file))
