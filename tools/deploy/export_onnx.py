"""Export a segmentor, or a detector's networks, to ONNX and check the
graph against PyTorch with onnxruntime.

    python tools/deploy/export_onnx.py \\
        agmm_deeplabv3plus_r18_fashionscenes-scribble --out seg.onnx
    python tools/deploy/export_onnx.py \\
        configs/faster_rcnn/faster-rcnn_r18_fpn_fashionscenes.py \\
        --checkpoint work_dirs/.../best.pth --out det.onnx --shape 96 96

Graphs take an RGB ``image`` (B, 3, H, W) float32 in 0-255 (the
normalisation is inside the graph):

- segmentor: ``image`` -> ``seg_logits`` (B, K, H, W).
- detector: ``image`` and ``roi_feats_in`` (N, C, S, S) (RoIAlign output)
  -> the pyramid levels ``feat_<level>``, the RPN's ``rpn_objectness_<level>``
  (B, A, h, w) and ``rpn_deltas_<level>`` (B, 4A, h, w), and the RoI head's
  ``cls_logits`` (N, K + 1) and ``bbox_deltas``. Anchors, proposal
  selection, RoIAlign and NMS stay outside the graph (in PyTorch or the
  deployment runtime), as in most detector deployments.

The batch size is dynamic; H and W are fixed by ``--shape``. Without
onnxruntime the file is written and the check skipped.
"""
import argparse
import sys
import warnings
from typing import Dict, List

import numpy as np
import torch
import torch.nn as nn

from wsvision.apis import CheckpointError, init_model


def normalise(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """The data preprocessor's (x - mean) / std, for RGB 0-255 input."""
    preprocessor = model.data_preprocessor
    if getattr(preprocessor, '_enable_normalize', False):
        return (image - preprocessor.mean) / preprocessor.std
    return image


class SegmentorGraph(nn.Module):
    """image (B, 3, H, W) -> seg_logits (B, K, H, W)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def output_names(self) -> List[str]:
        return ['seg_logits']

    def example_inputs(self, height: int, width: int):
        return (torch.rand(1, 3, height, width) * 255, )

    def forward(self, image):
        return self.model.tensor_forward(normalise(self.model, image))


class DetectorGraph(nn.Module):
    """(image, roi_feats_in) -> pyramid, RPN maps, RoI-head outputs."""

    def __init__(self, model: nn.Module, num_rois: int = 8):
        super().__init__()
        self.model = model
        self.num_rois = num_rois
        self._levels: List[str] = []

    def _pyramid(self, image) -> Dict[str, torch.Tensor]:
        feats = self.model.extract_feat(normalise(self.model, image))
        self._levels = list(feats)
        return feats

    def output_names(self) -> List[str]:
        if not self._levels:
            raise RuntimeError('call example_inputs first')
        return ([f'feat_{name}' for name in self._levels]
                + [f'rpn_objectness_{name}' for name in self._levels]
                + [f'rpn_deltas_{name}' for name in self._levels]
                + ['cls_logits', 'bbox_deltas'])

    def example_inputs(self, height: int, width: int):
        image = torch.rand(1, 3, height, width) * 255
        with torch.no_grad():
            feats = self._pyramid(image)
            boxes = torch.tensor([[4.0, 4.0, width / 2, height / 2]] *
                                 self.num_rois)
            pooled = self.model.roi_head.roi_align(
                self.model.roi_adapter(feats), [boxes], [(height, width)])
        return image, pooled

    def forward(self, image, roi_feats_in):
        feats = self._pyramid(image)
        objectness, deltas = self.model.rpn.head(
            list(self.model.rpn_adapter(feats).values()))
        roi_head = self.model.roi_head
        roi_feats = roi_head.box_head(roi_feats_in)
        return (*feats.values(), *objectness, *deltas,
                roi_head.classifier(roi_feats),
                roi_head.bbox_regressor(roi_feats))


def graph_for(model: nn.Module) -> nn.Module:
    if hasattr(model, 'extract_feat') and hasattr(model, 'rpn'):
        return DetectorGraph(model)
    if hasattr(model, 'encode_decode'):
        return SegmentorGraph(model)
    raise TypeError(f'{type(model).__name__} is neither a segmentor '
                    '(encode_decode) nor a detector (extract_feat, rpn)')


def export(graph: nn.Module, out_file: str, height: int, width: int,
           opset: int = 17) -> tuple:
    """Write ``out_file``; return the example inputs it was traced with."""
    inputs = graph.example_inputs(height, width)
    input_names = ['image', 'roi_feats_in'][:len(inputs)]
    dynamic_axes = {'image': {0: 'batch'}}
    if len(inputs) > 1:
        dynamic_axes['roi_feats_in'] = {0: 'num_rois'}
    # The TorchScript-based exporter (deprecated, but still shipped): the
    # torch.export-based one needs the onnxscript package on top of onnx.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.onnx.export(graph.eval(), inputs, out_file, dynamo=False,
                          input_names=input_names,
                          output_names=graph.output_names(),
                          dynamic_axes=dynamic_axes, opset_version=opset)
    return inputs


def check_with_onnxruntime(graph: nn.Module, onnx_file: str, inputs,
                           atol: float = 1e-3) -> Dict[str, float]:
    """Max |ONNX - PyTorch| per output, on inputs with twice the example
    batch (the batch axis is dynamic); raises when one exceeds ``atol``."""
    import onnxruntime
    inputs = tuple(torch.cat([x, x.flip(0) * 0.5]) for x in inputs)
    session = onnxruntime.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    names = [i.name for i in session.get_inputs()]
    onnx_outputs = session.run(None, {name: x.numpy()
                                      for name, x in zip(names, inputs)})
    with torch.no_grad():
        torch_outputs = graph(*inputs)
    if isinstance(torch_outputs, torch.Tensor):
        torch_outputs = (torch_outputs, )
    errors = {}
    for output, expected, actual in zip(session.get_outputs(), torch_outputs,
                                        onnx_outputs):
        if tuple(actual.shape) != tuple(expected.shape):
            raise ValueError(f'ONNX output {output.name} has shape '
                             f'{actual.shape}, PyTorch '
                             f'{tuple(expected.shape)}')
        errors[output.name] = float(np.abs(actual - expected.numpy()).max())
    worst = max(errors, key=errors.get)
    if errors[worst] > atol:
        raise ValueError(f'ONNX output {worst} differs from PyTorch by '
                         f'{errors[worst]:.2e} > {atol:g}')
    return errors


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('model', metavar='CONFIG_OR_NAME')
    parser.add_argument('--checkpoint', default='auto',
                        help="path, URL, 'auto' (zoo weights) or 'none'")
    parser.add_argument('--out', required=True, help='ONNX file to write')
    parser.add_argument('--shape', type=int, nargs=2, default=(64, 64),
                        metavar=('H', 'W'), help='input height and width')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--atol', type=float, default=1e-3,
                        help='largest accepted |ONNX - PyTorch|')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    try:
        model = init_model(args.model, checkpoint)
    except (CheckpointError, LookupError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')
    graph = graph_for(model)
    inputs = export(graph, args.out, *args.shape, opset=args.opset)
    print(f'wrote {args.out}: outputs {", ".join(graph.output_names())}')
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print('onnxruntime is not installed: the ONNX graph was not checked')
        return None
    errors = check_with_onnxruntime(graph, args.out, inputs, args.atol)
    print(f'onnxruntime matches PyTorch: max |difference| '
          f'{max(errors.values()):.2e} over {len(errors)} outputs')
    return errors


if __name__ == '__main__':
    main()
