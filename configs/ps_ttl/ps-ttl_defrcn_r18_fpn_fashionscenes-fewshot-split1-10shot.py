# PS-TTL on the fine-tuned 10-shot detector of split 1: one pass of
# test-time learning over the test split, evaluated before and after.
#   python tools/test.py THIS_CONFIG <fine-tuned 10-shot checkpoint>
_base_ = ['./_base_/ps-ttl_defrcn_r18_fpn_fashionscenes-fewshot-split1.py']
test_cfg = dict(shot_dataloader=dict(
    dataset=dict(ann_file='fewshot/seed0/split1_10shot.json')))
