# tests/cli/nginx_dav.sh - a WebDAV cache server on loopback for the remote
# cache tests and bench/remote_bench.sh: Debian's nginx-light, PUT enabled,
# optional basic auth. Source it, then `nginx_dav_start DIR [USER:PASS]`: sets
# NGINX_PORT and NGINX_PID, serves DIR/cache/; `nginx_dav_stop` ends it.
# nginx_dav_available says why not (exit 77 material) when it cannot run.
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

nginx_dav_available() {
    [ -x "$NGINX" ] || { echo "nginx not installed (apt-get install nginx-light)"; return 1; }
    "$NGINX" -V 2>&1 | grep -q http_dav_module || { echo "nginx lacks the WebDAV module"; return 1; }
}

nginx_dav_start() {
    local dir=$1 cred=${2:-} auth=""
    mkdir -p "$dir/cache" "$dir/tmp"
    NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if [ -n "$cred" ]; then
        printf '%s:%s\n' "${cred%%:*}" "$(openssl passwd -apr1 "${cred#*:}")" > "$dir/htpasswd"
        auth="auth_basic \"cache\"; auth_basic_user_file $dir/htpasswd;"
    fi
    # master_process off: one process as the invoking user, so the files it
    # writes need no other user's permissions.
    cat > "$dir/nginx.conf" <<CONF
master_process off;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location /cache/ {
            root $dir;
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 1G;
            $auth
        }
    }
}
CONF
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" 2>>"$dir/error.log" &
    NGINX_PID=$!
    for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" && return 0
        sleep 0.1
    done
    cat "$dir/error.log" >&2
    return 1
}

nginx_dav_stop() {
    [ -n "${NGINX_PID:-}" ] || return 0
    kill "$NGINX_PID" 2>/dev/null
    wait "$NGINX_PID" 2>/dev/null
    NGINX_PID=
}
