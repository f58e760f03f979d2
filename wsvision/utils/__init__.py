from .checkpoint import (register_checkpoint_safe_globals,
                         use_atomic_local_writes)
from .config import ConfigError, load_config

__all__ = ['register_checkpoint_safe_globals', 'use_atomic_local_writes',
           'ConfigError', 'load_config']
