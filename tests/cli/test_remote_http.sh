# The remote cache over HTTP (cache/remote.h) against a real nginx (Debian's
# nginx-light: WebDAV PUT, basic auth) on loopback: a second empty cache
# re-runs nothing, a corrupted object on the server is caught, re-run and
# re-uploaded, a server that stops mid-run costs one warning, two runs upload
# at once, bad credentials make the remote unavailable (never a miss).
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

. "$SRCDIR/tests/cli/nginx_dav.sh"
why=$(nginx_dav_available) || { echo "SKIP: $TEST_NAME: $why"; exit 77; }
trap 'nginx_dav_stop; rm -rf "$WORK"' EXIT
nginx_dav_start "$WORK/srv" ci:secret || fail "nginx did not start"
PORT=$NGINX_PORT

export IKADA_REMOTE="http://ci:secret@127.0.0.1:$PORT/cache/"
cat > g.yaml <<YAML
nodes:
  make:
    type: command
    params: {cmd: "echo ran make >> $WORK/side-effects; echo hi > \$IKADA_OUT_o", outputs: {o: o.txt}}
  next:
    type: command
    in: {x: make.o}
    params: {cmd: "echo ran next >> $WORK/side-effects; tr a-z A-Z < \$IKADA_IN_x > \$IKADA_OUT_o", outputs: {o: o.txt}}
YAML
ran() { [ -f side-effects ] && wc -l < side-effects || echo 0; }

# 1. A run uploads; a second, empty cache downloads both results.
IKADA_CACHE=$WORK/c1 run_ik 0 run g.yaml
[ "$(ran)" = 2 ] || fail "first run ran $(ran) nodes"
[ "$(find srv/cache/ac -type f | wc -l)" = 2 ] || fail "expected 2 action records on the server"
IKADA_CACHE=$WORK/c2 run_ik 0 run g.yaml
[ "$(ran)" = 2 ] || fail "a run on an empty cache re-ran nodes"
contains err "make: cached (downloaded from the remote cache)"
contains err "2 cached (2 from the remote)"
IKADA_CACHE=$WORK/c2 run_ik 0 cache export next.o -o got.txt
[ "$(cat got.txt)" = HI ] || fail "downloaded output is '$(cat got.txt)'"

# 2. A corrupted object on the server: detected, re-run, re-uploaded.
obj=
for f in srv/cache/cas/*; do
    grep -qa hi "$f" && obj=$f # make's output, "hi" in its artifact envelope
done
[ -n "$obj" ] || fail "no object holding make's output on the server"
echo "evil" > "$obj"
IKADA_CACHE=$WORK/c3 run_ik 0 run g.yaml
contains err "is corrupt"
contains err "make: running"
[ "$(sha256sum < "$obj" | cut -c1-64)" = "$(basename "$obj")" ] ||
    fail "the corrupt object was not re-uploaded"
IKADA_CACHE=$WORK/c3 run_ik 0 cache export next.o -o got.txt
[ "$(cat got.txt)" = HI ] || fail "output after the corrupt download is '$(cat got.txt)'"
before=$(ran)
IKADA_CACHE=$WORK/c4 run_ik 0 run g.yaml
[ "$(ran)" = "$before" ] || fail "the repaired remote still re-ran nodes"

# 3. Wrong credentials: the remote is unavailable (one warning), the run works.
IKADA_REMOTE="http://ci:wrong@127.0.0.1:$PORT/cache/" IKADA_CACHE=$WORK/c5 run_ik 0 run g.yaml
[ "$(count err "remote cache unavailable")" = 1 ] || fail "expected one warning for a 401"
contains err "HTTP 401 (check the credentials)"
lacks err "ci:wrong"

# 4. The auth header from a variable named in the setting.
CACHE_AUTH="Authorization: Basic $(printf ci:secret | base64)" \
IKADA_REMOTE="http://127.0.0.1:$PORT/cache auth=CACHE_AUTH" IKADA_CACHE=$WORK/c6 run_ik 0 run g.yaml
contains err "2 from the remote"
IKADA_REMOTE="http://127.0.0.1:$PORT/cache auth=NO_SUCH_VAR" IKADA_CACHE=$WORK/c6 run_ik 2 run g.yaml
contains err "NO_SUCH_VAR is not set"

# 5. Two runs uploading at once to one server (separate local caches).
before=$(ran)
IKADA_CACHE=$WORK/c7 "$IKADA" run -S make.cmd="sleep 0.3; echo two > \$IKADA_OUT_o" g.yaml >o7 2>e7 &
p7=$!
IKADA_CACHE=$WORK/c8 "$IKADA" run -S make.cmd="sleep 0.3; echo two > \$IKADA_OUT_o" g.yaml >o8 2>e8 &
p8=$!
wait $p7 || fail "first concurrent run failed: $(cat e7)"
wait $p8 || fail "second concurrent run failed: $(cat e8)"
before=$(ran)
IKADA_CACHE=$WORK/c9 run_ik 0 run -S make.cmd="sleep 0.3; echo two > \$IKADA_OUT_o" g.yaml
[ "$(ran)" = "$before" ] || fail "after two concurrent uploads a third run re-ran nodes"
IKADA_CACHE=$WORK/c9 run_ik 0 cache export next.o -o got.txt
[ "$(cat got.txt)" = TWO ] || fail "concurrent uploads left '$(cat got.txt)'"

# 6. cache push and pull move results without running anything.
sed 's/echo hi/echo pushed/' g.yaml > g2.yaml
IKADA_REMOTE= IKADA_CACHE=$WORK/c11 run_ik 0 run g2.yaml
IKADA_CACHE=$WORK/c11 run_ik 0 cache push --graph g2.yaml --target make
contains out "pushed 1 result to http://127.0.0.1:$PORT/cache"
lacks out "secret"
IKADA_CACHE=$WORK/c11 run_ik 0 cache push
contains out "pushed "
IKADA_CACHE=$WORK/c12 run_ik 0 cache pull --graph g2.yaml
contains out "pulled 2 results"
before=$(ran)
IKADA_REMOTE= IKADA_CACHE=$WORK/c12 run_ik 0 run g2.yaml
[ "$(ran)" = "$before" ] || fail "a run after cache pull re-ran nodes"
IKADA_CACHE=$WORK/c12 run_ik 2 cache pull
contains err "pull needs --graph G"
IKADA_REMOTE= IKADA_CACHE=$WORK/c12 run_ik 2 cache push
contains err "IKADA_REMOTE is not set"

# 7. The server stops mid-run: the run finishes locally with one warning.
IKADA_CACHE=$WORK/c10 "$IKADA" run -S make.cmd="sleep 1; echo three > \$IKADA_OUT_o" g.yaml >o10 2>e10 &
p10=$!
sleep 0.5
nginx_dav_stop
wait $p10 || fail "the run failed when the server stopped: $(cat e10)"
[ "$(count e10 "remote cache unavailable")" = 1 ] || { cat e10 >&2; fail "expected exactly one warning"; }
contains e10 "2 ran"
pass
