"""The part of a torchvision model that Graft's bottleneck search keeps.

Shared by tools/export-torchvision (--features) and the PyTorch sides of
the benchmarks, so that Graft, PyTorch and ONNX Runtime all run the same
network: a ResNet without its pooling and classifier, every other model
family's `features` (for VGG that ends at its last max pooling, for
MobileNetV2 at its last 1×1 convolution).
"""
import torch
import torchvision


def features(name):
    """NAME's torchvision builder, random weights, cut at its bottleneck."""
    model = getattr(torchvision.models, name)(weights=None).eval()
    if name.startswith("resnet"):
        return torch.nn.Sequential(*list(model.children())[:-2])
    return model.features
