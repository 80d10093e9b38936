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
import { trace } from "@opentelemetry/api";
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
  private constructor(private readonly provider: BasicTracerProvider) {}

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
    log.info({ endpoint: o.endpoint, sampling_ratio: o.sampling_ratio }, "exporting spans over OTLP");
    return new OtlpTracing(provider);
  }

  /** Send every ended span now. */
  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  /** Send what is left, then stop recording (the global provider goes). */
  async shutdown(): Promise<void> {
    try {
      await this.provider.shutdown();
    } finally {
      trace.disable();
    }
  }
}
