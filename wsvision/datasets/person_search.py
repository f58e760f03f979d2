"""Person-search datasets: PRW and CUHK-SYSU from their MATLAB annotations,
and the FashionScenes ``person_search`` variant from its COCO files.

Records follow ``DetDataset`` with a single class (``person``, or ``item`` for
FashionScenes); every instance also has a ``person_id`` (-1 for a person
without identity), which ``LoadDetAnnotations`` turns into ``gt_person_ids``
and ``PackDetInputs`` into ``gt_instances.person_ids``. For PRW and CUHK-SYSU
``img_id`` is the image's file name.

Every instance also gets an ``instance_id``: its index over the whole split
(numbered image by image, after filtering), the key of per-instance memories
of weakly supervised re-identification. ``LoadInstanceIds`` and
``PackPersonSearchInputs`` carry it to ``gt_instances.instance_ids``.

The search protocol is also in the metainfo, for the metric:
``search_queries`` (the ``queries`` list) and ``search_galleries``
({query_id: [img_id, ...]}, or None where each query searches every other
image of the split, as in PRW).

A test split also holds the search protocol: ``queries`` (one dict per query:
``query_id``, ``img_id``, ``img_path``, ``bbox`` xyxy, ``person_id``) and
``gallery(query_id)``, the ``img_id`` s of the scenes searched for it.

The ``.mat`` files are read with ``scipy.io.loadmat`` defaults (structs as
record arrays, cells as object arrays, nothing squeezed), so a struct array of
one element and one of many are read the same way.
"""
import os.path as osp
import re
from typing import Dict, List

import numpy as np
import torch

from ..registry import DATASETS, TRANSFORMS
from .coco import FashionScenesDetDataset
from .det_dataset import DetDataset, is_degenerate, xywh_to_xyxy
from .fashion_scenes.person_search import SEARCH_SPLITS
from .io import DataError, check_file, load_json, load_mat
from .transforms import PackDetInputs

PERSON_CLASSES = ('person', )
#: ``person_id`` of a person whose identity is not annotated.
UNKNOWN_PERSON = -1


def mat_variable(path: str, key: str) -> np.ndarray:
    variables = load_mat(path)
    if key not in variables:
        found = sorted(k for k in variables if not k.startswith('__'))
        raise DataError(f'{path}: missing key {key!r} (found {found})')
    return variables[key]


def mat_string(value, where: str) -> str:
    """A MATLAB char array, possibly wrapped in 1x1 cells, -> str."""
    while isinstance(value, np.ndarray):
        if value.size != 1:
            raise DataError(f'{where}: expected a string, got an array of '
                            f'shape {value.shape}')
        value = value.ravel()[0]
    if not isinstance(value, str):
        raise DataError(f'{where}: expected a string, got {type(value).__name__}')
    return str(value)


def mat_structs(value, where: str) -> List[np.void]:
    """The elements of a MATLAB struct array, or of a cell array of 1x1
    structs (CUHK-SYSU's ``Train``), in order."""
    if isinstance(value, np.ndarray) and value.dtype.names is not None:
        return list(value.ravel())
    if isinstance(value, np.ndarray) and value.dtype == object:
        return [mat_structs(cell, f'{where}[{i}]')[0]
                for i, cell in enumerate(value.ravel())]
    raise DataError(f'{where}: expected a struct array')


def mat_field(record: np.void, name: str, where: str):
    if name not in record.dtype.names:
        raise DataError(f'{where}: missing field {name!r} (fields: '
                        f'{record.dtype.names})')
    return record[name]


def mat_box(value, where: str) -> np.ndarray:
    """An ``idlocate`` [x, y, w, h] as a (4,) float64 array; (0,) if empty."""
    box = np.asarray(value, dtype=np.float64).ravel()
    if box.size not in (0, 4):
        raise DataError(f'{where}: expected a box [x, y, w, h], got {box.tolist()}')
    return box


def number_instances(data_list: List[dict]) -> None:
    """Give every instance of ``data_list`` its ``instance_id`` (0, 1, ...),
    image by image in list order."""
    next_id = 0
    for info in data_list:
        for instance in info['instances']:
            instance['instance_id'] = next_id
            next_id += 1


