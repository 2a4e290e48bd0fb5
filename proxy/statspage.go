package proxy

import "appl/proxy/httpmode"

// statsResponder returns the stats page of a backend (or listen) that has
// `stats enable` / `stats uri`, or nil. The http engine asks the backend's
// Responder before picking a server, so the page answers its URI itself.
//
// Owned by the stats page work (proxy/stats); the http wiring only calls it.
func (p *Proxy) statsResponder(be *backend) httpmode.Responder {
	return nil
}
