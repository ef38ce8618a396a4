"""train.py: continues a Graft run in PyTorch, on one process or many.

    torchrun --nproc_per_node=N train.py --out DIR [--data DIR ...]
             [--epochs N] [--device cpu|cuda] [--batch N]
    python3 train.py --out DIR ...            (one process, no torchrun)

(Debian 12's torchrun under Python 3.11 also needs ``--redirects 1 --tee
1``.)  The network (``model.py``), its weights (``weights.safetensors``),
the run's pictures (``split.json``) and its recipe (``recipe.json``) are
read from this file's own folder; PROJECT.md there is the contract.

The recipe is followed as Graft follows it (src/train/graft-trainer.c):

- ``extract`` trains the head, every backbone block frozen; ``finetune``
  also the last ``unfreeze`` blocks (−1: all); ``progressive`` the head
  first, then one more block from the end every ``stage_epochs`` epochs,
  until every block is in, the epoch cap is reached, or the best
  validation loss fell by less than ``plateau_tolerance`` over
  ``plateau_patience`` stages.  Frozen blocks run in inference mode
  (their BatchNorm uses its running statistics); ``bn_frozen_all`` puts
  every BatchNorm in inference mode.
- Each stage gets a new optimizer (``adam``: betas 0.9/0.999, ε 1e-8,
  L2 ``weight_decay``; ``sgd``: ``momentum``, dampening 0) and a
  schedule over its own steps: linear warm-up over ``warmup_epochs``,
  then ``constant``, ``cosine`` (to 0 by the stage's end) or ``step``
  (× ``step_gamma`` every ``step_epochs``).  With ``discriminative`` F
  the last block learns at F times the rate, the one before at F², …
- The loss is cross-entropy with ``label_smoothing`` over softmax
  logits, or binary cross-entropy over one sigmoid logit (two classes).
- Training views follow ``augment_flip`` and ``augment_crop`` (seeded per
  picture and epoch); ``patience`` stops extract and finetune runs early.

``--batch`` is the batch of one optimizer step over all processes, as in
the recipe: each of N processes takes ceil(batch / N) pictures of it, so a
step and an epoch mean what they meant in Graft.  The training pictures
are shuffled by a DistributedSampler seeded with the recipe's ``seed``;
validation covers every validation picture once, its sums added over the
processes.  After every epoch rank 0 writes, each whole, ``DIR/run.json``
(Graft's schema), ``DIR/checkpoint.pt`` (a second start with the same
``--out`` resumes from it) and, when the epoch is the best so far,
``DIR/weights.safetensors`` in Graft's names; at the end ``DIR/ranks.json``
holds each process's SHA-256 of its weights.

Set GRAFT_LOADER_WORKERS to choose the picture-loading processes per
process (by default: none with two cores or fewer per process).
"""

import argparse
import hashlib
import importlib
import json
import math
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import numpy as np                                          # noqa: E402
import torch                                                # noqa: E402
import torch.distributed as dist                            # noqa: E402
import torch.nn as nn                                       # noqa: E402
import torch.nn.functional as F                             # noqa: E402
from torch.nn.modules.batchnorm import _BatchNorm           # noqa: E402
from torch.nn.parallel import DistributedDataParallel       # noqa: E402
from torch.utils.data import DataLoader, Dataset            # noqa: E402
from torch.utils.data import DistributedSampler             # noqa: E402

import graft_io                                             # noqa: E402

GRAFT_VERSION = "pytorch"
CHECKPOINT_FORMAT = "graft-pytorch-checkpoint-1"
MODES = ("extract", "finetune", "progressive")

# Graft's words in run.json.
FIRST_STAGE = "train the head first, the backbone frozen"
NEXT_STAGE = "validation loss still falling: unfreeze one more block"


class TrainError(Exception):
    """A failure told in one line: on stderr and in run.json's message."""


# ---- The recipe -------------------------------------------------------------


def config_defaults(mode):
    """Graft's defaults for ``mode`` (graft_run_config_new): what a key
    missing from recipe.json's config means."""
    return {
        "val_fraction": 0.2, "split_seed": 0, "seed": 0, "mode": mode,
        "unfreeze": -1 if mode == "finetune" else 0, "hidden": 0,
        "dropout": 0.2, "output": "softmax", "optimizer": "adam",
        "lr": 0.01 if mode == "extract" else 0.001, "momentum": 0.9,
        "weight_decay": 0.0, "schedule": "constant", "warmup_epochs": 0,
        "step_epochs": 3, "step_gamma": 0.1, "label_smoothing": 0.0,
        "epochs": {"extract": 30, "finetune": 5, "progressive": 0}[mode],
        "batch": 32, "augment_flip": False, "augment_crop": False,
        "patience": 0, "bn_frozen_all": False, "discriminative": 1.0,
        "stage_epochs": 2, "plateau_tolerance": 0.01, "plateau_patience": 1,
        "threads": 0,
    }


