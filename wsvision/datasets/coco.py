"""Detection datasets in COCO JSON: COCO, LVIS and FashionScenes.

Categories map to contiguous 0-based labels in ascending category-id order;
the metainfo keeps ``classes`` (names, index = label) and ``cat_ids`` (the
JSON id of each label). Boxes go from COCO [x, y, w, h] to xyxy. Crowd
annotations (``iscrowd=1``) and boxes under one pixel wide or high are kept
with ``ignore_flag=1``: they are never training targets, but evaluation and
box look-ups still see them. The ``segmentation`` (polygons or RLE) is kept
as the instance's ``mask`` for ``LoadDetAnnotations(with_mask=True)``.
"""
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

from ..registry import DATASETS
from .det_dataset import (DetDataset, clip_boxes_to_image, is_degenerate,
                          xywh_to_xyxy)
from .io import DataError, check_dir, check_file, load_json, require_keys


@DATASETS.register_module()
class CocoDetDataset(DetDataset):
    """COCO-format detection (and instance segmentation) annotations.

    Args:
        data_root: folder that ``ann_file`` and ``img_prefix`` are relative to.
        ann_file: the COCO JSON (``instances_train2017.json`` ...).
        img_prefix: folder that each image's ``file_name`` is relative to.
        filter_empty_gt: drop images without a non-ignored instance (training
            only; see ``DetDataset``).
        pipeline: transforms applied to each data-info record.
        **kwargs: further ``BaseDataset`` arguments (``test_mode``,
            ``lazy_init``, ``indices``, ``metainfo``, ...).

    Each record: ``img_id``, ``img_path``, ``height``, ``width`` and
    ``instances`` with ``bbox`` (xyxy), ``bbox_label``, ``ignore_flag``,
    ``ann_id`` and, when annotated, ``mask``.
    """

    IMAGE_KEYS = ('id', 'file_name', 'height', 'width')

    def __init__(self, data_root: str, ann_file: str, img_prefix: str = '',
                 filter_empty_gt: bool = False, pipeline: Sequence = (),
                 **kwargs):
        super().__init__(data_root=data_root, ann_file=ann_file,
                         data_prefix=dict(img=img_prefix),
                         filter_empty_gt=filter_empty_gt,
                         pipeline=list(pipeline), **kwargs)

    # Format hooks, overridden by the LVIS loader.
    def _image_file(self, image: dict, where: str) -> str:
        return image['file_name']

    def _image_extras(self, image: dict, cat2label: Dict[int, int],
                      where: str) -> dict:
        return {}

    def _category_meta(self, categories: List[dict]) -> dict:
        return {}

    def load_data_list(self) -> List[dict]:
        ann_file = self.ann_file
        coco = load_json(ann_file)
        if not isinstance(coco, dict):
            raise DataError(f'{ann_file}: expected a JSON object with images, '
                            f'annotations and categories, got '
                            f'{type(coco).__name__}')
        require_keys(coco, ('images', 'annotations', 'categories'), ann_file)
        cat2label = self._load_categories(coco['categories'], ann_file)

        images = {}
        for i, image in enumerate(coco['images']):
            where = f'{ann_file}: images[{i}]'
            require_keys(image, self.IMAGE_KEYS, where)
            if image['id'] in images:
                raise DataError(f'{where}: duplicate image id {image["id"]}')
            images[image['id']] = image

        anns_by_image = defaultdict(list)
        for i, ann in enumerate(coco['annotations']):
            where = f'{ann_file}: annotations[{i}]'
            require_keys(ann, ('id', 'image_id', 'category_id', 'bbox'), where)
            where = f'{ann_file}: annotation id {ann["id"]}'
            if ann['image_id'] not in images:
                raise DataError(f'{where}: unknown image_id {ann["image_id"]}')
            if ann['category_id'] not in cat2label:
                raise DataError(f'{where}: unknown category_id '
                                f'{ann["category_id"]} (categories: '
                                f'{sorted(cat2label)})')
            bbox = ann['bbox']
            if not (isinstance(bbox, list) and len(bbox) == 4 and all(
                    isinstance(v, (int, float)) for v in bbox)):
                raise DataError(f'{where}: bbox must be [x, y, w, h], got {bbox!r}')
            anns_by_image[ann['image_id']].append(ann)

        img_dir = check_dir(self.data_prefix['img'], 'image folder')
        return [self._parse_image(image, anns_by_image[img_id], img_dir,
                                  cat2label)
                for img_id, image in images.items()]

    def _load_categories(self, categories: List[dict],
                         ann_file: str) -> Dict[int, int]:
        """Set ``classes``/``cat_ids`` metainfo; return category id -> label."""
        for i, category in enumerate(categories):
            require_keys(category, ('id', 'name'), f'{ann_file}: categories[{i}]')
        categories = sorted(categories, key=lambda c: c['id'])
        cat_ids = [c['id'] for c in categories]
        if len(set(cat_ids)) != len(cat_ids):
            raise DataError(f'{ann_file}: duplicate category ids in {cat_ids}')
        self._set_classes([c['name'] for c in categories],
                          cat_ids=tuple(cat_ids),
                          **self._category_meta(categories))
        return {cat_id: label for label, cat_id in enumerate(cat_ids)}

    def _parse_image(self, image: dict, anns: List[dict], img_dir: str,
                     cat2label: Dict[int, int]) -> dict:
        where = f'{self.ann_file}: image id {image["id"]}'
        img_path = check_file(osp.join(img_dir, self._image_file(image, where)),
                              'image')
        height, width = int(image['height']), int(image['width'])
        boxes = clip_boxes_to_image(xywh_to_xyxy([ann['bbox'] for ann in anns]),
                                    height, width,
                                    f'{self.ann_file} (image {img_path})',
                                    [f'id {ann["id"]}' for ann in anns])
        ignored = is_degenerate(boxes)
        instances = []
        for ann, box, degenerate in zip(anns, boxes, ignored):
            instance = dict(bbox=box.tolist(),
                            bbox_label=cat2label[ann['category_id']],
                            ignore_flag=int(bool(ann.get('iscrowd', 0))
                                            or bool(degenerate)),
                            ann_id=ann['id'])
            if ann.get('segmentation'):
                instance['mask'] = ann['segmentation']
            instances.append(instance)
        return dict(img_id=image['id'], img_path=img_path, height=height,
                    width=width, instances=instances,
                    **self._image_extras(image, cat2label, where))


