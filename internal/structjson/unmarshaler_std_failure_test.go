package structjson

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"
)

// TestStandardMethodFailureCallsUserMethodOnce: an input error that only a
// standard library method sees (a malformed time or address) is an input
// error like any type error: encoding/json calls the program's own
// UnmarshalJSON once, and so must Unmarshal. The first pass skipped the
// standard methods too, so it found the document exact, the second pass
// called the program's method, then time.Time's failed, and the fallback
// to encoding/json called the program's method again.
func TestStandardMethodFailureCallsUserMethodOnce(t *testing.T) {
	type withStd struct {
		C  callCounter
		At time.Time
		IP netip.Addr
	}
	for _, doc := range []string{
		`{"C":1,"At":"not a time"}`,
		`{"C":1,"IP":"not an address"}`,
		`{"C":1,"At":"2026-01-01T00:00:00Z","IP":"::1"}`,
	} {
		callCounterCalls = 0
		var std withStd
		stdErr := json.Unmarshal([]byte(doc), &std)
		want := callCounterCalls

		callCounterCalls = 0
		var got withStd
		gotErr := Unmarshal([]byte(doc), &got)
		if (stdErr == nil) != (gotErr == nil) {
			t.Fatalf("%s: error %v, encoding/json %v", doc, gotErr, stdErr)
		}
		if callCounterCalls != want {
			t.Errorf("%s: UnmarshalJSON called %d times, encoding/json calls it %d times", doc, callCounterCalls, want)
		}
	}
}
