// Package fsm is the VRRP (RFC 5798, RFC 3768) and CARP (carp(4)) state machine of one
// virtual router, as a pure function: Step(params, state, event, now) returns the next
// state and the actions to perform (send an advertisement, add or remove the virtual
// addresses, announce them, report a state change).
//
// It owns the protocol's timing and election rules: Master_Down_Interval and Skew_Time,
// CARP's advbase/advskew timing and demotion counter, preempt, nopreempt, preempt delay,
// the address owner (priority 255), priority 0 on shutdown and fault. It must not know
// sockets, netlink, configuration syntax or real clocks: the caller feeds it time and
// decoded advertisements, and arms one timer at State.Deadline().
package fsm