class SearchProtocolMixin:
    """Numbers the instances and puts the search protocol in the metainfo once
    the data list is final (``DetDataset.filter_data`` is the last step before
    ``BaseDataset`` serialises it)."""

    def filter_data(self) -> List[dict]:
        kept = super().filter_data()
        number_instances(kept)
        self._metainfo.update(search_queries=list(self._queries),
                              search_galleries=self._search_galleries())
        return kept

    def _search_galleries(self):
        return {query_id: list(images)
                for query_id, images in self._galleries.items()}

    @property
    def queries(self) -> List[dict]:
        """The test queries (empty for ``train``)."""
        self.full_init()
        return self._queries

    def gallery(self, query_id: int) -> list:
        """``img_id`` s of the gallery scenes searched for ``query_id``."""
        self.full_init()
        return list(self._galleries[query_id])


class PersonSearchDataset(SearchProtocolMixin, DetDataset):
    """Scenes with person boxes and identities; see the module docstring.

    Args:
        data_root: the dataset folder.
        split: ``train`` or ``test``.
        **kwargs: ``DetDataset`` / ``BaseDataset`` arguments.
    """

    def __init__(self, data_root: str, split: str = 'train', **kwargs):
        if split not in ('train', 'test'):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.split = split
        self._queries: List[dict] = []
        self._galleries: Dict[int, List[str]] = {}
        super().__init__(data_root=data_root, **kwargs)

    def _record(self, name: str, img_dir: str, boxes: np.ndarray,
                person_ids: np.ndarray, **extras) -> dict:
        """A data-info record of image ``name`` from xyxy ``boxes`` (N, 4)."""
        ignored = is_degenerate(boxes)
        instances = [dict(bbox=box.tolist(), bbox_label=0,
                          ignore_flag=int(ignore), person_id=int(person_id))
                     for box, person_id, ignore in zip(boxes, person_ids, ignored)]
        return dict(img_id=name,
                    img_path=check_file(osp.join(img_dir, name), 'image'),
                    instances=instances, **extras)


@DATASETS.register_module()
class PRWDataset(PersonSearchDataset):
    """PRW (``PRW-v16.04.20``).

    Layout: ``frames/<name>.jpg``; ``annotations/<name>.jpg.mat`` with an
    N x 5 array [id, x, y, w, h] stored under ``box_new``, ``anno_file`` or
    ``anno_previous`` (id -2: person without identity); the split lists
    ``frame_train.mat`` / ``frame_test.mat`` (cells ``img_index_<split>`` of
    frame names without extension); ``query_info.txt`` with one query per
    line: ``<id> <x> <y> <w> <h> <frame name>``.

    Identities keep PRW's own numbers. Each record and query carries the
    ``cam_id`` from the frame name (``c<cam>s<sequence>_<frame>``). A query
    searches every other test frame.
    """

    BOX_KEYS = ('box_new', 'anno_file', 'anno_previous')
    FRAME_NAME = re.compile(r'^c(\d+)s(\d+)_\d+\.jpg$')

    def load_data_list(self) -> List[dict]:
        self._set_classes(PERSON_CLASSES)
        split_file = osp.join(self.data_root, f'frame_{self.split}.mat')
        key = f'img_index_{self.split}'
        self._frame_names = [
            mat_string(cell, f'{split_file}: {key}[{i}]') + '.jpg'
            for i, cell in enumerate(mat_variable(split_file, key).ravel())]
        data_list = [self._load_frame(name) for name in self._frame_names]
        if self.split == 'test':
            self._queries = self._load_queries(set(self._frame_names))
        return data_list

    def _cam_id(self, name: str, where: str) -> int:
        match = self.FRAME_NAME.match(name)
        if match is None:
            raise DataError(f'{where}: frame name {name!r} is not '
                            'c<cam>s<sequence>_<frame>.jpg')
        return int(match.group(1))

    def _load_frame(self, name: str) -> dict:
        path = osp.join(self.data_root, 'annotations', f'{name}.mat')
        variables = load_mat(path)
        key = next((k for k in self.BOX_KEYS if k in variables), None)
        if key is None:
            found = sorted(k for k in variables if not k.startswith('__'))
            raise DataError(f'{path}: none of the box keys {self.BOX_KEYS} '
                            f'(found {found})')
        rows = np.asarray(variables[key], dtype=np.float64)
        rows = rows.reshape(0, 5) if rows.size == 0 else rows
        if rows.ndim != 2 or rows.shape[1] != 5:
            raise DataError(f'{path}: {key} must be N x 5 [id, x, y, w, h], '
                            f'got shape {rows.shape}')
        boxes = xywh_to_xyxy(rows[:, 1:])
        # Some PRW boxes start a few pixels left of or above the frame: the
        # visible person starts at the frame edge.
        boxes[:, :2] = np.maximum(boxes[:, :2], 0)
        person_ids = rows[:, 0].astype(np.int64)
        person_ids[person_ids == -2] = UNKNOWN_PERSON
        return self._record(name, osp.join(self.data_root, 'frames'), boxes,
                            person_ids, cam_id=self._cam_id(name, path))

    def _load_queries(self, test_frames: set) -> List[dict]:
        path = check_file(osp.join(self.data_root, 'query_info.txt'),
                          'query list')
        queries = []
        with open(path) as f:
            lines = [line.split() for line in f]
        for line_no, fields in enumerate(lines, 1):
            if not fields:
                continue
            malformed = DataError(f'{path}: line {line_no}: expected "<id> <x> '
                                  f'<y> <w> <h> <frame>", got '
                                  f'{" ".join(fields)!r}')
            if len(fields) != 6:
                raise malformed
            try:
                person_id = int(fields[0])
                box = np.array([float(v) for v in fields[1:5]])
            except ValueError:
                raise malformed from None
            where = f'{path}: line {line_no}'
            name = fields[5] + '.jpg'
            if name not in test_frames:
                raise DataError(f'{where}: frame {name} is not a test frame')
            queries.append(dict(
                query_id=len(queries), img_id=name,
                img_path=osp.join(self.data_root, 'frames', name),
                bbox=xywh_to_xyxy(box)[0].tolist(), person_id=person_id,
                cam_id=self._cam_id(name, where)))
        return queries

    def gallery(self, query_id: int) -> List[str]:
        """Every test frame except the query's own (the PRW protocol)."""
        query_img = self.queries[query_id]['img_id']
        return [name for name in self._frame_names if name != query_img]

    def _search_galleries(self):
        return None  # every other test frame


