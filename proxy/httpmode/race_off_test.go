//go:build !race

package httpmode

const raceEnabled = false
