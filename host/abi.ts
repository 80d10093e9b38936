// The host's names for every integer of the core's ABI: frame types, flags,
// priorities, QoS levels, codec ids, config keys, stat selectors, counter
// ids, event types, field kinds, status codes, and the frame's sizes.
// `make core` generates them (tools/gen-host-abi.mjs) from their one
// definition in assembly/, the same one build/qn_api.h gives C its names from.
export * from "../build/qn_abi.ts";
