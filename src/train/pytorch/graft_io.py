"""graft_io: the files and data rules of a Graft PyTorch project.

Copied unchanged into every project Graft exports (see PROJECT.md beside
this file).  It holds what ``model.py`` and ``train.py`` share with Graft:

- safetensors, float32 only (``read_safetensors``, ``write_safetensors``);
- pictures as Graft feeds them to a network (``load_picture``): upright,
  transparent parts on white, resized as ``PREPROCESS`` says, normalised,
  and for training views the seeded crop and flip of ``plan_view``;
- Graft's scan of class folders and its seeded per-picture split
  (``scan``, ``split_position``, ``apply_split``);
- JSON written whole through a temporary file and a rename
  (``write_json``, ``write_run_json``).

Only Python's standard library, NumPy, PyTorch and Pillow are used.
"""

import contextlib
import errno
import hashlib
import hmac
import io
import json
import math
import os
import random
import stat
import struct
import tempfile
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageOps

# ---- Writing files whole ----------------------------------------------------


@contextlib.contextmanager
def atomic_file(path):
    """Opens a temporary file beside ``path`` for writing (binary); when
    the block ends without an exception the file is flushed, synced and
    renamed over ``path``, otherwise it is removed and ``path`` is left as
    it was."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(
        prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_bytes(path, data):
    """Writes ``data`` to ``path`` through a temporary file and a rename."""
    with atomic_file(path) as f:
        f.write(data)


def _json_ready(value):
    """``value`` with every NaN or infinite float replaced by None: JSON
    has no such numbers, and Graft writes an unknown number as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.floating,)):
        return _json_ready(float(value))
    if isinstance(value, (np.integer,)):
        return int(value)
    return value


def write_json(path, value):
    """Writes ``value`` as indented UTF-8 JSON, whole (temporary file and
    rename); non-finite numbers become null."""
    text = json.dumps(_json_ready(value), indent=2, ensure_ascii=False,
                      allow_nan=False)
    write_bytes(path, (text + "\n").encode("utf-8"))


RUN_JSON_MEMBERS = ("graft_version", "status", "message", "config", "data",
                    "trainable_parameters", "history", "stages", "final")
RUN_STATUSES = ("running", "finished", "stopped", "failed")


def write_run_json(path, run):
    """Writes a ``run.json`` in Graft's schema (README, *run.json*),
    whole.  ``run`` must hold every top-level member; they are written in
    Graft's order."""
    missing = [k for k in RUN_JSON_MEMBERS if k not in run]
    if missing:
        raise ValueError(f"run.json: missing {', '.join(missing)}")
    if run["status"] not in RUN_STATUSES:
        raise ValueError(f"run.json: status {run['status']!r} is none of "
                         f"{', '.join(RUN_STATUSES)}")
    write_json(path, {k: run[k] for k in RUN_JSON_MEMBERS})


# ---- Safetensors ------------------------------------------------------------

SAFETENSORS_MAX_HEADER = 100 * 1000 * 1000   # as Graft's reader
_LENGTH_BYTES = 8
_HEADER_ALIGN = 8


class SafetensorsError(ValueError):
    """A safetensors file Graft's project cannot use; the message names
    the file and, where there is one, the tensor."""


