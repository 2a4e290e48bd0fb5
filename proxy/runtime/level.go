package runtime

import "fmt"

// Level is a socket's privilege level (`stats socket ... level X`).
type Level uint8

// Levels, least to most privileged.
const (
	LevelUser     Level = iota + 1 // read only: show, get, help
	LevelOperator                  // also maps, ACLs, stick table edits, show sess
	LevelAdmin                     // everything: servers, frontends, maxconn, sessions
)

// DefaultLevel is a `stats socket` line's level when it names none, as in
// HAProxy: operator.
const DefaultLevel = LevelOperator

// ParseLevel reads "user", "operator" or "admin".
func ParseLevel(s string) (Level, error) {
	switch s {
	case "user":
		return LevelUser, nil
	case "operator":
		return LevelOperator, nil
	case "admin":
		return LevelAdmin, nil
	}
	return 0, fmt.Errorf("'level' only supports 'user', 'operator', and 'admin' (got %q)", s)
}

func (l Level) String() string {
	switch l {
	case LevelUser:
		return "user"
	case LevelOperator:
		return "operator"
	case LevelAdmin:
		return "admin"
	}
	return "invalid"
}
