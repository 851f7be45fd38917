"""Drives the interactive lcdb shell under a pseudo-terminal (pexpect).

Usage: interactive_session.py LCDB_BINARY WORK_FOLDER
Checks, each with a timeout: banner and prompt, continuation prompt, line
editing (backspace), tab completion of a collection name, Ctrl-C abandoning a
line, Ctrl-D quitting, and history persisted across two runs (Up recalls a
whole multi-line statement). Prints "N passed, 0 failed" or raises.
"""
import os
import re
import sys

import pexpect

binary, folder = sys.argv[1], sys.argv[2]
env = dict(os.environ, HOME=folder, LC_ALL="C.UTF-8", TERM="xterm",
           LCDB_HISTORY=os.path.join(folder, "history"))
db = os.path.join(folder, "shell.lcdb")
ansi = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]|\r")
checks = 0


def start():
    child = pexpect.spawn(binary, ["--no-init", db], env=env, encoding="utf-8", timeout=30, dimensions=(40, 200))
    child.expect("Database: " + re.escape(db))
    child.expect_exact("lcdb> ")
    return child


def check(condition, what):
    global checks
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    checks += 1


def result_after(child, marker="lcdb> "):
    child.expect_exact(marker)
    return ansi.sub("", child.before)


def canonical(child):
    """True when the child's terminal is in canonical (line) mode."""
    import termios
    return bool(termios.tcgetattr(child.child_fd)[3] & termios.ICANON)


# First run: statements over several lines, editing, completion, Ctrl-C, Ctrl-D.
child = start()
# The terminal is raw once the prompt shows (libedit used to switch only at
# the first key read: a Ctrl-D typed in between was the terminal's own EOF,
# swallowed, and the shell then ignored Ctrl-D).
check(not canonical(child), "raw mode when the prompt shows")
child.send("create collection resnet_small (\r")
child.expect_exact("  ...> ")
check(True, "continuation prompt")
child.send("conv Conv2d(3, 8, kernel_size=3),\r")
child.expect_exact("  ...> ")
child.send("fc Linear(8, 2));\r")
child.expect_exact("lcdb> ")

# Backspace: 'numel(resnet_smallX' with the X erased.
child.send("numel(resnet_smallX\x7f);\r")
out = result_after(child)
check("242" in out, f"line editing with backspace gives numel 242: {out!r}")

# Tab completes a collection name after 'show '.
child.send("show resn\t")
child.expect_exact("et_small ")  # libedit inserts the rest of the name
child.send(";\r")
out = result_after(child)
check("collection resnet_small: 2 layers, 242 parameters" in out, f"tab completion of a collection name: {out!r}")

# Tab completes a statement keyword at the start.
child.send("para\t")
child.expect_exact("meters ")
child.send("resnet_small;\r")
out = result_after(child)
check("conv.weight" in out, f"tab completion of a keyword: {out!r}")

# Ctrl-C abandons the line being typed; the shell keeps running.
child.send("this is not finished")
child.sendcontrol("c")
child.expect_exact("^C")
child.expect_exact("lcdb> ")
child.send("numel(resnet_small);\r")
out = result_after(child)
check("242" in out, f"after Ctrl-C the shell still works: {out!r}")

# The continuation prompt follows an open statement; Ctrl-C there abandons it
# and the shell stays (the release build once showed 'lcdb> ' and then quit).
child.send("norm(\r")
child.expect_exact("  ...> ")
child.sendcontrol("c")
child.expect_exact("^C")
child.expect_exact("lcdb> ")
child.send("numel(resnet_small);\r")
out = result_after(child)
check("242" in out, f"continuation prompt, Ctrl-C, and the shell still works: {out!r}")

# Tab after '.format ' offers the formats.
child.send(".format \t\t")
child.expect_exact("csv  json  table")
child.send("\x15\r")
child.expect_exact("lcdb> ")
check(True, "completion of .format's argument")

# Ctrl-C inside a multi-line statement discards it.
child.send("create collection abandoned (\r")
child.expect_exact("  ...> ")
child.sendcontrol("c")
child.expect_exact("lcdb> ")
child.send("list collections;\r")
out = result_after(child)
check("abandoned" not in out and "resnet_small" in out, f"Ctrl-C discards a partial statement: {out!r}")

# An error shows a caret and keeps the shell alive.
child.send("show resnet_smal;\r")
out = result_after(child)
check("did you mean 'resnet_small'" in out, f"error with suggestion: {out!r}")

