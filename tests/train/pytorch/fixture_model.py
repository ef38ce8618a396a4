# fixture_model.py: a small model.py of the form Graft's generator writes
# (src/train/graft-run-pytorch.c; the contract is src/train/pytorch/
# PROJECT.md), for tests/train/pytorch/test_train.py: two backbone blocks
# (conv-BN-ReLU each, the second scaled by a constant as a Mul would be)
# and a linear head over globally pooled features, on 32×32 pictures.
import torch
import torch.nn as nn
import torch.nn.functional as F

import graft_io


class Constant(nn.Module):
    """A tensor an operation reads, held as a parameter."""

    def __init__(self, *shape):
        super().__init__()
        self.value = nn.Parameter(torch.zeros(*shape))


class GraftModel(nn.Module):
    """The run's network: pictures (N, 3, H, W), preprocessed as
    PREPROCESS says, to logits (N, K)."""

    def __init__(self):
        super().__init__()
        self.m0 = nn.Conv2d(3, 8, (3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=1, bias=False)
        self.m1 = nn.BatchNorm2d(8, eps=1e-05, momentum=0.1)
        self.m2 = nn.Conv2d(8, 16, (3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=1, bias=True)
        self.m3 = nn.BatchNorm2d(16, eps=1e-05, momentum=0.1)
        self.m4 = Constant(1)
        self.m5 = nn.Linear(16, 3, bias=True)

    def forward(self, x):
        t0 = x
        t1 = self.m0(t0)
        t2 = self.m1(t1)
        t3 = F.relu(t2)
        t4 = self.m2(t3)
        t5 = self.m3(t4)
        t6 = F.relu(t5)
        t7 = t6 * self.m4.value
        t8 = t7.mean((2, 3), keepdim=True)
        t9 = torch.flatten(t8, 1)
        t10 = F.dropout(t9, 0.2, self.training)
        t11 = self.m5(t10)
        return t11


BLOCKS = [
    ["m0", "m1"],
    ["m2", "m3", "m4"],
]
HEAD = ["m5"]
GRAFT_NAMES = {
    "m0.weight": "stem.conv.weight",
    "m1.weight": "stem.bn.weight",
    "m1.bias": "stem.bn.bias",
    "m1.running_mean": "stem.bn.running_mean",
    "m1.running_var": "stem.bn.running_var",
    "m2.weight": "layer1.conv.weight",
    "m2.bias": "layer1.conv.bias",
    "m3.weight": "layer1.bn.weight",
    "m3.bias": "layer1.bn.bias",
    "m3.running_mean": "layer1.bn.running_mean",
    "m3.running_var": "layer1.bn.running_var",
    "m4.value": "layer1.scale",
    "m5.weight": "head.fc.weight",
    "m5.bias": "head.fc.bias",
}
OUTPUT = "softmax"
LABELS = ["blue", "green", "red"]
INPUT_SIZE = (32, 32)
PREPROCESS = {"size": [32, 32], "resize": "shorter-crop", "channels": "RGB", "scale": 0.00392156862745098, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def probabilities(logits):
    """The model's output as Graft gives it."""
    if OUTPUT == "sigmoid":
        return torch.sigmoid(logits)
    return torch.softmax(logits, 1)


def load_graft_weights(model, path):
    """Loads a safetensors file in Graft's names into @model."""
    tensors = graft_io.read_safetensors(path)
    state = model.state_dict()
    for key, name in GRAFT_NAMES.items():
        if name not in tensors:
            raise ValueError(f"{path}: no tensor {name!r}")
        if tuple(tensors[name].shape) != tuple(state[key].shape):
            raise ValueError(f"{path}: {name!r} is "
                             f"{tuple(tensors[name].shape)}, the model "
                             f"takes {tuple(state[key].shape)}")
        state[key] = tensors[name]
    model.load_state_dict(state)


def save_graft_weights(model, path):
    """Writes @model's weights to a safetensors file in Graft's names."""
    state = model.state_dict()
    graft_io.write_safetensors(
        path, {name: state[key].detach().float().cpu().contiguous()
               for key, name in GRAFT_NAMES.items()},
        {"format": "graft"})
