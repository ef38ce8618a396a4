#!/usr/bin/python3
"""pytorch-parity.py PROJECT PREDICTIONS [WEIGHTS]: checks a PyTorch
project that `graft-cli export --format pytorch` wrote against Graft's
own answers (with WEIGHTS, another weights.safetensors in Graft's names,
such as the project's train.py wrote, in place of the project's).

PREDICTIONS holds `graft-cli predict --top K` lines (every class) for
pictures already at the model's input size, so that preprocessing is the
same exact arithmetic on both sides.  The generated model.py, with the
exported weights, must give each probability within 1e-4 (relative) of
Graft's, and its BLOCKS, HEAD and GRAFT_NAMES must cover the network's
modules and weights exactly once.  Prints the largest relative
difference; exits 1 with a message on any failure, 77 when PyTorch is
missing.
"""
import json
import os
import sys

try:
    import numpy as np
    import torch
    from PIL import Image
except ImportError:
    sys.exit(77)

RTOL = 1e-4
FLOOR = 1e-7     # predict prints 6 significant digits


def fail(message):
    print(f"pytorch-parity: {message}", file=sys.stderr)
    sys.exit(1)


def picture(path, model):
    pre = model.PREPROCESS
    image = Image.open(path).convert("RGB")
    if (image.height, image.width) != tuple(model.INPUT_SIZE):
        fail(f"{path} is {image.width}x{image.height}, not the input size")
    a = np.asarray(image, dtype=np.float64)
    if pre["channels"] == "BGR":
        a = a[:, :, ::-1]
    a = (a * pre["scale"] - np.array(pre["mean"])) / np.array(pre["std"])
    return torch.from_numpy(a.transpose(2, 0, 1).copy()).float()[None]


def check_structure(model, net, recipe):
    named = [name for name, child in net.named_children()
             if any(True for _ in child.parameters(recurse=True))
             or any(True for _ in child.buffers(recurse=True))]
    listed = [m for block in model.BLOCKS for m in block] + model.HEAD
    if sorted(listed) != sorted(named) or len(set(listed)) != len(listed):
        fail(f"BLOCKS and HEAD list {sorted(listed)}, the model has "
             f"{sorted(named)}")
    if len(model.BLOCKS) != len(recipe["blocks"]):
        fail(f"{len(model.BLOCKS)} blocks in model.py, "
             f"{len(recipe['blocks'])} in recipe.json")
    keys = {k for k in net.state_dict() if not k.endswith("num_batches_tracked")}
    if set(model.GRAFT_NAMES) != keys:
        fail(f"GRAFT_NAMES covers {sorted(set(model.GRAFT_NAMES) ^ keys)} "
             "wrongly")
    if len(set(model.GRAFT_NAMES.values())) != len(model.GRAFT_NAMES):
        fail("two weights have one Graft name")


def main():
    project, predictions = sys.argv[1], sys.argv[2]
    weights = (sys.argv[3] if len(sys.argv) > 3
               else os.path.join(project, "weights.safetensors"))
    sys.path.insert(0, project)
    import model
    torch.set_num_threads(1)
    net = model.GraftModel()
    model.load_graft_weights(net, weights)
    net.eval()
    with open(os.path.join(project, "recipe.json")) as f:
        recipe = json.load(f)
    check_structure(model, net, recipe)
    worst, checked = 0.0, 0
    with open(predictions) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    if not lines:
        fail("no predictions")
    for line in lines:
        with torch.no_grad():
            p = model.probabilities(net(picture(line["path"], model)))[0]
        if len(line["top"]) != len(model.LABELS) or model.OUTPUT != "softmax":
            fail("predictions must list every class of a softmax model")
        for entry in line["top"]:
            want = entry["p"]
            got = float(p[model.LABELS.index(entry["label"])])
            rel = abs(got - want) / max(abs(want), FLOOR)
            worst = max(worst, rel)
            checked += 1
            # Written so that a NaN fails too.
            if not abs(got - want) <= RTOL * max(abs(want), FLOOR):
                fail(f"{line['path']}: p({entry['label']}) is {got:.7g} in "
                     f"PyTorch, {want:.7g} in Graft")
    print(f"{checked} probabilities of {len(lines)} pictures, largest "
          f"relative difference {worst:.2e}")


main()
