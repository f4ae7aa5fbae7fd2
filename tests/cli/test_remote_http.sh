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
. "$SRCDIR/tests/cli/remote_lib.sh"

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

# 1b. status and run -n see the remote results without downloading them.
check_status_remote
IKADA_REMOTE="http://ci:wrong@127.0.0.1:$PORT/cache/" check_status_down

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
check_two_uploads

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
contains err "no remote cache is set"

# 7. The server stops mid-run: the run finishes locally with one warning.
check_stop_mid_run nginx_dav_stop
pass
