"""The scenario runner of the Python end-to-end suites (python_sdk_test.py,
byok_blobs_test.py): scenarios register with @case in the order they run,
each check() counts one pass or one failure, and a scenario that raises is
one failure with its traceback.

Environment: KF_TEST_ONLY=a,b runs only the named scenarios; KF_TEST_VERBOSE=1
prints each scenario's time; KF_VERBOSE=1 prints every passing check too.
"""

import os
import sys
import time
import traceback

passed = 0
failed = 0
current_case = ""
CASES = []
VERBOSE = bool(os.environ.get("KF_VERBOSE"))


def check(name, cond, detail=""):
    """Counts `cond` as one pass or one failure (printed with `detail`)."""
    global passed, failed
    if cond:
        passed += 1
        if VERBOSE:
            print(f"ok   [{current_case}] {name}")
    else:
        failed += 1
        print(f"FAIL [{current_case}] {name} {detail}".rstrip(),
              file=sys.stderr)
    return cond


def case(fn):
    """Registers one scenario; run_cases runs them in this order."""
    CASES.append(fn)
    return fn


def run_cases():
    """Runs every registered scenario; an exception is one failure."""
    global failed, current_case
    only = [n for n in os.environ.get("KF_TEST_ONLY", "").split(",") if n]
    for fn in CASES:
        if only and fn.__name__ not in only:
            continue
        current_case = fn.__name__
        t0 = time.monotonic()
        try:
            fn()
        except Exception:  # noqa: BLE001 - a runner reports every error
            failed += 1
            print(f"FAIL [{fn.__name__}] raised:", file=sys.stderr)
            traceback.print_exc()
        if os.environ.get("KF_TEST_VERBOSE"):
            print(f"  {fn.__name__}: {time.monotonic() - t0:.1f}s",
                  file=sys.stderr)
