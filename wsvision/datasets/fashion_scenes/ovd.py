"""The ``ovd`` variant: open-vocabulary detection on class split 1.

The novel classes of split 1 (shirt, sandal, bag) get no box of any kind in
training:

- ``ovd/instances_train_base.json``: every core train image, with the
  annotations of base classes only (images holding novel items are kept: a
  vision-language model may pseudo-label them).
- ``ovd/classes.json``: base / novel names and ids, and the evaluation files
  (the core ``val`` and ``test`` splits, all classes).

``info.image_dir`` in the train file names the folder its ``file_name``
entries are relative to (the core ``train`` split).
"""
import os

from .class_splits import class_split
from .writer import coco_subset, write_json

OVD_CLASS_SPLIT = 1


def build_ovd(out_dir: str, train_coco: dict) -> dict:
    """Write ``out_dir/ovd``; returns the content of ``classes.json``."""
    root = os.path.join(out_dir, 'ovd')
    classes = class_split(OVD_CLASS_SPLIT)
    base_ids = set(classes['base_ids'])
    base = [a for a in train_coco['annotations'] if a['category_id'] in base_ids]
    write_json(os.path.join(root, 'instances_train_base.json'),
               coco_subset(train_coco, base,
                           {'image_dir': 'train', 'split': OVD_CLASS_SPLIT,
                            **classes}))
    summary = {'split': OVD_CLASS_SPLIT, **classes,
               'train': 'ovd/instances_train_base.json',
               'val': 'val/instances.json', 'test': 'test/instances.json'}
    write_json(os.path.join(root, 'classes.json'), summary)
    return summary
