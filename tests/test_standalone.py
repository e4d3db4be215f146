"""The project stands alone: no file refers to reference material kept outside it.

A fresh clone has nothing beside it, so code, tests, docs and config must not read from, or send
the reader to, a folder next to the project. Whatever they need is inside it (e.g. the vendors'
API descriptions in tests/contracts/) or is named by its public source. Checked: every file git
tracks or would track (tracked, plus untracked but not ignored), run from the project root; in
a copy without git (CI runs the suite in a copy of the tracked files), every file but the ones
the project makes itself (its virtual environment, caches, `instance/`).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()
FORBIDDEN = ("../shared", "shared/specs", "shared/payloads", "shared/notes", "shared/data",
             "vendor-apis.md", "SHARED_DIR")
PATTERN = re.compile("|".join(re.escape(f) for f in FORBIDDEN))


# What the project makes for itself: never part of what it ships (see .gitignore).
MADE_HERE = {".venv", ".git", "__pycache__", ".pytest_cache", "instance", ".benchmarks", ".coverage"}


def project_files() -> list[str]:
    inside = None
    if shutil.which("git") is not None:
        inside = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=ROOT, capture_output=True, text=True)
    if inside is not None and inside.returncode == 0 and Path(inside.stdout.strip()).resolve() == ROOT:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                                cwd=ROOT, capture_output=True, check=True)
        return sorted(set(listed.stdout.decode("utf-8", "surrogateescape").split("\0")) - {""})
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("*")
        if path.is_file() and not MADE_HERE & set(path.relative_to(ROOT).parts)
    )


def mentions(relative: str) -> list[str]:
    """``path:line: text`` for each line of a text file naming an outside reference."""
    path = ROOT / relative
    if not path.is_file():  # tracked but deleted in the work tree
        return []
    data = path.read_bytes()
    if b"\0" in data[:8192]:  # binary
        return []
    text = data.decode("utf-8", "replace")
    return [f"{relative}:{number}: {line.strip()[:160]}"
            for number, line in enumerate(text.splitlines(), 1) if PATTERN.search(line)]


def test_no_file_refers_to_material_outside_the_project():
    files = project_files()
    assert THIS in files and "tests/contracts/README.md" in files  # the listing is the real one
    found = [hit for relative in files if relative != THIS for hit in mentions(relative)]
    assert not found, ("these files refer to material outside the project; bring it in (with its "
                       "source and license) or cite its public source instead:\n" + "\n".join(found))
