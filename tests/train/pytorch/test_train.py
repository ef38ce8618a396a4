#!/usr/bin/python3
"""test_train.py: the static files of Graft's PyTorch project (train.py
and graft_io.py in src/train/pytorch) on a tiny project made here.

    /usr/bin/python3 tests/train/pytorch/test_train.py [-v]

Builds, in a temporary folder, what `graft-cli export --format pytorch`
writes — model.py (tests/train/pytorch/fixture_model.py: two conv blocks
and a linear head on 32×32 pictures), weights.safetensors, split.json,
recipe.json — over a few dozen generated pictures of three colours, and
checks:

- graft_io: the split's positions against HMAC-SHA256 computed here, its
  rule for classes left on one side, the scan's classes, order and
  skipped files, safetensors round trips and refusals, preprocessing;
- train.py under `torchrun --nproc_per_node=2` (finetune, Adam, 2 epochs,
  batch 8): run.json in Graft's schema, a falling loss, ranks.json's two
  equal hashes, weights.safetensors loading back through the model;
- a resumed run (1 epoch, then --epochs 2 on the same --out) and a
  progressive run on --data folders, each on one process.

Exit status 0 when everything holds; otherwise 1 with the failed check.
Needs PyTorch, NumPy and Pillow (Debian: /usr/bin/python3) and torchrun.
"""

import hashlib
import hmac
import importlib.util
import json
import math
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import unicodedata

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SOURCE = os.path.join(REPO, "src", "train", "pytorch")
sys.path.insert(0, SOURCE)

try:
    import numpy as np
    import torch
    from PIL import Image
except ImportError as e:
    sys.exit(f"test_train.py: {e}: run it with a Python that has PyTorch, "
             f"NumPy and Pillow (Debian 12: /usr/bin/python3)")

import graft_io                                             # noqa: E402

TORCHRUN = shutil.which("torchrun") or "/usr/bin/torchrun"
CLASSES = ["blue", "green", "red"]
COLOURS = {"blue": (40, 60, 210), "green": (40, 190, 60),
           "red": (210, 50, 40)}
PER_CLASS = 16
RUN_TIMEOUT = 120
VERBOSE = "-v" in sys.argv


class Failure(Exception):
    """A check that did not hold."""


def check(condition, message):
    if not condition:
        raise Failure(message)


