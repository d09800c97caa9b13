"""Checkpoints: a long run that stops -- Ctrl-C, SIGTERM, a crash, a power cut -- goes on where it was.

``python -m minivgg.stylize ... --checkpoint-every N`` writes, every N iterations and when it is
interrupted, a checkpoint beside the output (:func:`checkpoint_path`: ``out.png`` ->
``out.checkpoint.npz``). Rerunning the same command continues from it; the finished run removes it.

**What it holds** (:class:`Checkpoint`): the image being optimised, exactly as the optimiser holds
it (the working dtype at that scale's size, not the 8-bit picture, so that nothing is rounded
away); where the run was (the scale, the iterations done at that scale and in the whole run, the
seconds spent); the loss history (for ``--plot``); the optimiser's state where it is a Python
object (:mod:`minivgg.optim`: Adam's step count and moments); and the settings that decide the
result, so that a checkpoint is never continued under other ones (:func:`setting_differences`).

With Adam the image and its state are all that decides the next steps: a resumed run ends on
exactly the image of an uninterrupted one, bit for bit. SciPy's L-BFGS-B keeps its curvature
history inside its Fortran code, where nothing can save it; a resumed L-BFGS-B run starts a new
history from the saved image, which costs a few iterations of curvature estimates and changes the
result a little.

**The file**: an uncompressed ``.npz`` (NumPy arrays only, read without pickle): ``image``;
``state.<name>`` for each array of the optimiser's ``state_dict()``; ``history``, one row per
iteration (:data:`HISTORY_COLUMNS`); and ``meta``, one JSON string with everything else (format,
counters, settings, the optimiser's name and its state's numbers). It is written atomically
(:func:`minivgg.app.atomic.atomic_write`): an interruption while writing leaves the previous one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MinivggError
from .atomic import atomic_write

#: Bumped when the file's layout changes; a checkpoint of another format is refused, not guessed at.
FORMAT = 1
#: The columns of the saved loss history (``size``: the scale's long side in pixels).
HISTORY_COLUMNS = ("iter", "size", "total", "content", "style", "tv")
#: How a file input appears among the settings: its contents' digest, so a renamed copy of the same
#: photo still resumes and another photo under the same name does not.
DIGEST_PREFIX = "sha256:"


def checkpoint_path(output) -> str:
    """``out.png`` -> ``out.checkpoint.npz`` (same folder; one checkpoint per output name)."""
    p = Path(output)
    return str(p.with_name(f"{p.stem}.checkpoint.npz"))


def file_digest(path) -> str:
    """``sha256:<hex>`` of the file's bytes (VGG19's 80 MB weights: a tenth of a second)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return DIGEST_PREFIX + h.hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """One point of a run, from which it can go on: what a checkpoint file holds (the module docstring).

    image: ``(3, h, w)`` at scale ``level``'s size (NumPy or the device's array; saved on the host).
    level: the scale's index, 0 = the smallest. level_iteration: iterations done at that scale.
    iteration: iterations done in the whole run. seconds: time spent optimising so far.
    settings: the JSON-able settings that decide the result. optimizer: its name.
    optimizer_state: its state object (:func:`minivgg.optim.make_state`), None where it has none.
    """

    image: object
    level: int
    level_iteration: int
    iteration: int
    seconds: float
    settings: dict
    optimizer: str
    optimizer_state: object = None

    def save(self, path, history=()) -> None:
        """Write this point, with the loss ``history`` (dicts with :data:`HISTORY_COLUMNS`), atomically."""
        from ..backend import to_numpy

        arrays = {"image": to_numpy(self.image)}
        numbers = None
        if self.optimizer_state is not None:
            numbers = {}
            for key, value in self.optimizer_state.state_dict().items():
                if isinstance(value, np.ndarray):
                    arrays[f"state.{key}"] = value
                else:                                   # NumPy scalars become JSON's numbers, exactly
                    numbers[key] = value.item() if isinstance(value, np.generic) else value
        arrays["history"] = np.array([[float(r.get(c, math.nan)) for c in HISTORY_COLUMNS] for r in history],
                                     dtype=np.float64).reshape(-1, len(HISTORY_COLUMNS))
        meta = {"format": FORMAT, "level": self.level, "level_iteration": self.level_iteration,
                "iteration": self.iteration, "seconds": self.seconds, "settings": self.settings,
                "optimizer": self.optimizer, "optimizer_state": numbers}
        arrays["meta"] = np.array(json.dumps(meta))
        with atomic_write(path) as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path) -> tuple:
        """``(Checkpoint, history)`` from the file at ``path``; MinivggError (one line) if it cannot be read."""
        from ..optim import make_state

        def damaged(why):
            return MinivggError(f"cannot read the checkpoint {path}: {why}; add --restart to start over")

        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(arrays.pop("meta")))
        except (OSError, ValueError, KeyError) as exc:
            raise damaged(getattr(exc, "strerror", None) or exc) from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise damaged(f"it is not a checkpoint of format {FORMAT}")
        try:
            state = None
            if meta["optimizer_state"] is not None:
                saved = dict(meta["optimizer_state"])
                saved.update({k[len("state."):]: v for k, v in arrays.items() if k.startswith("state.")})
                state = make_state(meta["optimizer"], saved)
            point = cls(image=arrays["image"], level=int(meta["level"]), level_iteration=int(meta["level_iteration"]),
                        iteration=int(meta["iteration"]), seconds=float(meta["seconds"]), settings=meta["settings"],
                        optimizer=meta["optimizer"], optimizer_state=state)
            history = [{c: (int(v) if c in ("iter", "size") else float(v)) for c, v in zip(HISTORY_COLUMNS, row,
                                                                                          strict=True)
                        if not (c == "size" and math.isnan(v))}
                       for row in arrays["history"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise damaged(f"missing or malformed {exc}") from None
        return point, history


def _shown(value) -> str:
    if isinstance(value, str) and value.startswith(DIGEST_PREFIX):
        return "a file"
    if isinstance(value, list) and any(isinstance(v, str) and v.startswith(DIGEST_PREFIX) for v in value):
        return f"{len(value)} file(s)"
    return "not given" if value is None else json.dumps(value)


def setting_differences(saved: dict, now: dict, names=None) -> list:
    """What differs between a checkpoint's settings and this run's, one phrase per setting, in ``now``'s
    order: ``--style-weight 1000.0 there, 100.0 now``, ``--content: another file``. names: a setting's
    name for people (default: the key as a flag, ``style_weight`` -> ``--style-weight``)."""
    names = names or {}
    now = json.loads(json.dumps(now))            # as a checkpoint stores it: tuples become lists
    out = []
    for key in list(now) + [k for k in saved if k not in now]:
        a, b = saved.get(key), now.get(key)
        if a == b:
            continue
        name = names.get(key, "--" + key.replace("_", "-"))
        if isinstance(a, str) and isinstance(b, str) and a.startswith(DIGEST_PREFIX) and b.startswith(DIGEST_PREFIX):
            out.append(f"{name}: another file")
        elif _shown(a) == _shown(b):
            out.append(f"{name}: other files")
        else:
            out.append(f"{name} {_shown(a)} there, {_shown(b)} now")
    return out


def cut_log(path, iteration: int) -> bool:
    """Cut the ``--log`` at ``path`` back to the checkpoint: keep its config line, its earlier
    ``resumed`` lines and the rows of iterations up to ``iteration``; drop the rest -- the rows of
    a run killed after its last checkpoint, which the resumed run computes again, and a last line
    cut short. Rewritten atomically; returns whether a config line was kept (False: no log yet)."""
    if not os.path.exists(path):
        return False
    kept, has_config = [], False
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            if "config" in record:
                if has_config:
                    continue
                has_config = True
            elif record.get("iter", record.get("resumed", {}).get("iter", 0)) > iteration:
                continue
            kept.append(line if line.endswith("\n") else line + "\n")
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.writelines(kept)
    return has_config


__all__ = ["FORMAT", "HISTORY_COLUMNS", "checkpoint_path", "file_digest", "Checkpoint", "setting_differences",
           "cut_log"]