@DATASETS.register_module()
class LvisDetDataset(CocoDetDataset):
    """LVIS (v0.5 / v1) annotations: COCO JSON with federated labels.

    LVIS v1 images carry ``coco_url`` instead of ``file_name``; the file is
    then ``<split>/<name>`` from the URL (``train2017/000000391895.jpg``), so
    ``img_prefix`` is the COCO image root. The metainfo adds ``frequencies``
    ('r', 'c' or 'f' per label); each record adds ``neg_labels`` (labels
    verified absent from the image) and ``not_exhaustive_labels`` (labels
    whose instances are not all annotated), both as sorted label lists.
    """

    IMAGE_KEYS = ('id', 'height', 'width', 'not_exhaustive_category_ids',
                  'neg_category_ids')

    def _image_file(self, image: dict, where: str) -> str:
        if 'file_name' in image:
            return image['file_name']
        if 'coco_url' not in image:
            raise DataError(f'{where}: needs file_name or coco_url')
        return '/'.join(image['coco_url'].split('/')[-2:])

    def _image_extras(self, image: dict, cat2label: Dict[int, int],
                      where: str) -> dict:
        extras = {}
        for key, out_key in (('neg_category_ids', 'neg_labels'),
                             ('not_exhaustive_category_ids',
                              'not_exhaustive_labels')):
            unknown = [c for c in image[key] if c not in cat2label]
            if unknown:
                raise DataError(f'{where}: {key} holds unknown category ids '
                                f'{unknown}')
            extras[out_key] = sorted(cat2label[c] for c in image[key])
        return extras

    def _category_meta(self, categories: List[dict]) -> dict:
        for category in categories:
            if category.get('frequency') not in ('r', 'c', 'f'):
                raise DataError(f'{self.ann_file}: category id {category["id"]}: '
                                "frequency must be 'r', 'c' or 'f', got "
                                f'{category.get("frequency")!r}')
        return dict(frequencies=tuple(c['frequency'] for c in categories))


@DATASETS.register_module()
class FashionScenesDetDataset(CocoDetDataset):
    """One split of a FashionScenes build as a COCO detection dataset.

    Reads ``<data_root>/<split>/instances.json``, whose ``file_name`` entries
    (``images/<id>.png``) are relative to ``<data_root>/<split>``.

    Args:
        data_root: the build folder (holds ``meta.json``).
        split: ``train``, ``val`` or ``test``.
        ann_file: another COCO file over the same split's images (a few-shot,
            open-vocabulary or foggy variant), relative to ``data_root``.
    """

    def __init__(self, data_root: str, split: str = 'train',
                 ann_file: Optional[str] = None, **kwargs):
        super().__init__(data_root=data_root,
                         ann_file=ann_file or osp.join(split, 'instances.json'),
                         img_prefix=split, **kwargs)
