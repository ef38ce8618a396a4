#!/usr/bin/python3
"""The journey of issue 9, by the real graft process, through the
accessibility bus, as a person would: open the sample data, pick a
backbone, choose progressive unfreezing, press Start, and wait until the
window says the run finished.  Every control pressed is found by its
role and its visible (or accessible) name, so an unnamed control fails
the test.

Run under xvfb-run, without GTK_A11Y=none, through test-journey.sh
(a session bus of its own):  test-journey.sh BUILD_DIR
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import graft_atspi  # noqa: E402

TIMEOUT_SCAN = 120
TIMEOUT_RUN = 600

# TAP goes where test-journey.sh says, away from what the bus prints.
TAP = os.fdopen(int(os.environ["GRAFT_TAP_FD"]), "w") \
    if "GRAFT_TAP_FD" in os.environ else sys.stdout


def say(line):
    print(line, file=TAP, flush=True)


def tap(n, ok, what):
    say(f"{'ok' if ok else 'not ok'} {n} {what}")
    if not ok:
        sys.exit(1)


def main():
    build = sys.argv[1]
    data_home = tempfile.mkdtemp(prefix="graft-journey-")
    env = graft_atspi.app_env(build, data_home)
    app = graft_atspi.App([os.path.join(build, "src", "app", "graft")], env)
    say("1..7")
    try:
        app.press_button("Try the Sample Data")
        app.find(contains="300 pictures", timeout=TIMEOUT_SCAN)
        tap(1, True, "the sample data scanned: 300 pictures")

        app.press_button("Next: Backbone")
        app.press_button("Fashion CNN (Graft)", role="list item")
        app.find(contains="Bottleneck")
        tap(2, True, "a bundled backbone chosen")

        app.press_button("Next: Train")
        app.press_button("Progressive unfreezing")
        tap(3, True, "progressive unfreezing chosen")

        app.press_button("Start")
        app.find(contains="Training…")
        tap(4, True, "the run started")

        done = app.find(contains="finished", timeout=TIMEOUT_RUN)
        tap(5, True, f"the window says: {graft_atspi.text_of(done)!r}")
        tap(6, app.proc.poll() is None, "graft still running")
        unnamed = app.unnamed_controls()
        for control in unnamed:
            say(f"# no accessible name: {control}")
        tap(7, not unnamed, "every control on every page has a name")
    except TimeoutError as error:
        print(app.dump(), file=sys.stderr)
        say(f"not ok {error}")
        sys.exit(1)
    finally:
        app.close()


if __name__ == "__main__":
    main()
