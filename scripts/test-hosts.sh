#!/usr/bin/env bash
# Test hosts on this machine: N network namespaces joined by veth pairs to a
# bridge, each link shaped with tc, so that bsn's ranks talk over real TCP
# links of a chosen speed instead of shared memory.
#
#   scripts/test-hosts.sh up N [rate] [delay]   create bsnh0 … bsnh(N-1) (rate: 1gbit, 10gbit, …; delay: 0.1ms)
#   scripts/test-hosts.sh down                  remove every namespace, veth, bridge and qdisc it made
#   scripts/test-hosts.sh status                what exists now, one line each
#   scripts/test-hosts.sh mpirun N ARGS…        mpirun with one rank per namespace (runs in bsnh0)
#   scripts/test-hosts.sh agent HOST CMD…       mpirun's launch agent (in place of ssh): runs CMD in HOST's namespace
#
# Namespace i has the address 10.213.77.(10+i)/24 on its interface eth0; the
# range is used only inside these namespaces (the bridge has no address, and
# nothing in the machine's own namespace is routed to it). Needs root
# (CAP_NET_ADMIN and CAP_SYS_ADMIN), iproute2 and, for a delay, the kernel's
# netem qdisc; without netem the links are shaped in rate only and the script
# says so. Every loop is bounded: at most 16 hosts, waits of at most 5 s.
set -uo pipefail

prefix=bsnh
bridge=bsnh-br
subnet=10.213.77
max_hosts=16
here="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

fail() { echo "test-hosts: $*" >&2; exit 1; }
say() { echo "test-hosts: $*" >&2; }
address() { echo "$subnet.$((10 + $1))"; }

need_tools() {
    command -v ip >/dev/null && command -v tc >/dev/null || fail "needs iproute2 (ip, tc): apt-get install -y iproute2"
    [ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces and tc)"
}

namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${prefix}[0-9]+$" || true; }
links() { ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^${prefix}[0-9]+-b$|^${bridge}$|^${prefix}-[pq]$" || true; }

# Ends the processes still inside a namespace (mpirun's daemons, ranks): a
# namespace with a process in it outlives `ip netns delete`, and so does its veth.
end_processes() {
    local ns=$1 pids
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -z "$pids" ] && return
    kill -TERM $pids 2>/dev/null
    for _ in $(seq 50); do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [ -z "$pids" ] && return
        sleep 0.1
    done
    kill -KILL $pids 2>/dev/null
    sleep 0.2
}

down() {
    need_tools
    local ns link
    for ns in $(namespaces); do
        end_processes "$ns"
        ip netns delete "$ns" 2>/dev/null || say "could not delete namespace $ns"
    done
    for link in $(links); do
        # (a namespace's veth goes with it, perhaps only now)
        ip link delete "$link" 2>/dev/null || ! ip link show "$link" >/dev/null 2>&1 || say "could not delete $link"
    done
    local left
    left="$(namespaces) $(links)"
    [ -z "${left// /}" ] || fail "left behind: $left"
}

# Shapes the egress of one interface (inside namespace $1, or the machine's own when empty).
shape() {
    local ns=$1 dev=$2 rate=$3 delay=$4 run=()
    [ -n "$ns" ] && run=(ip netns exec "$ns")
    if [ "$delay" != 0 ] && [ "$netem" = yes ]; then
        "${run[@]}" tc qdisc add dev "$dev" root netem delay "$delay" rate "$rate" limit 100000
    else
        # burst: 1 ms at the rate (at least 64 kB), so that the shaper keeps
        # up with the kernel's timer; queued packets wait at most 50 ms.
        local bits
        bits=$(tc_bits "$rate") || return 1
        local burst=$(( bits / 8 / 1000 ))
        [ "$burst" -lt 65536 ] && burst=65536
        "${run[@]}" tc qdisc add dev "$dev" root tbf rate "$rate" burst "$burst" latency 50ms
    fi
}

# "1gbit" → 1000000000 (tc's units: kbit, mbit, gbit; bit).
tc_bits() {
    local r=${1,,} n unit
    n=${r%%[a-z]*}; unit=${r#"$n"}
    [[ "$n" =~ ^[0-9]+([.][0-9]+)?$ ]] || { say "bad rate '$1' (for example 1gbit, 10gbit, 100mbit)"; return 1; }
    case "$unit" in
        gbit) awk "BEGIN{printf \"%d\", $n*1e9}" ;;
        mbit) awk "BEGIN{printf \"%d\", $n*1e6}" ;;
        kbit) awk "BEGIN{printf \"%d\", $n*1e3}" ;;
        bit) awk "BEGIN{printf \"%d\", $n}" ;;
        *) say "bad rate '$1' (for example 1gbit, 10gbit, 100mbit)"; return 1 ;;
    esac
}