def _read_safetensors(path):
    """(tensors, metadata) of the file at ``path``; see read_safetensors."""
    with open(path, "rb") as f:
        blob = f.read()

    def fail(message):
        raise SafetensorsError(f"{path}: {message}")

    if len(blob) < _LENGTH_BYTES:
        fail("too short for a safetensors file")
    (length,) = struct.unpack("<Q", blob[:_LENGTH_BYTES])
    if length > SAFETENSORS_MAX_HEADER or length > len(blob) - _LENGTH_BYTES:
        fail(f"header length {length} is past the end of the file or over "
             f"{SAFETENSORS_MAX_HEADER} bytes")
    try:
        header = json.loads(blob[_LENGTH_BYTES:_LENGTH_BYTES + length]
                            .decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        fail(f"the header is not JSON: {e}")
    if not isinstance(header, dict):
        fail("the header is not a JSON object")
    data = memoryview(blob)[_LENGTH_BYTES + length:]
    metadata = header.pop("__metadata__", None)
    if metadata is not None and (
            not isinstance(metadata, dict)
            or not all(isinstance(v, str) for v in metadata.values())):
        fail("__metadata__ is not an object of strings")

    entries = []
    for name, info in header.items():
        if not isinstance(info, dict):
            fail(f"tensor {name!r}: not an object")
        dtype = info.get("dtype")
        if dtype != "F32":
            fail(f"tensor {name!r} is {dtype}; only F32 (float32) tensors "
                 f"are read")
        shape = info.get("shape")
        if (not isinstance(shape, list)
                or not all(isinstance(d, int) and not isinstance(d, bool)
                           and d >= 0 for d in shape)):
            fail(f"tensor {name!r}: shape {shape!r} is not a list of sizes")
        offsets = info.get("data_offsets")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool)
                           for o in offsets)):
            fail(f"tensor {name!r}: data_offsets {offsets!r} is not "
                 f"[begin, end]")
        count = math.prod(shape)
        begin, end = offsets
        if not 0 <= begin <= end <= len(data):
            fail(f"tensor {name!r}: bytes {begin}..{end} are outside a data "
                 f"section of {len(data)} bytes")
        if end - begin != 4 * count:
            fail(f"tensor {name!r} has {end - begin} bytes; its shape "
                 f"{tuple(shape)} needs {4 * count}")
        entries.append((begin, end, name, shape, count))

    # The tensors tile the data section exactly, as Graft requires.
    expected = 0
    for begin, end, name, _, _ in sorted(entries):
        if begin < expected:
            fail(f"tensor {name!r} overlaps another")
        if begin > expected:
            fail(f"{begin - expected} unused bytes before tensor {name!r}")
        expected = end
    if expected != len(data):
        fail(f"{len(data) - expected} bytes after the last tensor")

    tensors = {}
    for begin, _, name, shape, count in entries:
        array = np.frombuffer(data, dtype="<f4", count=count, offset=begin)
        tensors[name] = torch.from_numpy(
            array.astype(np.float32).reshape(shape))
    return tensors, dict(metadata or {})


def read_safetensors(path):
    """The tensors of the safetensors file at ``path``, by name, as
    float32 CPU tensors.  Only F32 is read: another dtype, a header that
    is not JSON, offsets that do not tile the data exactly raise
    SafetensorsError naming the file and the tensor."""
    return _read_safetensors(path)[0]


def read_safetensors_metadata(path):
    """The ``__metadata__`` of the safetensors file at ``path`` (a dict of
    strings, empty when absent)."""
    return _read_safetensors(path)[1]


