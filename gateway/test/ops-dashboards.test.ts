// The Grafana dashboard and the Prometheus alert rules shipped in ops/
// name only metrics the gateway exports (every registered metric, with a
// histogram's _bucket/_sum/_count), their PromQL parses (promtool check
// rules, the dashboard's queries as recording rules), and the alerts fire
// as their unit tests say (promtool test rules).
import { describe, it, expect } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { ROOT } from "../../host/status.ts";
import { createMetrics } from "../metrics.ts";

/** The dashboard's datasource: an input Grafana asks for on import. */
const DATASOURCE = "$" + "{DS_PROMETHEUS}";
const DASHBOARD = join(ROOT, "ops/grafana/qn-gateway.json");
const ALERTS = join(ROOT, "ops/prometheus/qn-alerts.yml");
const ALERT_TESTS = join(ROOT, "ops/prometheus/qn-alerts.test.yml");

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" });
/** Why promtool cannot run here (make deps-debian installs it), if it cannot. */
const NO_PROMTOOL =
  promtool.status === 0
    ? ""
    : ` (SKIPPED: promtool not runnable: ${promtool.error?.message ?? promtool.stderr}; make deps-debian installs it)`;

/** Every series name a scrape of the gateway can hold. */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await createMetrics().registry.getMetricsAsJSON()) {
    if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(m.name + s);
    else names.add(m.name);
  }
  return names;
}

const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/** The metric names a PromQL expression selects: identifiers that are not
 *  functions, keywords, label names (in {} or a by/without/on list) or
 *  parts of strings and durations. */
function metricNames(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\[[^\]]*\]/g, " ");
  const out: string[] = [];
  for (const m of s.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?!\w)(\s*\()?/g)) {
    if (m[2] || KEYWORDS.has(m[1].toLowerCase())) continue;
    out.push(m[1]);
  }
  return out;
}

interface Panel {
  title: string;
  datasource?: { uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}
const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; definition: string }[] };
};
const panels = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...panels(p.panels ?? [])]);
const exprs = panels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
const alerts = (
  parseYaml(readFileSync(ALERTS, "utf8")) as { groups: { rules: { alert: string; expr: string }[] }[] }
).groups.flatMap((g) => g.rules);

describe("ops/ dashboard and alert rules", () => {
  it("the name extraction sees a name the gateway does not export", async () => {
    const known = await exportedNames();
    expect(metricNames('sum by (device) (rate(qn_nope_total{device=~"a|b"}[5m])) / on (device) qn_link_up')).toEqual([
      "qn_nope_total",
      "qn_link_up",
    ]);
    expect(known.has("qn_nope_total")).toBe(false);
    expect(known.has("qn_uplink_latency_seconds_bucket")).toBe(true);
  });

  it("the dashboard queries only metrics the gateway exports, through the datasource input", async () => {
    const known = await exportedNames();
    expect(exprs.length).toBeGreaterThan(10);
    const unknown: string[] = [];
    for (const { panel, expr } of exprs) {
      const names = metricNames(expr);
      expect(names.length, `${panel}: ${expr} selects a metric`).toBeGreaterThan(0);
      for (const n of names) if (!known.has(n)) unknown.push(`${panel}: ${n}`);
    }
    for (const v of dashboard.templating.list)
      for (const n of metricNames(v.definition.replace(/^label_values\((.*),\s*\w+\)$/, "$1")))
        if (!known.has(n)) unknown.push(`variable ${v.name}: ${n}`);
    expect(unknown).toEqual([]);
    for (const p of panels(dashboard.panels)) if (p.targets) expect(p.datasource?.uid, p.title).toBe(DATASOURCE);
    // The list: links down, queue near its limit, auth failures,
    // CRC error rate, journal flush latency.
    const all = exprs.map((e) => e.expr).join("\n");
    for (const n of [
      "qn_link_breaker_state",
      "qn_broker_queue_limit",
      "qn_auth_failures_total",
      "qn_crc_errors_total",
      "qn_journal_flush_seconds_bucket",
    ])
      expect(all).toContain(n);
  });

  it("the alert rules name only exported metrics and cover the issue's list", async () => {
    const known = await exportedNames();
    const unknown = alerts.flatMap((a) =>
      metricNames(a.expr)
        .filter((n) => !known.has(n))
        .map((n) => `${a.alert}: ${n}`),
    );
    expect(unknown).toEqual([]);
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        "QnLinkDown",
        "QnBrokerQueueNearLimit",
        "QnAuthFailures",
        "QnCrcErrorRate",
        "QnJournalFlushSlow",
      ]),
    );
  });

  it.skipIf(!!NO_PROMTOOL)(
    `promtool parses the rules and the dashboard's queries, and the alert unit tests pass${NO_PROMTOOL}`,
    () => {
      const run = (...args: string[]) => spawnSync("promtool", args, { encoding: "utf8" });
      let r = run("check", "rules", ALERTS);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      r = run("test", "rules", ALERT_TESTS);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      // The dashboard's queries as recording rules: promtool parses each one.
      const dir = mkdtempSync(join(tmpdir(), "qn-dash-"));
      const rules = exprs.map((e, i) => ({
        record: `qn_dashboard:query_${i}`,
        expr: e.expr.replaceAll("$__rate_interval", "5m").replace(/\$(instance|device)/g, ".*"),
      }));
      writeFileSync(join(dir, "dashboard-rules.json"), JSON.stringify({ groups: [{ name: "dashboard", rules }] }));
      r = run("check", "rules", join(dir, "dashboard-rules.json"));
      expect(r.status, r.stdout + r.stderr).toBe(0);
    },
  );
});
