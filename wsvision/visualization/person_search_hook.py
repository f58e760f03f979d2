"""Query / top-k result strips of person search, for ``tools/test.py --show-dir``."""
import os.path as osp

import cv2
import numpy as np
from mmengine.hooks import Hook

from ..datasets.io import read_image
from ..evaluation.metrics.person_search_metric import image_record, search_queries
from ..registry import HOOKS
from .drawing import label_strip, write_rgb_png

MATCH, MISS, QUERY = (0, 200, 0), (220, 0, 0), (0, 90, 255)


def scene_panel(img_path: str, box, color, height: int) -> np.ndarray:
    """The scene at ``img_path`` with ``box`` (xyxy) outlined, ``height`` px high."""
    img = read_image(img_path)
    scale = height / img.shape[0]
    panel = cv2.resize(img, (max(1, round(img.shape[1] * scale)), height),
                       interpolation=cv2.INTER_NEAREST)
    x1, y1, x2, y2 = (int(round(v * scale)) for v in box)
    cv2.rectangle(panel, (x1, y1), (x2, y2), color, 2)
    return panel


@HOOKS.register_module()
class PersonSearchVisualizationHook(Hook):
    """After testing, one PNG per query: the query box in its scene, then the
    ``top_k`` most similar gallery detections, outlined green when they are
    the query's identity and red otherwise, titled with their similarity.

    Args:
        out_dir: folder for the PNGs (``tools/test.py --show-dir`` sets it).
        top_k: gallery detections shown per query.
        max_queries: queries drawn (``None``: all).
        det_score_thr: detections below this score are not searched (as in
            ``PersonSearchMetric``).
        height: panel height in pixels.
    """

    def __init__(self, out_dir: str, top_k: int = 5, max_queries=16,
                 det_score_thr: float = 0.5, height: int = 192):
        self.out_dir, self.top_k = out_dir, top_k
        self.max_queries, self.det_score_thr = max_queries, det_score_thr
        self.height = height
        self._images = {}

    def before_test(self, runner) -> None:
        self._images = {}

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        for sample in outputs:
            record = image_record(sample.to_dict(), self.det_score_thr)
            self._images[record['img_id']] = record

    def after_test_epoch(self, runner, metrics=None) -> None:
        meta = runner.test_dataloader.dataset.metainfo
        written = 0
        for query, ranking in search_queries(self._images,
                                             meta['search_queries'],
                                             meta.get('search_galleries')):
            if self.max_queries is not None and written >= self.max_queries:
                break
            panels = [scene_panel(self._images[query['img_id']]['img_path'],
                                  query['bbox'], QUERY, self.height)]
            titles = [f'query {query["query_id"]}']
            for rank in range(min(self.top_k, len(ranking['similarity']))):
                image = self._images[ranking['img_ids'][rank]]
                panels.append(scene_panel(
                    image['img_path'], ranking['bboxes'][rank],
                    MATCH if ranking['matched'][rank] else MISS, self.height))
                titles.append(f'#{rank + 1} sim {ranking["similarity"][rank]:.2f}')
            write_rgb_png(osp.join(self.out_dir,
                                   f'query_{query["query_id"]}.png'),
                          label_strip(panels, titles, scale=1))
            written += 1