@DATASETS.register_module()
class CUHKSYSUDataset(PersonSearchDataset):
    """CUHK-SYSU.

    Layout: ``Image/SSM/<name>.jpg``; ``annotation/Images.mat`` (struct
    array ``Img``: ``imname``, ``nAppear``, ``box`` with ``idlocate``
    [x, y, w, h] per person); ``annotation/pool.mat`` (cell ``pool``: the test
    images; every other image is a training image);
    ``annotation/test/train_test/Train.mat`` (cell ``Train``: one struct per
    training identity whose ``scene`` lists ``imname`` and ``idlocate``);
    ``annotation/test/train_test/TestG<gallery_size>.mat`` (struct array
    ``TestG<n>`` of ``Query`` and ``Gallery``; a gallery entry's ``idlocate``
    is empty where the person is absent).

    Identities: a training person's index in ``Train`` or a test person's
    query index; a box is given its identity by exact match with the box in
    ``Images.mat``.

    Args:
        gallery_size: selects the test protocol file (50, 100, ..., 4000).
    """

    def __init__(self, data_root: str, split: str = 'train',
                 gallery_size: int = 100, **kwargs):
        self.gallery_size = gallery_size
        super().__init__(data_root=data_root, split=split, **kwargs)

    def load_data_list(self) -> List[dict]:
        self._set_classes(PERSON_CLASSES)
        ann_dir = osp.join(self.data_root, 'annotation')
        boxes_by_image = self._load_images(osp.join(ann_dir, 'Images.mat'))
        pool_path = osp.join(ann_dir, 'pool.mat')
        test_names = [mat_string(cell, f'{pool_path}: pool[{i}]') for i, cell
                      in enumerate(mat_variable(pool_path, 'pool').ravel())]
        unknown = [name for name in test_names if name not in boxes_by_image]
        if unknown:
            raise DataError(f'{pool_path}: images {unknown[:5]} are not in '
                            'Images.mat')
        person_ids = {name: np.full(len(boxes), UNKNOWN_PERSON, dtype=np.int64)
                      for name, boxes in boxes_by_image.items()}
        protocol_dir = osp.join(ann_dir, 'test', 'train_test')
        if self.split == 'train':
            test_set = set(test_names)
            names = [name for name in boxes_by_image if name not in test_set]
            self._load_train_ids(osp.join(protocol_dir, 'Train.mat'),
                                 boxes_by_image, person_ids)
        else:
            names = test_names
            self._load_test_protocol(
                osp.join(protocol_dir, f'TestG{self.gallery_size}.mat'),
                boxes_by_image, person_ids, set(test_names))
        img_dir = osp.join(self.data_root, 'Image', 'SSM')
        return [self._record(name, img_dir, xywh_to_xyxy(boxes_by_image[name]),
                             person_ids[name]) for name in names]

    @staticmethod
    def _load_images(path: str) -> Dict[str, np.ndarray]:
        """Image name -> (N, 4) [x, y, w, h] boxes, in ``Images.mat`` order."""
        boxes_by_image = {}
        for i, record in enumerate(mat_structs(mat_variable(path, 'Img'),
                                               f'{path}: Img')):
            where = f'{path}: Img[{i}]'
            name = mat_string(mat_field(record, 'imname', where), where)
            people = mat_structs(mat_field(record, 'box', where), where)
            boxes = [mat_box(mat_field(person, 'idlocate', where),
                             f'{where}.box[{j}]')
                     for j, person in enumerate(people)]
            boxes_by_image[name] = np.array(boxes, dtype=np.float64).reshape(-1, 4)
        return boxes_by_image

    @staticmethod
    def _set_person_id(boxes_by_image, person_ids, name: str, box: np.ndarray,
                       person_id: int, where: str) -> None:
        if name not in boxes_by_image:
            raise DataError(f'{where}: image {name} is not in Images.mat')
        matches = np.flatnonzero((boxes_by_image[name] == box).all(axis=1))
        if matches.size == 0:
            raise DataError(f'{where}: box {box.tolist()} is not among the '
                            f'boxes of {name} in Images.mat')
        person_ids[name][matches[0]] = person_id

    def _load_train_ids(self, path: str, boxes_by_image, person_ids) -> None:
        persons = mat_structs(mat_variable(path, 'Train'), f'{path}: Train')
        for person_id, person in enumerate(persons):
            where = f'{path}: Train[{person_id}]'
            for j, scene in enumerate(mat_structs(
                    mat_field(person, 'scene', where), where)):
                at = f'{where}.scene[{j}]'
                self._set_person_id(
                    boxes_by_image, person_ids,
                    mat_string(mat_field(scene, 'imname', at), at),
                    mat_box(mat_field(scene, 'idlocate', at), at), person_id, at)

    def _load_test_protocol(self, path: str, boxes_by_image, person_ids,
                            test_set: set) -> None:
        key = f'TestG{self.gallery_size}'
        img_dir = osp.join(self.data_root, 'Image', 'SSM')
        for query_id, item in enumerate(mat_structs(mat_variable(path, key),
                                                    f'{path}: {key}')):
            where = f'{path}: {key}[{query_id}]'
            query = mat_structs(mat_field(item, 'Query', where), where)[0]
            name = mat_string(mat_field(query, 'imname', where), where)
            box = mat_box(mat_field(query, 'idlocate', where), where)
            if box.size == 0:
                raise DataError(f'{where}: the query has an empty idlocate')
            self._set_person_id(boxes_by_image, person_ids, name, box,
                                query_id, f'{where}.Query')
            self._queries.append(dict(
                query_id=query_id, img_id=name,
                img_path=osp.join(img_dir, name),
                bbox=xywh_to_xyxy(box)[0].tolist(), person_id=query_id))
            gallery = []
            for j, entry in enumerate(mat_structs(
                    mat_field(item, 'Gallery', where), where)):
                at = f'{where}.Gallery[{j}]'
                gallery_name = mat_string(mat_field(entry, 'imname', at), at)
                if gallery_name not in test_set:
                    raise DataError(f'{at}: {gallery_name} is not in pool.mat')
                gallery_box = mat_box(mat_field(entry, 'idlocate', at), at)
                if gallery_box.size:
                    self._set_person_id(boxes_by_image, person_ids,
                                        gallery_name, gallery_box, query_id, at)
                gallery.append(gallery_name)
            self._galleries[query_id] = gallery


