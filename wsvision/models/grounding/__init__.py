"""ConTEXTual Net 3D: PET/CT visual grounding of report sentences."""
from .contextual_net import ConTEXTualNet3D
from .data_preprocessor import GroundingDataPreprocessor
from .dynunet_text import TextConditionedDynUNet, build_dynunet
from .language_attention import LanguageCrossAttention
from .visualization_hook import GroundingVisualizationHook

__all__ = ['ConTEXTualNet3D', 'GroundingDataPreprocessor',
           'TextConditionedDynUNet', 'build_dynunet', 'LanguageCrossAttention',
           'GroundingVisualizationHook']