def check_config(c):
    """Refuses, in one line naming the setting, what Graft would refuse
    among the settings train.py uses."""
    choices = {"mode": MODES, "output": ("softmax", "sigmoid"),
               "optimizer": ("adam", "sgd"),
               "schedule": ("constant", "cosine", "step")}
    for key, allowed in choices.items():
        if c[key] not in allowed:
            raise TrainError(f"recipe.json: config.{key}: {c[key]!r} is none "
                             f"of {', '.join(allowed)}")
    ranges = {  # key: (low, high, low open, high open)
        "lr": (0, 10, True, False), "momentum": (0, 1, False, True),
        "weight_decay": (0, 1, False, False),
        "warmup_epochs": (0, 1000, False, False),
        "step_epochs": (1, 10000, False, False),
        "step_gamma": (0, 1, True, False),
        "label_smoothing": (0, 1, False, True),
        "epochs": (0, 10000, False, False), "batch": (1, 4096, False, False),
        "patience": (0, 10000, False, False),
        "discriminative": (0, 1, True, False),
        "stage_epochs": (1, 1000, False, False),
        "plateau_tolerance": (0, 1, False, True),
        "plateau_patience": (1, 1000, False, False),
        "unfreeze": (-1, 10000, False, False),
        "seed": (0, 2 ** 53 - 1, False, False),
        "split_seed": (0, 2 ** 53 - 1, False, False),
    }
    for key, (low, high, low_open, high_open) in ranges.items():
        value = c[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TrainError(f"recipe.json: config.{key}: {value!r} is not "
                             f"a number")
        ok = (value > low if low_open else value >= low) and \
             (value < high if high_open else value <= high)
        if not ok:
            raise TrainError(f"recipe.json: config.{key}: {value} is out of "
                             f"its range")
    if c["epochs"] == 0 and c["mode"] != "progressive":
        raise TrainError(f"epochs: must be at least 1 in {c['mode']} mode")
    if c["unfreeze"] == 0 and c["mode"] == "finetune":
        raise TrainError("unfreeze: must be at least 1, or -1 for all, in "
                         "finetune mode")


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise TrainError(f"{path}: {e.strerror}") from e
    except ValueError as e:
        raise TrainError(f"{path}: not JSON ({e})") from e


def load_recipe(args):
    """recipe.json, its config completed with Graft's defaults and the
    command line's overrides (--epochs, --batch, --data)."""
    recipe = read_json(os.path.join(HERE, "recipe.json"))
    given = recipe.get("config")
    if not isinstance(given, dict):
        raise TrainError("recipe.json: no config object")
    mode = given.get("mode", "extract")
    if mode not in MODES:
        raise TrainError(f"recipe.json: config.mode: {mode!r} is none of "
                         f"{', '.join(MODES)}")
    config = config_defaults(mode)
    config.update(given)
    if args.epochs is not None:
        config["epochs"] = args.epochs
    if args.batch is not None:
        config["batch"] = args.batch
    if args.data:
        config["data"] = [os.path.abspath(d) for d in args.data]
        config["labels"] = None
        config.pop("data_bytes", None)
        config.pop("labels_bytes", None)
    check_config(config)
    return recipe, config


# ---- Processes --------------------------------------------------------------


class Cluster:
    """This process's place among the ones torchrun started (or alone),
    its device, and the few collective operations the trainer needs."""

    def __init__(self, device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.local_world = int(os.environ.get("LOCAL_WORLD_SIZE",
                                              str(self.world)))
        kind = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if kind == "cuda":
            if not torch.cuda.is_available():
                raise TrainError("--device cuda: no CUDA device is available")
            torch.cuda.set_device(self.local_rank % torch.cuda.device_count())
            self.device = torch.device("cuda", torch.cuda.current_device())
        else:
            self.device = torch.device("cpu")
        if self.world > 1:
            dist.init_process_group("nccl" if kind == "cuda" else "gloo")

    @property
    def cuda(self):
        return self.device.type == "cuda"

    @property
    def main(self):
        return self.rank == 0

    def sum(self, tensor):
        """``tensor`` (float64) added over every process, on the CPU."""
        tensor = tensor.to(self.device, torch.float64)
        if self.world > 1:
            dist.all_reduce(tensor)
        return tensor.cpu()

    def broadcast(self, value):
        """Rank 0's ``value``, on every process."""
        if self.world == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value):
        """Every process's ``value``, in rank order, on every process."""
        if self.world == 1:
            return [value]
        values = [None] * self.world
        dist.all_gather_object(values, value)
        return values

    def barrier(self):
        if self.world > 1:
            dist.barrier()


def copy_template(out):
    """The exported run's graft/ folder (its model.onnx and head.json)
    into ``out``, where `graft-cli import-run` rebuilds a run from it."""
    source = os.path.join(HERE, "graft")
    if not os.path.isdir(source):
        return
    target = os.path.join(out, "graft")
    os.makedirs(target, exist_ok=True)
    for name in ("model.onnx", "head.json"):
        with open(os.path.join(source, name), "rb") as f:
            graft_io.write_bytes(os.path.join(target, name), f.read())


def on_main(cluster, work):
    """``work()`` run by rank 0 alone, its result (or its TrainError)
    given to every process, so that all of them go on or stop together."""
    outcome = None
    if cluster.main:
        try:
            outcome = (True, work())
        except (TrainError, graft_io.ScanError, OSError, ValueError) as e:
            outcome = (False, str(e))
    ok, value = cluster.broadcast(outcome)
    if not ok:
        raise TrainError(value)
    return value


# ---- Data -------------------------------------------------------------------


class RunData:
    """The run's pictures: class names, training and validation pictures
    as (path, label), and run.json's ``data`` description."""

    def __init__(self, split, skipped=0, warnings=()):
        classes = split.get("classes")
        if (not isinstance(classes, list)
                or not all(isinstance(c, str) for c in classes)):
            raise TrainError("split.json: classes is not a list of names")
        self.classes = classes
        self.train = self._pictures(split, "train")
        self.val = self._pictures(split, "val")
        if len(classes) < 2:
            raise TrainError(f"training needs at least two classes with "
                             f"usable pictures; found {len(classes)}")
        if not self.train:
            raise TrainError("no pictures left to train on after the split")
        self.description = {"classes": list(classes),
                            "train": len(self.train), "val": len(self.val),
                            "skipped": skipped, "warnings": list(warnings),
                            "lost": []}

    def _pictures(self, split, side):
        items = split.get(side)
        if not isinstance(items, list):
            raise TrainError(f"split.json: {side} is not a list")
        pictures = []
        for i, item in enumerate(items):
            if (not isinstance(item, dict)
                    or not isinstance(item.get("path"), str)
                    or not isinstance(item.get("label"), int)
                    or not 0 <= item["label"] < len(self.classes)):
                raise TrainError(f"split.json: {side}[{i}] is not a "
                                 f"{{\"path\", \"label\"}} of a class")
            pictures.append((item["path"], item["label"]))
        return pictures


def load_data(args, config, cluster):
    """The pictures: split.json's, or with --data the folders scanned and
    split as Graft does (rank 0 scans, the others get its result)."""
    if not args.data:
        return RunData(read_json(os.path.join(HERE, "split.json")))

    def scan():
        found = graft_io.scan(config["data"], config["val_fraction"],
                              config["split_seed"])
        for path, reason in found.skipped:
            print(f"skipped {path}: {reason}", file=sys.stderr)
        return (found.to_split(config["data"]), len(found.skipped),
                found.warnings)

    split, skipped, warnings = on_main(cluster, scan)
    return RunData(split, skipped, warnings)


class Pictures(Dataset):
    """Pictures as the network takes them: (tensor, label, index, why it
    could not be read or ""), a zero tensor standing for a lost picture.
    ``view`` is the epoch's training view (0: the plain picture)."""

    def __init__(self, items, preprocess, seed=0, flip=False, crop=False):
        self.items = items
        self.preprocess = preprocess
        self.seed, self.flip, self.crop = seed, flip, crop
        self.view = 0
        self.lost = {}          # path → why, known lost: not read again
        height, width = (int(v) for v in preprocess["size"])
        self.shape = (graft_io.picture_channels(preprocess), height, width)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        if path in self.lost:
            return torch.zeros(self.shape), label, i, self.lost[path]
        try:
            x = graft_io.load_picture(path, self.preprocess, self.seed,
                                      self.view, self.flip, self.crop)
        except Exception as e:      # noqa: BLE001 — any reason, told later
            reason = e.strerror if isinstance(e, OSError) and e.strerror \
                else str(e) or type(e).__name__
            return torch.zeros(self.shape), label, i, reason
        return x, label, i, ""


def loader_workers(cluster):
    """Picture-loading processes per training process."""
    chosen = os.environ.get("GRAFT_LOADER_WORKERS")
    if chosen is not None:
        return max(0, int(chosen))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    per_process = cores // max(cluster.local_world, 1)
    return min(4, per_process - 1) if per_process > 2 else 0


# ---- The schedule -----------------------------------------------------------


class Schedule:
    """Graft's learning rate by step within a stage (gf_schedule_lr):
    linear warm-up to ``base`` over ``warmup`` steps, then constant,
    step (× gamma every ``step_size`` steps) or cosine (to 0 at
    ``total``)."""

    def __init__(self, kind, base, warmup, total, step_size, gamma):
        self.kind, self.base, self.warmup = kind, base, warmup
        self.total, self.step_size, self.gamma = total, step_size, gamma

    def lr(self, step):
        if step < self.warmup:
            return self.base * (step + 1) / self.warmup
        after = step - self.warmup
        if self.kind == "step":
            if self.step_size == 0:
                return self.base
            return self.base * self.gamma ** (after // self.step_size)
        if self.kind == "cosine":
            span = max(self.total - self.warmup, 0)
            if after >= span:
                return 0.0
            return self.base * 0.5 * (1.0 + math.cos(math.pi * after / span))
        return self.base

    def state_dict(self):
        return dict(vars(self))


# ---- The network ------------------------------------------------------------


def load_model_module():
    """model.py, checked for what PROJECT.md says it defines."""
    try:
        module = importlib.import_module("model")
    except Exception as e:
        raise TrainError(f"{os.path.join(HERE, 'model.py')}: {e}") from e
    for name in ("GraftModel", "BLOCKS", "HEAD", "GRAFT_NAMES", "OUTPUT",
                 "LABELS", "PREPROCESS", "load_graft_weights",
                 "save_graft_weights"):
        if not hasattr(module, name):
            raise TrainError(f"model.py: no {name}")
    if module.OUTPUT not in ("softmax", "sigmoid"):
        raise TrainError(f"model.py: OUTPUT {module.OUTPUT!r} is neither "
                         f"softmax nor sigmoid")
    return module


def state_sha256(model):
    """The SHA-256 of ``model``'s state_dict: each tensor's float32 bytes
    (little-endian), keys in sorted order."""
    digest = hashlib.sha256()
    state = model.state_dict()
    for key in sorted(state):
        array = state[key].detach().to("cpu", torch.float32).numpy()
        digest.update(np.ascontiguousarray(array, dtype="<f4").tobytes())
    return digest.hexdigest()


def parameters_of(model, names):
    params = []
    for name in names:
        params.extend(model.get_submodule(name).parameters())
    return params


# ---- The trainer ------------------------------------------------------------


class Trainer:
    """One run of the recipe: stages, epochs, steps, history and files."""

    def __init__(self, args, recipe, config, data, module, cluster,
                 started):
        self.config, self.data, self.module = config, data, module
        self.cluster, self.out = cluster, os.path.abspath(args.out)
        self.started = started
        self.check_classes()

        model = module.GraftModel()
        try:
            module.load_graft_weights(
                model, os.path.join(HERE, "weights.safetensors"))
        except (ValueError, RuntimeError) as e:
            raise TrainError(str(e)) from e
        if cluster.cuda and cluster.world > 1:
            # Graft's batch statistics are over the whole batch.
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.model = model.to(cluster.device)
        self.ddp = self.model
        self.blocks, self.head = self.layout(recipe)
        self.n_blocks = len(self.blocks)
        self.block_names = self.names_of_blocks(recipe)

        c = config
        self.batch = math.ceil(c["batch"] / cluster.world)
        self.train_set = Pictures(data.train, module.PREPROCESS, c["seed"],
                                  c["augment_flip"], c["augment_crop"])
        self.val_set = Pictures(data.val[cluster.rank::cluster.world],
                                module.PREPROCESS)
        self.sampler = DistributedSampler(
            self.train_set, num_replicas=cluster.world, rank=cluster.rank,
            shuffle=True, seed=int(c["seed"]), drop_last=False)
        workers = loader_workers(cluster)
        self.train_loader = DataLoader(
            self.train_set, batch_size=self.batch, sampler=self.sampler,
            num_workers=workers, pin_memory=cluster.cuda)
        self.val_loader = DataLoader(
            self.val_set, batch_size=self.batch, shuffle=False,
            num_workers=workers, pin_memory=cluster.cuda)
        self.per_epoch = len(self.train_loader)

        # Position, history and outcome: what the checkpoint keeps.
        self.epoch = self.step = 0
        self.n_frozen = self.n_blocks
        self.stage_start_step = 0
        self.stage_before = math.inf
        self.plateaus = 0
        self.steps, self.epochs, self.stages = [], [], []
        self.best_epoch, self.best_loss, self.since_best = 0, math.inf, 0
        self.stop_reason = None
        self.wall_before = 0.0
        self.lost = {}                      # path → reason, on all
        self.new_lost = {}                  # found by this process since
        self.trainable = None
        self.optimizer = self.schedule = None

    # -- Set-up --

    def check_classes(self):
        """The data's classes against the network's outputs."""
        labels, classes = list(self.module.LABELS), self.data.classes
        if len(classes) != len(labels):
            raise TrainError(f"the data has {len(classes)} classes, the "
                             f"network {len(labels)} ({', '.join(labels)})")
        if self.module.OUTPUT == "sigmoid" and len(classes) != 2:
            raise TrainError("a sigmoid output needs exactly two classes")
        if classes != labels:
            warning = (f"the data's classes ({', '.join(classes)}) are not "
                       f"named as the network's ({', '.join(labels)}); "
                       f"they are matched by order")
            self.data.description["warnings"].append(warning)
            if self.cluster.main:
                print(f"train.py: warning: {warning}", file=sys.stderr)
        if self.config["output"] != self.module.OUTPUT:
            raise TrainError(f"recipe.json says output "
                             f"{self.config['output']}, model.py "
                             f"{self.module.OUTPUT}")

    def layout(self, recipe):
        """BLOCKS and HEAD, checked against the model's modules.  A module
        in neither (PROJECT.md says there is none) goes with block 0."""
        blocks = [list(b) for b in self.module.BLOCKS]
        head = list(self.module.HEAD)
        children = [name for name, _ in self.model.named_children()]
        listed = [n for b in blocks for n in b] + head
        for name in listed:
            if name not in children:
                raise TrainError(f"model.py: BLOCKS or HEAD names {name!r}, "
                                 f"which GraftModel does not have")
        if len(set(listed)) != len(listed):
            raise TrainError("model.py: a module is in BLOCKS or HEAD twice")
        stray = [n for n in children if n not in listed]
        if stray:
            (blocks[0] if blocks else head).extend(stray)
            if self.cluster.main:
                print(f"train.py: warning: model.py lists "
                      f"{', '.join(stray)} in no block; taken as part of "
                      f"{'block 0' if blocks else 'the head'}",
                      file=sys.stderr)
        given = recipe.get("blocks")
        if isinstance(given, list) and len(given) != len(blocks):
            raise TrainError(f"recipe.json has {len(given)} blocks, model.py "
                             f"{len(blocks)}")
        return blocks, head

    def names_of_blocks(self, recipe):
        """Each block's name as Graft shows it (run.json's stages)."""
        names = []
        for i, block in enumerate(recipe.get("blocks") or []):
            name = block.get("name") if isinstance(block, dict) else None
            names.append(name if isinstance(name, str) else f"block {i}")
        return names if len(names) == self.n_blocks \
            else [f"block {i}" for i in range(self.n_blocks)]

    # -- Stages --

    def finetune_frozen(self):
        unfreeze = self.config["unfreeze"]
        if unfreeze == -1 or unfreeze >= self.n_blocks:
            return 0
        return self.n_blocks - unfreeze

    def first_frozen(self):
        """The blocks a fresh run freezes: the mode's trainable part."""
        if self.config["mode"] == "finetune":
            return self.finetune_frozen()
        return self.n_blocks

    def stage_length(self):
        c = self.config
        return c["stage_epochs"] if c["mode"] == "progressive" else c["epochs"]

    def enter_stage(self, n_frozen):
        """Blocks [0, n_frozen) frozen, the others and the head trained by
        a new optimizer, on a schedule over the stage's steps."""
        c, model = self.config, self.model
        self.n_frozen = n_frozen
        frozen = {n for b in self.blocks[:n_frozen] for n in b}
        for name, child in model.named_children():
            for p in child.parameters():
                p.requires_grad_(name not in frozen)
        groups = []
        for b in range(n_frozen, self.n_blocks):
            params = parameters_of(model, self.blocks[b])
            if params:
                groups.append({"params": params, "lr_scale":
                               c["discriminative"] ** (self.n_blocks - b)})
        params = parameters_of(model, self.head)
        if params:
            groups.append({"params": params, "lr_scale": 1.0})
        if not groups:
            raise TrainError("nothing to train: the head has no weights")
        if c["optimizer"] == "sgd":
            self.optimizer = torch.optim.SGD(
                groups, lr=c["lr"], momentum=c["momentum"],
                weight_decay=c["weight_decay"])
        else:
            self.optimizer = torch.optim.Adam(
                groups, lr=c["lr"], betas=(0.9, 0.999), eps=1e-8,
                weight_decay=c["weight_decay"])
        self.schedule = Schedule(
            c["schedule"], c["lr"], c["warmup_epochs"] * self.per_epoch,
            max(self.stage_length() * self.per_epoch, 1),
            c["step_epochs"] * self.per_epoch, c["step_gamma"])
        self.stage_start_step = self.step
        self.trainable = sum(p.numel() for g in groups for p in g["params"])
        if self.cluster.world > 1:
            self.ddp = None     # the previous stage's hooks go with it
            self.ddp = DistributedDataParallel(
                model, device_ids=[self.cluster.device.index]
                if self.cluster.cuda else None, broadcast_buffers=True)

    def train_mode(self):
        """Trainable modules in training mode; frozen blocks, and with
        bn_frozen_all every BatchNorm, in inference mode."""
        self.model.train()
        for name in (n for b in self.blocks[:self.n_frozen] for n in b):
            self.model.get_submodule(name).eval()
        if self.config["bn_frozen_all"]:
            for m in self.model.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()

    # -- Loss --

    def losses(self, logits, labels):
        """The loss of each picture."""
        if self.module.OUTPUT == "sigmoid":
            return F.binary_cross_entropy_with_logits(
                logits[:, 0], labels.to(logits.dtype), reduction="none")
        return F.cross_entropy(logits, labels, reduction="none",
                               label_smoothing=self.config["label_smoothing"])

    def predictions(self, logits):
        if self.module.OUTPUT == "sigmoid":
            return (logits[:, 0] >= 0).long()
        return logits.argmax(1)

    # -- Epochs --

    def note_lost(self, dataset, indexes, reasons):
        """Pictures of a batch that could not be read, kept out from now."""
        for i, reason in zip(indexes.tolist(), reasons):
            path = dataset.items[i][0]
            if reason and path not in self.lost:
                self.new_lost[path] = reason
                dataset.lost[path] = reason

    def share_lost(self):
        """Pictures lost on any process, known to all; the run fails as
        Graft's does when a class has no training picture left or more
        than half of all pictures are gone."""
        new = {}
        for part in self.cluster.gather(self.new_lost):
            new.update(part)
        self.new_lost = {}
        if self.cluster.main:
            for path, reason in sorted(new.items()):
                print(f"skipped {path}: {reason}", file=sys.stderr)
        self.lost = dict(sorted({**self.lost, **new}.items()))
        self.train_set.lost.update(self.lost)
        self.val_set.lost.update(self.lost)
        self.data.description["lost"] = [
            {"path": p, "reason": r} for p, r in self.lost.items()]
        total = len(self.data.train) + len(self.data.val)
        if 2 * len(self.lost) > total:
            raise TrainError(f"more than half of the pictures "
                             f"({len(self.lost)} of {total}) cannot be read "
                             f"any more")
        for label, name in enumerate(self.data.classes):
            if all(p in self.lost for p, l in self.data.train if l == label):
                raise TrainError(f"class “{name}” has no training picture "
                                 f"left")

    def step_seed(self):
        """Dropout follows the step and the process, so that a resumed
        run draws as one never stopped."""
        text = f"{self.config['seed']}:{self.step}:{self.cluster.rank}"
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8],
                              "big") >> 1

    def train_epoch(self):
        """One pass over the training pictures; the epoch's mean loss.
        Each step's loss (over the pictures still there, on every
        process) goes to the history."""
        device, c = self.cluster.device, self.config
        self.sampler.set_epoch(self.epoch)
        augment = c["augment_flip"] or c["augment_crop"]
        self.train_set.view = self.epoch + 1 if augment else 0
        self.train_mode()
        first_step, sums, rates = self.step, [], []
        for x, y, indexes, reasons in self.train_loader:
            self.note_lost(self.train_set, indexes, reasons)
            lr = self.schedule.lr(self.step - self.stage_start_step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr * group["lr_scale"]
            torch.manual_seed(self.step_seed())
            present = torch.tensor([not r for r in reasons],
                                   dtype=torch.float32, device=device)
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            count = present.sum()
            loss = (self.losses(self.ddp(x), y) * present).sum() \
                / count.clamp(min=1)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            sums.append(torch.stack([loss.detach().double() * count,
                                     count.double()]))
            rates.append(lr)
            self.step += 1
        totals = self.cluster.sum(torch.stack(sums)).numpy() if sums \
            else np.zeros((0, 2))
        for i, (total, count) in enumerate(totals):
            if count == 0:
                continue    # every picture lost: no loss to record
            loss = float(total / count)
            if not math.isfinite(loss):
                what = "NaN" if math.isnan(loss) else "infinite"
                raise TrainError(
                    f"the loss became {what} at step {first_step + i}; try a "
                    f"lower learning rate (the last good checkpoint is kept)")
            self.steps.append({"step": first_step + i, "epoch": self.epoch + 1,
                               "loss": loss, "lr": rates[i]})
        return float(totals[:, 0].sum() / max(totals[:, 1].sum(), 1))

    def sync_buffers(self):
        """Rank 0's BatchNorm statistics on every process (DDP's rule), so
        that validation and the saved weights are the same everywhere."""
        if self.cluster.world > 1:
            for buffer in self.model.buffers():
                dist.broadcast(buffer, 0)

    def validate(self):
        """Loss, accuracy, per-class accuracy and confusion [truth]
        [predicted] over every validation picture."""
        k = len(self.data.classes)
        device = self.cluster.device
        self.model.eval()
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        confusion = torch.zeros(k * k, dtype=torch.float64, device=device)
        with torch.no_grad():
            for x, y, indexes, reasons in self.val_loader:
                self.note_lost(self.val_set, indexes, reasons)
                keep = torch.tensor([not r for r in reasons], device=device)
                x, y = x.to(device), y.to(device)
                logits = self.model(x)
                loss_sum += self.losses(logits, y)[keep].double().sum()
                confusion += torch.bincount(
                    (y * k + self.predictions(logits))[keep],
                    minlength=k * k).double()
        totals = self.cluster.sum(torch.cat([loss_sum.view(1), confusion]))
        matrix = totals[1:].view(k, k).round().long()
        n = int(matrix.sum())
        per_class = matrix.sum(1)
        val_loss = float(totals[0]) / n if n else math.nan
        if n and not math.isfinite(val_loss):
            raise TrainError(
                f"the validation loss became "
                f"{'NaN' if math.isnan(val_loss) else 'infinite'} in epoch "
                f"{self.epoch + 1}; try a lower learning rate (the last "
                f"good checkpoint is kept)")
        return {
            "val_loss": val_loss,
            "val_accuracy": float(matrix.trace()) / n if n else math.nan,
            "class_accuracy": [float(matrix[c, c]) / int(per_class[c])
                               if per_class[c] else None for c in range(k)],
            "confusion": matrix.tolist(),
        }

    def run_epochs(self, last_epoch, early_stop):
        """Trains until ``last_epoch`` epochs are done, or early stopping."""
        while self.epoch < last_epoch:
            start = time.monotonic()
            train_loss = self.train_epoch()
            self.sync_buffers()
            metrics = self.validate()
            self.share_lost()
            self.epoch += 1
            report = {"epoch": self.epoch, "step": self.step,
                      "train_loss": train_loss,
                      "val_loss": metrics["val_loss"],
                      "val_accuracy": metrics["val_accuracy"],
                      "seconds": time.monotonic() - start,
                      "class_accuracy": metrics["class_accuracy"],
                      "confusion": metrics["confusion"]}
            self.record_epoch(report)
            patience = self.config["patience"]
            if early_stop and patience > 0 and self.since_best >= patience:
                self.stop_reason = (f"no better validation loss for "
                                    f"{self.since_best} epochs")
                self.say(f"early stop: {self.stop_reason}")
                return

    def record_epoch(self, report):
        """The epoch into the history; its weights kept when it is the
        best so far (or while there is none); the files written."""
        self.epochs.append(report)
        loss = report["val_loss"]
        best = math.isfinite(loss) and (self.best_epoch == 0
                                        or loss < self.best_loss)
        if best:
            self.best_epoch, self.best_loss, self.since_best = \
                report["epoch"], loss, 0
        else:
            self.since_best += 1
        if self.cluster.main:
            if best or self.best_epoch == 0:
                self.module.save_graft_weights(
                    self.model, os.path.join(self.out, "weights.safetensors"))
            self.write_run("running")
            self.save_checkpoint()
            accuracy = report["val_accuracy"]
            self.say(f"epoch {report['epoch']}: train loss "
                     f"{report['train_loss']:.4g}, val loss {loss:.4g}, "
                     f"accuracy "
                     + (f"{100 * accuracy:.1f} %" if math.isfinite(accuracy)
                        else "-")
                     + f" ({report['seconds']:.1f} s)"
                     + (", best so far" if best else ""))

    def run_progressive(self):
        """Graft's progressive unfreezing (run_progressive)."""
        c = self.config
        cap = c["epochs"] if c["epochs"] > 0 else math.inf
        while self.epoch < cap:
            # From where the stage began: a resumed run may come back in
            # the middle of one.
            first = self.stage_start_step // self.per_epoch
            self.run_epochs(min(cap, first + c["stage_epochs"]), False)
            if self.n_frozen == 0 or self.epoch >= cap:
                break
            if math.isfinite(self.stage_before) and not (
                    self.best_loss < self.stage_before
                    * (1.0 - c["plateau_tolerance"])):
                self.plateaus += 1
            else:
                self.plateaus = 0
            if self.plateaus >= c["plateau_patience"]:
                self.stop_reason = (
                    f"validation loss plateaued (less than "
                    f"{100 * c['plateau_tolerance']:.1f} % better over a "
                    f"stage)")
                self.say(f"stop: {self.stop_reason}")
                break
            self.stage_before = self.best_loss if self.best_epoch \
                else math.inf
            self.enter_stage(self.n_frozen - 1)
            block = self.block_names[self.n_frozen]
            self.stages.append({"epoch": self.epoch, "step": self.step,
                                "block": block, "reason": NEXT_STAGE})
            self.say(f"stage: {block} unfrozen")
        if self.stop_reason is None:
            self.stop_reason = ("every block unfrozen" if self.n_frozen == 0
                                else "epoch limit reached")

    # -- Files --

    def say(self, line):
        if self.cluster.main:
            print(line, flush=True)

    def wall_seconds(self):
        return self.wall_before + time.monotonic() - self.started

    def write_run(self, status, message=None):
        """DIR/run.json, whole (rank 0)."""
        best = next((e for e in self.epochs
                     if e["epoch"] == self.best_epoch), None)
        graft_io.write_run_json(os.path.join(self.out, "run.json"), {
            "graft_version": GRAFT_VERSION,
            "status": status,
            "message": message,
            "config": self.config,
            "data": self.data.description,
            "trainable_parameters": self.trainable,
            "history": {"steps": self.steps, "epochs": self.epochs},
            "stages": self.stages,
            "final": {
                "val_loss": best["val_loss"] if best else None,
                "val_accuracy": best["val_accuracy"] if best else None,
                "best_epoch": self.best_epoch,
                "epochs": len(self.epochs),
                "wall_seconds": self.wall_seconds(),
                "stop_reason": self.stop_reason,
            },
        })

    def save_checkpoint(self):
        """DIR/checkpoint.pt, whole (rank 0): weights, optimizer, schedule,
        position, stage, history."""
        state = {
            "format": CHECKPOINT_FORMAT,
            "model": {k: v.detach().cpu()
                      for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "epoch": self.epoch, "step": self.step,
            "per_epoch": self.per_epoch,
            "stage": {"frozen_blocks": self.n_frozen,
                      "stage_start_step": self.stage_start_step,
                      "stage_before": self.stage_before,
                      "plateaus": self.plateaus},
            "history": {"steps": self.steps, "epochs": self.epochs,
                        "stages": self.stages},
            "best": {"epoch": self.best_epoch, "loss": self.best_loss,
                     "since": self.since_best},
            "wall_seconds": self.wall_seconds(),
            "lost": self.lost,
            "classes": self.data.classes,
            "pictures": [len(self.data.train), len(self.data.val)],
            "config": self.config,
        }
        with graft_io.atomic_file(os.path.join(self.out,
                                               "checkpoint.pt")) as f:
            torch.save(state, f)

    # -- The run --

    def start_fresh(self):
        self.enter_stage(self.first_frozen())
        if self.config["mode"] == "progressive":
            self.stages.append({"epoch": 0, "step": 0, "block": "head",
                                "reason": FIRST_STAGE})

    def start_resumed(self, path):
        """Back where the checkpoint left off: weights, stage, optimizer,
        position, history."""
        try:
            state = torch.load(path, map_location="cpu")
        except Exception as e:
            raise TrainError(f"{path}: cannot be read ({e})") from e
        if not isinstance(state, dict) or \
                state.get("format") != CHECKPOINT_FORMAT:
            raise TrainError(f"{path}: not a checkpoint of train.py")
        if state["classes"] != self.data.classes or state["pictures"] != [
                len(self.data.train), len(self.data.val)]:
            raise TrainError(f"{path} was made on other pictures; give "
                             f"another --out")
        frozen = state["stage"]["frozen_blocks"]
        if not 0 <= frozen <= self.n_blocks or (
                self.config["mode"] != "progressive"
                and frozen != self.first_frozen()):
            raise TrainError(f"{path}: frozen_blocks is {frozen}, which no "
                             f"stage of this recipe has")
        if state["per_epoch"] != self.per_epoch and self.cluster.main:
            print(f"train.py: warning: {path} counted {state['per_epoch']} "
                  f"steps an epoch, this start {self.per_epoch} (another "
                  f"batch or number of processes)", file=sys.stderr)
        self.model.load_state_dict(state["model"])
        self.epoch, self.step = state["epoch"], state["step"]
        history = state["history"]
        self.steps, self.epochs = history["steps"], history["epochs"]
        self.stages = history["stages"]
        best = state["best"]
        self.best_epoch, self.best_loss = best["epoch"], best["loss"]
        self.since_best = best["since"]
        self.wall_before = state["wall_seconds"]
        self.lost = dict(state["lost"])
        self.train_set.lost.update(self.lost)
        self.val_set.lost.update(self.lost)
        self.data.description["lost"] = [
            {"path": p, "reason": r} for p, r in self.lost.items()]
        self.enter_stage(frozen)
        stage = state["stage"]
        self.stage_start_step = stage["stage_start_step"]
        self.stage_before, self.plateaus = stage["stage_before"], \
            stage["plateaus"]
        self.optimizer.load_state_dict(state["optimizer"])
        self.say(f"resumed from epoch {self.epoch}'s checkpoint")

    def run(self):
        """The whole run: fresh or resumed, trained, finished."""
        c = self.config
        if self.cluster.main:
            os.makedirs(self.out, exist_ok=True)
            copy_template(self.out)
        checkpoint = os.path.join(self.out, "checkpoint.pt")
        if self.cluster.broadcast(os.path.exists(checkpoint)):
            self.start_resumed(checkpoint)
        else:
            self.start_fresh()
        self.say(f"{c['mode']}: {len(self.data.train)} training and "
                 f"{len(self.data.val)} validation pictures, "
                 f"{len(self.data.classes)} classes; batch {c['batch']} "
                 f"({self.batch} on each of {self.cluster.world} "
                 f"process{'es' if self.cluster.world > 1 else ''}), "
                 f"{self.per_epoch} steps an epoch, on "
                 f"{self.cluster.device.type}")
        if c["mode"] == "progressive":
            self.run_progressive()
        else:
            self.run_epochs(c["epochs"], True)
        if self.cluster.main:
            if not os.path.exists(os.path.join(self.out,
                                               "weights.safetensors")):
                self.module.save_graft_weights(
                    self.model, os.path.join(self.out, "weights.safetensors"))
            self.write_run("finished")
        hashes = self.cluster.gather(state_sha256(self.model))
        if self.cluster.main:
            graft_io.write_json(os.path.join(self.out, "ranks.json"),
                                {"world_size": self.cluster.world,
                                 "sha256": hashes})
            self.say(f"finished: best epoch {self.best_epoch} of "
                     f"{len(self.epochs)}; {self.out}")


# ---- The command line -------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="train.py", description="Continues a Graft run in PyTorch "
        "(under torchrun for several processes).")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="where run.json, checkpoint.pt, "
                        "weights.safetensors and ranks.json go")
    parser.add_argument("--data", nargs="+", action="extend", metavar="DIR",
                        help="train on these folders, scanned and split as "
                        "Graft does, instead of split.json's pictures")
    parser.add_argument("--epochs", type=int, metavar="N",
                        help="the run's epochs (progressive: the cap, 0 for "
                        "none)")
    parser.add_argument("--device", choices=("cpu", "cuda"),
                        help="default: cuda when there is one")
    parser.add_argument("--batch", type=int, metavar="N",
                        help="pictures per step over all processes")
    return parser.parse_args(argv)