def write_safetensors(path, tensors, metadata=None):
    """Writes ``tensors`` (name → tensor or array of floating point) as a
    safetensors file of F32 tensors, whole: through a temporary file
    beside ``path`` and a rename.  ``metadata`` (name → string) goes under
    ``__metadata__``."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, value in tensors.items():
        if isinstance(value, torch.Tensor):
            if not value.is_floating_point():
                raise TypeError(f"{path}: tensor {name!r} is {value.dtype}; "
                                f"only floating point is written (as F32)")
            array = value.detach().to("cpu", torch.float32).numpy()
        else:
            array = np.asarray(value)
            if array.dtype.kind != "f":
                raise TypeError(f"{path}: tensor {name!r} is {array.dtype}; "
                                f"only floating point is written (as F32)")
        raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[str(name)] = {"dtype": "F32", "shape": list(array.shape),
                             "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")
    text += b" " * (-(len(text) + _LENGTH_BYTES) % _HEADER_ALIGN)
    with atomic_file(path) as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)


# ---- Pictures ---------------------------------------------------------------

DEFAULT_MAX_PIXELS = 50 * 1000 * 1000    # as Graft's scan
_BILINEAR = getattr(Image, "Resampling", Image).BILINEAR

# Graft's seeded views (src/data/graft-augment.c): torchvision's
# RandomResizedCrop ranges, and a mirror with probability one half.
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
CROP_TRIES = 10
FLIP_PROBABILITY = 0.5
_VIEW_DOMAIN = b"graft-view-v1\0"


class PictureTooLarge(ValueError):
    """A picture of more pixels than a scan or a run accepts."""


@dataclass(frozen=True)
class View:
    """What one training view shows of an upright picture: the crop (in
    the picture's pixels; ``cropped`` False for the whole picture resized
    as PREPROCESS says) and whether it is mirrored after resizing."""
    cropped: bool = False
    x: int = 0
    y: int = 0
    width: int = 0
    height: int = 0
    flip: bool = False


def _view_random(seed, sample_key, view):
    """A generator for one (seed, picture, view), from their SHA-256."""
    digest = hashlib.sha256(
        _VIEW_DOMAIN + struct.pack("<QI", seed, view)
        + (sample_key or "").encode("utf-8", "surrogateescape")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def plan_view(seed, sample_key, view, width, height, flip, crop):
    """View number ``view`` of a ``width`` × ``height`` picture whose key
    (its content's SHA-256) is ``sample_key``: view 0, or neither ``flip``
    nor ``crop``, is the plain picture.  As Graft: a random resized crop
    (up to ten tries at an area fraction in CROP_SCALE and a log-uniform
    aspect in CROP_RATIO, else the largest centred crop within the
    ratios), then a mirror with probability one half; the same arguments
    always give the same view."""
    if view == 0 or not (flip or crop):
        return View(width=width, height=height)
    rng = _view_random(seed, sample_key, view)
    x, y, w, h, cropped = 0, 0, width, height, False
    if crop:
        cropped = True
        area = float(width) * height
        log_low, log_high = math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1])
        for _ in range(CROP_TRIES):
            target = area * rng.uniform(*CROP_SCALE)
            aspect = math.exp(rng.uniform(log_low, log_high))
            cw = int(round(math.sqrt(target * aspect)))
            ch = int(round(math.sqrt(target / aspect)))
            if 0 < cw <= width and 0 < ch <= height:
                w, h = cw, ch
                y = rng.randrange(height - h + 1)
                x = rng.randrange(width - w + 1)
                break
        else:
            aspect = width / height
            if aspect < CROP_RATIO[0]:
                h = max(1, int(round(width / CROP_RATIO[0])))
            elif aspect > CROP_RATIO[1]:
                w = max(1, int(round(height * CROP_RATIO[1])))
            x, y = (width - w) // 2, (height - h) // 2
    mirrored = bool(flip) and rng.random() < FLIP_PROBABILITY
    return View(cropped, x, y, w, h, mirrored)


def open_picture(source, max_pixels=DEFAULT_MAX_PIXELS):
    """The picture at ``source`` (a path, bytes or a file object) as an RGB
    Pillow image: turned upright by its EXIF orientation, transparent
    parts laid on white as Graft does.  Raises OSError or ValueError when
    it cannot be read, or holds more than ``max_pixels`` pixels."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    with Image.open(source) as image:
        if max_pixels and image.width * image.height > max_pixels:
            raise PictureTooLarge(f"too large: {image.width}×{image.height} "
                                  f"pixels (over {max_pixels})")
        image.load()
        image = ImageOps.exif_transpose(image)
        has_alpha = (image.mode in ("RGBA", "LA", "PA", "RGBa", "La")
                     or (image.mode == "P" and "transparency" in image.info))
        if has_alpha:
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, rgba).convert("RGB")
        return image.convert("RGB")


