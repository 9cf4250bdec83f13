"""Runs one graded notebook: ``python <job>/.runner/runner.py`` (a copy of this file, made by :mod:`.sandbox`) in a
job's scratch folder. It imports nothing of the kit, so it runs beside a student release's package too.

The grader (:mod:`.grading`) starts it in its own process, as the job's uid when the grader is root, and writes
the job on its standard input as JSON: the notebook to run (the student's cells, then the hidden tests), the
kernel's name, working folder and environment, the time limit in seconds, and the rlimits it sets on itself
before it starts the kernel (:mod:`.limits`). It executes the code cells in
order with nbclient, going on past errors, until the time limit (kernel start-up included) is reached, then
writes one JSON object on its standard output: the executed notebook, and for each code cell its status
(``ok``, ``error`` with the exception's name and text, ``timeout``, ``dead``: the kernel died, or ``not-run``).
A cell that raises ``MemoryError`` went over the job's memory limit (:mod:`.limits`): the cells after it do not
run (``not-run``, reason ``memory``).
Everything else it or the kernel prints goes to its standard error, so a submission cannot forge that answer
by printing.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time

MAX_STREAM = 20_000  # characters kept of one cell's printed output


def _truncate(cell) -> None:
    for output in cell.get("outputs", []):
        text = output.get("text")
        if output.get("output_type") == "stream" and isinstance(text, str) and len(text) > MAX_STREAM:
            output["text"] = text[:MAX_STREAM] + f"\n... [{len(text) - MAX_STREAM} more characters cut by the grader]"


async def run(job: dict) -> dict:
    """Execute ``job['notebook']``; returns ``{"notebook": ..., "cells": {index: status}, "error": ...}``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    deadline = time.monotonic() + float(job["time_limit"])
    notebook = nbformat.from_dict(job["notebook"])
    statuses: dict[int, dict] = {}

    def remaining() -> int:
        return max(1, math.ceil(deadline - time.monotonic()))

    def executed(cell, cell_index, execute_reply) -> None:
        content = execute_reply.get("content", {}) if execute_reply else {}
        if content.get("status") == "error":
            statuses[cell_index] = {"status": "error", "ename": str(content.get("ename", "")),
                                    "evalue": str(content.get("evalue", ""))}
        else:
            statuses[cell_index] = {"status": "ok"}

    client = NotebookClient(notebook, kernel_name=job["kernel"], allow_errors=True, interrupt_on_timeout=False,
                            timeout_func=lambda cell: remaining(), startup_timeout=remaining(),
                            shutdown_kernel="immediate", resources={"metadata": {"path": job["cwd"]}},
                            on_cell_executed=executed)
    code_cells = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    stopped: dict | None = None
    error = None
    try:
        async with client.async_setup_kernel(env=job["env"]):
            for index in code_cells:
                cell = notebook.cells[index]
                if stopped is not None:
                    statuses[index] = {"status": "not-run", **stopped}
                    continue
                if time.monotonic() >= deadline:
                    stopped = {"reason": "timeout", "at": index}
                    statuses[index] = {"status": "not-run", **stopped}
                    continue
                try:
                    await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                except CellTimeoutError:
                    statuses[index], stopped = {"status": "timeout"}, {"reason": "timeout", "at": index}
                except DeadKernelError:
                    statuses[index], stopped = {"status": "dead"}, {"reason": "dead", "at": index}
                if statuses.get(index, {}).get("ename") == "MemoryError":  # over the job's memory limit: stop
                    stopped = {"reason": "memory", "at": index}
                _truncate(cell)
    except Exception as exc:  # the kernel did not start, or its channels broke down
        error = f"{type(exc).__name__}: {exc}"
        for index in code_cells:
            statuses.setdefault(index, {"status": "not-run", "reason": "error", "at": index})
    return {"notebook": notebook, "cells": statuses, "error": error}


def set_rlimits(rlimits: dict[str, int]) -> None:
    """Lower this process's rlimits (``{"RLIMIT_DATA": bytes, ...}``), before it starts the kernel: the kernel and
    everything it starts inherit them, and none can raise them again."""
    import resource

    for name, value in rlimits.items():
        resource.setrlimit(getattr(resource, name), (value, value))


def main() -> int:
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8")  # a private copy of stdout, not inherited by the kernel
    os.dup2(2, 1)  # what anything else prints goes to the log
    job = json.load(sys.stdin)
    set_rlimits(job.get("rlimits", {}))
    result = asyncio.run(run(job))
    json.dump(result, answer)
    answer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
