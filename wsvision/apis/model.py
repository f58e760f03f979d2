"""Build a model from a config or a zoo name and load checked weights.

Checkpoints are only ever read with ``torch.load(weights_only=True)``: a
pickle that names anything outside tensors, containers and the allow-list
of ``wsvision.utils.checkpoint`` (e.g. ``os.system`` through ``__reduce__``)
is refused before it runs.
"""
import os.path as osp
import pickle
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from ..registry import MODELS
from .hub import (CheckpointError, default_index, entry_for_config,
                  find_entry, resolve_checkpoint)

#: How many mismatched keys an error message lists per kind.
MAX_LISTED = 8


def _unpickler_reason(error: Exception) -> str:
    """The line of torch's weights-only error that names the refused
    global (the rest of its text suggests turning the check off)."""
    for line in str(error).splitlines():
        if 'GLOBAL' in line or 'Unsupported' in line:
            return line.strip().rstrip('.')
    return 'the weights-only unpickler refused it'


def load_checkpoint_file(path: str) -> dict:
    """Read a checkpoint with the weights-only unpickler; return a dict with
    ``state_dict`` and ``meta`` (empty for a bare state dict)."""
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f'refused to load {path}: {_unpickler_reason(e)}; a checkpoint '
            'may hold only tensors, plain containers and the types that '
            'wsvision.utils.checkpoint allows, since a pickle that names a '
            'function or class can execute code') from e
    except (RuntimeError, EOFError, OSError) as e:
        raise CheckpointError(f'cannot read checkpoint {path}: {e}') from e
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{path}: expected a dict, got '
                              f'{type(checkpoint).__name__}')
    if 'state_dict' in checkpoint:
        return dict(state_dict=checkpoint['state_dict'],
                    meta=checkpoint.get('meta') or {})
    if all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return dict(state_dict=checkpoint, meta={})
    raise CheckpointError(f'{path}: no `state_dict` key (found '
                          f'{sorted(checkpoint)[:MAX_LISTED]})')


def checkpoint_classes(meta: dict) -> Optional[List[str]]:
    classes = (meta.get('dataset_meta') or {}).get('classes')
    return list(classes) if classes is not None else None


def _listed(items: Sequence[str]) -> str:
    more = f', ... ({len(items) - MAX_LISTED} more)' if len(
        items) > MAX_LISTED else ''
    return ', '.join(items[:MAX_LISTED]) + more


def omittable_prefixes(model) -> tuple:
    """The state prefixes an inference checkpoint of ``model`` (a model or
    a model class) may omit."""
    method = getattr(model, 'omittable_state_prefixes', None)
    return tuple(method()) if method is not None else ()


def check_state_dict(model: nn.Module, state_dict: Dict[str, torch.Tensor],
                     source: str) -> None:
    """Refuse weights that do not fit the model, naming the keys: missing,
    unexpected and shape-mismatched ones (e.g. a classifier for another
    number of classes). State that an inference file may omit
    (``TaskModel.omittable_state_prefixes``) may be absent."""
    expected = model.state_dict()
    state_dict = model.checkpoint_view(state_dict) if hasattr(
        model, 'checkpoint_view') else state_dict
    optional = omittable_prefixes(model)
    missing = [k for k in expected
               if k not in state_dict and not k.startswith(optional)]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [f'{k} (checkpoint {tuple(state_dict[k].shape)}, model '
              f'{tuple(v.shape)})' for k, v in expected.items()
              if k in state_dict and state_dict[k].shape != v.shape]
    problems = []
    if shapes:
        problems.append(f'shape mismatch: {_listed(shapes)}')
    if missing:
        problems.append(f'missing keys: {_listed(missing)}')
    if unexpected:
        problems.append(f'unexpected keys: {_listed(unexpected)}')
    if problems:
        raise CheckpointError(f'{source} does not match the model '
                              'architecture; ' + '; '.join(problems))