def _terminate(signum, frame):
    raise KeyboardInterrupt


def write_end(trainer, status, message=None):
    """run.json's last word, by rank 0, once training has begun."""
    if trainer is not None and trainer.cluster.main and trainer.optimizer:
        try:
            trainer.write_run(status, message)
        except OSError as e:
            print(f"train.py: run.json: {e}", file=sys.stderr)


def main(argv=None):
    started = time.monotonic()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    cluster = trainer = None
    try:
        cluster = Cluster(args.device)
        recipe, config = load_recipe(args)
        torch.manual_seed(int(config["seed"]))
        data = load_data(args, config, cluster)
        module = load_model_module()
        trainer = Trainer(args, recipe, config, data, module, cluster,
                          started)
        trainer.run()
        cluster.barrier()       # every process done before any leaves
    except KeyboardInterrupt:
        write_end(trainer, "stopped")
        return 130
    except Exception as e:      # noqa: BLE001 — told, and in run.json
        expected = isinstance(e, (TrainError, OSError))
        message = str(e) if expected else f"{type(e).__name__}: {e}"
        write_end(trainer, "failed", message)
        if not expected:
            traceback.print_exc()
        if cluster is None or cluster.main or not expected:
            print(f"train.py: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    status = main()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # PyTorch 1.13's gloo process group can deadlock when it is torn
        # down (its destructor joins its threads holding the GIL while one
        # of them frees a tensor that needs it): a process of several
        # leaves without tearing anything down, its files all written.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
