"""Grids of experiments: run every point of a hyperparameter grid, resumably, then compare the runs.

``sweep(base, grid)`` turns a base ``Config`` and a grid such as
``{"d_lr": [1e-4, 1e-3], "batch_size": [32, 64]}`` into one config per point (checked
before anything runs; a key such as ``"g_beta1+d_beta1"`` sets several fields to the same
value), and trains each in its own run folder under
``<output_dir>/<sweep name>/``, next to a ``sweep.json`` that records every point, its
run folder, its state and the errors met. Calling it again with the same arguments
finds the runs by name: finished (and diverged) runs are skipped, interrupted or failed
runs are resumed from their last checkpoint (or started again when they have none), and
the missing ones are trained; ``reuse=[earlier sweep folders]`` lets a point take over an
identical finished run of another sweep (a shared baseline). ``compare(runs)`` (``gan_kit.compare``,
re-exported here) reads run folders only: a table of the config fields that differ, the final
value of chosen history columns, ``metrics.json`` values and the diagnostics that fired, and
overlay plots of the columns.

Example:
    >>> result = sweep(for_profile("quick", dataset="fashion_mnist"), {"d_lr": [1e-4, 1e-3], "batch_size": [64, 128]})
    >>> print(compare(result.runs).to_markdown())
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from . import checkpoints, fileio, runs
from .compare import DEFAULT_COLUMNS, Comparison, compare
from .config import Config, ConfigError
from .runs import DONE_STATES, SWEEP_FILE, read_sweep


# ----------------------------------------------------------------- grids
def grid_points(grid: Mapping[str, Sequence[Any]], random_subset: int | None = None, seed: int = 0) -> list[dict]:
    """The points of a grid: its cartesian product in key order (the last key varies fastest).

    Args:
        grid: field name -> list of values (each list non-empty).
        random_subset: keep only this many points, drawn at random without replacement
            (seeded by ``seed``) and listed in grid order; None or a number >= the grid's
            size keeps them all.
        seed: seed of the random subset.

    Returns:
        A list of dicts, one per point.

    Raises:
        ConfigError: for an empty grid, a value list that is not a non-empty list, or a bad ``random_subset``.
    """
    if not isinstance(grid, Mapping) or not grid:
        raise ConfigError(f"A sweep grid must be a non-empty dict of field -> list of values. Received: {grid!r}.")
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ConfigError(f"Grid values for `{key}` must be a non-empty list. Received: {key}={values!r}.")
    keys = list(grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(list(grid[k]) for k in keys))]
    if random_subset is not None:
        if isinstance(random_subset, bool) or not isinstance(random_subset, int) or random_subset < 1:
            raise ConfigError(f"random_subset must be a positive integer or None. Received: {random_subset!r}.")
        if random_subset < len(points):
            keep = sorted(random.Random(seed).sample(range(len(points)), random_subset))
            points = [points[i] for i in keep]
    return points


def point_label(point: Mapping[str, Any]) -> str:
    """A short readable name of a grid point: ``"d_lr=0.001, batch_size=32"``."""
    return ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in point.items())


def _key_fields(key: str) -> list[str]:
    return [part.strip() for part in str(key).split("+")]


def point_fields(point: Mapping[str, Any]) -> dict[str, Any]:
    """The config fields a grid point sets: a key ``"g_lr+d_lr"`` gives its value to both fields."""
    return {part: value for key, value in point.items() for part in _key_fields(key)}


def _hash(value: Any, length: int = 8) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def _identity(config: Config) -> dict[str, Any]:
    return runs.config_identity(config, runs.IDENTITY_IGNORED)


# ----------------------------------------------------------------- results
@dataclass
class SweepResult:
    """What a sweep did.

    Attributes:
        folder: the sweep folder (run folders and ``sweep.json``).
        points: the grid points, in grid order.
        runs: the run folder of each point, in grid order (None only for a point whose
            training failed before its folder was made).
        skipped: run folders found already done (finished or diverged) and not trained again.
        failed: ``point_label(point)`` -> the last error, for points that still failed after their retries.
        statuses: the final state of each point's run, in grid order.
    """

    folder: Path
    points: list[dict] = field(default_factory=list)
    runs: list[Path | None] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    statuses: list[str] = field(default_factory=list)

    def compare(self, columns: Sequence[str] = DEFAULT_COLUMNS, save_to: str | os.PathLike | None = None
                ) -> Comparison:
        """``compare`` over this sweep's runs."""
        return compare([r for r in self.runs if r is not None], columns, save_to)


