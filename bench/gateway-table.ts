// The gateway benchmark's tables (bench/gateway.ts): RESULTS.md section 4
// and bench/GATEWAY.md.
import type { GatewayResult } from "./gateway.ts";

const f = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "–" : v.toLocaleString("en-US"));
const x = (v: number | undefined) => (v === undefined ? "–" : `${v}×`);

/** Throughput, per-hop CPU, the thin load and the goal. */
export function gatewayTable(g: GatewayResult): string[] {
  const L = [
    `| QoS | QN msg/s | QN p99 | mosquitto msg/s | mosquitto p99 | QN / mosquitto | lost (QN / mosq.) |`,
    `|---|---|---|---|---|---|---|`,
  ];
  const qs = [0, 1, 2].filter((q) => g.results[`qos${q}`]);
  for (const q of qs) {
    const r = g.results[`qos${q}`];
    L.push(
      `| ${q} | ${f(r.qn.msg_per_s)} | ${f(r.qn.p99_us)} µs | ${f(r.mosquitto.msg_per_s)} | ${f(r.mosquitto.p99_us)} µs | ${r.ratio}× | ${r.qn.lost} / ${r.mosquitto.lost} |`,
    );
  }
  L.push(
    ``,
    `CPU per message received, µs (utime + stime from /proc over the same measurement):`,
    ``,
    `| QoS | gateway (event loop / other threads; of it kernel) | mosquitto, same phase | gateway ÷ mosquitto | load generator (8 devices + subscriber) | mosquitto alone (peer path) | its generator (8 mqtt.js publishers + subscriber) |`,
    `|---|---|---|---|---|---|---|`,
  );
  for (const q of qs) {
    const { qn, mosquitto: m } = g.results[`qos${q}`];
    const gw = qn.cpu?.gateway;
    L.push(
      `| ${q} | ${f(gw?.us_per_msg)} (${f(gw?.main_us_per_msg)} / ${f(gw?.other_us_per_msg)}; ${f(gw?.sys_us_per_msg)}) | ${f(qn.cpu?.broker?.us_per_msg)} | **${x(qn.cpu?.ratio)}** | ${f(qn.cpu?.generator?.us_per_msg)} | ${f(m.cpu?.broker?.us_per_msg)} | ${f(m.cpu?.generator?.us_per_msg)} |`,
    );
  }
  const thin = Object.entries(g.thin);
  if (thin.length) {
    L.push(
      ``,
      `Thin load (devices on the fleet listener of a gateway of their own, 1 msg/s each, spread over the second), CPU per message against the saturated figure above:`,
      ``,
      `| QoS | devices | received / sent | p99 | gateway µs/msg, whole | of it idle | marginal (whole − idle) | ± one /proc tick | saturated | whole ÷ saturated | marginal ÷ saturated | mosquitto µs/msg |`,
      `|---|---|---|---|---|---|---|---|---|---|---|---|`,
    );
    for (const [k, t] of thin) {
      const sat = g.results[k]?.qn.cpu?.gateway?.us_per_msg;
      const whole = t.cpu?.gateway?.us_per_msg;
      const m = t.gateway_marginal_us_per_msg;
      const r = (a?: number) => (a !== undefined && sat ? `${(a / sat).toFixed(2)}×` : "–");
      L.push(
        `| ${k.slice(3)} | ${f(t.devices)} ${t.listener} | ${f(t.received)} / ${f(t.sent)} | ${f(t.p99_us)} µs | ${f(whole)} | ${whole !== undefined && m !== undefined ? f(Math.round(whole - m)) : "–"} (${f(t.gateway_idle_us_per_s)} µs/s) | ${f(m)} | ${f(t.resolution_us_per_msg)} | ${f(sat)} | ${r(whole)} | ${r(m)} | ${f(t.cpu?.broker?.us_per_msg)} |`,
      );
    }
  }
  const h = g.hop_goal;
  L.push(
    ``,
    `Goal gateway ≤ 1.0× mosquitto per message at QoS 1 and 2: **${h.met ? "met" : "missed"}** (QoS 1 ${x(h.qos1)}, QoS 2 ${x(h.qos2)}); first milestone ≤ 1.5×: **${h.milestone_met ? "met" : "missed"}**.`,
    `Load average at the end of the run: ${g.load_average.join(", ")} (2 cores, shared).`,
  );
  return L;
}

/** bench/GATEWAY.md: the tables and how they were made. */
export function gatewayMarkdown(g: GatewayResult): string[] {
  return [
    `# Gateway hop: QN gateway vs mosquitto (make bench-gateway)`,
    ``,
    `Machine: ${g.machine.cpu}, ${g.machine.cores} cores (shared), Node ${g.machine.node}. Broker: mosquitto ${g.mosquitto}.`,
    ``,
    ...gatewayTable(g),
    ``,
    `Method: ${g.method}`,
    ``,
    `What the figures mean and what changed them: bench/README.md section 4.`,
    ``,
  ];
}
