# The fully supervised upper bound: the same detector and re-ID head trained
# with OIM on the hidden training identities (the only config that reads them).
_base_ = ['./_base_/ssl_r18_fpn_fashionscenes-ps.py']
model = dict(reid_loss=dict(_delete_=True, type='OIMLoss', momentum=0.5,
                            scale=30.0))
train_dataloader = dict(dataset=dict(with_identities=True))
