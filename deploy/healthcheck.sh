#!/bin/sh
# The Docker HEALTHCHECK (POSIX sh: the image's /bin/sh is dash). Asks /healthz on the first address of $Urls,
# so a changed port is honoured; a wildcard host (0.0.0.0, [::], +, *) is asked on loopback.
u="${Urls:-http://127.0.0.1:8080}"
u="${u%%;*}"
scheme="${u%%://*}"
hostport="${u#*://}"
hostport="${hostport%%/*}"
port="${hostport##*:}"
case "$port" in ''|*[!0-9]*) port=80; [ "$scheme" = https ] && port=443 ;; esac
exec curl -fsS -k --max-time 3 -o /dev/null "$scheme://127.0.0.1:$port/healthz"