@DATASETS.register_module()
class FashionScenesPersonSearchDataset(SearchProtocolMixin,
                                       FashionScenesDetDataset):
    """One split of the FashionScenes ``person_search`` variant.

    All categories are one class, ``item``. A ``val`` or ``test`` instance's
    ``person_id`` is its ``identity`` from ``instances.json`` (-1 for a
    distractor); the queries and galleries come from ``queries.json`` and
    ``gallery.json``. The ``train`` identities are hidden: ``person_id`` is
    only loaded with ``with_identities=True`` (from ``identities_hidden.json``,
    for the fully supervised upper bound); otherwise the training data are
    boxes (and masks) only.

    Args:
        data_root: the variant's folder (``<build>/person_search``).
        split: ``train``, ``val`` or ``test``.
        with_identities: load the hidden training identities.
    """

    CLASSES = ('item', )

    def __init__(self, data_root: str, split: str = 'train',
                 with_identities: bool = False, **kwargs):
        if split not in ('train', ) + SEARCH_SPLITS:
            raise ValueError("split must be 'train', 'val' or 'test', got "
                             f'{split!r}')
        self.split = split
        self.with_identities = with_identities
        self._queries: List[dict] = []
        self._galleries: Dict[int, List[int]] = {}
        self._identity_of: Dict[int, int] = {}
        super().__init__(data_root=data_root, split=split, **kwargs)

    def load_data_list(self) -> List[dict]:
        split_dir = osp.join(self.data_root, self.split)
        searched = self.split in SEARCH_SPLITS
        if searched:
            self._identity_of = self._test_identities(self.ann_file)
            self._load_protocol(split_dir)
        elif self.with_identities:
            path = osp.join(split_dir, 'identities_hidden.json')
            hidden = load_json(path)
            if not isinstance(hidden, dict) or 'identities' not in hidden:
                raise DataError(f'{path}: expected {{"num_identities": N, '
                                '"identities": {...}}')
            self._identity_of = {int(k): int(v)
                                 for k, v in hidden['identities'].items()}
        data_list = super().load_data_list()
        if searched or self.with_identities:
            for info in data_list:
                for instance in info['instances']:
                    if instance['ann_id'] not in self._identity_of:
                        raise DataError(
                            f'{self.ann_file}: annotation {instance["ann_id"]} '
                            'has no identity')
                    instance['person_id'] = self._identity_of[instance['ann_id']]
        return data_list

    def _load_categories(self, categories: List[dict],
                         ann_file: str) -> Dict[int, int]:
        """Every category is the one ``item`` class (label 0)."""
        for i, category in enumerate(categories):
            if 'id' not in category:
                raise DataError(f'{ann_file}: categories[{i}] has no "id"')
        self._set_classes(self.CLASSES)
        return {category['id']: 0 for category in categories}

    @staticmethod
    def _test_identities(ann_file: str) -> Dict[int, int]:
        coco = load_json(ann_file)
        identity_of = {}
        for i, ann in enumerate(coco.get('annotations', [])):
            if 'identity' not in ann:
                raise DataError(f'{ann_file}: annotations[{i}] has no '
                                '"identity" (a val or test split needs them)')
            identity_of[ann['id']] = int(ann['identity'])
        return identity_of

    def _load_protocol(self, split_dir: str) -> None:
        queries_path = osp.join(split_dir, 'queries.json')
        gallery_path = osp.join(split_dir, 'gallery.json')
        galleries = load_json(gallery_path)
        for i, query in enumerate(load_json(queries_path)):
            where = f'{queries_path}: [{i}]'
            for key in ('query_id', 'image_id', 'bbox', 'identity'):
                if key not in query:
                    raise DataError(f'{where}: missing key {key!r}')
            if str(query['query_id']) not in galleries:
                raise DataError(f'{gallery_path}: no gallery for query '
                                f'{query["query_id"]}')
            self._queries.append(dict(
                query_id=query['query_id'], img_id=query['image_id'],
                img_path=osp.join(split_dir, 'images',
                                  f'{query["image_id"]}.png'),
                bbox=xywh_to_xyxy(query['bbox'])[0].tolist(),
                person_id=query['identity']))
            self._galleries[query['query_id']] = list(
                galleries[str(query['query_id'])])