# Ctrl-C during a long statement interrupts it; nothing is stored.
# 24,000 parameters: a 2.3 GB triangle, many seconds even for the release
# binary (12,000 took under the 1 s after which progress shows, on a fast run).
child.send("create collection wide (p Parameter(24000));\r")
child.expect_exact("lcdb> ")
child.send("let big = random_spd(wide, seed=1);\r")
# Wait for its progress line (shown after a second), so that Ctrl-C surely
# lands in the running statement, not in a line the shell has yet to read.
child.expect_exact("storing big: ")
child.sendcontrol("c")
out = result_after(child)
check("interrupted; nothing was changed" in out, f"Ctrl-C interrupts a long statement: {out!r}")
child.send("list matrices;\r")
out = result_after(child)
check("representation" in out and "big" not in out, f"an interrupted statement stores nothing: {out!r}")
# The line after an interrupted statement runs (it once quit the shell).
child.send("numel(wide);\r")
out = result_after(child)
check("24000" in out, f"the next line after an interrupted statement runs: {out!r}")

# Ctrl-D on an empty line quits with status 0, also right after a long
# interrupted statement (a loaded machine once showed the prompt before the
# terminal was raw; the Ctrl-D sent on seeing it was lost and this timed out).
check(not canonical(child), "raw mode at the prompt after an interrupted statement")
child.sendcontrol("d")
child.expect(pexpect.EOF, timeout=180)
child.close()
check(child.exitstatus == 0, f"Ctrl-D exits 0, got {child.exitstatus}")

# Second run: history came back from the file; Up recalls the last statement.
history = open(os.path.join(folder, "history"), encoding="utf-8", errors="replace").read()
check("numel(resnet_small);" in history, "history file written")
check("create\\040collection\\040resnet_small\\040(\\012conv" in history, "a multi-line statement is one history entry")
child = start()
child.send("\x1b[A")  # Up: the previous entry, 'numel(wide);'
child.expect_exact("numel(wide);")
child.send("\x15")  # Ctrl-U clears the line
child.send("\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A")  # further back: 'list collections;'
child.expect_exact("list collections;")
child.send("\r")
out = result_after(child)
check("resnet_small" in out, f"history recalled across runs: {out!r}")
child.send(".quit\r")
child.expect(pexpect.EOF)
child.close()
check(child.exitstatus == 0, ".quit exits 0")

# Progress of builds from data files, on a terminal (shown at once here:
# LCDB_PROGRESS_AFTER=0), each ending at 100% on its own line.
import numpy as np
from safetensors.numpy import save_file
rng = np.random.default_rng(0)
save_file({"fc.inputs": rng.standard_normal((40, 3)), "fc.output_grads": rng.standard_normal((40, 2))},
          os.path.join(folder, "stats.safetensors"))
save_file({"fc.weight": rng.standard_normal((40, 2, 3)), "fc.bias": rng.standard_normal((40, 2))},
          os.path.join(folder, "grads.safetensors"))
progress = pexpect.spawn(binary, ["--no-init", os.path.join(folder, "progress.lcdb")], env=dict(env, LCDB_PROGRESS_AFTER="0", LCDB_HISTORY=os.path.join(folder, "progress_history")),
                         encoding="utf-8", timeout=30, dimensions=(40, 200), cwd=folder)
progress.expect_exact("lcdb> ")
progress.send("create collection one (fc Linear(3, 2));\r")
progress.expect_exact("lcdb> ")
for statement, line in [("let K = kfac(one, 'stats.safetensors');", "reading 40 examples' statistics (one pass): 100%"),
                        ("let E = ekfac(one, 'stats.safetensors');", "reading 40 examples' statistics (pass 2 of 2): 100%"),
                        ("let F = fisher(one, 'grads.safetensors', form=lowrank);", "reading 40 examples: 100%"),
                        ("let D = fisher(one, 'grads.safetensors', form=dense);", "reading 40 examples: 100%")]:
    progress.send(statement + "\r")
    try:
        progress.expect_exact(line)
    except pexpect.TIMEOUT:
        check(False, f"progress of {statement}: {ansi.sub('', progress.before)!r}")
    check(True, f"progress of {statement}")
    progress.expect_exact("lcdb> ")
# .quit, not Ctrl-D (tested above): on CI a Ctrl-D sent right after this
# prompt was once never seen by the shell (nothing echoed within 30 s, twice),
# which a typed line cannot suffer from. Should it hang, say where.
progress.send(".quit\r")
try:
    progress.expect(pexpect.EOF)
except pexpect.TIMEOUT:
    def proc(name):
        try:
            return open(f"/proc/{progress.pid}/{name}").read().strip()
        except OSError as error:
            return str(error)
    check(False, f".quit after the builds did not end the shell: wchan {proc('wchan')!r}, "
                 f"state {proc('stat').split(' ')[2:3]}, output {ansi.sub('', progress.before)!r}")

print(f"{checks} passed, 0 failed")
