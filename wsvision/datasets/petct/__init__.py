"""PET/CT visual grounding data: PhantomPET, the report-to-voxel weak-label
pipeline and the grounding data set."""
from .builder import PRESETS, build_phantom_pet
from .data_sample import GroundingDataSample
from .dataset import PETCTGroundingDataset
from .extractors import (Extraction, PromptedLLMExtractor, RuleBasedExtractor,
                         VotingExtractor, build_extractor)
from .weak_label_pipeline import (format_label_summary, label_dataset,
                                  label_report, score_weak_labels)

__all__ = ['PRESETS', 'build_phantom_pet', 'GroundingDataSample',
           'PETCTGroundingDataset', 'Extraction', 'PromptedLLMExtractor',
           'RuleBasedExtractor', 'VotingExtractor', 'build_extractor',
           'format_label_summary', 'label_dataset', 'label_report',
           'score_weak_labels']
