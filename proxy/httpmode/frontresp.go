package httpmode

import (
	"appl/proxy/acl"
	"appl/proxy/http1"
)

// ServiceNamer may be implemented by a Responder that stands for more than one of
// HAProxy's services: ServiceName is the server name logged for the request it just
// answered ("<STATS>", "<PROMEX>"). Without it, "<STATS>" is logged.
type ServiceNamer interface {
	ServiceName(req *http1.Request, txn *acl.Txn) string
}

// SetResponder gives the frontend a Responder of its own, asked after the frontend's
// http-request and redirect rules and before a backend is chosen: HAProxy's `stats uri`
// and `http-request use-service prometheus-exporter` of a frontend section, which
// intercept the request whatever use_backend would say. The request is logged with the
// frontend as backend and server "<STATS>" (a ServiceNamer names it). Call it before
// Serve: a Frontend is shared by its sessions.
func (f *Frontend) SetResponder(r Responder) { f.resp = r }

// frontRespond asks the frontend's Responder; true when it answered (s.out holds the
// response, the log entry its status).
func (s *session) frontRespond(fr http1.Framing, to timeouts) bool {
	out, status, handled := s.askResponder(s.f.resp, fr, to)
	if !handled {
		return false
	}
	s.out = out
	s.log.Status, s.log.Term, s.log.Server = status, [2]byte{'L', 'R'}, "<STATS>"
	if n, ok := s.f.resp.(ServiceNamer); ok {
		s.log.Server = n.ServiceName(&s.req, s.txn)
	}
	return true
}
