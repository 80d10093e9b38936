// From a config's text to a plain value: YAML, with its cost bounded before
// it is parsed, and its problems told without the file's contents.
//
// Cost: MAX_YAML_TOKENS, counted by yaml's Lexer, which streams and stops at
// the limit (parsing costs time and memory in proportion to the tokens);
// then MAX_YAML_DEPTH, measured on yaml's syntax tree (built without
// recursion) before the value is built from it (by recursion: a few
// thousand levels overflowed the stack, "Maximum call stack size exceeded").
//
// Contents: a problem gives a position and a kind, never text of the file.
// The config can be any file the gateway's user can read (`--config`), and
// problems go to the log and, on a reload, to the ops API's answer; yaml's
// own messages quote the offending line (and some the offending token), and
// an unknown key's name can be anything (a line of /etc/shadow parses as
// one). So YAML errors are told by position and by kind (their code, in
// words), and a key name is shown only when it looks like a config key.
import { parse as parseYaml, Lexer, Parser, YAMLParseError, type ErrorCode } from "yaml";

/** Most YAML tokens (keys, values, punctuation, spaces) in a config: a
 *  device with three channels is about 180, so a thousand of them fit with
 *  room for comments. */
export const MAX_YAML_TOKENS = 256 * 1024;

/** Most levels of collections nested in one another. A gateway config
 *  needs five: the top level, devices, a device, its transport and tcp (or
 *  its channels and a channel). */
export const MAX_YAML_DEPTH = 32;

type Node =
  | { type?: string; offset?: number; value?: Node; items?: { key?: Node | null; value?: Node | null }[] }
  | null
  | undefined;

/** Refuse collections nested deeper than MAX_YAML_DEPTH, saying where. */
function checkDepth(text: string): void {
  for (const doc of new Parser().parse(text)) {
    const stack: [Node, number][] = [[(doc as Node)?.value, 0]];
    while (stack.length) {
      const [n, depth] = stack.pop()!;
      if (!n?.items) continue;
      if (depth + 1 > MAX_YAML_DEPTH) {
        const before = text.slice(0, n.offset ?? 0);
        const line = before.split("\n").length,
          col = before.length - before.lastIndexOf("\n");
        throw new TextProblem(
          `YAML nested more than ${MAX_YAML_DEPTH} levels deep (at line ${line}, column ${col}); a gateway config nests at most 5`,
        );
      }
      for (const it of n.items) {
        stack.push([it.key, depth + 1]);
        stack.push([it.value, depth + 1]);
      }
    }
  }
}

/** yaml's error codes in words (the rest: the code, lower case). */
const KINDS: Partial<Record<ErrorCode, string>> = {
  BAD_INDENT: "bad indentation",
  BLOCK_AS_IMPLICIT_KEY: "a mapping where a key was expected (a missing line break or quotes?)",
  BLOCK_IN_FLOW: "a block collection inside [ ] or { }",
  DUPLICATE_KEY: "a key given twice in one mapping",
  MISSING_CHAR: "a character is missing (a closing quote or bracket, a ',' or a ':')",
  MULTILINE_IMPLICIT_KEY: "a key that runs over several lines (a missing ':'?)",
  TAB_AS_INDENT: "a tab used for indentation",
  UNEXPECTED_TOKEN: "an unexpected character",
  BAD_SCALAR_START: "a plain value that cannot start with that character (quote it)",
  BAD_DQ_ESCAPE: "an invalid escape sequence in a double-quoted string",
  TAG_RESOLVE_FAILED: "an unknown tag (!...)",
  BAD_ALIAS: "an alias (*...) that names no anchor",
  MULTIPLE_DOCS: "more than one YAML document",
  RESOURCE_EXHAUSTION: "too many aliases (*...)",
};

/** A problem with the text, told without its contents. */
export class TextProblem extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TextProblem";
  }
}

/** The YAML value of `text`; throws a TextProblem. */
export function readYaml(text: string): unknown {
  let tokens = 0;
  for (const _ of new Lexer().lex(text)) {
    if (++tokens > MAX_YAML_TOKENS)
      throw new TextProblem(
        `more than ${MAX_YAML_TOKENS} YAML tokens in the file; a gateway config is far smaller (a device with three channels is about 180)`,
      );
  }
  checkDepth(text);
  try {
    // Warnings (an unknown tag) are not printed: yaml's print quotes the line.
    return parseYaml(text, { logLevel: "error" });
  } catch (e) {
    if (e instanceof YAMLParseError) {
      const pos = e.linePos?.[0];
      throw new TextProblem(
        `YAML syntax error${pos ? ` at line ${pos.line}, column ${pos.col}` : ""}: ${KINDS[e.code] ?? e.code.toLowerCase().replace(/_/g, " ")}`,
      );
    }
    // yaml's other errors come from building the value (an alias with no
    // anchor, too many aliases): their words, up to where they would quote
    // the file.
    throw new TextProblem(`YAML: ${(e as Error).message.split("\n")[0].replace(/:.*$/, "").slice(0, 120)}`);
  }
}

/** A key name from the file, as a problem may show it: quoted when it looks
 *  like a config key, else only its length. */
export function shownKey(k: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(k)
    ? `"${k}"`
    : `(a key of ${k.length} characters that is no config key name, not shown)`;
}