def picture_tensor(image, preprocess, view=None):
    """``image`` (RGB Pillow) as the network takes it: a float32 tensor
    (C, H, W).  Resized as ``preprocess["resize"]`` says (``shorter-crop``:
    scaled to cover H × W and centre-cropped; ``squash``: stretched to
    H × W), or the crop of ``view`` stretched to H × W; mirrored when the
    view says so; channels as ``preprocess["channels"]`` says (``RGB``,
    ``BGR``, or ``L``: one channel of ITU-R BT.601 luma, as Graft feeds a
    network of one channel); and pixel p of channel c as
    (p·scale − mean[c]) / std[c]."""
    height, width = (int(v) for v in preprocess["size"])
    w, h = image.size
    if view is not None and view.cropped:
        box = (view.x, view.y, view.x + view.width, view.y + view.height)
        image = image.resize((width, height), _BILINEAR, box=box)
    elif (w, h) != (width, height):
        mode = preprocess.get("resize", "shorter-crop")
        if mode == "squash":
            image = image.resize((width, height), _BILINEAR)
        elif mode == "shorter-crop":
            scale = max(width / w, height / h)
            cw, ch = width / scale, height / scale
            left, top = (w - cw) / 2, (h - ch) / 2
            image = image.resize((width, height), _BILINEAR,
                                 box=(left, top, left + cw, top + ch))
        else:
            raise ValueError(f"PREPROCESS: unknown resize {mode!r}")
    pixels = np.asarray(image, dtype=np.uint8).astype(np.float32)
    if view is not None and view.flip:
        pixels = pixels[:, ::-1, :]
    channels = preprocess.get("channels", "RGB")
    if channels == "BGR":
        pixels = pixels[:, :, ::-1]
    elif channels == "L":
        pixels = pixels @ np.array([[0.299], [0.587], [0.114]],
                                   dtype=np.float32)
    elif channels != "RGB":
        raise ValueError(f"PREPROCESS: unknown channels {channels!r}")
    n = pixels.shape[2]
    mean = np.asarray(preprocess.get("mean", (0, 0, 0)),
                      dtype=np.float32)[:n]
    std = np.asarray(preprocess.get("std", (1, 1, 1)), dtype=np.float32)[:n]
    scale = np.float32(preprocess.get("scale", 1.0))
    pixels = (pixels * scale - mean) / std
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


def picture_channels(preprocess):
    """How many channels a picture has as the network takes it."""
    return 1 if preprocess.get("channels", "RGB") == "L" else 3


def load_picture(path, preprocess, seed=0, view=0, flip=False, crop=False,
                 max_pixels=DEFAULT_MAX_PIXELS):
    """The picture at ``path`` as the network takes it (see
    picture_tensor); view ``view`` > 0 with ``flip`` or ``crop`` is Graft's
    seeded training view of it (see plan_view), keyed on the file's
    SHA-256 so that the same picture gets the same views anywhere."""
    with open(path, "rb") as f:
        data = f.read()
    image = open_picture(data, max_pixels)
    geometry = None
    if view and (flip or crop):
        key = hashlib.sha256(data).hexdigest()
        geometry = plan_view(seed, key, view, image.width, image.height,
                             flip, crop)
    return picture_tensor(image, preprocess, geometry)


# ---- The split --------------------------------------------------------------

_POSITION_BITS = 53     # a double's mantissa: exact in [0, 1)


def split_position(seed, relative):
    """Where a picture falls in [0, 1) for the split (Graft's
    graft_split_position): HMAC-SHA256 keyed by ``seed`` as 8 bytes
    little-endian over the picture's path under its class folder (``/``
    between folders; NFC-normalised when it is UTF-8), the digest's first
    8 bytes big-endian, its top 53 bits over 2**53."""
    raw = relative if isinstance(relative, bytes) else os.fsencode(relative)
    try:
        message = unicodedata.normalize("NFC", raw.decode("utf-8")) \
            .encode("utf-8")
    except UnicodeDecodeError:
        message = raw
    digest = hmac.new(struct.pack("<Q", seed), message,
                      hashlib.sha256).digest()
    bits = int.from_bytes(digest[:8], "big") >> (64 - _POSITION_BITS)
    return bits / float(1 << _POSITION_BITS)


