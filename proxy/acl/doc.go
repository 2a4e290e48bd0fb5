// Package acl implements HAProxy's ACL language: sample fetches, converters, matchers and
// conditions (`acl NAME FETCH [flags] [operator] VALUES`, `if|unless COND`, `%[expr]`,
// log-format strings of literal text and `%[expr]`).
//
// Parsing (config time): NewSet(Options) per proxy section, Set.Define for each `acl`
// line, Set.ParseCond for the `if|unless ...` tail of a rule, ParseExpr for `%[...]`,
// ParseLogFormat for header values and log formats. Pattern files (`-f FILE`) and map
// files (map_* converters) are loaded through Options.Maps (a *maps.Store shared with the
// runtime API and kept across reloads) relative to Options.BaseDir.
//
// Evaluation (per request): Cond.Match(*Txn), Expr.Eval / Expr.String, LogFormat.Append.
// They do not allocate on the common path (fetches return samples by value, string
// matches use indexes, multi-valued fetches reuse a buffer in the Txn). A Txn is used by
// one goroutine at a time; parsed Sets, Conds and Exprs are shared read-only.
//
// Extension: other packages register fetches and converters with RegisterFetch,
// RegisterConverter and RegisterKeyword from their init functions (the stick-table
// package registers sc_*, src_* ...). Their per-transaction state travels in Txn.Ext;
// their parse-time checks may use Options.Known(kind, name).
//
// Condition semantics follow HAProxy: terms are ANDed, `||` (or `or`) separates
// alternatives, `!` negates a term, `{ FETCH VALUES }` is an anonymous ACL, several
// `acl` lines with one name are ORed (also when added after a condition that uses it),
// a fetch that finds nothing makes the ACL false, an ACL without patterns matches
// nothing. Integer patterns are N or LO:HI (or `eq|ge|gt|le|lt N`), IP patterns are
// addresses or prefixes (longest prefix wins for maps), `-i` is ASCII case folding, `-m
// reg` uses Go's RE2 syntax (no back-references or look-arounds, unlike PCRE).
//
// It must not know about sockets, the data plane or the configuration model: callers
// hand it a Txn describing the connection (and, in http mode, the request through
// HTTPView) and get a boolean or a sample back; the data plane answers Env (nbsrv,
// userlists).
package acl
