// Package kaconf reads keepalived.conf and translates its VRRP part into appl's `vrrp`
// and `vrrp-group` sections (`applctl migrate keepalived FILE`).
//
// It owns keepalived's syntax (words, `{`/`}` blocks, `#`/`!` comments, quoted strings,
// `$NAME=value` definitions) and the keyword mapping of docs/vrrp.md. Everything it
// cannot translate (LVS virtual_server blocks, most global_defs, options appl lacks) is
// emitted as a `# not migrated: line N: ...` comment and listed in Result.NotMigrated,
// never dropped silently. It is pure: no file or network I/O (include lines are reported,
// not followed), and it must not know the vrrp speaker's runtime; the caller validates
// the output with the real decoder.
package kaconf
