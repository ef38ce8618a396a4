"""Driving the real graft process as a person would, through the
accessibility bus (AT-SPI): find controls by role and visible name, press
them, read labels.  Shared by tests/app/test-journey.py and
tools/screenshots.  Needs Debian's python3-pyatspi (gi's Atspi), a
session bus (dbus-run-session) and an X display (xvfb-run).

GTK 4.8 handles an action about 250 ms after it is requested, so every
check polls instead of expecting a result at once.
"""

import os
import subprocess
import time

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi  # noqa: E402

POLL = 0.1

# What a person operates, by the roles GTK 4.8 gives it (a GtkSwitch is a
# "check box", a GtkScale a "slider", a GtkEntry "text").
CONTROL_ROLES = {
    "push button", "toggle button", "check box", "radio button",
    "spin button", "text", "combo box", "slider", "page tab", "menu item",
    "progress bar",
}


def wait_for(predicate, timeout, what):
    """predicate() until it returns something true; fails after timeout s."""
    end = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except gi.repository.GLib.Error:
            value = None  # an object vanished while we looked
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(POLL)


def text_of(obj):
    """What a person reads on obj: its text, else its accessible name."""
    try:
        text = obj.get_text_iface()
    except gi.repository.GLib.Error:
        text = None
    if text is not None:
        return Atspi.Text.get_text(obj, 0, Atspi.Text.get_character_count(obj))
    return obj.get_name() or ""


def names_match(label, name):
    """GTK 4.8 names a button with a mnemonic "_Start Start": its label
    with the underline, then without."""
    plain = label.replace("_", "")
    return name in (label, plain) or plain == f"{name} {name}"


def _showing(obj):
    # GTK 4.8 never sets SHOWING; VISIBLE is what it keeps up to date.
    states = obj.get_state_set()
    return states.contains(Atspi.StateType.VISIBLE)


def walk(obj, depth=0, max_depth=40):
    """obj and every showing descendant, depth first."""
    yield obj
    if depth >= max_depth:
        return
    for i in range(obj.get_child_count()):
        child = obj.get_child_at_index(i)
        if child is not None and _showing(child):
            yield from walk(child, depth + 1, max_depth)


class App:
    """The graft process started from argv, found on the bus by name."""

    # Starts: a freshly started Xvfb sometimes refuses the first client
    # ("cannot open display"); the app then exits at once, and is started
    # again after a pause.
    STARTS = 3
    START_PAUSE = 2

    def __init__(self, argv, env=None, name="graft", timeout=60):
        self.name = name
        for start in range(self.STARTS):
            self.proc = subprocess.Popen(argv, env=env)
            try:
                self.root = wait_for(self._find_app, timeout,
                                     f"{name} on the bus")
                return
            except RuntimeError:
                if start == self.STARTS - 1:
                    raise
                time.sleep(self.START_PAUSE)

    def _find_app(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}"
                               " before it appeared on the bus")
        desktop = Atspi.get_desktop(0)
        for i in range(desktop.get_child_count()):
            app = desktop.get_child_at_index(i)
            if app is not None and app.get_name() == self.name:
                return app
        return None

    def find_all(self, role=None, name=None, contains=None):
        """Showing objects with role (e.g. "push button") whose name is name,
        or contains the text contains."""
        found = []
        for obj in walk(self.root):
            if role is not None and obj.get_role_name() != role:
                continue
            label = obj.get_name() or ""
            if name is not None and not names_match(label, name):
                continue
            if contains is not None and contains not in text_of(obj) \
                    and contains not in label:
                continue
            found.append(obj)
        return found

    def find(self, role=None, name=None, contains=None, timeout=30):
        what = f"{role or 'object'} {name or contains!r}"
        return wait_for(lambda: next(iter(self.find_all(role, name, contains)),
                                     None), timeout, what)

    def press(self, obj):
        """Activates obj by its first action, or, for what exposes none in
        GTK 4.8 (list rows), by a real click."""
        action = obj.get_action_iface()
        if action is None or Atspi.Action.get_n_actions(obj) == 0:
            self.click(obj)
        else:
            Atspi.Action.do_action(obj, 0)

    def click(self, obj):
        """A real left click at the middle of obj, through the X server:
        for controls whose accessible action GTK 4.8 does not carry out
        (the view switcher's page tabs)."""
        # GTK 4.8 knows no screen coordinates under X; with no window
        # manager the window sits at the screen's origin, so the window's
        # coordinates are the screen's.
        box = Atspi.Component.get_extents(obj, Atspi.CoordType.WINDOW)
        Atspi.generate_mouse_event(box.x + box.width // 2,
                                   box.y + box.height // 2, "b1c")

    def key(self, keysym):
        """Presses and releases the key of X keysym (e.g. 0xff1b, Escape)."""
        Atspi.generate_keyboard_event(keysym, None, Atspi.KeySynthType.SYM)

    def show_page(self, name, timeout=30):
        """Clicks the stage named name in the header's view switcher."""
        tab = self.find("page tab", name, timeout=timeout)
        self.click(tab)
        wait_for(lambda: tab.get_state_set().contains(Atspi.StateType.SELECTED)
                 or tab.get_state_set().contains(Atspi.StateType.CHECKED),
                 timeout, f"the {name} page")

    def press_button(self, name, role="push button", timeout=30):
        """Waits for an enabled control named name, then presses it."""
        def ready():
            for obj in self.find_all(role, name):
                if obj.get_state_set().contains(Atspi.StateType.SENSITIVE):
                    return obj
            return None
        obj = wait_for(ready, timeout, f"an enabled {role} {name!r}")
        self.press(obj)
        return obj

    def unnamed_controls(self):
        """Controls a person operates that a screen reader could not name:
        no accessible name, or only the widget's class name."""
        bad = []
        for obj in walk(self.root):
            if obj.get_role_name() not in CONTROL_ROLES:
                continue
            label = obj.get_name() or ""
            if not label.strip() or label.startswith(("Gtk", "Adw")):
                bad.append(f"{obj.get_role_name()} {label!r} in "
                           f"{obj.get_parent().get_name()!r}")
        return bad

    def dump(self, obj=None, depth=0):
        """The showing tree as text, for finding names while writing tests."""
        obj = obj or self.root
        lines = [f"{'  ' * depth}{obj.get_role_name()}: {obj.get_name()!r}"]
        for i in range(obj.get_child_count()):
            child = obj.get_child_at_index(i)
            if child is not None and _showing(child):
                lines.append(self.dump(child, depth + 1))
        return "\n".join(lines)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.returncode


def app_env(build_dir, data_home, extra=None):
    """The environment for graft run from build_dir: its settings schema,
    memory settings, and a private data folder."""
    env = dict(os.environ)
    env.pop("GTK_A11Y", None)
    env.update({
        "GSETTINGS_SCHEMA_DIR": os.path.join(build_dir, "data"),
        "GSETTINGS_BACKEND": "memory",
        "XDG_DATA_HOME": data_home,
        # Exports default to ~/Documents: keep them in the test's folder.
        "HOME": data_home,
        "XDG_CACHE_HOME": os.path.join(data_home, "cache"),
        "NO_AT_BRIDGE": "0",
    })
    # test-journey.sh keeps G_DEBUG from the driver and hands it on here.
    if env.get("GRAFT_APP_G_DEBUG"):
        env["G_DEBUG"] = env["GRAFT_APP_G_DEBUG"]
    env.update(extra or {})
    return env
