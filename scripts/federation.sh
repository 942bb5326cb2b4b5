# A federation on this machine, for the demo and the tests that run real processes: the
# consortium's CA, a hub, sites with their stores, and the hub and one node per site as separate
# processes on free loopback ports (mutual TLS, nodes dialling out). Sourced, not run:
#
#   fed_bin=PATH                 the passerelle binary
#   fed_init OUT                 CA, the hub's certificate and store, OUT/researcher.token
#   fed_site OUT NAME DATASET CSV DICTIONARY
#                                a site's store with CSV imported, its node certificate,
#                                registered at the hub
#   fed_start OUT                the hub and the nodes, returning once every node is connected;
#                                the hub's address in $fed_hub
#   fed_approve OUT PROTOCOL REASON
#                                the researcher submits a protocol; at each site, once its node
#                                has it, the automatic review is printed and the custodian
#                                approves it; its number in $fed_protocol
#   fed_stop                     SIGTERM to every process started, and wait for each
#
# With fed_relay=PATH (bench/relay) and fed_delay_ms=D, each node dials the hub through its own
# relay that delays every byte D ms each way: a site 2 × D ms of round trip from the hub.
# fed_hub_args: more options of `hub serve`. fed_store=URL: the next sites keep their datasets in
# that PostgreSQL schema (`site init --store`).
fed_pids=()
fed_sites=()
fed_hub=
fed_relay=
fed_delay_ms=0
fed_hub_args=()
fed_store=

fed_init() {
  local out=$1
  "$fed_bin" pki init "$out/ca"
  "$fed_bin" pki issue "$out/ca" --name hub --role hub --out "$out/hub-certs"
  "$fed_bin" hub init "$out/hub"
  "$fed_bin" hub user add "$out/hub" --name researcher | tail -n 1 >"$out/researcher.token"
  chmod 600 "$out/researcher.token"
}

fed_site() {
  local out=$1 site=$2 dataset=$3 csv=$4 dictionary=$5
  "$fed_bin" site init "$out/$site" --name "$site" ${fed_store:+--store "$fed_store"}
  "$fed_bin" site import "$out/$site" --dataset "$dataset" --csv "$csv" --dictionary "$dictionary"
  "$fed_bin" pki issue "$out/ca" --name "$site" --out "$out/$site-certs"
  "$fed_bin" hub site add "$out/hub" --name "$site" --cert "$out/$site-certs/$site.crt" \
    --ca "$out/ca/ca.crt"
  fed_sites+=("$site")
}

fed_start() {
  local out=$1
  rm -f "$out/hub.port"
  "$fed_bin" hub serve "$out/hub" --cert "$out/hub-certs/hub.crt" --key "$out/hub-certs/hub.key" \
    --ca "$out/ca/ca.crt" --listen 127.0.0.1:0 --port-file "$out/hub.port" "${fed_hub_args[@]}" \
    2>"$out/hub.log" &
  fed_pids+=($!)
  for _ in $(seq 100); do [ -s "$out/hub.port" ] && break; sleep 0.1; done
  [ -s "$out/hub.port" ] || { cat "$out/hub.log"; echo "the hub did not start" >&2; return 1; }
  fed_hub="https://127.0.0.1:$(cat "$out/hub.port")"
  local site via
  for site in "${fed_sites[@]}"; do
    via=$fed_hub
    if [ -n "$fed_relay" ]; then
      rm -f "$out/$site.relay.port"
      "$fed_relay" "$fed_delay_ms" "$(cat "$out/hub.port")" "$out/$site.relay.port" &
      fed_pids+=($!)
      for _ in $(seq 100); do [ -s "$out/$site.relay.port" ] && break; sleep 0.05; done
      via="https://127.0.0.1:$(cat "$out/$site.relay.port")"
    fi
    "$fed_bin" node serve "$out/$site" --hub "$via" --cert "$out/$site-certs/$site.crt" \
      --key "$out/$site-certs/$site.key" --ca "$out/ca/ca.crt" \
      --hub-key "$out/hub/signing.pub" 2>"$out/$site.log" &
    fed_pids+=($!)
  done
  for _ in $(seq 600); do
    local connected=0
    for site in "${fed_sites[@]}"; do
      grep -q "connected to the hub" "$out/$site.log" 2>/dev/null && connected=$((connected + 1))
    done
    [ "$connected" -eq "${#fed_sites[@]}" ] && return 0
    sleep 0.1
  done
  echo "not every node connected to the hub" >&2
  return 1
}

fed_approve() {
  local out=$1 file=$2 reason=$3 site
  fed_protocol=$("$fed_bin" protocol submit "$file" --hub "$fed_hub" --ca "$out/ca/ca.crt" \
    --token-file "$out/researcher.token" --json | sed -n 's/^  "protocol": \([0-9]*\),$/\1/p')
  for site in "${fed_sites[@]}"; do
    for _ in $(seq 600); do
      "$fed_bin" node protocols "$out/$site" --json | grep -q "\"protocol\": $fed_protocol," && break
      sleep 0.1
    done
    "$fed_bin" node protocols "$out/$site" | sed -n '/automatic review\|FLAG/p'
    "$fed_bin" node protocol approve "$out/$site" "$fed_protocol" --reason "$reason"
  done
}

fed_stop() {
  local pid
  for pid in "${fed_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${fed_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  fed_pids=()
}
