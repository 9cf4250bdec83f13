"""The instructor's part of the kit: assignments (handouts, releases, grading), fixtures and benchmarks. A student
release leaves this whole sub-package out, and nothing outside it imports it.

- :mod:`.handouts`: ``python -m gan_kit handouts`` (``make handouts``) writes ``outputs/handouts/``, the
  student version of each solution notebook: solution code stubbed, model answers emptied, hidden tests
  removed, outputs cleared;
- :mod:`.package`: the kit's own answers to the exercises, marked in the package source, and the student package
  of a release (those of the current and later assignments stubbed);
- :mod:`.release`: ``python -m gan_kit release --assignment NN`` (``make release ASSIGNMENT=NN``) writes
  ``outputs/release-NN/`` and its zip: the handouts up to NN, the student package, the checks' public fixtures,
  the requirements and a student README, checked for conflicts and leaks (:mod:`.leaks`) before it replaces the
  previous release;
- :mod:`.references`: the checks' reference computations, which build the fixtures (expected values) the checks
  judge by;
- :mod:`.grading`: ``python -m gan_kit grade SUBMISSIONS --out OUT`` (``make grade``) runs every student's
  notebooks headless against their release's package, each in its own process and scratch copy (:mod:`.sandbox`,
  :mod:`.guard`, :mod:`.runner`), records the hidden tests' outputs and judges them in the grader's process
  (:mod:`.verdicts`), and writes grades.csv, summary.csv and a feedback page per notebook;
- :mod:`.bench`, :mod:`.quality`: ``python -m gan_kit bench [--quality]``.

Why not nbgrader or otter-grader (checked on nbgrader 0.9.6 and otter-grader 7.0.0). The notebooks already
carry their own markers (``# BEGIN SOLUTION hint:``, ``solution``/``answer``/``hidden-test`` tags with
``grade`` metadata), so either tool would have to take over the format as well as the grading. otter's
``otter grade`` grades only in Docker containers (``otter/grade/containers.py`` builds an image through
python-on-whales); this machine has a Docker client but no daemon (``docker info``: cannot connect to the
Docker daemon), and the call fails at ``docker buildx``. ``otter run``, its non-containerised path, grades one
submission in the grader's own process and user, with no time limit (its ``AutograderConfig`` has no timeout
and ``otter.execute`` leaves nbconvert's per-cell timeout unset), and its tests are OK-format or
``test_case`` files made by ``otter assign``. nbgrader's ``autograde`` needs a course folder
(``nbgrader_config.py``, ``source/``, ``release/``, ``submitted/<student>/<assignment>/``) and a gradebook
database filled by ``generate_assignment`` from cells that carry nbgrader's own metadata and checksums; it grades
one notebook after another (no parallel jobs), as the grader's user with the grader's environment (no sandbox);
its only limit is a per-cell timeout (``Execute.timeout``, 30 s by default), after which it interrupts the
cell and goes on, so a notebook has no overall limit and no ``timeout`` status; and a notebook that is not JSON
makes it delete that student's whole autograded folder, log a traceback and exit 1 at the end, leaving no
grade row for it. What is kept from both: nbclient executes (nbgrader and otter use nbconvert's
ExecutePreprocessor, a wrapper of it), going on past errors, and nbconvert renders the feedback pages.
"""

from __future__ import annotations

__all__: list[str] = []  # each tool is imported from its module (gan_kit.instructor.grading.grade, ...)
