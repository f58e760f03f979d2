# Fine-tuning on base + novel classes of split 1 with K=10 shots per class
# (seed 0), from the base model (load_from in the _base_ file; the benchmark
# tools/benchmarks/fsod_table.py passes its own base checkpoint).
_base_ = ['./_base_/defrcn_r18_fpn_fashionscenes-fewshot-split1.py']
train_dataloader = dict(
    dataset=dict(ann_file='fewshot/seed0/split1_10shot.json'))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=300, val_interval=300)
