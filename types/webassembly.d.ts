// The WebAssembly JavaScript interface (the W3C "WebAssembly JavaScript
// Interface" specification) as Node implements it, for the host loader and
// its tests. TypeScript declares this namespace only inside lib.dom, and
// lib.dom would also declare the whole browser (window, document, fetch
// types that differ from Node's), which @types/node asks projects not to
// mix in. Only what the host uses is declared; extend it from the
// specification when the host uses more.
declare namespace WebAssembly {
  type ImportExportKind = "function" | "table" | "memory" | "global" | "tag";
  type ExportValue = Function | Global | Memory | Table;
  type Exports = Record<string, ExportValue>;
  type ImportValue = ExportValue | number | bigint;
  type ModuleImports = Record<string, ImportValue>;
  type Imports = Record<string, ModuleImports>;

  interface ModuleExportDescriptor {
    name: string;
    kind: ImportExportKind;
  }
  interface ModuleImportDescriptor {
    module: string;
    name: string;
    kind: ImportExportKind;
  }

  interface Module {}
  var Module: {
    prototype: Module;
    new (bytes: ArrayBufferView<ArrayBuffer> | ArrayBuffer): Module;
    exports(module: Module): ModuleExportDescriptor[];
    imports(module: Module): ModuleImportDescriptor[];
    customSections(module: Module, sectionName: string): ArrayBuffer[];
  };

  interface Instance {
    readonly exports: Exports;
  }
  var Instance: {
    prototype: Instance;
    new (module: Module, importObject?: Imports): Instance;
  };

  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  interface Memory {
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  var Memory: {
    prototype: Memory;
    new (descriptor: MemoryDescriptor): Memory;
  };

  interface Table {
    readonly length: number;
    get(index: number): unknown;
  }
  var Table: { prototype: Table };

  interface Global {
    value: unknown;
    valueOf(): unknown;
  }
  var Global: { prototype: Global };

  interface CompileError extends Error {}
  var CompileError: { prototype: CompileError; new (message?: string): CompileError };
  interface LinkError extends Error {}
  var LinkError: { prototype: LinkError; new (message?: string): LinkError };
  interface RuntimeError extends Error {}
  var RuntimeError: { prototype: RuntimeError; new (message?: string): RuntimeError };

  function validate(bytes: ArrayBufferView<ArrayBuffer> | ArrayBuffer): boolean;
}
