// Package config decodes the HAProxy sections of an appl configuration (global, defaults,
// frontend, backend, listen, userlist, peers) from internal/cfgfile sections into the
// model in model.go, which the data plane (package proxy) runs.
//
// It owns defaults inheritance (the last defaults section before a proxy, named or not,
// and `from NAME`), default-server, the keyword inventory in keywords.go (what appl
// decodes, what HAProxy has that appl does not implement yet, reported as warnings by
// `appld -c` and never silently ignored, and therefore what is a typo), cross-section
// checks (backend names, modes, duplicate servers) and positioned errors
// "file:line: directive: problem (expected ...)".
//
// It must not know about sockets or the data plane: it never opens, resolves or dials
// anything. ACLs, conditions and %[expr] are parsed by proxy/acl (which reads pattern and
// map files relative to Options.BaseDir). Certificate, key and CA files of ssl binds and
// servers are read and checked through proxy/tlsconf once the file is decoded (tls.go),
// so `appld -c` reports a bad file at its bind or server line and every reload re-reads
// them; Bind.TLS and Server.TLS carry the result. appl's own sections (vrrp, cluster, ...) belong
// to other packages and are skipped here.
package config
