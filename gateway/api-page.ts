// A page to read the ops API's OpenAPI document in: Swagger UI, served by
// the ops API itself from the swagger-ui-dist package (no network, no CDN),
// at /docs. Only the files named below are served, read once from the
// package; the page's own script is a file too, so the Content Security
// Policy allows scripts from this origin only.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export const API_PAGE_PATH = "/docs";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>QN gateway ops API</title>
<link rel="stylesheet" href="${API_PAGE_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="${API_PAGE_PATH}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${API_PAGE_PATH}/swagger-ui-bundle.js"></script>
<script src="${API_PAGE_PATH}/init.js"></script>
</body>
</html>
`;

// Try-it-out requests go to this same origin; the token is given with the
// page's Authorize button (bearer), never stored by the gateway.
const INIT = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
});
`;

/** The package's files the page uses, and their types. */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

export const API_PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

let dist: string | undefined;
const cache = new Map<string, Buffer>();

export interface PageFile {
  type: string;
  body: string | Buffer;
}

/** What GET `path` answers under /docs, or undefined when it is not one of
 *  the page's files. */
export function apiPageFile(path: string): PageFile | undefined {
  if (path === API_PAGE_PATH || path === `${API_PAGE_PATH}/`) return { type: "text/html; charset=utf-8", body: PAGE };
  if (!path.startsWith(`${API_PAGE_PATH}/`)) return undefined;
  const name = path.slice(API_PAGE_PATH.length + 1);
  if (name === "init.js") return { type: ASSETS["swagger-ui-bundle.js"], body: INIT };
  const type = ASSETS[name];
  if (!type) return undefined;
  let body = cache.get(name);
  if (!body) {
    dist ??= dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
    body = readFileSync(join(dist, name));
    cache.set(name, body);
  }
  return { type, body };
}
