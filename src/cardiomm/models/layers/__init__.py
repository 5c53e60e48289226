"""Network layers; the only place where real 2-channel views of complex data exist."""

from cardiomm.models.layers.cab import CAB, CALayer, conv
from cardiomm.models.layers.complex_channels import channels_to_complex, complex_to_channels
from cardiomm.models.layers.data_consistency import DataConsistency, data_consistency
from cardiomm.models.layers.prompter import UndersamplingPrompter
from cardiomm.models.layers.text_condition import MetadataAdapter
from cardiomm.models.layers.unet import DownBlock, NormPromptUnet, PromptUnet, SkipBlock, UpBlock

__all__ = [
    "CAB",
    "CALayer",
    "conv",
    "complex_to_channels",
    "channels_to_complex",
    "DataConsistency",
    "data_consistency",
    "UndersamplingPrompter",
    "MetadataAdapter",
    "DownBlock",
    "SkipBlock",
    "UpBlock",
    "PromptUnet",
    "NormPromptUnet",
]
