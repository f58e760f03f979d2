"""wsvision's registries: children of MMEngine's root registries in scope ``wsvision``.

Every buildable thing is registered exactly once, in one of these. ``locations``
lets MMEngine import the defining modules lazily when a config asks for a type.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='wsvision',
                  locations=['wsvision.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='wsvision',
                    locations=['wsvision.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS,
                         scope='wsvision', locations=['wsvision.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS,
                      scope='wsvision',
                      locations=['wsvision.datasets.transforms',
                                 'wsvision.models.teacher_student'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='wsvision',
                   locations=['wsvision.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, scope='wsvision',
                     locations=['wsvision.evaluation'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='wsvision',
                 locations=['wsvision.engine', 'wsvision.visualization',
                            'wsvision.models.teacher_student'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope='wsvision',
                 locations=['wsvision.engine'])
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS,
                      scope='wsvision', locations=['wsvision.engine'])
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS,
                          scope='wsvision', locations=['wsvision.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='wsvision', locations=['wsvision.engine'])
LOG_PROCESSORS = Registry('log_processor', parent=MMENGINE_LOG_PROCESSORS,
                          scope='wsvision', locations=['wsvision.engine'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS,
                          scope='wsvision', locations=['wsvision.engine'])
WEIGHT_INITIALIZERS = Registry('weight initializer',
                               parent=MMENGINE_WEIGHT_INITIALIZERS,
                               scope='wsvision', locations=['wsvision.models'])
PARAM_SCHEDULERS = Registry('parameter scheduler',
                            parent=MMENGINE_PARAM_SCHEDULERS,
                            scope='wsvision', locations=['wsvision.engine'])
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS,
                       scope='wsvision', locations=['wsvision.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS,
                       scope='wsvision', locations=['wsvision.visualization'])

# wsvision's own registries (no MMEngine counterpart).
WEAK_LABELERS = Registry('weak labeler', scope='wsvision',
                         locations=['wsvision.weak_labels'])
"""Weak-label generators: dense mask -> tags / points / scribbles / blocks / boxes."""

ENCODERS = Registry('encoder', scope='wsvision',
                    locations=['wsvision.models.encoders', 'wsvision.models.vlm'])
"""Text and vision-language encoders (``encode_text`` / ``encode_image``)."""
