// Package check holds server health checking: the HAProxy rise/fall state machine with
// its inter/fastinter/downinter intervals, slowstart weight ramp and the stopping (NOLB)
// state of disable-on-404 (machine.go, pure and driven by the caller's clock); HAProxy's
// check status codes and wording (status.go); the HTTP check's request bytes and its
// response judgement over a byte slice (http.go, pure, response heads parsed by
// proxy/http1); and the probe that runs one TCP connect, tcp-check sequence or HTTP
// check against a server, over TLS when given a *tls.Config (check-ssl: the handshake
// is part of connecting and fails as L6RSP/L6TOUT) (probe.go, the only file doing I/O).
//
// It must not know about backends, balancing, sessions, configuration or logging: the
// data plane builds Probes from its configuration, feeds their Outcomes into a Machine
// and acts on (and logs, with Outcome.Detail) the transitions it reports.
package check