# ----------------------------------------------------------------- running one point
def _train_point(config: dict[str, Any], resume: str | None, verbose: int | str, threads: int | None = None
                 ) -> tuple[str | None, str, str | None]:
    """Train (or resume) one point; in a child process too. Returns (run folder, state, error or None)."""
    if threads:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
            for gpu in tf.config.list_physical_devices("GPU"):  # several processes share one GPU
                tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # TensorFlow already initialised in this process
            pass
    from .training import train

    try:
        if resume is not None:
            run = train(None, resume=resume, verbose=verbose)
        else:
            run = train(Config.from_dict(config), verbose=verbose)
        return str(run.path), run.status, None
    except Exception as exc:  # recorded in sweep.json and retried by the parent; train() marked the folder failed
        folder = Path(resume) if resume else _find_run(Path(config["output_dir"]), config["name"])
        return (str(folder) if folder else None), "failed", f"{type(exc).__name__}: {exc}"


def _find_run(folder: Path, run_name: str) -> Path | None:
    """The run folder of ``run_name`` in the sweep folder: the newest done one, else the newest."""
    found = runs.find_runs(folder, name=run_name)
    done = [p for p in found if runs.read_state(p) in DONE_STATES]
    return (done or found)[-1] if found else None


def _has_checkpoint(run_dir: Path) -> bool:
    try:
        return checkpoints.read_state(run_dir) is not None
    except fileio.RunFolderError:
        return False


class _Point:
    """Book-keeping of one grid point during a sweep call."""

    def __init__(self, index: int, point: dict, config: Config, record: dict, reused: Path | None = None):
        self.index = index
        self.point = point
        self.label = point_label(point)
        self.config = config
        self.record = record
        self.reused = reused
        self.tries = 0
        self.path: Path | None = None
        self.state = "pending"

    def refresh(self) -> Path | None:
        """Look for this point's run folder and read its state (no other side effect); the folder or None.

        Without a run of its own, a done run with the same config given through ``reuse`` counts as its run.
        """
        folder = _find_run(Path(self.config.output_dir), self.config.name)
        if folder is None and self.reused is not None and runs.read_state(self.reused) in DONE_STATES:
            folder = self.reused
        if folder is not None:
            self.path = folder
            self.state = runs.read_state(folder)
        return folder

    @property
    def done(self) -> bool:
        return self.path is not None and self.state in DONE_STATES

    def next_attempt(self, retries: int) -> tuple[str, str | None] | None:
        """(action, resume folder) for the next training attempt, or None when the point is settled."""
        folder = self.refresh()
        if folder is not None and self.done:
            return None
        if self.tries > retries:
            return None
        if folder is None:
            return "new", None
        previous = self.state
        if _has_checkpoint(folder) and not self.record.get("resume_failed"):
            self._log(action="resume", previous=previous, folder=folder.name)
            return "resume", str(folder)
        # Nothing worth keeping (no complete epoch) or its checkpoint cannot be resumed: start again.
        if not _has_checkpoint(folder):
            shutil.rmtree(folder, ignore_errors=True)
            self._log(action="restart", previous=previous, folder=folder.name,
                      note="the interrupted run had no complete epoch; its folder was removed")
        else:
            self._log(action="restart", previous=previous, folder=folder.name,
                      note="resuming failed; a new run folder is started and the old one kept")
        self.path = None
        return "new", None

    def finish_attempt(self, action: str, path: str | None, state: str, error: str | None) -> None:
        self.tries += 1
        self.path = Path(path) if path else self.path
        self.state = state
        entry = {"action": action, "result": state}
        if error:
            entry["error"] = error
            self.record.setdefault("errors", []).append(error)
            print(f"\ngan_kit sweep: attempt {self.tries} at {{{self.label}}} failed: {error}")
            if action == "resume":
                self.record["resume_failed"] = True
        elif action == "resume":
            self.record.pop("resume_failed", None)
        self._log(**entry)

    def _log(self, **entry: Any) -> None:
        self.record.setdefault("attempts", []).append({"time": round(time.time(), 3), **entry})


