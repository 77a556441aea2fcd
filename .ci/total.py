"""Sum every phase of a CI run into one plain line: ``N passed, M failed[, K skipped]``.

Each phase leaves JUnit XML files in the results folder (pytest's ``--junitxml``, schemathesis's
``--report junit``: one test case per operation) or a ``<phase>.counts`` file holding its own
``N passed, M failed`` line (a shell check counting its steps), and one ``<phase>.status`` file
with its exit status. A phase that failed without reporting a failed test — a crash, a lint error, a check
that is one command — counts as one failed test; a one-command phase that passed counts as one
passed test. Standard library only: it must run even when the install failed.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def junit_counts(path: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) over the test suites of one JUnit file."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    passed = failed = skipped = 0
    for suite in suites:
        tests = int(suite.get("tests", 0))
        bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skip = int(suite.get("skipped", 0))
        failed, skipped, passed = failed + bad, skipped + skip, passed + tests - bad - skip
    return passed, failed, skipped


def main(folder: Path) -> int:
    passed = failed = skipped = 0
    for status_file in sorted(folder.glob("*.status")):
        phase = status_file.stem
        status = int(status_file.read_text().strip() or 1)
        reports = sorted(folder.glob(f"{phase}*.xml"))
        counts = [junit_counts(report) for report in reports]
        counts_file = folder / f"{phase}.counts"
        if counts_file.exists():
            found = re.search(r"(\d+) passed, (\d+) failed", counts_file.read_text())
            if found:
                counts.append((int(found[1]), int(found[2]), 0))
                reports.append(counts_file)
        p, f, s = (sum(c[i] for c in counts) for i in range(3))
        if not reports:
            p, f = (1, 0) if status == 0 else (0, 1)
        elif status != 0 and f == 0:
            f = 1  # the phase failed outside its tests
        print(f"{phase}: {p} passed, {f} failed" + (f", {s} skipped" if s else ""))
        passed, failed, skipped = passed + p, failed + f, skipped + s
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
