"""Run unittest targets, print the usual report, append the counts.

Usage: run_tests.py RESULTS_FILE LABEL TARGET...
A TARGET is a dotted module name, or 'discover:<dir>' for discovery.
Each stage of scripts/test.sh runs in its own process because Tryton reads
its database settings from the environment at import time.  The time of
each test class (its setUpClass included) goes to var/test/timings-LABEL.tsv
and the slowest are printed, so a stage that grows shows where.
"""
import os
import re
import sys
import time
import unittest
from collections import defaultdict


class TimedResult(unittest.TextTestResult):
    "Adds the seconds since the previous test's end to the test's class"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_seconds = defaultdict(float)
        self._last = time.monotonic()

    def stopTest(self, test):
        super().stopTest(test)
        now = time.monotonic()
        cls = type(test)
        self.class_seconds[f'{cls.__module__}.{cls.__qualname__}'] += (
            now - self._last)
        self._last = now


def write_timings(label, class_seconds):
    slug = re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')
    os.makedirs('var/test', exist_ok=True)
    ranked = sorted(class_seconds.items(), key=lambda i: -i[1])
    with open(f'var/test/timings-{slug}.tsv', 'w') as f:
        for name, seconds in ranked:
            f.write(f'{seconds:.1f}\t{name}\n')
    print(f'[{label}] slowest test classes:')
    for name, seconds in ranked[:8]:
        print(f'  {seconds:7.1f} s  {name}')


def main():
    results_file, label, *targets = sys.argv[1:]
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for target in targets:
        if target.startswith('discover:'):
            suite.addTests(loader.discover(target.split(':', 1)[1],
                    top_level_dir='.'))
        else:
            suite.addTests(loader.loadTestsFromName(target))
    start = time.monotonic()
    result = unittest.TextTestRunner(
        verbosity=1, resultclass=TimedResult).run(suite)
    failed = len(result.failures) + len(result.errors) + len(
        result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    write_timings(label, result.class_seconds)
    with open(results_file, 'a') as f:
        f.write(f'{label}\t{passed}\t{failed}\t{skipped}\t'
            f'{time.monotonic() - start:.0f}\n')
    print(f'[{label}] {passed} passed, {failed} failed, {skipped} skipped')
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
