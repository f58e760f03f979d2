"""tools/deploy/export_onnx.py: the ONNX graphs match PyTorch (onnxruntime)."""
import pytest
import torch

from tests.conftest import load_tool

from .helpers import write_tiny_det_config, write_tiny_seg_config

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
export_onnx = load_tool('deploy', 'export_onnx.py')


def export_and_check(config: str, out_file, height: int, width: int):
    """{output name: max |ONNX - PyTorch|} of a randomly initialised model."""
    torch.manual_seed(0)
    return export_onnx.main([config, '--checkpoint', 'none', '--out',
                             str(out_file), '--shape', str(height),
                             str(width)])


def test_segmentor_onnx_matches_pytorch(tmp_path):
    errors = export_and_check(write_tiny_seg_config(tmp_path),
                              tmp_path / 'seg.onnx', 48, 64)
    assert list(errors) == ['seg_logits'] and errors['seg_logits'] < 1e-3


def test_detector_onnx_matches_pytorch(tmp_path):
    errors = export_and_check(write_tiny_det_config(tmp_path),
                              tmp_path / 'det.onnx', 64, 64)
    levels = ['0', '1', '2', '3']
    assert list(errors) == ([f'feat_{n}' for n in levels]
                            + [f'rpn_objectness_{n}' for n in levels]
                            + [f'rpn_deltas_{n}' for n in levels]
                            + ['cls_logits', 'bbox_deltas'])
    assert max(errors.values()) < 1e-3


def test_check_catches_a_wrong_graph(tmp_path):
    torch.manual_seed(0)
    from wsvision.apis import init_model
    model = init_model(write_tiny_seg_config(tmp_path), None)
    graph = export_onnx.SegmentorGraph(model)
    inputs = export_onnx.export(graph, str(tmp_path / 'seg.onnx'), 32, 32)
    with torch.no_grad():
        model.decode_head.cls_seg.bias += 1.0  # PyTorch now differs
    with pytest.raises(ValueError, match='seg_logits differs from PyTorch'):
        export_onnx.check_with_onnxruntime(graph, str(tmp_path / 'seg.onnx'),
                                           inputs)
