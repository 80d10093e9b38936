// Reads the core's ABI from its AssemblyScript sources: the exports of
// assembly/index.ts (name, typed parameters, return type, doc comment), the
// imports declared in assembly/bindings/, the status enum of
// assembly/status.ts, and the named integers the exports take and return
// (GROUPS, CONSTANTS below). The build turns them into build/qn_api.h and
// build/qn_abi.ts, so both ends take the ABI from one place.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const FN = /\/\*\*\s*([\s\S]*?)\s*\*\/\s*export function (\w+)\(([^)]*)\):\s*(\w+)/g;
const EXT =
  /\/\*\*\s*([\s\S]*?)\s*\*\/\s*@external\("(\w+)",\s*"(\w+)"\)\s*export declare function (\w+)\(([^)]*)\):\s*(\w+)/g;

const PROBE_TAG = "@probe";

function params(src) {
  return src
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const [name, type] = p.split(":").map((s) => s.trim());
      return { name, type };
    });
}

function clean(doc) {
  return doc
    .split("\n")
    .map((l) => l.replace(/^\s*\*\s?/, ""))
    .join(" ")
    .replace(/\s+/g, " ")
    .trim();
}

export function readExports(root) {
  const src = readFileSync(join(root, "assembly/index.ts"), "utf8");
  // A doc comment ending in "@probe" marks a test or probe export: the C
  // build declares it in qn_probe.h, which applications never include.
  return [...src.matchAll(FN)].map((m) => {
    const doc = clean(m[1]);
    const probe = doc.endsWith(PROBE_TAG);
    return {
      doc: probe ? doc.slice(0, -PROBE_TAG.length).trim() : doc,
      name: m[2],
      params: params(m[3]),
      ret: m[4],
      probe,
    };
  });
}

export function readImports(root) {
  const dir = join(root, "assembly/bindings");
  const out = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    const src = readFileSync(join(dir, f), "utf8");
    for (const m of src.matchAll(EXT)) {
      out.push({ doc: clean(m[1]), module: m[2], name: m[3], params: params(m[5]), ret: m[6] });
    }
  }
  return out;
}

/** The members of `export enum Status` in assembly/status.ts, each
 *  `NAME = <integer>, // message`; any other line in the enum is an error. */
export function readStatus(root) {
  const src = readFileSync(join(root, "assembly/status.ts"), "utf8");
  const body = /^export enum Status \{\n([\s\S]*?)^\}/m.exec(src);
  if (!body) fail("assembly/status.ts: no `export enum Status { ... }`");
  const out = [];
  for (const line of body[1].split("\n")) {
    if (!line.trim()) continue;
    const m = /^\s*(\w+) = (-?\d+), \/\/ (.+)$/.exec(line);
    if (!m) fail(`assembly/status.ts: "${line.trim()}" is not \`NAME = <integer>, // message\``);
    out.push({ name: m[1], value: Number(m[2]), message: m[3].trim() });
  }
  if (!out.length) fail("assembly/status.ts: the Status enum is empty");
  return out;
}

// The named integers of the ABI. A group is every
//   export const <prefix><NAME>: <integer type> = <integer literal>; // doc
// in one file of assembly/ (where two groups share a file, the longer
// prefix wins); its C name is QN_<prefix><NAME> in the enum `c`, its host
// name <ts>.<NAME>. A constant with a group's prefix whose value is not a
// literal stops the build, so a member can never be skipped quietly.
export const GROUPS = [
  { ts: "FrameType", c: "qn_frame_type_t", file: "frame.ts", prefix: "T_", doc: "Frame types (header byte 1)." },
  {
    ts: "Flag",
    c: "qn_flag_t",
    file: "frame.ts",
    prefix: "F_",
    doc: "Header flags (byte 2): the priority and QoS fields and the flag bits.",
  },
  {
    ts: "HeaderOffset",
    c: "qn_header_offset_t",
    file: "frame.ts",
    prefix: "H_",
    doc: "Offsets of the frame header's fields (little-endian).",
  },
  { ts: "Prio", c: "qn_prio_t", file: "config.ts", prefix: "PRIO_", doc: "Priority classes: lower is more urgent." },
  { ts: "Qos", c: "qn_qos_t", file: "config.ts", prefix: "QOS_", doc: "QoS levels." },
  { ts: "Codec", c: "qn_codec_t", file: "config.ts", prefix: "CODEC_", doc: "Payload codec ids (header byte 3)." },
  {
    ts: "ConfigKey",
    c: "qn_config_key_t",
    file: "session.ts",
    prefix: "CFG_",
    doc: "Config keys of qn_config_set and qn_config_get.",
  },
  { ts: "Role", c: "qn_role_t", file: "session.ts", prefix: "ROLE_", doc: "Roles (QN_CFG_ROLE)." },
  {
    ts: "AuthMode",
    c: "qn_auth_mode_t",
    file: "session.ts",
    prefix: "AUTH_",
    doc: "Authentication modes (QN_CFG_AUTH).",
  },
  {
    ts: "SessionState",
    c: "qn_session_state_t",
    file: "session.ts",
    prefix: "SESSION_",
    doc: "Session states (QN_SESSION_STAT_STATE).",
  },
  {
    ts: "SessionStat",
    c: "qn_session_stat_t",
    file: "session.ts",
    prefix: "SESSION_STAT_",
    doc: "What qn_session_stat reports.",
  },
  {
    ts: "Capability",
    c: "qn_capability_t",
    file: "session.ts",
    prefix: "CAP_",
    doc: "Capability bits announced in the handshake (QN_SESSION_STAT_PEER_CAPS).",
  },
  { ts: "QosStat", c: "qn_qos_stat_t", file: "qos.ts", prefix: "QOS_STAT_", doc: "What qn_qos_stat reports." },
  {
    ts: "JournalStat",
    c: "qn_journal_stat_t",
    file: "journal.ts",
    prefix: "JOURNAL_STAT_",
    doc: "What qn_journal_stat reports.",
  },
  {
    ts: "JournalRecord",
    c: "qn_journal_record_t",
    file: "journal.ts",
    prefix: "R_",
    doc: "Journal record types (the storage format).",
  },
  { ts: "PoolStat", c: "qn_pool_stat_t", file: "pool.ts", prefix: "POOL_STAT_", doc: "What qn_pool_stat reports." },
  {
    ts: "SchedStat",
    c: "qn_sched_stat_t",
    file: "sched.ts",
    prefix: "SCHED_STAT_",
    doc: "What qn_sched_stat reports.",
  },
  { ts: "Counter", c: "qn_counter_t", file: "counters.ts", prefix: "C_", doc: "Event counters of qn_counter." },
  {
    ts: "EventType",
    c: "qn_event_type_t",
    file: "events.ts",
    prefix: "EV_",
    doc: "Event types of the device event log (qn_event, T_LOG); the doc of each is its name in the gateway's log.",
  },
  {
    ts: "FieldKind",
    c: "qn_field_kind_t",
    file: "codec/fields.ts",
    prefix: "K_",
    doc: "Kinds of the message field table's fields (qn_msg_add, qn_msg_kind).",
  },
  { ts: "Feature", c: "qn_feature_t", file: "identity.ts", prefix: "FEATURE_", doc: "Feature bits of qn_features." },
];

