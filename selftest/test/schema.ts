// The report's JSON Schema, compiled once for the tests.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
// ajv-formats is CommonJS: under Node its default import is module.exports,
// which carries the plugin as .default (as its types say).
import ajvFormats from "ajv-formats";
import { ROOT } from "../../host/status.ts";

const schema = JSON.parse(readFileSync(join(ROOT, "selftest/report.schema.json"), "utf8"));
const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
ajvFormats.default(ajv);
export const validateReport = ajv.compile(schema);
