// Package check holds server health checking: the HAProxy rise/fall state machine with
// its inter/fastinter/downinter intervals and slowstart weight ramp (machine.go, pure and
// driven by the caller's clock), and the probe that runs one TCP connect or tcp-check
// sequence against a server (probe.go, the only file doing I/O).
//
// It must not know about backends, balancing, sessions or logging: the data plane feeds
// probe results into a Machine and acts on the transitions it reports.
package check
