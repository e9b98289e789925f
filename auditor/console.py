"""Terminal-safe text: the one way the command line prints.

Much of what the CLI prints comes from AWS or from files we did not write: error messages,
resource names and tags, a snapshot's manifest, a findings.json. Raw, such text can drive
the terminal: ``ESC ] 0 ; title BEL`` sets the window title, ``ESC [ 2 J`` clears the
screen, ``ESC [ 32 m`` paints a fake green "COMPLIANT", a bidi override reorders what is
read, and an embedded newline starts a line that looks like our own.

Two layers, so that neither can be forgotten:

- `echo` (every CLI print goes through it; auditor/cli*.py never call ``click.echo``)
  renders every control character except newline and tab visibly escaped (``\\x1b``,
  ``\\u202e``): a line we build can still span lines, nothing in it can command the
  terminal.
- `safe` (for one value put into a line: an AWS error message, a resource name, a path)
  also escapes newline, carriage return and tab, so that one value cannot fake a new line.

The console is for people: findings.json, the snapshot and the reports keep every value
exactly as AWS returned it.

A reader that goes away (``auditor scan ... | head -c 1``) must not stop a scan before its
evidence bundle is written: `echo` then discards that stream's output for the rest of the
run instead of raising, and the exit code still reflects the result.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from typing import Any

import click

# C0 controls but tab and newline, DEL, C1 controls, the bidi embedding/override/isolate
# marks (U+202A-202E, U+2066-2069, LRM/RLM/ALM) and the Unicode line and paragraph
# separators (some terminals and viewers break lines at them).
_UNSAFE_IN_LINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                             "\u2028\u2029]")
# The same plus tab and newline: one value stays on its line.
_UNSAFE_IN_VALUE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(value: Any) -> str:
    """`value` as text that is inert on a terminal and stays on one line: every control
    character (newline, carriage return and tab included), DEL, C1 control and bidi mark is
    written as a visible escape such as ``\\x1b`` or ``\\u202e``."""
    return _UNSAFE_IN_VALUE.sub(_escaped, value if isinstance(value, str) else str(value))


def terminal_text(text: str) -> str:
    """`text` with every control character but newline and tab visibly escaped (what `echo`
    prints)."""
    return _UNSAFE_IN_LINE.sub(_escaped, text)


def echo(message: Any = "", *, err: bool = False, nl: bool = True, overwrite: bool = False) -> None:
    """Print `message` to stdout (or stderr with `err`) made terminal-safe by `terminal_text`.

    `overwrite` starts with a carriage return (progress lines that redraw themselves); it
    is the only carriage return that reaches the terminal. When the stream's reader has
    gone away (EPIPE), the rest of the run's output to that stream is discarded instead of
    stopping the command."""
    text = terminal_text(message if isinstance(message, str) else str(message))
    try:
        click.echo(("\r" if overwrite else "") + text, err=err, nl=nl)
    except OSError as exc:
        if not isinstance(exc, BrokenPipeError) and exc.errno != errno.EPIPE:
            raise
        discard(err)


def discard(err: bool = False) -> None:
    """From now on write nothing to that stream: point its file descriptor at /dev/null so
    that neither a later print nor the interpreter's final flush fails again (the state is
    the file descriptor's own: nothing to remember here)."""
    stream = sys.stderr if err else sys.stdout
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):   # not a real file (a test runner's buffer)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)

