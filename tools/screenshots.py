"""One pass of tools/screenshots: graft at one window size and style,
driven through accessibility; each page captured from the X screen.

  screenshots.py BUILD_DIR OUT_DIR WIDTHxHEIGHT light|dark
"""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "app"))
import graft_atspi  # noqa: E402

# Time for a page to draw after it is shown (GTK 4.8 acts ~250 ms late).
SETTLE = 1.5
# A toast stays 6 s (graft-window.c); its slide out is short.
TOAST_SECONDS = 7
ESCAPE = 0xff1b   # X keysym


def settings_env(home, width, height):
    """A keyfile settings backend that opens the window at the screen's size."""
    config = os.path.join(home, "config")
    os.makedirs(os.path.join(config, "glib-2.0", "settings"))
    with open(os.path.join(config, "glib-2.0", "settings", "keyfile"), "w") as f:
        f.write(f"[io/github/graft/Graft]\nwindow-width={width}\n"
                f"window-height={height}\n")
    return {"GSETTINGS_BACKEND": "keyfile", "XDG_CONFIG_HOME": config}


def capture(out, name, size, style):
    # The pointer rests where the last click left it: move it to the
    # screen's corner, so that no tooltip or hover shows in the picture.
    width, height = (int(v) for v in size.split("x"))
    graft_atspi.Atspi.generate_mouse_event(width - 1, height - 1, "abs")
    time.sleep(SETTLE)
    path = os.path.join(out, f"{name}-{size}-{style}.png")
    subprocess.run(["import", "-window", "root", "-crop", f"{size}+0+0",
                    "+repage", path], check=True)
    print(path, flush=True)


def main():
    build, out, size, style = sys.argv[1:5]
    width, height = size.split("x")
    home = tempfile.mkdtemp(prefix="graft-screenshots-")
    extra = settings_env(home, width, height)
    if style == "dark":
        extra["ADW_DEBUG_COLOR_SCHEME"] = "prefer-dark"
    env = graft_atspi.app_env(build, home, extra)
    app = graft_atspi.App([os.path.join(build, "src", "app", "graft")], env)
    try:
        capture(out, "data-empty", size, style)
        app.press_button("Try the Sample Data")
        app.find(contains="300 pictures", timeout=120)
        capture(out, "data", size, style)

        app.show_page("Backbone")
        app.press_button("Fashion ResNet (Graft)", role="list item")
        app.find(contains="Bottleneck")
        capture(out, "backbone", size, style)

        app.show_page("Train")
        app.press_button("Progressive unfreezing")
        capture(out, "train-ready", size, style)
        app.press_button("Start")
        app.find(contains="finished", timeout=600)
        time.sleep(TOAST_SECONDS)   # the "Training finished" toast goes
        capture(out, "train", size, style)

        # The canonical comparison: a frozen run beside the progressive one.
        app.press_button("Feature extraction")
        app.press_button("Start")
        app.show_page("Compare")
        ticks = graft_atspi.wait_for(
            lambda: app.find_all("check box", contains="Compare run")
            if len(app.find_all("check box", contains="Compare run")) == 2
            else None, 600, "both runs on Compare")
        for tick in ticks:
            app.press(tick)
            time.sleep(SETTLE)
        app.find(contains="Runs Side by Side")
        capture(out, "compare", size, style)

        app.press(app.find("push button", contains="Try run"))
        app.find(contains="validation pictures wrong", timeout=120)
        capture(out, "run-details", size, style)
        app.key(ESCAPE)

        app.press(app.find("push button", contains="Export run"))
        app.press_button("Export")
        app.find(contains="Checked:", timeout=120)
        capture(out, "export", size, style)
    finally:
        app.close()


if __name__ == "__main__":
    main()
