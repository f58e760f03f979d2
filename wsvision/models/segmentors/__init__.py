from .deeplabv3plus import DeepLabV3PlusHead, EncoderDecoder

__all__ = ['DeepLabV3PlusHead', 'EncoderDecoder']
