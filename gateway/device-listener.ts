// The socket server a device listener runs: plain TCP, or TLS 1.3 with the
// gateway's certificate, the CA devices' certificates must come from and its
// revocation list, asking for a client certificate when the config does.
// Used by a device's own port (device-link.ts) and by the fleet listener
// (fleet.ts), so both hold devices to the same terms.
import { createServer as netServer, type Server, type Socket } from "node:net";
import { createServer as tlsServer } from "node:tls";
import { readBoundedSync } from "../host/bounded-read.ts";
import { TLS_LIMIT } from "./file-checks.ts";
import type { Config } from "./config.ts";

/** A server handing each accepted socket to `onSocket`: TLS when `tls` is
 *  given (the config's top-level tls section), plain TCP otherwise. The
 *  certificate files are read (bounded) once, here. */
export function deviceServer(tls: Config["tls"] | undefined, onSocket: (s: Socket) => void): Server {
  if (!tls) return netServer(onSocket);
  const pem = (path: string) => readBoundedSync(path, TLS_LIMIT).data;
  return tlsServer(
    {
      cert: pem(tls.cert),
      key: pem(tls.key),
      ca: pem(tls.ca),
      ...(tls.crl ? { crl: pem(tls.crl) } : {}),
      minVersion: "TLSv1.3",
      requestCert: tls.require_client_cert,
      rejectUnauthorized: tls.require_client_cert,
    },
    onSocket,
  );
}
