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

export declare function readExports(root: string): AbiExport[];
export declare function readImports(root: string): AbiImport[];
export declare function readStatus(root: string): AbiStatus[];
