"""Config handling shared by the command-line tools."""
import difflib
import os.path as osp

from mmengine.config import Config, ConfigDict


class ConfigError(ValueError):
    """A config file or ``--cfg-options`` key is wrong."""


def _existing_keys(node):
    if isinstance(node, (dict, ConfigDict)):
        return list(node.keys())
    return []


def check_cfg_options(cfg: Config, options: dict) -> None:
    """Refuse ``--cfg-options`` keys that look like typos of existing keys.

    A key that does not exist is allowed (configs may add keys), unless it is
    a near miss of a sibling key: ``model.decode_head.num_clases`` raises
    ``ConfigError`` suggesting ``num_classes``. A path through a missing
    parent is refused too.
    """
    for dotted in options:
        node = cfg._cfg_dict
        parts = dotted.split('.')
        for depth, part in enumerate(parts):
            keys = _existing_keys(node)
            if isinstance(node, list) and part.isdigit():
                if int(part) >= len(node):
                    raise ConfigError(f'config key {dotted!r}: index {part} is '
                                      f'out of range (length {len(node)})')
                node = node[int(part)]
                continue
            if part in keys:
                node = node[part]
                continue
            here = '.'.join(parts[:depth] + [part])
            close = difflib.get_close_matches(part, keys, n=1, cutoff=0.8)
            if close:
                suggestion = '.'.join(parts[:depth] + close)
                raise ConfigError(f'unknown config key {here!r} '
                                  f'(did you mean {suggestion!r}?)')
            if depth < len(parts) - 1:
                raise ConfigError(f'unknown config key {here!r} in {dotted!r}')
            break


def load_config(path: str, cfg_options=None) -> Config:
    """Read a config, apply checked ``--cfg-options``; errors name the file or key."""
    if not osp.isfile(path):
        raise ConfigError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    return cfg


def default_work_dir(config_path: str) -> str:
    return osp.join('work_dirs', osp.splitext(osp.basename(config_path))[0])
