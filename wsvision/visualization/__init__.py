from .drawing import label_strip, overlay_mask, palette, write_rgb_png
from .det_hook import DetVisualizationHook, draw_boxes
from .seg_hook import SegVisualizationHook
from .person_search_hook import PersonSearchVisualizationHook

__all__ = ['label_strip', 'overlay_mask', 'palette', 'write_rgb_png',
           'DetVisualizationHook', 'SegVisualizationHook', 'draw_boxes']
