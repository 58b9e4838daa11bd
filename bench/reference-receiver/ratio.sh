#!/usr/bin/env bash
# Same-run ratio: the product's durable intake (its own IntakeThroughput benchmark: 16 senders,
# 50 rich-sized items per POST, fsync on) against the minimal reference receiver fed the same
# batches by ./client -items 50 -c 16, on a fresh fsync-on PostgreSQL. Alternates A B A B.
# Usage (from the project root): bench/reference-receiver/ratio.sh . [rounds], or make bench-intake-ratio
set -u
proj=${1:?project checkout}; rounds=${2:-2}
here=$(cd "$(dirname "$0")" && pwd)
pgbin=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/relbench.XXXX); chmod 711 "$work"
(cd "$here" && go build -o "$work/srv" ./server && go build -o "$work/cli" ./client) || exit 1
chown postgres "$work"
su postgres -c "$pgbin/initdb -D $work/pg -A trust -U postgres" >/dev/null || exit 1
# A port below the kernel's ephemeral range (ip_local_port_range, 32768 and up by default): 55432,
# fixed before, was taken by an outgoing connection of the load run that had just ended (bind:
# "Address already in use"); below the range only a listener can hold a port, and we skip those.
port=25432
while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
su postgres -c "$pgbin/pg_ctl -D $work/pg -l $work/pg.log -o '-p $port -k $work -c listen_addresses=127.0.0.1 -c max_connections=100' start" >/dev/null || exit 1
trap 'su postgres -c "$pgbin/pg_ctl -D $work/pg -m immediate stop" >/dev/null; [ -n "${SRV:-}" ] && kill $SRV 2>/dev/null; rm -rf "$work"' EXIT
sleep 2
psql -h 127.0.0.1 -p $port -U postgres -q -c "CREATE TABLE inbox (id bigserial primary key, tenant_id uuid, dedupe_key text, received_at timestamptz default now(), payload jsonb, unique(tenant_id, dedupe_key))"
for i in $(seq "$rounds"); do
  sleep 2
  a=$(cd "$proj" && CGO_ENABLED=1 GOMAXPROCS=2 go test -tags openssl -run '^$' -bench IntakeThroughput -benchtime 3s ./web/graphhook 2>&1 | awk '{for(k=1;k<=NF;k++) if($(k+1)=="notifications/s") print $k}' | head -1)
  psql -h 127.0.0.1 -p $port -U postgres -q -c "TRUNCATE inbox"; psql -h 127.0.0.1 -p $port -U postgres -q -c "CHECKPOINT"; sync; sleep 2
  GOMAXPROCS=2 "$work/srv" -dsn "postgres://postgres@127.0.0.1:$port/postgres" -mode durable -batch 64 -wait 1ms -writers 4 -addr 127.0.0.1:8099 >/dev/null 2>&1 & SRV=$!
  sleep 1
  r=$(GOMAXPROCS=2 "$work/cli" -url http://127.0.0.1:8099/notify -c 16 -items 50 -d 5s)
  kill $SRV; wait $SRV 2>/dev/null; SRV=
  b=$(echo "$r" | sed -n 's/.*items\/s=\([0-9]*\).*/\1/p')
  echo "round $i: product $a items/s, reference $b items/s, ratio $(awk -v a="$a" -v b="$b" 'BEGIN{if(b>0) printf "%.2f", a/b; else print "n/a"}')  [$r]"
done
