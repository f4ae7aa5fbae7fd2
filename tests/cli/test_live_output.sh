# What a run shows while it runs: `run -v` streams the nodes' stderr lines
# prefixed by node; off a terminal a quiet node gets a heartbeat line; on a
# terminal the live lines are cut to its width and the
# Ctrl-C message starts at column 0.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

cat > v.yaml <<'YAML'
nodes:
  talker:
    type: command
    params: {cmd: "echo one >&2; sleep 0.3; printf 'two\nthree' >&2; echo out > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
run_ik 0 run -v v.yaml
contains err "talker| one"
contains err "talker| two"
contains err "talker| three"
lacks err "talker| out"
# Without -v the stderr stays in the log only.
run_ik 0 run --force-all v.yaml
lacks err "talker| one"

cat > hb.yaml <<'YAML'
nodes:
  quiet:
    type: command
    params: {cmd: "sleep 2.6; echo x > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
IKADA_HEARTBEAT=1 run_ik 0 run hb.yaml
[ "$(count err "quiet: still running, 0m0")" -ge 2 ] || { cat err >&2; fail "no heartbeat every second"; }
contains err "quiet: still running, 0m01s"

# On a terminal 40 columns wide: every live line fits in 39 columns.
cat > w.yaml <<'YAML'
nodes:
  node_with_a_thirty_char_name_x:
    type: command
    params: {cmd: "sleep 1.5; echo x > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
cat > onpty.py <<'PY'
import os, pty, sys, fcntl, termios, struct, time, signal, select
cols, interrupt, args = int(sys.argv[1]), sys.argv[2] == "int", sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm"
    os.execvp(args[0], args)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
out, start, sent = b"", time.time(), False
while True:
    if interrupt and not sent and time.time() - start > 1.0:
        os.write(fd, b"\x03")  # Ctrl-C typed: the terminal echoes ^C
        sent = True
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
PY
python3 onpty.py 40 no "$IKADA" run w.yaml > screen
grep -q "running" screen || { cat -v screen >&2; fail "no live line on the terminal"; }
python3 - screen 39 <<'PY' || fail "a live line is not cut to the terminal's width"
import re, sys, unicodedata
# A live line ends with erase-to-end-of-line; the terminal turned \n into \r\n.
widest = 0
for raw in open(sys.argv[1], "rb").read().split(b"\n"):
    if not raw.endswith(b"\x1b[K\r"):
        continue
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", raw.decode()).replace("\r", "")
    w = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    if w > int(sys.argv[2]):
        sys.exit("too wide (%d): %r" % (w, text))
    widest = max(widest, w)
if widest != int(sys.argv[2]):
    sys.exit("no live line was cut: the widest is %d columns" % widest)
PY

# Ctrl-C on a terminal: the message starts after a carriage return, so the
# echoed ^C does not prefix it.
cat > c.yaml <<'YAML'
nodes:
  sleeper:
    type: command
    params: {cmd: "sleep 20; echo x > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
python3 onpty.py 80 int "$IKADA" run c.yaml > screen
grep -q "interrupted" screen || { cat -v screen >&2; fail "no interrupt message"; }
python3 - screen <<'PY' || fail "the interrupt message does not start at column 0"
import sys
data = open(sys.argv[1], "rb").read()
i = data.index(b"ikada: interrupted")
before = data[:i]
# What was written after the last carriage return before the message: only
# escape sequences (cursor up, erase), never the ^C or other text.
import re
tail = before[before.rindex(b"\r") + 1:]
if re.sub(rb"\x1b\[[0-9;]*[A-Za-z]", b"", tail):
    sys.exit("text before the message on its row: %r" % tail)
PY
pass