def apply_split(labels, positions, val_fraction):
    """Which pictures validate (a list of bools), given each picture's
    class in ``labels`` and its ``positions`` (split_position): those
    below ``val_fraction``.  Then, when ``val_fraction`` > 0, each class of
    two or more pictures that ended all on one side moves one picture: the
    training picture of the smallest position to validation, or the
    validation picture of the largest position to training."""
    fraction = min(max(float(val_fraction), 0.0), 1.0)
    val = [p < fraction for p in positions]
    if fraction <= 0.0:
        return val
    for label in sorted(set(labels)):
        members = [i for i, l in enumerate(labels) if l == label]
        n_val = sum(val[i] for i in members)
        if len(members) < 2 or 0 < n_val < len(members):
            continue
        to_val = n_val == 0
        pick = None
        for i in members:
            if pick is None or (positions[i] < positions[pick] if to_val
                                else positions[i] > positions[pick]):
                pick = i
        val[pick] = to_val
    return val


# ---- The scan ---------------------------------------------------------------

MAX_DEPTH = 100                     # as Graft: folders within a class
MIN_CLASS_PICTURES = 5              # below: a warning
IMBALANCE_RATIO = 3.0               # largest / smallest class: a warning


class ScanError(ValueError):
    """The folders cannot be scanned at all (none given, one missing)."""


@dataclass
class ScanClass:
    """A class folder: its label (the folder's name) and path."""
    name: str
    path: str
    count: int = 0


@dataclass
class Sample:
    """A usable picture: its path, its path under the class folder (``/``
    between folders), its class, the SHA-256 of its content and which side
    of the split it is on."""
    path: str
    relative: str
    label: int
    sha256: str = ""
    val: bool = False


@dataclass
class Scan:
    """What ``scan`` found: classes sorted by name, the usable pictures
    sorted by (class, relative path), the files left out with why, the
    data set's warnings, and the split's parameters."""
    classes: list
    samples: list
    skipped: list = field(default_factory=list)     # (path, reason)
    warnings: list = field(default_factory=list)    # strings
    val_fraction: float = 0.2
    split_seed: int = 0

    def to_split(self, folders=None):
        """The scan as ``split.json`` holds a run's data: classes that
        have pictures (renumbered, as a Graft run leaves empty classes
        out), the folders, the split's parameters, and the training and
        validation pictures as {"path", "label"}."""
        label_of, classes = {}, []
        for i, klass in enumerate(self.classes):
            if klass.count > 0:
                label_of[i] = len(classes)
                classes.append(klass.name)
        sides = {"train": [], "val": []}
        for s in self.samples:
            if s.label in label_of:
                sides["val" if s.val else "train"].append(
                    {"path": s.path, "label": label_of[s.label]})
        return {"classes": classes,
                "data": list(folders or []),
                "val_fraction": self.val_fraction,
                "split_seed": self.split_seed,
                "train": sides["train"], "val": sides["val"]}


def _sort_key(name):
    """Graft sorts names with strcmp: by their bytes."""
    return os.fsencode(name)


def _shown(path):
    """A path as text, as far as it is text."""
    return os.fsencode(path).decode("utf-8", "replace")


def _basename(path):
    return os.path.basename(os.path.normpath(path))


