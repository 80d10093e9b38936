// The report's JSON Schema, compiled once for the tests.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { ROOT } from "../../host/status.ts";

const schema = JSON.parse(readFileSync(join(ROOT, "selftest/report.schema.json"), "utf8"));
const ajv = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true });
addFormats(ajv);
export const validateReport = ajv.compile(schema);