def load_fixture():
    spec = importlib.util.spec_from_file_location(
        "fixture_model", os.path.join(HERE, "fixture_model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- The project ------------------------------------------------------------


def make_pictures(root):
    """Three class folders of coloured pictures of assorted sizes and
    formats (one class with a sub-folder), plus files a scan leaves out:
    a hidden picture, a text file and a truncated PNG."""
    rng = random.Random(7)
    sizes = [(32, 32), (40, 32), (32, 48), (50, 40), (24, 30)]
    for c, name in enumerate(CLASSES):
        folder = os.path.join(root, name)
        os.makedirs(os.path.join(folder, "more"))
        for i in range(PER_CLASS):
            w, h = sizes[(i + c) % len(sizes)]
            noise = np.array([[rng.randint(-30, 30) for _ in range(3)]
                              for _ in range(w * h)]).reshape(h, w, 3)
            pixels = np.clip(np.array(COLOURS[name]) + noise, 0, 255)
            image = Image.fromarray(pixels.astype(np.uint8), "RGB")
            sub = "more" if name == "blue" and i < 3 else ""
            ext = "jpg" if i % 4 == 3 else "png"
            image.save(os.path.join(folder, sub, f"{name}{i:02d}.{ext}"))
    Image.new("RGB", (8, 8)).save(os.path.join(root, "green", ".hidden.png"))
    with open(os.path.join(root, "red", "notes.txt"), "w") as f:
        f.write("not a picture\n")
    with open(os.path.join(root, "red", "red00.png"), "rb") as f:
        head = f.read(60)
    with open(os.path.join(root, "red", "broken.png"), "wb") as f:
        f.write(head)
    with open(os.path.join(root, "loose.png"), "wb") as f:
        f.write(head)


def make_project(folder, data, recipe_config, fixture):
    """The files of an exported project in ``folder``, over the pictures
    in ``data``; returns the initial state_dict."""
    os.makedirs(folder)
    for name in ("train.py", "graft_io.py"):
        shutil.copy(os.path.join(SOURCE, name), folder)
    shutil.copy(os.path.join(HERE, "fixture_model.py"),
                os.path.join(folder, "model.py"))
    torch.manual_seed(0)
    model = fixture.GraftModel()
    with torch.no_grad():
        model.m4.value.fill_(1.0)
    fixture.save_graft_weights(model, os.path.join(folder,
                                                   "weights.safetensors"))
    config = {
        "backbone": "fixture", "cut": None, "data": [data], "labels": None,
        "val_fraction": 0.25, "split_seed": 3, "seed": 11,
        "mode": "finetune", "unfreeze": -1, "hidden": 0, "dropout": 0.2,
        "output": "softmax", "optimizer": "adam", "lr": 0.01,
        "momentum": 0.9, "weight_decay": 0.0, "schedule": "constant",
        "warmup_epochs": 0, "step_epochs": 3, "step_gamma": 0.1,
        "label_smoothing": 0.0, "epochs": 2, "batch": 8,
        "augment_flip": False, "augment_crop": False, "patience": 0,
        "bn_frozen_all": False, "discriminative": 1.0, "stage_epochs": 2,
        "plateau_tolerance": 0.01, "plateau_patience": 1, "threads": 0,
    }
    config.update(recipe_config)
    scan = graft_io.scan([data], config["val_fraction"], config["split_seed"])
    split = scan.to_split([data])
    graft_io.write_json(os.path.join(folder, "split.json"), split)
    graft_io.write_json(os.path.join(folder, "recipe.json"), {
        "graft_version": "test", "run": "/nowhere/run", "config": config,
        "classes": split["classes"],
        "blocks": [{"name": "block 0 · stem", "parameters": 232},
                   {"name": "block 1 · conv", "parameters": 1201}],
        "frozen_blocks": 0, "input_size": [32, 32]})
    return {k: v.clone() for k, v in model.state_dict().items()}


def environment():
    env = dict(os.environ)
    env.update({"GRAFT_LOADER_WORKERS": "0", "OMP_NUM_THREADS": "1",
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def run(command, cwd):
    """Runs ``command``; its CompletedProcess, output kept."""
    if VERBOSE:
        print("  $ " + " ".join(command), flush=True)
    try:
        done = subprocess.run(command, cwd=cwd, env=environment(),
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        output = e.stdout or b""
        if isinstance(output, bytes):
            output = output.decode("utf-8", "replace")
        raise Failure(f"{' '.join(command)} ran over {RUN_TIMEOUT} s:\n"
                      f"{output}") from e
    if VERBOSE:
        print("    " + done.stdout.replace("\n", "\n    "), flush=True)
    return done


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(project, *args):
    return run([TORCHRUN, "--redirects", "1", "--tee", "1",
                "--nproc_per_node=2", "--nnodes=1",
                "--master_addr=127.0.0.1", f"--master_port={free_port()}",
                "train.py", *args], project)


def single(project, *args):
    return run([sys.executable, "train.py", *args], project)


def expect_success(done, what):
    check(done.returncode == 0, f"{what} exited with {done.returncode}:\n"
          f"{done.stdout}")


# ---- Checks of run.json -----------------------------------------------------


def is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_run_json(out, epochs, n_classes, mode="finetune"):
    """run.json in Graft's schema (README, *run.json*); returns it."""
    with open(os.path.join(out, "run.json"), encoding="utf-8") as f:
        run = json.load(f)
    for key in ("graft_version", "status", "message", "config", "data",
                "trainable_parameters", "history", "stages", "final"):
        check(key in run, f"run.json has no {key}")
    check(run["graft_version"] == "pytorch", "graft_version is not pytorch")
    check(run["status"] == "finished", f"status is {run['status']}")
    check(run["message"] is None, f"message is {run['message']!r}")
    check(isinstance(run["trainable_parameters"], int)
          and run["trainable_parameters"] > 0, "trainable_parameters")
    check(run["config"]["mode"] == mode
          and (mode == "progressive" or run["config"]["epochs"] == epochs),
          "config does not hold the recipe")
    data = run["data"]
    check(data["classes"] == CLASSES, f"data.classes is {data['classes']}")
    for key in ("train", "val", "skipped"):
        check(isinstance(data[key], int), f"data.{key} is not a count")
    check(isinstance(data["warnings"], list), "data.warnings")
    check(data["lost"] == [], f"data.lost is {data['lost']}")

    steps, reports = run["history"]["steps"], run["history"]["epochs"]
    check(len(reports) == epochs, f"{len(reports)} epochs, not {epochs}")
    per_epoch = math.ceil(data["train"] / run["config"]["batch"])
    check([s["step"] for s in steps] == list(range(epochs * per_epoch)),
          f"steps are not 0…{epochs * per_epoch - 1}: "
          f"{[s['step'] for s in steps]}")
    for s in steps:
        check(s["epoch"] == s["step"] // per_epoch + 1,
              f"step {s['step']} is in epoch {s['epoch']}")
        check(is_number(s["loss"]) and is_number(s["lr"]) and s["lr"] > 0,
              f"step {s['step']}: loss or lr is not a number")
    for i, e in enumerate(reports):
        check(e["epoch"] == i + 1 and e["step"] == (i + 1) * per_epoch,
              f"epoch {i + 1} is numbered {e['epoch']} at step {e['step']}")
        for key in ("train_loss", "val_loss", "val_accuracy", "seconds"):
            check(is_number(e[key]), f"epoch {i + 1}: {key} is {e[key]!r}")
        check(0 <= e["val_accuracy"] <= 1, "val_accuracy out of [0, 1]")
        check(len(e["class_accuracy"]) == n_classes, "class_accuracy")
        confusion = e["confusion"]
        check(len(confusion) == n_classes
              and all(len(row) == n_classes
                      and all(isinstance(v, int) for v in row)
                      for row in confusion),
              f"confusion is not {n_classes}×{n_classes} integers")
        check(sum(map(sum, confusion)) == data["val"],
              f"confusion counts {sum(map(sum, confusion))} pictures, the "
              f"validation set {data['val']}")
        correct = sum(confusion[c][c] for c in range(n_classes))
        check(abs(e["val_accuracy"] - correct / data["val"]) < 1e-12,
              "val_accuracy does not match the confusion matrix")
        for c in range(n_classes):
            row = sum(confusion[c])
            want = confusion[c][c] / row if row else None
            check(e["class_accuracy"][c] == want or abs(
                e["class_accuracy"][c] - want) < 1e-12,
                f"class_accuracy[{c}] does not match the confusion matrix")
    final = run["final"]
    for key in ("val_loss", "val_accuracy", "best_epoch", "epochs",
                "wall_seconds", "stop_reason"):
        check(key in final, f"final has no {key}")
    check(final["epochs"] == epochs, f"final.epochs is {final['epochs']}")
    best = min(reports, key=lambda e: e["val_loss"])
    check(final["best_epoch"] == best["epoch"]
          and final["val_loss"] == best["val_loss"],
          f"final.best_epoch {final['best_epoch']} is not the epoch of the "
          f"lowest validation loss ({best['epoch']})")
    check(is_number(final["wall_seconds"]) and final["wall_seconds"] > 0,
          "final.wall_seconds")
    return run


def state_sha256(state):
    digest = hashlib.sha256()
    for key in sorted(state):
        array = state[key].detach().to("cpu", torch.float32).numpy()
        digest.update(np.ascontiguousarray(array, dtype="<f4").tobytes())
    return digest.hexdigest()


# ---- Unit checks of graft_io ------------------------------------------------


def expected_position(seed, text):
    """A picture's split position, computed here from its definition."""
    message = unicodedata.normalize("NFC", text).encode("utf-8")
    digest = hmac.new(seed.to_bytes(8, "little"), message,
                      hashlib.sha256).digest()
    return (int.from_bytes(digest[:8], "big") >> 11) / 2.0 ** 53


def test_split(tmp):
    names = ["a.png", "cat/1.jpg", "sub/dir/photo 3.png", "café.png",
             "Ünïcödé/ß.webp", ""]
    for seed in (0, 1, 5, 2 ** 53 - 1):
        for name in names:
            got = graft_io.split_position(seed, name)
            want = expected_position(seed, name)
            check(got == want, f"split_position({seed}, {name!r}) is {got}, "
                  f"expected {want}")
            check(0 <= got < 1, "a position outside [0, 1)")
    check(graft_io.split_position(5, "cafe\u0301.png")
          == graft_io.split_position(5, "caf\u00e9.png"),
          "a decomposed name splits apart from its NFC form")
    check(graft_io.split_position(5, b"caf\xe9.png")
          != graft_io.split_position(5, "caf\u00e9.png"),
          "bytes that are not UTF-8 are not hashed as they are")

    # The rule for classes left on one side.
    labels = [0, 0, 0, 1, 1, 1, 2, 3, 3]
    positions = [0.5, 0.3, 0.9, 0.01, 0.05, 0.1, 0.7, 0.6, 0.2]
    # 0.25: class 0 all training (its smallest moves), class 1 all
    # validation (its largest moves), class 2 alone, class 3 split.
    val = graft_io.apply_split(labels, positions, 0.25)
    check(val == [False, True, False, True, True, False, False, False, True],
          f"apply_split gave {val}")
    # 0.15: class 3 all training too.
    val = graft_io.apply_split(labels, positions, 0.15)
    check(val == [False, True, False, True, True, False, False, False, True],
          f"apply_split gave {val}")
    check(graft_io.apply_split(labels, positions, 0.0) == [False] * 9,
          "val_fraction 0 validates pictures")

    # The scan: classes, order, relative paths, skipped files, split.
    data = os.path.join(tmp, "data")
    scan = graft_io.scan([data], 0.25, 3)
    check([c.name for c in scan.classes] == CLASSES,
          f"classes {[c.name for c in scan.classes]}")
    check(len(scan.samples) == 3 * PER_CLASS,
          f"{len(scan.samples)} pictures, not {3 * PER_CLASS}")
    keys = [(s.label, s.relative.encode()) for s in scan.samples]
    check(keys == sorted(keys), "samples are not sorted by class and path")
    check(scan.samples[0].relative == "blue03.jpg"
          and any(s.relative == "more/blue00.png" for s in scan.samples),
          "relative paths under the class folder are wrong")
    skipped = {os.path.relpath(p, data): why for p, why in scan.skipped}
    check(set(skipped) == {"loose.png", "red/broken.png", "red/notes.txt"},
          f"skipped {sorted(skipped)}")
    check("class folder" in skipped["loose.png"], skipped["loose.png"])
    for label in range(3):
        members = [s for s in scan.samples if s.label == label]
        position = {s.relative: expected_position(3, s.relative)
                    for s in members}
        naive = {s.relative: position[s.relative] < 0.25 for s in members}
        moved = [s for s in members if s.val != naive[s.relative]]
        if not moved:
            check(len(set(naive.values())) == 2,
                  f"class {label} is on one side only")
        else:
            s = moved[0]
            lowest = min(position, key=position.get)
            highest = max(position, key=position.get)
            check(len(moved) == 1 and (
                (not any(naive.values()) and s.val
                 and s.relative == lowest)
                or (all(naive.values()) and not s.val
                    and s.relative == highest)),
                f"class {label}: {[m.relative for m in moved]} moved across "
                f"the split against the rule")
    split = scan.to_split([data])
    check(len(split["train"]) + len(split["val"]) == 3 * PER_CLASS
          and split["classes"] == CLASSES, "to_split")
    several = graft_io.scan([os.path.join(data, "red"),
                             os.path.join(data, "blue") + "/"], 0.25, 3)
    check([c.name for c in several.classes] == ["blue", "red"],
          "folders given one by one are not classes named by basename")


def test_safetensors(tmp):
    path = os.path.join(tmp, "t.safetensors")
    tensors = {"b": torch.arange(6, dtype=torch.float32).reshape(2, 3),
               "a.weight": torch.tensor([1.5]), "empty": torch.zeros(0, 4),
               "scalar": torch.tensor(2.0)}
    graft_io.write_safetensors(path, tensors, {"format": "graft"})
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    check((8 + length) % 8 == 0, "the data does not start 8-byte aligned")
    back = graft_io.read_safetensors(path)
    check(set(back) == set(tensors), f"names {sorted(back)}")
    for name, t in tensors.items():
        check(back[name].dtype == torch.float32
              and back[name].shape == t.shape and torch.equal(back[name], t),
              f"{name} did not round-trip")
    check(graft_io.read_safetensors_metadata(path) == {"format": "graft"},
          "metadata did not round-trip")
    check(not [n for n in os.listdir(tmp) if n.endswith(".tmp")],
          "a temporary file was left behind")

    def refused(header, data, words):
        bad = os.path.join(tmp, "bad.safetensors")
        text = json.dumps(header).encode()
        with open(bad, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + data)
        try:
            graft_io.read_safetensors(bad)
        except graft_io.SafetensorsError as e:
            check(words in str(e) and bad in str(e),
                  f"the refusal '{e}' does not say '{words}'")
            return
        raise Failure(f"a file with {words} was read")

    refused({"x": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}},
            b"\0" * 4, "only F32")
    refused({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}},
            b"\0" * 4, "needs 8")
    refused({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
            b"\0" * 12, "after the last tensor")
    refused({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}},
            b"\0" * 8, "unused bytes")
    try:
        graft_io.write_safetensors(path, {"i": torch.arange(3)})
        raise Failure("an integer tensor was written")
    except TypeError:
        pass
    check(torch.equal(graft_io.read_safetensors(path)["b"], tensors["b"]),
          "a refused write changed the file")


def test_pictures(tmp):
    path = os.path.join(tmp, "solid.png")
    Image.new("RGB", (60, 40), (200, 100, 50)).save(path)
    pre = {"size": [16, 24], "resize": "shorter-crop", "channels": "RGB",
           "scale": 1 / 255, "mean": [0.5, 0.25, 0.0],
           "std": [0.5, 0.25, 2.0]}
    x = graft_io.load_picture(path, pre)
    check(tuple(x.shape) == (3, 16, 24) and x.dtype == torch.float32,
          f"shape {tuple(x.shape)}")
    want = [(p / 255 - m) / s for p, m, s in zip((200, 100, 50), pre["mean"],
                                                 pre["std"])]
    for c in range(3):
        check(torch.allclose(x[c], torch.full((16, 24), want[c]), atol=1e-5),
              f"channel {c} is not (p·scale − mean) / std")
    x = graft_io.load_picture(path, dict(pre, channels="BGR", mean=[0] * 3,
                                         std=[1] * 3, resize="squash"))
    check(abs(float(x[0, 0, 0]) - 50 / 255) < 1e-5, "BGR does not swap")
    x = graft_io.load_picture(path, dict(pre, channels="L", mean=[0] * 3,
                                         std=[1] * 3))
    luma = (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255
    check(tuple(x.shape) == (1, 16, 24)
          and abs(float(x[0, 3, 3]) - luma) < 1e-5, "L is not BT.601 luma")

    # Transparent pixels are laid on white.
    rgba = os.path.join(tmp, "clear.png")
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(rgba)
    x = graft_io.load_picture(rgba, dict(pre, mean=[0] * 3, std=[1] * 3))
    check(torch.allclose(x, torch.ones_like(x)), "transparency is not white")

    # shorter-crop keeps the centre; squash keeps everything.
    stripes = os.path.join(tmp, "stripes.png")
    image = Image.new("RGB", (30, 10), (0, 0, 255))
    image.paste((255, 0, 0), (10, 0, 20, 10))
    image.save(stripes)
    plain = dict(pre, size=[10, 10], mean=[0] * 3, std=[1] * 3)
    x = graft_io.load_picture(stripes, plain)
    check(float(x[0].min()) > 0.99 and float(x[2].max()) < 0.01,
          "shorter-crop does not crop the centre")
    x = graft_io.load_picture(stripes, dict(plain, resize="squash"))
    check(float(x[2, 5, 0]) > 0.9 and float(x[0, 5, 5]) > 0.9,
          "squash does not keep the whole picture")

    # Seeded views: the same every time, inside the picture, mirrored
    # about half of the time.
    views = [graft_io.plan_view(1, "k", v, 60, 40, True, True)
             for v in range(1, 200)]
    check(views == [graft_io.plan_view(1, "k", v, 60, 40, True, True)
                    for v in range(1, 200)], "views are not reproducible")
    for v in views:
        check(v.cropped and 0 <= v.x and v.x + v.width <= 60 and 0 <= v.y
              and v.y + v.height <= 40, f"{v} leaves the picture")
    flips = sum(v.flip for v in views)
    check(60 < flips < 140, f"{flips} of 199 views mirrored")
    check(graft_io.plan_view(1, "k", 0, 60, 40, True, True)
          == graft_io.View(width=60, height=40), "view 0 is augmented")
    x = graft_io.load_picture(stripes, plain, seed=3, view=2, flip=True,
                              crop=True)
    check(tuple(x.shape) == (3, 10, 10), "an augmented view's shape")


# ---- Runs of train.py -------------------------------------------------------


def test_ddp(tmp, fixture):
    data = os.path.join(tmp, "data")
    project = os.path.join(tmp, "ddp")
    initial = make_project(project, data, {}, fixture)
    out = os.path.join(tmp, "ddp-out")
    done = torchrun(project, "--out", out)
    expect_success(done, "torchrun train.py")
    run = check_run_json(out, 2, 3)
    all_weights = sum(p.numel() for p in fixture.GraftModel().parameters())
    check(run["trainable_parameters"] == all_weights,
          f"trainable_parameters {run['trainable_parameters']}, finetune "
          f"of every block trains {all_weights}")
    check(run["stages"] == [] and run["final"]["stop_reason"] is None,
          "a finetune run has stages or a stop reason")

    steps = run["history"]["steps"]
    first = [s["loss"] for s in steps if s["epoch"] == 1]
    last = [s["loss"] for s in steps if s["epoch"] == 2]
    check(sum(last) / len(last) < sum(first) / len(first),
          f"the loss did not fall: epoch 1 {first}, epoch 2 {last}")

    with open(os.path.join(out, "ranks.json"), encoding="utf-8") as f:
        ranks = json.load(f)
    check(ranks["world_size"] == 2 and len(ranks["sha256"]) == 2,
          f"ranks.json is {ranks}")
    check(ranks["sha256"][0] == ranks["sha256"][1]
          and len(ranks["sha256"][0]) == 64,
          f"the processes ended with different weights: {ranks['sha256']}")
    checkpoint = torch.load(os.path.join(out, "checkpoint.pt"),
                            map_location="cpu")
    check(checkpoint["epoch"] == 2, "checkpoint.pt is not epoch 2's")
    check(state_sha256(checkpoint["model"]) == ranks["sha256"][0],
          "ranks.json's hash is not that of the final weights")

    weights = os.path.join(out, "weights.safetensors")
    check(graft_io.read_safetensors_metadata(weights) == {"format": "graft"},
          "weights.safetensors has no format: graft")
    check(set(graft_io.read_safetensors(weights))
          == set(fixture.GRAFT_NAMES.values()),
          "weights.safetensors does not hold Graft's names")
    model = fixture.GraftModel()
    fixture.load_graft_weights(model, weights)
    state = model.state_dict()
    check(not torch.equal(state["m5.weight"], initial["m5.weight"])
          and not torch.equal(state["m0.weight"], initial["m0.weight"]),
          "the weights did not train")
    if run["final"]["best_epoch"] == 2:
        for key in fixture.GRAFT_NAMES:
            check(torch.equal(state[key], checkpoint["model"][key]),
                  f"weights.safetensors' {key} is not the best epoch's")
    model.eval()
    with torch.no_grad():
        p = fixture.probabilities(model(torch.zeros(2, 3, 32, 32)))
    check(p.shape == (2, 3), "the trained model does not run")


def test_resume(tmp, fixture):
    data = os.path.join(tmp, "data")
    project = os.path.join(tmp, "resume")
    make_project(project, data, {"optimizer": "sgd", "schedule": "cosine",
                                 "warmup_epochs": 1, "augment_flip": True,
                                 "augment_crop": True, "unfreeze": 1,
                                 "discriminative": 0.5}, fixture)
    out = os.path.join(tmp, "resume-out")
    expect_success(single(project, "--out", out, "--epochs", "1"),
                   "train.py --epochs 1")
    run = check_run_json(out, 1, 3)
    one = run["history"]["steps"]
    head_and_block1 = 16 * 3 + 3 + 8 * 16 * 9 + 16 + 16 * 2 + 1
    check(run["trainable_parameters"] == head_and_block1,
          f"unfreeze 1 trains {run['trainable_parameters']} weights, not "
          f"{head_and_block1}")
    lrs = [s["lr"] for s in one]
    check(lrs == sorted(lrs) and abs(lrs[-1] - 0.01) < 1e-12,
          f"warm-up rates are {lrs}")

    done = single(project, "--out", out, "--epochs", "2")
    expect_success(done, "train.py --epochs 2 (resumed)")
    check("resumed from epoch 1" in done.stdout,
          f"the second start did not resume:\n{done.stdout}")
    run = check_run_json(out, 2, 3)
    check(run["history"]["steps"][:len(one)] == one,
          "the resumed run changed the first epoch's history")
    lrs = [s["lr"] for s in run["history"]["steps"][len(one):]]
    check(lrs == sorted(lrs, reverse=True) and lrs[-1] < 0.01,
          f"cosine rates after warm-up are {lrs}")
    with open(os.path.join(out, "ranks.json"), encoding="utf-8") as f:
        check(json.load(f)["world_size"] == 1, "ranks.json's world_size")


def test_progressive(tmp, fixture):
    data = os.path.join(tmp, "data")
    project = os.path.join(tmp, "progressive")
    make_project(project, data, {"mode": "progressive", "unfreeze": 0,
                                 "epochs": 0, "stage_epochs": 1,
                                 "plateau_tolerance": 0.0,
                                 "plateau_patience": 5,
                                 "bn_frozen_all": True}, fixture)
    # --data: a copy of the class folders (without the loose file),
    # scanned and split by train.py.
    copy = os.path.join(tmp, "copy")
    for name in CLASSES:
        shutil.copytree(os.path.join(data, name), os.path.join(copy, name))
    out = os.path.join(tmp, "progressive-out")
    done = single(project, "--out", out, "--data", copy, "--batch", "16")
    expect_success(done, "train.py progressive --data")
    run = check_run_json(out, 3, 3, mode="progressive")
    check(run["config"]["data"] == [copy] and run["config"]["batch"] == 16,
          "config does not say --data and --batch")
    check(run["data"]["skipped"] == 2,
          f"--data skipped {run['data']['skipped']} files, not 2")
    stages = run["stages"]
    check([s["block"] for s in stages]
          == ["head", "block 1 · conv", "block 0 · stem"],
          f"stages are {stages}")
    per_epoch = math.ceil(run["data"]["train"] / 16)
    check([(s["epoch"], s["step"]) for s in stages]
          == [(0, 0), (1, per_epoch), (2, 2 * per_epoch)],
          f"stages begin at {[(s['epoch'], s['step']) for s in stages]}")
    check(run["final"]["stop_reason"] == "every block unfrozen",
          f"stop_reason is {run['final']['stop_reason']!r}")
    weights = sum(p.numel() for p in fixture.GraftModel().parameters())
    check(run["trainable_parameters"] == weights,
          "the last stage does not train every weight")
    checkpoint = torch.load(os.path.join(out, "checkpoint.pt"),
                            map_location="cpu")
    project_weights = graft_io.read_safetensors(
        os.path.join(project, "weights.safetensors"))
    check(torch.equal(checkpoint["model"]["m1.running_mean"],
                      project_weights["stem.bn.running_mean"]),
          "bn_frozen_all let BatchNorm statistics move")


def main():
    started = time.monotonic()
    fixture_dir = tempfile.mkdtemp(prefix="graft-pytorch-test-")
    failed = False
    try:
        sys.path.insert(0, HERE)
        fixture = load_fixture()
        make_pictures(os.path.join(fixture_dir, "data"))
        for test in (test_split, test_safetensors, test_pictures):
            begin = time.monotonic()
            test(fixture_dir)
            print(f"ok {test.__name__} ({time.monotonic() - begin:.1f} s)",
                  flush=True)
        for test in (test_ddp, test_resume, test_progressive):
            begin = time.monotonic()
            test(fixture_dir, fixture)
            print(f"ok {test.__name__} ({time.monotonic() - begin:.1f} s)",
                  flush=True)
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        failed = True
    except Exception:                   # noqa: BLE001 — a bug is a failure
        traceback.print_exc()
        failed = True
    finally:
        shutil.rmtree(fixture_dir, ignore_errors=True)
    if failed:
        return 1
    print(f"all passed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
