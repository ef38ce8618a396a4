#!/bin/sh
# test-journey.sh BUILD_DIR: test-journey.py on a session bus of its own.
# The bus and the accessibility services it starts print on their
# standard output, which is the test's: the TAP lines go to fd 3, kept as
# the real standard output, and everything else to standard error.
exec 3>&1 1>&2
GRAFT_TAP_FD=3 exec dbus-run-session -- /usr/bin/python3 \
  "$(dirname "$0")/test-journey.py" "$@"
