# Full SSL: weak baseline + dynamic multi-label learning + the multi-scale
# exemplar branch and the scale-invariant loss (methods.md, section 5).
_base_ = ['./_base_/ssl_r18_fpn_fashionscenes-ps.py']
