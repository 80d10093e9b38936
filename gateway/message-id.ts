// The stable id of a device message, carried to MQTT subscribers as an
// MQTT 5 user property, so a consumer can drop the duplicates that
// at-least-once delivery makes (a resend after a lost acknowledgement, a
// device moving to another gateway, a spool replayed after a gateway crash).
//
//   <device>:<epoch>:<qos>:<packet id>      e.g. "dev1:5f3a2b11:2:42"
//
// Everything in it comes from the device, not from the gateway that
// receives the message, so every gateway computes the same id for every
// resend: the device's QoS 2 numbering epoch (drawn at random when its
// journal is new, announced in each handshake, 8 hex digits; 0 for a
// device without a journal), the QoS level (each level numbers its
// messages on its own) and the packet id the device gave the message when
// it was published (a resend keeps it; only the session, LSN and time
// fields of the frame are stamped again).
//
// When it can repeat (docs/DEPLOYMENT.md): a QoS 2 id repeats only if the
// device's journal is replaced and the new epoch happens to equal the old
// one, or after 2^32 QoS 2 messages of one epoch. QoS 1 numbering is not
// journalled: it starts again at 1 when the device reboots (its
// unacknowledged QoS 1 messages die with its RAM, so a reboot never makes
// a QoS 1 duplicate), so a QoS 1 id is unique within one boot of the
// device only. QoS 0 messages are never resent and get no id.

/** The MQTT 5 user property that carries the id. */
export const MESSAGE_ID_PROPERTY = "qn-msg-id";

/** The id of packet `packet` at level `qos` (1 or 2) of `device`, whose
 *  QoS 2 numbering epoch is `epoch`. */
export function messageId(device: string, epoch: number, qos: 1 | 2, packet: number): string {
  return `${device}:${(epoch >>> 0).toString(16).padStart(8, "0")}:${qos}:${packet >>> 0}`;
}