// Single named integers: sizes of the frame and counts of the groups
// above. Each is `export const <name>: <integer type> = <literal>;` with
// a trailing comment or a doc comment above it.
export const CONSTANTS = [
  { file: "config.ts", name: "PROTOCOL_VERSION" },
  { file: "config.ts", name: "HEADER_SIZE" },
  { file: "config.ts", name: "CRC_SIZE" },
  { file: "config.ts", name: "MAX_PAYLOAD" },
  { file: "frame.ts", name: "MAC_BYTES" },
  { file: "frame.ts", name: "TRACE_BYTES" },
  { file: "frame.ts", name: "SACK_BYTES" },
  { file: "config.ts", name: "PRIO_CLASSES" },
  { file: "config.ts", name: "WINDOW" },
  { file: "session.ts", name: "CFG_COUNT" },
  { file: "counters.ts", name: "COUNTER_COUNT" },
];

const CONST = /^export const (\w+): (u8|u16|u32|i32|u64|i64|usize) = (.*?);[ \t]*(?:\/\/[ \t]*(.*))?$/gm;
const INT = /^(0x[0-9a-fA-F]+|-?\d+)$/;

/** The doc comment (/** ... *\/) that ends just before `at` in `src`, or "". */
function docBefore(src, at) {
  const m = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*$/.exec(src.slice(Math.max(0, at - 2000), at));
  return m ? clean(m[1]) : "";
}

function fail(msg) {
  throw new Error(`abi-source: ${msg}`);
}

/** The named integers: { groups, constants }, every value checked to be a
 *  literal, every group non-empty, values distinct within a group and
 *  names unique across the ABI. */
export function readAbi(root) {
  const files = new Map();
  const text = (f) => {
    if (!files.has(f)) files.set(f, readFileSync(join(root, "assembly", f), "utf8"));
    return files.get(f);
  };
  const constNames = new Set(CONSTANTS.map((k) => k.name));
  const groups = GROUPS.map((g) => ({ ...g, path: `assembly/${g.file}`, members: [] }));
  const constants = [];
  for (const f of new Set([...GROUPS.map((g) => g.file), ...CONSTANTS.map((k) => k.file)])) {
    const src = text(f);
    for (const m of src.matchAll(CONST)) {
      const [, name, type, value, comment] = m;
      const literal = value.trim();
      if (constNames.has(name) && CONSTANTS.some((k) => k.name === name && k.file === f)) {
        if (!INT.test(literal)) fail(`assembly/${f}: ${name} = ${literal} is not an integer literal`);
        constants.push({
          name,
          type,
          value: Number(literal),
          literal,
          doc: (comment ?? "").trim() || docBefore(src, m.index),
        });
        continue;
      }
      const g = groups
        .filter((x) => x.file === f && name.startsWith(x.prefix))
        .sort((a, b) => b.prefix.length - a.prefix.length)[0];
      if (!g) continue;
      if (!INT.test(literal))
        fail(`assembly/${f}: ${name} = ${literal} has the prefix ${g.prefix} of ${g.ts} but is not an integer literal`);
      g.members.push({
        name: name.slice(g.prefix.length),
        source: name,
        type,
        value: Number(literal),
        literal,
        doc: (comment ?? "").trim(),
      });
    }
  }
  for (const k of CONSTANTS)
    if (!constants.some((c) => c.name === k.name)) fail(`assembly/${k.file}: no integer constant ${k.name}`);
  const seen = new Map();
  for (const g of groups) {
    if (!g.members.length) fail(`${g.path}: no constant with the prefix ${g.prefix} (group ${g.ts})`);
    const values = new Map();
    for (const m of g.members) {
      if (values.has(m.value)) fail(`${g.path}: ${m.source} and ${values.get(m.value)} are both ${m.value}`);
      values.set(m.value, m.source);
      if (seen.has(m.source)) fail(`${m.source} is in both ${seen.get(m.source)} and ${g.ts}`);
      seen.set(m.source, g.ts);
    }
  }
  return { groups, constants: CONSTANTS.map((k) => constants.find((c) => c.name === k.name)) };
}
