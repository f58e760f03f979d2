# As the weak-label config, trained on the true lesion masks instead: the
# upper bound that shows what the weak labels cost.
_base_ = ['./contextual-net-3d_dynunet-s_minilm_phantompet-cpu-weak.py']

train_dataloader = dict(dataset=dict(label_source='true'))
