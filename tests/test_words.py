"""The package speaks in its own terms: the course's student reports ("story 1" ... "story 5", "the stories") are
named in the notebooks, not in the prose of ``gan_kit/`` (docstrings, comments and other string literals).

Identifiers such as ``steps.story1_train_step``, the bench model ``story1_dcgan_32`` or the rule key ``"story1"``
are API and are not prose: the word pattern below does not match them. The few phrases that stay are listed in
``ALLOWED`` with the reason."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gan_kit"

# "story", "Story 2's", "stories", "story-1"; not "history", "story1_train_step" or "STORY1".
COURSE_WORDS = re.compile(r"\bstor(?:y|ies)\b", re.IGNORECASE)

_ASSERTED_RULE = "the check's message names the rule so; tests/checks/test_steps.py asserts it"
# (file relative to the repository, exact phrase, why it stays)
ALLOWED: list[tuple[str, str, str]] = [
    ("gan_kit/instructor/bench.py", "story 1 loop",
     "bench.STORY1, the label of the tutorial loop's row in bench.json and in the bench table (and its 'x story 1 "
     "loop' column); tests/instructor/test_bench.py asserts both"),
    ("gan_kit/checks/steps.py", "story 1's rule", "RULES['story1']: " + _ASSERTED_RULE),
    ("gan_kit/instructor/references.py", "story 1's rule",
     "the names of known wrong steps, quoted in check messages: " + _ASSERTED_RULE
     + " (its variant 'with the networks called without training=True' keeps the same name)"),
]

_PROSE = {tokenize.COMMENT, tokenize.STRING} | ({tokenize.FSTRING_MIDDLE} if hasattr(tokenize, "FSTRING_MIDDLE")
                                                else set())


def prose(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every comment and string literal (docstrings included) of one Python file."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return [(tok.start[0], tok.string) for tok in tokens if tok.type in _PROSE]


def course_words(path: Path, allowed: list[str]) -> list[str]:
    """``file:line: text`` of each prose token with a course word left once the ``allowed`` phrases are removed."""
    found = []
    for line, text in prose(path):
        for phrase in allowed:
            text = text.replace(phrase, "")
        if COURSE_WORDS.search(text):
            found.append(f"{_label(path)}:{line}: {text.strip()[:100]}")
    return found


def _label(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _allowed_for(relative: str) -> list[str]:
    return [phrase for file, phrase, _ in ALLOWED if file == relative]


@pytest.mark.parametrize("text, hit", [
    ("story 1's generator", True), ("Story 2: D reached ~100%", True), ("the stories", True),
    ("the story-1 DCGAN", True),
    ("history.csv", False), ("steps.story1_train_step", False), ("STORY1", False), ("'story1_dcgan_32'", False),
])
def test_the_pattern_finds_prose_words_and_leaves_identifiers(text, hit):
    assert bool(COURSE_WORDS.search(text)) is hit


def test_prose_reads_comments_docstrings_and_strings_only(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""Doc story 1."""\nstory_count = 1  # story 2\nx = f"story {n}"\n', encoding="utf-8")
    texts = " ".join(text for _, text in prose(module))
    assert "Doc story 1." in texts and "# story 2" in texts and "story " in texts and "story_count" not in texts
    assert len(course_words(module, [])) == 3


def test_no_course_words_in_the_package_prose():
    found = [hit for path in sorted(PACKAGE.rglob("*.py"))
             for hit in course_words(path, _allowed_for(str(path.relative_to(ROOT))))]
    assert not found, ("Course words (the student stories) belong in the notebooks; say what the code does in its "
                       "own terms, or add the phrase to ALLOWED with the reason:\n" + "\n".join(found))


@pytest.mark.parametrize("file, phrase, reason", ALLOWED, ids=[f"{f}:{p}" for f, p, _ in ALLOWED])
def test_every_allowed_phrase_is_still_there(file, phrase, reason):
    assert reason
    texts = [text for _, text in prose(ROOT / file)]
    assert any(phrase in text for text in texts), f"{phrase!r} is gone from {file}: drop it from ALLOWED"


# ------------------------------------------------------------------ the README and the docs/ pages it links to
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def broken_links(page: Path) -> list[str]:
    """The relative links of one Markdown page whose file or heading does not exist."""
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, fragment = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if not path.exists():
            broken.append(f"{page.name}: {target} (no such file)")
        elif fragment and fragment not in {anchor(line.lstrip("#")) for line in
                                           path.read_text(encoding="utf-8").splitlines() if line.startswith("#")}:
            broken.append(f"{page.name}: {target} (no such heading)")
    return broken


def test_anchor_follows_github():
    assert anchor(" Assignment mode: one release per assignment") == "assignment-mode-one-release-per-assignment"
    assert anchor("The package's layers") == "the-packages-layers"
    assert anchor("Data, offline first") == "data-offline-first"


def test_broken_links_are_found(tmp_path):
    (tmp_path / "a.md").write_text("# Top\n\n[ok](b.md#part) [gone](c.md) [nohead](b.md#other) [web](https://x.org)\n")
    (tmp_path / "b.md").write_text("## Part\n")
    assert broken_links(tmp_path / "a.md") == ["a.md: c.md (no such file)", "a.md: b.md#other (no such heading)"]


def test_readme_and_docs_links_resolve():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) >= 5, "the README and its docs/ pages (students, instructors, library, development)"
    assert not [hit for page in pages for hit in broken_links(page)]


def test_readme_gives_the_test_command_and_links_every_docs_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test " in readme and "make run-all " in readme  # the two commands; `.ci/run` calls `make test`
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"
