# shellcheck shell=bash
# The demos' status loop (sourced by scripts/demo.sh and scripts/demo-sim.sh).
# demo_watch API TOKEN nodes|counts: every 2 s, print the node states when they changed,
# one line per node (nodes) or the number of nodes per state (counts). Runs until Ctrl-C,
# or returns after DEMO_SECONDS seconds when that is set (a non-interactive run: the
# caller's EXIT trap then cleans up).
demo_watch() {
  local api=$1 token=$2 view=$3 last="" now start=$SECONDS
  while :; do
    now=$(curl -s -m 5 -H "Authorization: Bearer $token" "$api/api/v1/nodes" 2> /dev/null | node -e '
      let s = "";
      process.stdin.on("data", (d) => (s += d)).on("end", () => {
        let nodes;
        try { nodes = JSON.parse(s).nodes; } catch { return; }
        if (!Array.isArray(nodes)) return;
        if (process.argv[1] === "counts") {
          const by = new Map();
          for (const n of nodes) by.set(n.state, (by.get(n.state) ?? 0) + 1);
          const text = [...by].sort(([a], [b]) => a.localeCompare(b)).map(([st, c]) => `${c} ${st}`).join(", ");
          console.log(`nodes by state: ${text || "(none yet)"}`);
        } else {
          const lines = nodes.map((n) => `   ${n.name} ${n.state}`).sort();
          console.log(lines.length ? `nodes:\n${lines.join("\n")}` : "nodes: (none yet)");
        }
      });' "$view")
    if [[ -n "$now" && "$now" != "$last" ]]; then
      echo "[+$((SECONDS - start))s] $now"
      last=$now
    fi
    if ((${DEMO_SECONDS:-0} > 0 && SECONDS - start >= DEMO_SECONDS)); then return 0; fi
    sleep 2
  done
}
