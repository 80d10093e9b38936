// OpenTelemetry export of the gateway's spans over OTLP/HTTP, configured
// by gateway.tracing.otlp (endpoint, headers, sampling ratio) and off when
// that is not set. The gateway registers its tracer provider globally, so
// the spans tracing.ts starts through @opentelemetry/api are recorded and
// exported in batches; a provider someone registered before (NODE_OPTIONS
// --import) is left in place and the config's exporter is not used.
//
// Sampling: a trace the gateway starts is recorded with the configured
// ratio; a trace begun on a device or by an MQTT client follows its
// parent's sampled flag, so a device's sampled trace is never cut at the
// gateway.
import { trace, diag, DiagLogLevel, type DiagLogger } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { Logger } from "pino";
import type { TracingConfig } from "./config-ops.ts";
import { SERVICE } from "./log.ts";

/** Resource attribute keys (OpenTelemetry semantic conventions). */
export const RESOURCE = {
  SERVICE_NAME: "service.name",
  ENVIRONMENT: "deployment.environment.name",
  PROCESS_PID: "process.pid",
} as const;

export class OtlpTracing {
  private constructor(
    private readonly provider: BasicTracerProvider,
    private readonly problems: DiagLogger,
  ) {}

  /** The exporter the config asks for, registered; undefined when the
   *  config has none or another provider is registered already. */
  static start(cfg: TracingConfig, environment: string, log: Logger): OtlpTracing | undefined {
    const o = cfg.otlp;
    if (!o) return undefined;
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({
        [RESOURCE.SERVICE_NAME]: SERVICE,
        [RESOURCE.ENVIRONMENT]: environment,
        [RESOURCE.PROCESS_PID]: process.pid,
      }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(o.sampling_ratio) }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: o.endpoint, headers: o.headers }))],
    });
    if (!trace.setGlobalTracerProvider(provider)) {
      log.warn(
        { endpoint: o.endpoint },
        "a tracer provider is registered already: gateway.tracing.otlp is not used, spans go to that provider",
      );
      void provider.shutdown();
      return undefined;
    }
    const problems = exportProblems(log);
    // The batches sent on the processor's timer report failures here.
    diag.setLogger(problems, DiagLogLevel.WARN);
    log.info({ endpoint: o.endpoint, sampling_ratio: o.sampling_ratio }, "exporting spans over OTLP");
    return new OtlpTracing(provider, problems);
  }

  /** Send every ended span now; a failure is logged like those of the
   *  batches sent on the timer. */
  flush(): Promise<void> {
    return this.provider.forceFlush().catch((e: Error) => this.problems.error("span export failed:", e));
  }

  /** Send what is left, then stop recording (the global provider goes). */
  async shutdown(): Promise<void> {
    try {
      await this.provider.shutdown();
    } finally {
      trace.disable();
      diag.disable();
    }
  }
}

/** The SDK's complaints (a collector down, a refused batch) in the
 *  gateway's log: one line per distinct problem, not one per batch. */
export function exportProblems(log: Logger): DiagLogger {
  let last = "";
  const say = (message: string, ...args: unknown[]) => {
    const err = [message, ...args.map((a) => (a instanceof Error ? a.message : String(a)))].join(" ");
    if (err === last) return;
    last = err;
    log.warn({ err }, "span export problem");
  };
  const quiet = () => {};
  return { error: say, warn: say, info: quiet, debug: quiet, verbose: quiet };
}
