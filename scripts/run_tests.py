"""Run unittest targets, print the usual report, append the counts.

Usage: run_tests.py RESULTS_FILE LABEL TARGET...
A TARGET is a dotted module name, or 'discover:<dir>' for discovery.
Each stage of scripts/test.sh runs in its own process because Tryton reads
its database settings from the environment at import time.
"""
import sys
import unittest


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
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    failed = len(result.failures) + len(result.errors) + len(
        result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    with open(results_file, 'a') as f:
        f.write(f'{label}\t{passed}\t{failed}\t{skipped}\n')
    print(f'[{label}] {passed} passed, {failed} failed, {skipped} skipped')
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
