// Package cfgfile is the lexer for appl's configuration syntax, which is HAProxy's:
// sections opened by a keyword at the start of a line, one directive per line, words
// separated by blanks, single and double quotes, backslash escapes, '#' comments and
// "${VAR}" expansion inside double quotes.
//
// It turns a file into sections of positioned lines and knows nothing of what any
// directive means: each package decodes the section kinds it owns (see DESIGN.md).
// Errors carry file:line so every decoder can report positions the same way.
package cfgfile
