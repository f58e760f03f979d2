"""Model zoo and inference: ``init_model`` by config or zoo name, the
``inference_*`` functions and ``show_result``."""
from .hub import CheckpointError, cache_dir, list_models, load_model_index
from .inference import (inference_detector, inference_grounding,
                        inference_person_search, inference_segmentor)
from .model import init_model, load_checkpoint_file
from .show import show_result

__all__ = ['CheckpointError', 'cache_dir', 'list_models', 'load_model_index',
           'init_model', 'load_checkpoint_file', 'inference_segmentor',
           'inference_detector', 'inference_person_search',
           'inference_grounding', 'show_result']