@TRANSFORMS.register_module()
class LoadInstanceIds:
    """``results['instances'][i]['instance_id']`` -> ``gt_instance_ids`` (N,)
    int64, kept aligned with the other instance arrays. Runs after
    ``LoadDetAnnotations``."""

    def __call__(self, results: dict) -> dict:
        where = results.get('img_path', 'sample')
        if 'instance_fields' not in results:
            raise ValueError(f'{where}: LoadInstanceIds must follow '
                             'LoadDetAnnotations')
        instances = results['instances']
        if any('instance_id' not in inst for inst in instances):
            raise DataError(f'{where}: instances without instance_id; the '
                            'dataset must be a person-search dataset')
        results['gt_instance_ids'] = np.array(
            [inst['instance_id'] for inst in instances], dtype=np.int64)
        results['instance_fields'] = results['instance_fields'] + [
            'gt_instance_ids']
        return results


@TRANSFORMS.register_module()
class PackPersonSearchInputs(PackDetInputs):
    """``PackDetInputs`` that also packs ``gt_instance_ids`` as
    ``gt_instances.instance_ids`` (N,) int64."""

    INSTANCE_FIELDS = PackDetInputs.INSTANCE_FIELDS + (
        ('gt_instance_ids', 'instance_ids', torch.int64), )
