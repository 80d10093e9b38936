// Types for abi-source.mjs (plain JavaScript so that the C header generator
// runs under node without a TypeScript loader).

/** One parameter of an exported or imported core function, as written in
 *  the AssemblyScript source (`type` is its AssemblyScript type name). */
export interface AbiParam {
  name: string;
  type: string;
}

/** A function assembly/index.ts exports. */
export interface AbiExport {
  doc: string;
  name: string;
  params: AbiParam[];
  ret: string;
  /** A test or probe export (its doc ends in @probe): C declares it in qn_probe.h. */
  probe: boolean;
}

/** A function the core imports (an @external declaration in assembly/bindings/). */
export interface AbiImport {
  doc: string;
  module: string;
  name: string;
  params: AbiParam[];
  ret: string;
}

/** One member of the status enum of assembly/status.ts and its message. */
export interface AbiStatus {
  name: string;
  value: number;
  message: string;
}

/** One named integer of a group: `name` without the group's prefix,
 *  `source` as assembly/ spells it (the C name is QN_ + source). */
export interface AbiMember {
  name: string;
  source: string;
  type: string;
  value: number;
  literal: string;
  doc: string;
}

/** A group of named integers (a C enum, a host object). */
export interface AbiGroup {
  ts: string;
  c: string;
  file: string;
  path: string;
  prefix: string;
  doc: string;
  members: AbiMember[];
}

/** A single named integer (a size or a count). */
export interface AbiConstant {
  name: string;
  type: string;
  value: number;
  literal: string;
  doc: string;
}

export declare const GROUPS: readonly { ts: string; c: string; file: string; prefix: string; doc: string }[];
export declare const CONSTANTS: readonly { file: string; name: string }[];
export declare function readAbi(root: string): { groups: AbiGroup[]; constants: AbiConstant[] };
export declare function readExports(root: string): AbiExport[];
export declare function readImports(root: string): AbiImport[];
export declare function readStatus(root: string): AbiStatus[];