class _Walk:
    """The state of one scan's walk over the class folders."""

    ENTERED, DONE = 1, 2

    def __init__(self):
        self.classes = []
        self.candidates = []        # (path, relative, label)
        self.skipped = []
        self.folders = {}           # (dev, inode) → ENTERED or DONE
        self.parent = None

    def skip(self, path, reason):
        self.skipped.append((path, reason))

    def enter_folder(self, folder, st, depth):
        """False (with the reason skipped) for a folder that loops back
        or was already walked, or lies too deep."""
        key = (st.st_dev, st.st_ino)
        state = self.folders.get(key)
        if state == self.ENTERED:
            self.skip(folder, "symbolic link loop: leads back to a folder "
                      "that contains it")
        elif state == self.DONE:
            self.skip(folder, "already scanned: the same folder through "
                      "another link")
        elif depth > MAX_DEPTH:
            self.skip(folder, f"nested too deeply (over {MAX_DEPTH} "
                      f"folders)")
        else:
            self.folders[key] = self.ENTERED
            return True
        return False

    def walk_folder(self, folder, st, relative, label, depth):
        if not self.enter_folder(folder, st, depth):
            return
        try:
            names = sorted(os.listdir(folder), key=_sort_key)
        except OSError as e:
            self.skip(folder, f"unreadable folder: {e.strerror}")
            names = []
        for name in names:
            if name.startswith("."):
                continue        # hidden: not the user's pictures
            path = os.path.join(folder, name)
            rel = f"{relative}/{name}" if relative else name
            self.visit_entry(path, rel, label, depth)
        self.folders[(st.st_dev, st.st_ino)] = self.DONE

    def visit_entry(self, path, relative, label, depth):
        """One directory entry: a link is recognised as one, and a link
        that loops on itself is reported, not followed."""
        try:
            st = os.lstat(path)
        except OSError as e:
            self.skip(path, f"unreadable: {e.strerror}")
            return
        if stat.S_ISLNK(st.st_mode):
            try:
                st = os.stat(path)
            except OSError as e:
                if e.errno == errno.ELOOP:
                    self.skip(path, "symbolic link loop: the link never "
                              "reaches a file or folder")
                else:
                    self.skip(path, f"broken symbolic link: {e.strerror}")
                return
        if stat.S_ISDIR(st.st_mode):
            self.walk_folder(path, st, relative, label, depth + 1)
        elif stat.S_ISREG(st.st_mode):
            self.candidates.append((path, relative, label))
        else:
            self.skip(path, "not a regular file (a device, pipe or socket)")


def _collect_classes(walk, folders):
    """One folder given: its visible sub-folders are the classes and its
    loose files belong to none (skipped).  No sub-folders, or several
    folders given: each folder given is a class, named by its basename."""
    if not folders:
        raise ScanError("no folder given")
    for folder in folders:
        if not os.path.isdir(folder):
            raise ScanError(f"{_shown(folder)}: "
                            + ("not a folder" if os.path.exists(folder)
                               else "no such folder"))
    loose = []
    if len(folders) == 1:
        try:
            names = sorted(os.listdir(folders[0]), key=_sort_key)
        except OSError as e:
            raise ScanError(f"{_shown(folders[0])}: {e.strerror}") from e
        for name in names:
            if name.startswith("."):
                continue
            path = os.path.join(folders[0], name)
            if os.path.isdir(path):
                walk.classes.append(ScanClass(_shown(name), path))
            else:
                loose.append(path)
    if walk.classes:
        walk.parent = folders[0]
        for path in loose:
            walk.skip(path, "not in a class folder (each class is a "
                      "sub-folder named after it)")
    else:
        walk.classes = [ScanClass(_shown(_basename(f)), f) for f in folders]
    walk.classes.sort(key=lambda c: (c.name.encode("utf-8",
                                                   "surrogateescape"),
                                     _sort_key(c.path)))


