#!/usr/bin/env bash
# Installs Graphviz's `dot` (a system package) when it is missing; says what to do when it cannot.
set -u
if command -v dot >/dev/null 2>&1; then
  exit 0
fi
echo "Graphviz's 'dot' is missing; installing the system package 'graphviz'..."
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
fi
if command -v apt-get >/dev/null 2>&1; then
  $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq graphviz >/dev/null 2>&1
elif command -v dnf >/dev/null 2>&1; then
  $SUDO dnf install -y graphviz >/dev/null 2>&1
elif command -v brew >/dev/null 2>&1; then
  brew install graphviz >/dev/null 2>&1
fi
if command -v dot >/dev/null 2>&1; then
  echo "Installed: $(dot -V 2>&1)"
else
  echo "WARNING: could not install Graphviz. Install it yourself (Debian/Ubuntu: 'sudo apt-get install graphviz'," >&2
  echo "macOS: 'brew install graphviz'). Graph rendering needs it; everything else works without it." >&2
fi
exit 0
