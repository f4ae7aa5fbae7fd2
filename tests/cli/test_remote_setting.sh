# Which remote cache a run uses (cli/remote_setting.c): --remote, else IKADA_REMOTE, else the
# graph's remote:, else the config file's (IKADA_CONFIG, else $XDG_CONFIG_HOME/ikada/
# config.yaml, else ~/.config/ikada/config.yaml). Each level names a different URL on a closed
# loopback port, so the one warning of an unavailable remote says which one was used. Bad
# settings are usage errors naming the file and line.
. "${IKADA_SRCDIR:-.}/tests/cli/lib.sh"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url() { echo "http://127.0.0.1:$PORT/$1"; }
unset IKADA_REMOTE IKADA_CONFIG
export XDG_CONFIG_HOME=$WORK/xdg HOME=$WORK/home
mkdir -p xdg/ikada home/.config/ikada
cat > plain.yaml <<'YAML'
nodes:
  a:
    type: command
    params: {cmd: "echo a > $IKADA_OUT_o", outputs: {o: o.txt}}
YAML
{ echo "remote: $(url from-graph)"; cat plain.yaml; } > g.yaml

# uses_level GRAPH LEVEL [ARGS]: a run (on a fresh cache) warns once, about LEVEL's remote;
# uses_none ARGS: a run that uses no remote.
n=0
uses_level() {
    local graph=$1 level=$2
    shift 2
    IKADA_CACHE=$WORK/c$((n += 1)) run_ik 0 run "$@" "$graph"
    [ "$(count err "remote cache unavailable")" = 1 ] || fail "expected one remote warning"
    contains err "$(url "$level")/ac/"
}
uses_none() {
    IKADA_CACHE=$WORK/c$((n += 1)) run_ik 0 run "$@"
    lacks err "remote"
}

# No setting anywhere: no remote, no network.
uses_none plain.yaml
# The graph's remote:.
uses_level g.yaml from-graph
# The config file: ~/.config, then $XDG_CONFIG_HOME over it, then IKADA_CONFIG over both.
echo "remote: $(url from-home)" > home/.config/ikada/config.yaml
XDG_CONFIG_HOME= uses_level plain.yaml from-home
echo "remote: $(url from-xdg)" > xdg/ikada/config.yaml
uses_level plain.yaml from-xdg
echo "remote: $(url from-named)" > named.yaml
IKADA_CONFIG=$WORK/named.yaml uses_level plain.yaml from-named
IKADA_CONFIG= uses_none plain.yaml
# The graph over the config file, the environment over the graph, the flag over all.
uses_level g.yaml from-graph
IKADA_REMOTE=$(url from-env) uses_level g.yaml from-env
IKADA_REMOTE=$(url from-env) uses_level g.yaml from-flag --remote "$(url from-flag)"
# Empty at the command line or in the environment: none, whatever the files say.
IKADA_REMOTE= uses_none g.yaml
IKADA_REMOTE=$(url from-env) uses_none --remote '' g.yaml
# cache push without a graph takes the config file's.
IKADA_CACHE=$WORK/c1 run_ik 1 cache push
contains err "$(url from-xdg)/"

# Bad settings say where they are.
{ echo "remote: $(url x) auth=NO_SUCH_VAR"; cat plain.yaml; } > auth.yaml
run_ik 2 run auth.yaml
contains err "auth.yaml:1:9: error: 'remote:': remote '$(url x) auth=NO_SUCH_VAR': environment variable NO_SUCH_VAR is not set"
{ echo "remote: ftp://x"; cat plain.yaml; } > ftp.yaml
run_ik 2 run ftp.yaml
contains err "ftp.yaml:1:9: error: 'remote:' must be an http(s):// URL or s3://BUCKET/PREFIX"
printf 'remote: %s\nexecutor: {kind: pbs}\n' "$(url x)" > xdg/ikada/config.yaml
run_ik 2 run plain.yaml
contains err "xdg/ikada/config.yaml:2:18: error: 'executor: kind:' must be slurm or local"
run_ik 2 status plain.yaml
contains err "config.yaml:2:18"
printf 'remote: s3://team-cache\n' > xdg/ikada/config.yaml
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$IKADA" run plain.yaml >out 2>err && fail "ran without S3 credentials"
contains err "config.yaml:1:9: error: 'remote:': remote 's3://team-cache': AWS_ACCESS_KEY_ID is not set"
IKADA_CONFIG=$WORK/missing.yaml run_ik 2 run plain.yaml
contains err "cannot read $WORK/missing.yaml"
run_ik 2 run --remote "ftp://x" plain.yaml
contains err "--remote: remote 'ftp://x': expected an http:// or https:// URL"
pass
