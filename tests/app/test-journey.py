#!/usr/bin/python3
"""The journey, by the real graft process, through the accessibility bus,
as a person would: open the sample data, pick a backbone, choose
progressive unfreezing, press Start, and wait until the window says the
run finished; then a feature-extraction run, both ticked on Compare, and
the progressive one exported through the Export window (the whole model,
whose check must pass, and the PyTorch project).  Then graft is killed and started again on
the same project: the data comes back, and Compare shows the same two
runs with the same curves.  Every control pressed is found by its
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


def compare_plot(app):
    """What the Compare page's plot tells a screen reader: its series,
    each with its last point."""
    plots = [p.get_description() for p in app.find_all(name="Loss plot")
             if "· training" in (p.get_description() or "")]
    return plots[0] if plots else None


def main():
    build = sys.argv[1]
    data_home = tempfile.mkdtemp(prefix="graft-journey-")
    env = graft_atspi.app_env(build, data_home)
    app = graft_atspi.App([os.path.join(build, "src", "app", "graft")], env)
    say("1..13")
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
        # An extract run on the sample data takes a second or two: it is
        # seen ending when Compare lists it beside the first.
        app.press_button("Feature extraction")
        app.press_button("Start")
        app.show_page("Compare")
        ticks = graft_atspi.wait_for(
            lambda: app.find_all("check box", contains="Compare run")
            if len(app.find_all("check box", contains="Compare run")) == 2
            else None, TIMEOUT_RUN, "both runs on Compare")
        tap(7, True, "a feature-extraction run finished too")
        for tick in ticks:
            app.press(tick)
            graft_atspi.wait_for(lambda t=tick: t.get_state_set().contains(
                graft_atspi.Atspi.StateType.CHECKED), 30, "the run ticked")
        app.find(contains="Runs Side by Side")
        curves = compare_plot(app)
        tap(8, True, f"both runs ticked on Compare: {curves!r}")

        export = app.find("push button", contains="Export run")
        app.press(export)
        for switch in ("Whole model (ONNX)", "PyTorch project (folder)"):
            control = app.find("check box", switch)
            if not control.get_state_set().contains(
                    graft_atspi.Atspi.StateType.CHECKED):
                app.press(control)
        app.press_button("Export")
        checked = app.find(contains="Checked:", timeout=TIMEOUT_SCAN)
        tap(9, "predicts what the run" in graft_atspi.text_of(checked),
            f"the export says: {graft_atspi.text_of(checked)!r}")
        wrote = graft_atspi.text_of(app.find(contains="Wrote 2 files to "))
        folder = wrote.split(" to ", 1)[1].strip()
        project = app.find(contains="-pytorch")
        model_py = os.path.join(folder, graft_atspi.text_of(project).strip(),
                                "model.py")
        tap(10, os.path.isfile(model_py),
            f"the PyTorch project written too: {model_py}")

        unnamed = app.unnamed_controls()
        for control in unnamed:
            say(f"# no accessible name: {control}")
        tap(11, not unnamed, "every control on every page and window has a "
            "name")

        # A new process on the same project, after the old one was killed.
        app.close()
        app = graft_atspi.App([os.path.join(build, "src", "app", "graft")],
                              env)
        app.find(contains="300 pictures", timeout=TIMEOUT_SCAN)
        tap(12, True, "after a restart the project's data is back")
        app.show_page("Compare")
        ticks = graft_atspi.wait_for(
            lambda: app.find_all("check box", contains="Compare run")
            if len(app.find_all("check box", contains="Compare run")) == 2
            else None, TIMEOUT_SCAN, "both runs on Compare again")
        for tick in ticks:
            app.press(tick)
            graft_atspi.wait_for(lambda t=tick: t.get_state_set().contains(
                graft_atspi.Atspi.StateType.CHECKED), 30, "the run ticked")
        again = graft_atspi.wait_for(
            lambda: compare_plot(app) if compare_plot(app) == curves
            else None, 30, f"the same curves as before: {curves!r}")
        tap(13, again == curves, "after a restart Compare shows the same "
            "runs and curves")
    except TimeoutError as error:
        print(app.dump(), file=sys.stderr)
        say(f"not ok {error}")
        sys.exit(1)
    finally:
        app.close()


if __name__ == "__main__":
    main()