# ----------------------------------------------------------------- the sweep
def sweep(
    base: Config,
    grid: Mapping[str, Sequence[Any]],
    *,
    random_subset: int | None = None,
    seed: int = 0,
    parallel: int = 1,
    output_dir: str | os.PathLike | None = None,
    name: str | None = None,
    retries: int = 1,
    verbose: int | str = 0,
    reuse: Sequence[str | os.PathLike] = (),
) -> SweepResult:
    """Train one run per grid point (skipping those already done), with a progress bar over runs.

    Every grid key must be a ``Config`` field, or fields joined by ``+`` that take the same
    value (``{"g_lr+d_lr": [1e-4, 4e-4]}`` moves both learning rates together), and every
    point must give a valid config; both are checked before anything runs. Each point's run is named
    ``<sweep name>-<hash of its config>`` and lives in ``<output_dir>/<sweep name>/``, so a
    second call with the same arguments finds it: a finished or diverged run is skipped;
    an interrupted (``running``: the process was killed) or ``failed`` run is resumed from
    its last checkpoint with ``train(None, resume=...)``, or started again when it has
    none (its folder, holding no complete epoch, is removed); each point gets at most
    ``1 + retries`` training attempts per call. Every attempt and error is recorded in
    ``sweep.json`` (atomic writes).

    Args:
        base: the config every point starts from.
        grid: field (or ``"field1+field2"``) -> list of values; the cartesian product is swept.
        random_subset: train only this many points, drawn at random (see :func:`grid_points`).
        seed: seed of the random subset.
        parallel: points trained at once, each in its own process (``spawn``); 1 trains
            in this process. On a CPU, processes share the cores (each gets
            ``cores // parallel`` threads).
        output_dir: where the sweep folder goes (default ``base.output_dir``).
        name: the sweep's name (default ``<base.name>-sweep-<hash of base, grid and subset>``,
            the same for the same arguments).
        retries: extra attempts for a point whose training raises.
        verbose: ``fit`` verbosity of each run (0: only the progress bar over runs).
        reuse: sweep folders (standing for their runs) or run folders of earlier sweeps: a
            finished (or diverged) one whose config equals a point's, apart from ``name`` and
            ``output_dir``, is that point's run and is not trained again (e.g. the baseline
            shared by several one-factor sweeps). Its folder stays where it is.

    Returns:
        A :class:`SweepResult`.

    Raises:
        ConfigError: for an unknown grid key, a key the sweep sets itself (``name``,
            ``output_dir``), a point that is not a valid config, duplicate points, or bad arguments.
        ValueError: for a ``reuse`` item that is neither a run folder nor a sweep folder.
    """
    _check_sweep_arguments(base, grid, parallel, retries)
    points = grid_points(grid, random_subset, seed)
    sweep_name = _sweep_name(base, grid, random_subset, seed, name)
    folder = Path(output_dir if output_dir is not None else base.output_dir) / sweep_name
    configs, hashes = _point_configs(base, points, sweep_name, folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fileio.RunFolderError(f"Cannot create the sweep folder {folder} ({exc}).") from exc
    items = _sweep_points(folder, points, configs, hashes, reuse)
    state = {"name": sweep_name, "base": base.to_dict(), "grid": {k: list(v) for k, v in grid.items()},
             "random_subset": random_subset, "seed": seed, "retries": retries, "parallel": parallel}
    result = SweepResult(folder=folder, points=points)
    for item in items:  # done runs first, so the progress bar starts where the last call stopped
        if item.refresh() is not None and item.done:
            result.skipped.append(item.path)
            item.record["state"] = item.state
            if item.path == item.reused:
                item.record["reused"] = True
    _write_sweep(folder, state, items)
    _train_points(items, result, state, parallel=parallel, retries=retries, verbose=verbose)
    return _finish_sweep(result, items, state)


def _check_sweep_arguments(base: Config, grid: Mapping[str, Sequence[Any]], parallel: int, retries: int) -> None:
    """Raise ``TypeError``/``ConfigError`` for a base that is not a Config, bad counts or grid keys."""
    if not isinstance(base, Config):
        raise TypeError(f"sweep() needs a gan_kit.Config as base. Received: {type(base).__name__}.")
    for arg, value, low in (("parallel", parallel, 1), ("retries", retries, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"sweep() argument `{arg}` must be an integer >= {low}. Received: {arg}={value!r}.")
    known = [f.name for f in fields(Config)]
    keys = list(grid) if isinstance(grid, Mapping) else []
    unknown = [k for k in keys if any(part not in known for part in _key_fields(k))]
    if unknown:
        raise ConfigError(f"Unknown grid key(s) {unknown}: every grid key must be a Config field (or fields joined "
                          f"by '+' that take the same value). Valid fields: {sorted(known)}.")
    counts = Counter(f for k in keys for f in set(_key_fields(k)))
    repeated = sorted(f for f, n in counts.items() if n > 1)
    if repeated:
        raise ConfigError(f"Grid field(s) {repeated} appear in more than one grid key: each field is swept once.")
    reserved = [k for k in keys if any(part in runs.IDENTITY_IGNORED for part in _key_fields(k))]
    if reserved:
        raise ConfigError(f"Grid key(s) {reserved} cannot be swept: the sweep names each run and places it in the "
                          "sweep folder itself (use `name` and `output_dir` of sweep()).")


def _sweep_name(base: Config, grid: Mapping[str, Sequence[Any]], random_subset: int | None, seed: int,
                name: str | None) -> str:
    """The sweep's name: ``name``, or one derived from the base, the grid and the subset (checked)."""
    sweep_name = name or f"{base.name}-sweep-" + _hash(
        {"base": _identity(base), "grid": {k: list(v) for k, v in grid.items()}, "random_subset": random_subset,
         "seed": seed}, 6)
    if not isinstance(sweep_name, str) or not sweep_name or any(c in sweep_name for c in "/\\") \
            or sweep_name.startswith("."):
        raise ConfigError(f"Sweep name must be a non-empty name without slashes, not starting with '.'. "
                          f"Received: name={sweep_name!r}.")
    return sweep_name


def _point_configs(base: Config, points: list[dict[str, Any]], sweep_name: str, folder: Path
                   ) -> tuple[list[Config], list[str]]:
    """Each point's config (named by its hash, in the sweep folder) and the run hashes, in order.

    Raises:
        ConfigError: for a point that is not a valid config, or two points with the same config.
    """
    configs: list[Config] = []
    seen: dict[str, str] = {}
    for point in points:
        try:
            config = base.replace(**point_fields(point))
        except ConfigError as exc:
            raise ConfigError(f"Sweep point {{{point_label(point)}}} is not a valid config: {exc}") from None
        run_hash = _hash(_identity(config))
        if run_hash in seen:
            raise ConfigError(f"Sweep points {{{seen[run_hash]}}} and {{{point_label(point)}}} give the same config; "
                              "remove the duplicate value from the grid.")
        seen[run_hash] = point_label(point)
        configs.append(config.replace(name=f"{sweep_name}-{run_hash}", output_dir=str(folder)))
    return configs, list(seen)


def _sweep_points(folder: Path, points: list[dict[str, Any]], configs: list[Config], hashes: list[str],
                  reuse: Sequence[str | os.PathLike]) -> list[_Point]:
    """One ``_Point`` per grid point, with its record from an earlier call and its reusable run, if any."""
    previous = _read_sweep(folder)
    records = {r.get("run_name"): r for r in previous.get("points", []) if isinstance(r, dict)}
    reusable = _reusable_runs(reuse, exclude=folder)
    items = []
    for i, (point, config, run_hash) in enumerate(zip(points, configs, hashes)):
        record = records.get(config.name) or {}
        record.update(label=point_label(point), point=point, run_name=config.name)
        record.pop("resume_failed", None)
        items.append(_Point(i, point, config, record, reusable.get(run_hash)))
    return items


def _train_points(items: list[_Point], result: SweepResult, state: dict[str, Any], *, parallel: int, retries: int,
                  verbose: int | str) -> None:
    """Train the points not done yet (each at most ``1 + retries`` times), with a progress bar over runs."""
    import keras

    folder = result.folder
    bar = keras.utils.Progbar(len(items), unit_name="run", stateful_metrics=["done", "skipped", "failed"])
    progress = {"count": len(result.skipped)}

    def tick() -> None:
        done = sum(1 for it in items if it.state in DONE_STATES)
        failed = sum(1 for it in items if it.state not in DONE_STATES and it.tries > retries)
        bar.update(progress["count"], values=[("done", done), ("skipped", len(result.skipped)), ("failed", failed)])

    tick()
    todo = [it for it in items if it.path not in result.skipped or it.path is None]
    todo = [it for it in todo if it.state not in DONE_STATES]
    if parallel > 1:
        _run_parallel(todo, parallel, retries, verbose, folder, state, items, progress, tick)
        return
    for item in todo:
        while (attempt := item.next_attempt(retries)) is not None:
            action, resume = attempt
            _write_sweep(folder, state, items)
            item.finish_attempt(action, *_train_point(item.config.to_dict(), resume, verbose))
            _write_sweep(folder, state, items)
        progress["count"] += 1
        tick()


def _finish_sweep(result: SweepResult, items: list[_Point], state: dict[str, Any]) -> SweepResult:
    """Each point's final state and folder in ``sweep.json``; the failed points' last errors in ``result``."""
    folder = result.folder
    for item in items:
        item.record["state"] = item.state
        item.record["folder"] = _relative(item.path, folder)
        if item.state not in DONE_STATES:
            errors = item.record.get("errors") or [f"the run ended in state {item.state!r}"]
            result.failed[item.label] = errors[-1]
    _write_sweep(folder, state, items)
    result.runs = [item.path for item in items]
    result.statuses = [item.state for item in items]
    return result


def _run_parallel(todo, parallel, retries, verbose, folder, state, items, progress, tick) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    threads = max(1, (os.cpu_count() or 1) // parallel)
    context = multiprocessing.get_context("spawn")
    waiting = list(todo)
    running = {}  # future -> (item, action, the one-process pool running it)

    def start(item) -> None:
        attempt = item.next_attempt(retries)
        if attempt is None:
            progress["count"] += 1
            tick()
            return
        action, resume = attempt
        _write_sweep(folder, state, items)
        # A process of its own per attempt: one that dies (killed, out of memory) fails only its own point, where
        # a shared pool would be broken and would terminate the other points' processes with it.
        pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        running[pool.submit(_train_point, item.config.to_dict(), resume, verbose, threads)] = (item, action, pool)

    try:
        while waiting or running:
            while waiting and len(running) < parallel:
                start(waiting.pop(0))
            if not running:
                continue
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                item, action, pool = running.pop(future)
                pool.shutdown()
                try:
                    outcome = future.result()
                except Exception as exc:  # the child process died (killed, out of memory)
                    outcome = (str(item.path) if item.path else None, "failed", f"{type(exc).__name__}: {exc}")
                item.finish_attempt(action, *outcome)
                _write_sweep(folder, state, items)
                waiting.insert(0, item)  # its next attempt first (a retry), or it is settled
    finally:
        for _, _, pool in running.values():
            pool.shutdown()


def _relative(path: Path | None, folder: Path) -> str | None:
    """A run folder as ``sweep.json`` stores it: its name, or a path relative to the sweep folder when reused."""
    if path is None:
        return None
    if path.parent.resolve() == folder.resolve():
        return path.name
    return os.path.relpath(path.resolve(), folder.resolve())


def _reusable_runs(sources: Sequence[str | os.PathLike], exclude: Path) -> dict[str, Path]:
    """Done runs of other sweeps by the hash of their config (apart from name and output_dir); finished first."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    found: dict[str, Path] = {}
    for path in runs.expand_runs(list(sources)):
        if path.parent.resolve() == exclude.resolve() or runs.read_state(path) not in DONE_STATES:
            continue
        try:
            config = runs.read_config(path)
        except (fileio.RunFolderError, ConfigError):
            continue
        key = _hash(_identity(config))
        if key not in found or (runs.read_state(found[key]) != "finished" and runs.read_state(path) == "finished"):
            found[key] = path
    return found


def _read_sweep(folder: Path) -> dict[str, Any]:
    if not (folder / SWEEP_FILE).exists():
        return {}
    try:
        value = read_sweep(folder)
    except fileio.RunFolderError:
        return {}
    return value if isinstance(value, dict) else {}


def _write_sweep(folder: Path, state: dict[str, Any], items: list[_Point]) -> None:
    points = []
    for item in items:
        record = dict(item.record)
        record.pop("resume_failed", None)
        record["folder"] = _relative(item.path, folder) if item.path else record.get("folder")
        record["state"] = item.state
        points.append(record)
    fileio.write_json(folder / SWEEP_FILE, {**state, "updated": time.time(), "points": points})



__all__ = ["SweepResult", "grid_points", "point_fields", "point_label", "sweep"]
