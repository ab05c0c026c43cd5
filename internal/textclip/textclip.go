// Package textclip cuts text a peer chose before it goes where it would
// be kept or copied (a log line, a span, an error reply), so that one
// message cannot make it as long as a frame.
package textclip

import (
	"strconv"
	"unicode/utf8"
)

// Clip returns s if it is at most max bytes long, else its first max
// bytes, cut at a character's start, followed by "…(N bytes)".
func Clip[T ~string | ~[]byte](s T, max int) string {
	if len(s) <= max {
		return string(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return string(s[:cut]) + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
