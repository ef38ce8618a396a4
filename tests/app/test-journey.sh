#!/bin/sh
# test-journey.sh BUILD_DIR: test-journey.py on a session bus of its own.
# The bus and the accessibility services it starts print on their
# standard output, which is the test's: the TAP lines go to fd 3, kept as
# the real standard output, and everything else to standard error.
# G_DEBUG (fatal-warnings) is for graft, not for the driver: libatspi in
# the Python process warns when an object goes away while it is read.
exec 3>&1 1>&2
GRAFT_APP_G_DEBUG="${G_DEBUG-}" GRAFT_TAP_FD=3 exec env -u G_DEBUG \
  dbus-run-session -- /usr/bin/python3 "$(dirname "$0")/test-journey.py" "$@"
