// The WebAssembly JavaScript interface (the W3C "WebAssembly JavaScript
// Interface" specification) as Node implements it, for the host loader and
// its tests. TypeScript declares this namespace only inside lib.dom, and
// lib.dom would also declare the whole browser (window, document, fetch
// types that differ from Node's), which @types/node asks projects not to
// mix in. Only what the host uses is declared; extend it from the
// specification when the host uses more.
declare namespace WebAssembly {
  type BufferSource = ArrayBufferView<ArrayBuffer> | ArrayBuffer;
  type ImportExportKind = "function" | "table" | "memory" | "global" | "tag";
  type ExportValue = ((...args: never[]) => unknown) | Global | Memory | Table;
  type Exports = Record<string, ExportValue>;
  type ImportValue = ExportValue | number | bigint;
  type Imports = Record<string, Record<string, ImportValue>>;

  interface ModuleExportDescriptor {
    name: string;
    kind: ImportExportKind;
  }
  interface ModuleImportDescriptor {
    module: string;
    name: string;
    kind: ImportExportKind;
  }

  class Module {
    constructor(bytes: BufferSource);
    static exports(module: Module): ModuleExportDescriptor[];
    static imports(module: Module): ModuleImportDescriptor[];
    static customSections(module: Module, sectionName: string): ArrayBuffer[];
  }

  class Instance {
    constructor(module: Module, importObject?: Imports);
    readonly exports: Exports;
  }

  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }

  class Table {
    readonly length: number;
    get(index: number): unknown;
  }

  class Global {
    value: unknown;
    valueOf(): unknown;
  }

  class CompileError extends Error {}
  class LinkError extends Error {}
  class RuntimeError extends Error {}

  function validate(bytes: BufferSource): boolean;
}