def check_classes(ckpt_classes: Optional[Sequence[str]],
                  expected: Optional[Sequence[str]], source: str) -> None:
    """Refuse a checkpoint trained on other classes, naming the first
    differing class ids."""
    if ckpt_classes is None or expected is None:
        return
    ckpt_classes, expected = list(ckpt_classes), list(expected)
    if ckpt_classes == expected:
        return
    diffs = [f'{i}: checkpoint {a!r} vs expected {b!r}'
             for i, (a, b) in enumerate(zip(ckpt_classes, expected)) if a != b]
    if len(ckpt_classes) != len(expected):
        diffs.insert(0, f'checkpoint has {len(ckpt_classes)} classes, '
                     f'expected {len(expected)}')
    raise CheckpointError(f'{source} was trained on other classes: '
                          f'{_listed(diffs)}')


def config_classes(cfg: Config) -> Optional[List[str]]:
    """Class names a config states explicitly for its test data, if any."""
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    classes = dataset.get('classes') or (dataset.get('metainfo') or {}).get(
        'classes')
    return list(classes) if classes is not None else None


def build_model_from_cfg(cfg: Config) -> nn.Module:
    """The model of ``cfg``, built in the ``wsvision`` scope after the
    config's ``custom_imports``."""
    init_default_scope(cfg.get('default_scope', 'wsvision'))
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    model = MODELS.build(cfg.model)
    model.cfg = cfg
    return model


def _resolve(config_or_name: Union[str, Config], checkpoint,
             index_file: Optional[str]):
    """(config, checkpoint location or None, expected sha256 or None)."""
    index_file = index_file or default_index()
    if isinstance(config_or_name, Config):
        if checkpoint == 'auto':
            raise ValueError("checkpoint='auto' needs a config file or a "
                             'model name, not a Config object')
        return config_or_name, checkpoint, None
    if config_or_name.endswith('.py') or osp.isfile(config_or_name):
        if not osp.isfile(config_or_name):
            raise FileNotFoundError(f'config file not found: {config_or_name}')
        config = config_or_name
        if checkpoint != 'auto':
            return Config.fromfile(config), checkpoint, None
        entry = entry_for_config(config, index_file)
        if entry is None:
            raise CheckpointError(f'{config} has no entry in {index_file}, '
                                  "so checkpoint='auto' finds no weights")
    else:
        entry = find_entry(config_or_name, index_file)
        config = entry.config
        if checkpoint != 'auto':
            return Config.fromfile(config), checkpoint, None
    if not entry.weights:
        raise CheckpointError(
            f'model {entry.name!r} ({entry.metafile}) has no published '
            'weights yet; publish them with tools/model_zoo/publish_model.py')
    return Config.fromfile(config), entry.weights, entry.sha256


def init_model(config_or_name: Union[str, Config], checkpoint='auto',
               device: str = 'cpu', classes: Optional[Sequence[str]] = None,
               cfg_options: Optional[dict] = None,
               index_file: Optional[str] = None,
               progress: bool = True) -> nn.Module:
    """Build a model in eval mode, with checked weights.

    Args:
        config_or_name: a config file, a ``Config``, or a model name from
            the model index.
        checkpoint: ``'auto'`` (the zoo weights of the name or config,
            sha256-verified), a path, a URL (downloaded into the cache; a
            ``-<sha8>.pth`` name is verified), or ``None`` (random weights).
        classes: class names the checkpoint must have been trained on
            (default: those the config states, if any).
        cfg_options: config overrides, as for ``--cfg-options``.
        index_file: the model index (default: ``$WSVISION_MODEL_INDEX`` or
            the repository's ``model-index.yml``).

    The model gets ``cfg`` and ``dataset_meta`` (the checkpoint's classes).
    A checkpoint whose classes or tensors do not fit raises
    ``CheckpointError`` naming the keys.
    """
    cfg, location, sha256 = _resolve(config_or_name, checkpoint, index_file)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = build_model_from_cfg(cfg)
    model.dataset_meta = {}
    if location is not None:
        path = resolve_checkpoint(location, sha256, progress=progress)
        loaded = load_checkpoint_file(path)
        ckpt_classes = checkpoint_classes(loaded['meta'])
        check_classes(ckpt_classes, classes or config_classes(cfg),
                      f'checkpoint {path}')
        check_state_dict(model, loaded['state_dict'], f'checkpoint {path}')
        model.load_state_dict(loaded['state_dict'],
                              strict=not omittable_prefixes(model))
        model.dataset_meta = dict(loaded['meta'].get('dataset_meta') or {})
    elif classes is not None:
        model.dataset_meta = dict(classes=list(classes))
    return model.to(device).eval()
