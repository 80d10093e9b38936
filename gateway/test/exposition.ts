// A reader of the Prometheus text exposition format (version 0.0.4) for
// tests: families by name with their TYPE, HELP and samples. Strict about
// what it reads: a sample line it cannot parse, or a sample outside any
// declared family, throws.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

const SUFFIXES: Record<string, string[]> = {
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["_sum", "_count"],
};

function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

export function parseExposition(text: string): Map<string, Family> {
  const fams = new Map<string, Family>();
  const fam = (n: string) => {
    let f = fams.get(n);
    if (!f) fams.set(n, (f = { type: "untyped", help: "", samples: [] }));
    return f;
  };
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
    if (m) {
      if (m[1] === "HELP") fam(m[2]).help = unescapeLabel(m[3]);
      else fam(m[2]).type = m[3];
      continue;
    }
    if (line.startsWith("#")) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
      let l: RegExpExecArray | null,
        end = 0;
      while ((l = re.exec(m[2]))) {
        labels[l[1]] = unescapeLabel(l[2]);
        end = re.lastIndex;
      }
      if (end !== m[2].length) throw new Error(`bad labels: ${line}`);
    }
    const name = m[1];
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && m[3] !== "NaN") throw new Error(`bad value: ${line}`);
    let owner = fams.get(name);
    if (!owner)
      for (const [n, f] of fams)
        if ((SUFFIXES[f.type] ?? []).some((s) => name === n + s)) {
          owner = f;
          break;
        }
    if (!owner) throw new Error(`sample outside a declared family: ${line}`);
    owner.samples.push({ name, labels, value });
  }
  return fams;
}