def _inspect(path, max_pixels):
    """(sha256, None) for a picture Pillow decodes whole, else
    (None, why)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return None, f"unreadable: {e.strerror}"
    try:
        open_picture(data, max_pixels)
    except PictureTooLarge as e:
        return None, str(e)
    except Image.DecompressionBombError as e:
        return None, f"too large: {e}"
    except Image.UnidentifiedImageError:
        return None, "not a picture Pillow can read"
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        return None, f"cannot be decoded: {e}"
    return hashlib.sha256(data).hexdigest(), None


def _health(scan):
    """The data set's warnings, as Graft's health check gives them."""
    warnings = []
    classes = scan.classes
    for klass in classes:
        if klass.count == 0:
            warnings.append(f"Class “{klass.name}” has no usable pictures.")
        elif klass.count < MIN_CLASS_PICTURES:
            plural = "picture" if klass.count == 1 else "pictures"
            warnings.append(f"Class “{klass.name}” has only {klass.count} "
                            f"usable {plural}: at least {MIN_CLASS_PICTURES} "
                            f"are needed to learn and validate it.")
    usable = [c for c in classes if c.count > 0]
    if len(classes) == 1:
        warnings.append(f"Only one class (“{classes[0].name}”): a "
                        f"classifier needs at least two. Drop one folder "
                        f"per class, or one folder whose sub-folders are "
                        f"the classes.")
    elif len(usable) == 1:
        warnings.append(f"Only class “{usable[0].name}” has usable "
                        f"pictures: a classifier needs at least two.")
    elif not usable:
        warnings.append("No class has usable pictures.")
    for a, b in zip(classes, classes[1:]):
        if a.name == b.name:
            warnings.append(f"Two class folders are both named “{a.name}”: "
                            f"rename one.")
    if usable:
        largest = max(usable, key=lambda c: c.count)
        smallest = min(usable, key=lambda c: c.count)
        if (largest is not smallest
                and largest.count > IMBALANCE_RATIO * smallest.count):
            warnings.append(
                f"Classes are imbalanced: “{largest.name}” has "
                f"{largest.count} pictures, “{smallest.name}” only "
                f"{smallest.count} ({largest.count / smallest.count:.1f} "
                f"to 1).")
    groups = {}
    for s in scan.samples:
        groups.setdefault(s.sha256, []).append(s)
    for group in groups.values():
        if len(group) < 2:
            continue
        names = []
        for s in group:
            name = f"“{classes[s.label].name}”"
            if name not in names:
                names.append(name)
        if len({s.label for s in group}) == 1:
            warnings.append(f"{len(group)} identical copies of one picture "
                            f"in class {', '.join(names)}.")
        else:
            warnings.append(f"The same picture is in classes "
                            f"{', '.join(names)}: a labelling error?")
        if len({s.val for s in group}) > 1:
            warnings.append("The same picture is in both training and "
                            "validation sets: validation would overrate the "
                            "model.")
    return warnings


def scan(folders, val_fraction=0.2, split_seed=0,
         max_pixels=DEFAULT_MAX_PIXELS):
    """Scans class folders as Graft does and splits them.

    One folder given: its visible sub-folders (names not starting with
    ``.``) are the classes; several (or one without sub-folders): each is a
    class named by its basename.  Classes are sorted by name.  A class's
    pictures are the regular files found recursively under it (hidden
    names skipped, links followed once) that Pillow decodes; the others
    are listed in ``skipped`` with why.  Pictures are sorted by (class,
    relative path) and split by ``split_position``/``apply_split``.
    Raises ScanError when a folder is missing."""
    if isinstance(folders, (str, bytes, os.PathLike)):
        folders = [folders]
    folders = [os.fsdecode(f) for f in folders]
    walk = _Walk()
    _collect_classes(walk, folders)
    if walk.parent is not None:
        with contextlib.suppress(OSError):
            st = os.stat(walk.parent)
            walk.folders[(st.st_dev, st.st_ino)] = _Walk.ENTERED
    for i, klass in enumerate(walk.classes):
        try:
            st = os.stat(klass.path)
        except OSError as e:
            walk.skip(klass.path, f"unreadable folder: {e.strerror}")
            continue
        walk.walk_folder(klass.path, st, "", i, 0)

    samples = []
    for path, relative, label in walk.candidates:
        sha256, reason = _inspect(path, max_pixels)
        if reason is not None:
            walk.skip(path, reason)
        else:
            samples.append(Sample(path, relative, label, sha256))
    samples.sort(key=lambda s: (s.label, _sort_key(s.relative)))
    for s in samples:
        walk.classes[s.label].count += 1
    positions = [split_position(split_seed, s.relative) for s in samples]
    for s, v in zip(samples, apply_split([s.label for s in samples],
                                         positions, val_fraction)):
        s.val = v
    result = Scan(walk.classes, samples,
                  sorted(walk.skipped, key=lambda e: _sort_key(e[0])), [],
                  min(max(float(val_fraction), 0.0), 1.0), int(split_seed))
    result.warnings = _health(result)
    return result
