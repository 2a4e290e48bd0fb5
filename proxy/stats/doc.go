// Package stats is HAProxy's stats page for appl: the HTML page (`stats uri`, refresh,
// show-node, hide-version, show-desc, show-legends, scope), its `;csv` export in
// HAProxy 2.6's column order, the Prometheus exporter (`http-request use-service
// prometheus-exporter`), basic authentication (`stats auth`, `stats http-request
// allow|deny|auth`), and admin actions from the page (`stats admin if COND`: ready,
// drain, maint, weight) with a same-origin guard.
//
// It owns the `show stat` column list and row rendering (columns.go, row.go, Rows):
// proxy/runtime aliases them, so the stats socket and the page print the same CSV.
//
// It reads and drives the data plane only through Source (a snapshot of frontends,
// backends and servers; SetServerState; SetServerWeight), which package proxy adapts;
// it never imports package proxy. Requests arrive through the http engine's Responder
// contract (proxy/httpmode): Page.Respond(dst, req, txn) answers with a complete
// HTTP/1.1 response or declines. Conditions (`stats admin if`, `stats http-request ...
// if`) are proxy/acl conditions evaluated on the engine's Txn; passwords are checked by
// proxy/userlist.
//
// The admin form is a POST body. The Responder contract carries only the request head,
// so Page also offers BodyLimit/RespondBody for an engine that reads the form, and
// reads the form from the query string otherwise.
package stats
