# The remote cache on S3 (cache/remote_s3.c) against moto's S3 server on loopback, its
# signature checks on (tests/cli/moto_s3.sh): a second empty cache re-runs nothing, a
# corrupted object is caught, re-run and re-uploaded, wrong credentials make the remote
# unavailable with one warning (never a miss), two runs upload at once, a server that stops
# mid-run costs one warning. Skips when moto cannot be installed (it needs PyPI once).
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

. "$SRCDIR/tests/cli/moto_s3.sh"
why=$(moto_s3_available) || { echo "SKIP: $TEST_NAME: $why"; exit 77; }
trap 'moto_s3_stop; rm -rf "$WORK"' EXIT
unset AWS_SESSION_TOKEN AWS_DEFAULT_REGION AWS_ENDPOINT_URL_S3 AWS_PROFILE
moto_s3_start "$WORK/srv" ikada-cache || fail "moto did not start"

export IKADA_REMOTE=s3://ikada-cache/team/ci
. "$SRCDIR/tests/cli/remote_lib.sh"
server() { moto_s3 check "$MOTO_URL" ikada-cache team/ci; } # "RECORDS OBJECTS BAD"

# 1. A run uploads (signed requests moto accepts); a second, empty cache downloads both.
IKADA_CACHE=$WORK/c1 run_ik 0 run g.yaml
[ "$(ran)" = 2 ] || fail "first run ran $(ran) nodes"
lacks err "warning"
set -- $(server)
[ "$1" = 2 ] && [ "$3" = 0 ] || fail "expected 2 records and no bad object on the server, got $*"
IKADA_CACHE=$WORK/c2 run_ik 0 run g.yaml
[ "$(ran)" = 2 ] || fail "a run on an empty cache re-ran nodes"
contains err "2 cached (2 from the remote)"
IKADA_CACHE=$WORK/c2 run_ik 0 cache export next.o -o got.txt
[ "$(cat got.txt)" = HI ] || fail "downloaded output is '$(cat got.txt)'"

# 1b. status and run -n see the remote results without downloading them.
check_status_remote
AWS_SECRET_ACCESS_KEY=wrong check_status_down

# 2. A corrupted object on the server: detected, re-run, re-uploaded.
key=$(moto_s3 corrupt "$MOTO_URL" ikada-cache team/ci hi) || fail "could not corrupt an object"
[ "$(server | cut -d' ' -f3)" = 1 ] || fail "the object was not corrupted"
IKADA_CACHE=$WORK/c3 run_ik 0 run g.yaml
contains err "s3://ikada-cache/$key is corrupt"
contains err "make: running"
[ "$(server | cut -d' ' -f3)" = 0 ] || fail "the corrupt object was not re-uploaded"
before=$(ran)
IKADA_CACHE=$WORK/c4 run_ik 0 run g.yaml
[ "$(ran)" = "$before" ] || fail "the repaired remote still re-ran nodes"

# 3. Wrong credentials: the remote is unavailable (one warning), the run works locally.
AWS_SECRET_ACCESS_KEY=wrong-secret IKADA_CACHE=$WORK/c5 run_ik 0 run g.yaml
[ "$(count err "remote cache unavailable")" = 1 ] || fail "expected one warning for a bad signature"
contains err "HTTP 403 SignatureDoesNotMatch (check the credentials)"
contains err "2 ran"
lacks err "wrong-secret"
AWS_ACCESS_KEY_ID=AKIANOSUCHKEY0000000 IKADA_CACHE=$WORK/c5b run_ik 0 run g.yaml
contains err "HTTP 403 InvalidAccessKeyId"
AWS_SECRET_ACCESS_KEY= IKADA_CACHE=$WORK/c5 run_ik 2 run g.yaml
contains err "AWS_SECRET_ACCESS_KEY is not set"
IKADA_REMOTE=s3://no-such-bucket IKADA_CACHE=$WORK/c5c run_ik 0 run g.yaml
contains err "HTTP 404 NoSuchBucket"
IKADA_REMOTE=s3://Bad_Bucket IKADA_CACHE=$WORK/c5 run_ik 2 run g.yaml
contains err "expected s3://BUCKET[/PREFIX]"

# 4. Temporary credentials (an assumed role's): the session token travels as a signed
# x-amz-security-token header; a wrong one makes the remote unavailable; none is printed.
set -- $(moto_s3 assume "$MOTO_URL")
[ $# = 3 ] || fail "could not assume the role"
AWS_ACCESS_KEY_ID=$1 AWS_SECRET_ACCESS_KEY=$2 AWS_SESSION_TOKEN=$3 IKADA_CACHE=$WORK/c6 \
    run_ik 0 run g.yaml
contains err "2 from the remote"
lacks err "$3"
AWS_ACCESS_KEY_ID=$1 AWS_SECRET_ACCESS_KEY=$2 AWS_SESSION_TOKEN=token-not-to-print \
    IKADA_CACHE=$WORK/c6b run_ik 0 run g.yaml
[ "$(count err "remote cache unavailable")" = 1 ] || fail "expected one warning for a bad token"
lacks err "token-not-to-print"

# 5. Two runs uploading at once to one bucket (separate local caches).
check_two_uploads
[ "$(server | cut -d' ' -f3)" = 0 ] || fail "concurrent uploads left a bad object"

# 6. cache push and pull speak S3 too.
sed 's/echo hi/echo pushed/' g.yaml > g2.yaml
IKADA_REMOTE= IKADA_CACHE=$WORK/c11 run_ik 0 run g2.yaml
IKADA_CACHE=$WORK/c11 run_ik 0 cache push --graph g2.yaml
contains out "pushed 2 results to s3://ikada-cache/team/ci"
IKADA_CACHE=$WORK/c12 run_ik 0 cache pull --graph g2.yaml
contains out "pulled 2 results"

# 7. The server stops mid-run: the run finishes locally with one warning.
check_stop_mid_run moto_s3_stop
pass