up() {
    need_tools
    local n=${1:-} rate=${2:-1gbit} delay=${3:-0}
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le $max_hosts ] || fail "up takes a number of hosts from 1 to $max_hosts, got '${n}'"
    tc_bits "$rate" >/dev/null || exit 1
    [ "$delay" = 0 ] || [[ "$delay" =~ ^[0-9]+([.][0-9]+)?(us|ms)$ ]] || fail "bad delay '$delay' (for example 0.1ms or 100us)"
    [ -z "$(namespaces)$(links)" ] && ! ip -4 addr show | grep -q " $subnet\." || fail "test hosts already exist (or $subnet.0/24 is in use here): run '$0 down' first"
    # Anything that fails from here on removes what was made.
    trap 'say "up failed at line $LINENO; removing what it made"; down; exit 1' ERR
    set -E
    netem=no
    if [ "$delay" != 0 ]; then
        ip link add "${prefix}-p" type veth peer name "${prefix}-q"
        tc qdisc add dev "${prefix}-p" root netem delay 1ms 2>/dev/null && netem=yes
        ip link delete "${prefix}-p"
        [ "$netem" = yes ] || say "this kernel has no netem qdisc: the links are shaped to $rate but the delay of $delay is not emulated"
    fi
    ip link add "$bridge" type bridge
    ip link set "$bridge" up
    local i
    for i in $(seq 0 $((n - 1))); do
        local ns=$prefix$i
        ip netns add "$ns"
        ip link add "${ns}-a" type veth peer name "${ns}-b"
        ip link set "${ns}-a" netns "$ns"
        ip netns exec "$ns" ip link set "${ns}-a" name eth0
        ip netns exec "$ns" ip addr add "$(address "$i")/24" dev eth0
        ip netns exec "$ns" ip link set lo up
        ip netns exec "$ns" ip link set eth0 up
        ip link set "${ns}-b" master "$bridge"
        ip link set "${ns}-b" up
        shape "$ns" eth0 "$rate" "$delay"        # what the host sends
        shape "" "${ns}-b" "$rate" "$delay"      # what the switch port sends to the host
    done
    # Each namespace reaches the others (bounded wait for the bridge's ports).
    for i in $(seq 1 $((n - 1))); do
        local ok=no
        for _ in $(seq 50); do
            # nothing listens on port 9: a refusal is the answer of a reachable host
            local answer
            answer=$(ip netns exec "${prefix}0" bash -c "exec 3<>/dev/tcp/$(address "$i")/9" 2>&1 || true)
            if [[ "$answer" == *refused* ]]; then ok=yes; break; fi
            sleep 0.1
        done
        [ "$ok" = yes ] || false
    done
    trap - ERR
    say "$n hosts up: $(for i in $(seq 0 $((n - 1))); do printf '%s=%s ' "$prefix$i" "$(address "$i")"; done)links $rate$([ "$delay" != 0 ] && [ "$netem" = yes ] && echo ", delay $delay")"
}

status() {
    local ns
    for ns in $(namespaces); do
        echo "$ns $(ip netns exec "$ns" ip -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}') $(ip netns exec "$ns" tc qdisc show dev eth0 2>/dev/null | head -1)"
    done
    for link in $(links); do echo "link $link"; done
}

# The launch agent: mpirun calls it as ssh ("agent HOST command…"); HOST is a
# namespace's address, and the command runs in that namespace through a shell.
agent() {
    local host=$1; shift
    [[ "$host" =~ ^$subnet\.([0-9]+)$ ]] || fail "agent: $host is not a test host"
    local i=$(( ${BASH_REMATCH[1]} - 10 ))
    exec ip netns exec "$prefix$i" /bin/sh -c "$*"
}

# mpirun with one rank per namespace: started in the first, the others reached
# through the agent; MPI's traffic (its daemons' and the ranks') stays on eth0.
run_mpirun() {
    local n=${1:-}; shift
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] || fail "mpirun takes the number of ranks first"
    [ "$(namespaces | wc -l)" -ge "$n" ] || fail "$n ranks need $n test hosts: run '$0 up $n' first"
    local hosts
    hosts=$(for i in $(seq 0 $((n - 1))); do printf '%s:1,' "$(address "$i")"; done)
    local root=()
    [ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
    exec ip netns exec "${prefix}0" mpirun "${root[@]}" -np "$n" --host "${hosts%,}" \
        --bind-to none --mca plm_rsh_agent "$here agent" --mca btl tcp,self \
        --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24" "$@"
}

case "${1:-}" in
    up) shift; up "$@" ;;
    down) down ;;
    status) status ;;
    agent) shift; agent "$@" ;;
    mpirun) shift; run_mpirun "$@" ;;
    *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
