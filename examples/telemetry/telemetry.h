/* The telemetry example's channels and settings: what its peer (the
 * gateway's channel map, the tests) must agree on. Payloads are ASCII. */
#ifndef TELEMETRY_H
#define TELEMETRY_H

/* Up, QoS 1, bulk: "seq=<n> mC=<reading> sp=<setpoint> rej=<refused>". */
#define TELEMETRY_CH_READING 1
/* Down, QoS 2: a new setpoint in milli-degrees C, decimal ("21500"). */
#define TELEMETRY_CH_SETPOINT 2
/* Up, QoS 1, emergency priority: "emergency input=<count>". */
#define TELEMETRY_CH_EMERGENCY 3
/* Down: the input line. On a board with a button its interrupt raises the
 * event (input_raise); QEMU's mps2-an500 has no input the host can
 * drive, so there any message on this channel stands for a press. */
#define TELEMETRY_CH_INPUT 4

#define TELEMETRY_PERIOD_US 100000u
/* Setpoints outside this range (milli-degrees C) are refused and counted. */
#define TELEMETRY_SETPOINT_MIN (-40000)
#define TELEMETRY_SETPOINT_MAX 125000
#define TELEMETRY_SETPOINT_START 21000

#endif /* TELEMETRY_H */
