// The ops API: HTTP on a loopback address only, every request but
// /openapi.json and its page (/docs) needs `Authorization: Bearer <token>`. The token lives in a
// file created with mode 0600 (gateway.ops.token_file), so only the local
// user who runs the gateway (and root) can read it; qnctl reads it from the
// same path.
import { readBody } from "./fleet-ops.ts";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { realpath } from "node:fs/promises";
import { timingSafeEqual } from "node:crypto";
import { stringify as yamlStringify } from "yaml";
import type { OpsTarget, DeviceRequest } from "./ops-target.ts";

import { ensureToken } from "./token-file.ts";
import { apiPageFile, API_PAGE_CSP, API_PAGE_PATH } from "./api-page.ts";

/** Do `a` and `b` name the same file (after symbolic links)? */
async function sameFile(a: string, b: string | undefined): Promise<boolean> {
  if (b === undefined) return false;
  try {
    return (await realpath(a)) === (await realpath(b));
  } catch {
    return false;
  }
}

export const openapi = {
  openapi: "3.0.3",
  info: {
    title: "QN gateway ops API",
    version: "1.0.0",
    description:
      "Loopback only. Every path except /openapi.json and /docs needs `Authorization: Bearer <token>` (the token file is gateway.ops.token_file, mode 0600).",
  },
  components: { securitySchemes: { token: { type: "http", scheme: "bearer" } } },
  security: [{ token: [] }],
  paths: {
    "/openapi.json": {
      get: { summary: "This document", security: [], responses: { 200: { description: "OpenAPI 3 document" } } },
    },
    [API_PAGE_PATH]: {
      get: {
        summary: "This document as a page to read (Swagger UI, served from the gateway, nothing fetched elsewhere)",
        security: [],
        responses: { 200: { description: "HTML page", content: { "text/html": {} } } },
      },
    },
    "/health": {
      get: {
        summary: "Liveness: uptime, broker connection, queue depth, devices up",
        responses: {
          200: {
            description: "ok",
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  properties: {
                    status: { type: "string", enum: ["ok", "degraded"] },
                    problems: { type: "array", items: { type: "string" } },
                    uptime_s: { type: "integer" },
                    broker: { type: "string", enum: ["connected", "disconnected"] },
                    queue_depth: { type: "integer" },
                    queue_limit: { type: "integer" },
                    devices: { type: "integer" },
                    devices_up: { type: "integer" },
                    workers: {
                      type: "array",
                      description: "With gateway.workers > 1: each worker process",
                      items: {
                        type: "object",
                        properties: {
                          worker: { type: "integer" },
                          pid: { type: "integer", nullable: true },
                          up: { type: "boolean" },
                          restarts: { type: "integer" },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    "/config": {
      get: {
        summary: "The running config (YAML, key material is in key files and never shown)",
        responses: { 200: { description: "YAML", content: { "application/yaml": {} } } },
      },
    },
    "/reload": {
      post: {
        summary:
          "Reload the config from the gateway's own file (the one it was started with). A token opens the running gateway, not the file system: ?file= is accepted only when it names that same file",
        parameters: [{ name: "file", in: "query", required: false, schema: { type: "string" } }],
        responses: {
          200: { description: "applied: what changed per device" },
          400: { description: "?file= names another file" },
          422: { description: "refused: `errors` names each bad key; the running config stays" },
        },
      },
    },
    "/devices": {
      get: {
        summary: "Every device link: state, session, counters",
        responses: { 200: { description: "array of device status objects" } },
      },
    },
    "/devices/{id}/log": {
      get: {
        summary: "The device's event log (T_LOG_REQ), oldest first",
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          200: { description: "events" },
          404: { description: "no such device" },
          503: { description: "device not connected" },
        },
      },
    },
    "/devices/{id}/selftest": {
      post: {
        summary:
          "The selftest checks that can run over the live link (1-3, 5-10, 12); the others are reported SKIP with the reason. Answer: { device, skipped_why, report } with report as in selftest/report.schema.json",
        parameters: [
          { name: "id", in: "path", required: true, schema: { type: "string" } },
          {
            name: "only",
            in: "query",
            required: false,
            schema: { type: "string" },
            description: "check ids or numbers, comma-separated (as qn_selftest --only)",
          },
          {
            name: "mode",
            in: "query",
            required: false,
            schema: { type: "string", enum: ["quick", "full"] },
            description: "default quick",
          },
        ],
        responses: {
          200: { description: "report" },
          400: { description: "bad only or mode" },
          404: { description: "no such device" },
          503: { description: "device not connected" },
        },
      },
    },
    "/devices/{id}/config": {
      post: {
        summary: "Push the device part of the config again (T_CONFIG)",
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: { 200: { description: "status, refused key, generation" } },
      },
    },
    "/registry": {
      get: {
        summary: "The fleet's registry devices: id, key id, profile, revoked, link state (keys are never sent)",
        responses: { 200: { description: "list" }, 404: { description: "no fleet listener configured" } },
      },
      post: {
        summary:
          'Apply registry records live, in order (body {"records": [...]}, records as in gateway/registry.ts); stops at the first one refused',
        responses: {
          200: { description: "{ ok, applied }" },
          400: { description: "body is not {records: [...]}" },
          404: { description: "no fleet listener configured" },
          422: { description: "a record refused: { ok: false, error, applied }" },
        },
      },
    },
    "/metrics": {
      get: {
        summary: "Prometheus metrics",
        responses: { 200: { description: "text exposition format", content: { "text/plain": {} } } },
      },
    },
  },
};

export class OpsServer {
  private server?: Server;
  private token = "";
  port = 0;

  constructor(private gw: OpsTarget) {}

  async start(): Promise<void> {
    const o = this.gw.config.gateway.ops;
    this.token = ensureToken(o.token_file);
    const i = o.listen.lastIndexOf(":");
    const host = o.listen.slice(0, i).replace(/^\[|\]$/g, ""),
      port = Number(o.listen.slice(i + 1));
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e) => this.send(res, 500, { error: (e as Error).message }));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, host, () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
  }

  private send(res: ServerResponse, code: number, body: unknown, type = "application/json"): void {
    const text = typeof body === "string" ? body : JSON.stringify(body, null, 2) + "\n";
    res.writeHead(code, { "content-type": type });
    res.end(text);
  }

  private authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? "";
    const m = /^Bearer (.+)$/.exec(h);
    if (!m) return false;
    const a = Buffer.from(m[1]),
      b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const p = url.pathname,
      method = req.method ?? "GET";
    if (p === "/openapi.json" && method === "GET") return this.send(res, 200, openapi);
    const page = method === "GET" ? apiPageFile(p) : undefined;
    if (page) {
      res.writeHead(200, {
        "content-type": page.type,
        "content-security-policy": API_PAGE_CSP,
        "x-content-type-options": "nosniff",
        "cache-control": "no-cache",
      });
      res.end(page.body);
      return;
    }
    if (!this.authorized(req))
      return this.send(res, 401, { error: "missing or wrong bearer token (see gateway.ops.token_file)" });
    const gw = this.gw;
    if (p === "/health" && method === "GET") return this.send(res, 200, await gw.health());
    if (p === "/config" && method === "GET") return this.send(res, 200, yamlStringify(gw.config), "application/yaml");
    if (p === "/metrics" && method === "GET") {
      const m = await gw.metrics();
      return this.send(res, 200, m.text, m.type);
    }
    if (p === "/devices" && method === "GET") return this.send(res, 200, await gw.devices());
    if (p === "/reload" && method === "POST") {
      // Only the gateway's own config: reading any path a request names
      // would make the token a way to read (and, through journal: and
      // spool: paths, to write) whatever the gateway's user can.
      const file = url.searchParams.get("file");
      if (file !== null && !(await sameFile(file, gw.configPath))) {
        return this.send(res, 400, {
          error: `reload reads only the gateway's own config file${gw.configPath ? ` (${gw.configPath})` : ""}: edit that file, then reload`,
        });
      }
      const r = await gw.reload();
      return this.send(res, r.ok ? 200 : 422, r);
    }
    if (p === "/registry") {
      const reg = await gw.registry(method, () => readBody(req));
      if (reg) return this.send(res, reg.code, reg.body);
    }
    const m = /^\/devices\/([^/]+)\/(log|selftest|config)$/.exec(p);
    if (m) {
      let id: string;
      try {
        id = decodeURIComponent(m[1]);
      } catch {
        return this.send(res, 400, { error: "the device id in the path is not valid percent-encoded UTF-8" });
      }
      const r = await gw.device({
        id,
        action: m[2] as DeviceRequest["action"],
        method,
        only: url.searchParams.get("only"),
        mode: url.searchParams.get("mode"),
      });
      if (r) return this.send(res, r.code, r.body);
    }
    return this.send(res, 404, { error: `no route ${method} ${p}` });
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }
}
