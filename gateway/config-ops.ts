// The operations part of the gateway section: how much per-device detail
// /metrics carries, where spans are exported, and what the log lines say
// about the process. Kept apart from config.ts, which holds the device and
// broker settings.
import { z } from "zod";

/** Device ids are 1-64 of these characters (config.ts), so a folded label
 *  value with other characters can never be a device's own. */
export const OTHER_DEVICES = "(others)";

export const metricsSchema = z
  .object({
    /** Per-device series for every device (the default). false: a fleet
     *  gateway; only the devices in device_allow keep their own series,
     *  the others are summed under device="(others)". Fleet aggregates are
     *  exported either way. */
    per_device: z.boolean().default(true),
    /** Devices that keep their own series when per_device is false. */
    device_allow: z.array(z.string().min(1)).default([]),
  })
  .strict()
  .default({});

const otlpSchema = z
  .object({
    /** OTLP/HTTP traces endpoint, e.g. "http://127.0.0.1:4318/v1/traces". */
    endpoint: z.string().regex(/^https?:\/\/.+/, 'expected an http(s) URL such as "http://127.0.0.1:4318/v1/traces"'),
    /** Extra HTTP headers for the collector (an API key, a tenant). */
    headers: z.record(z.string()).default({}),
    /** Share of the traces the gateway starts that are recorded (0..1);
     *  a trace begun on a device or by an MQTT client keeps its parent's
     *  sampled flag. */
    sampling_ratio: z.number().min(0, "expected a ratio in 0..1").max(1, "expected a ratio in 0..1").default(1),
  })
  .strict();

export const tracingSchema = z
  .object({
    /** Off unless set: no span leaves the process. */
    otlp: otlpSchema.optional(),
  })
  .strict()
  .default({});

export type MetricsConfig = z.infer<typeof metricsSchema>;
export type TracingConfig = z.infer<typeof tracingSchema>;
export type OtlpConfig = z.infer<typeof otlpSchema>;
