package structjson

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// callCounter counts its UnmarshalJSON calls in a package variable: a side
// effect outside the value (a registry, a metric, an interning table, an
// expensive decoding), which encoding/json performs once per value.
type callCounter struct{ V int }

var callCounterCalls int

func (c *callCounter) UnmarshalJSON(b []byte) error {
	callCounterCalls++
	if string(b) == `"fail"` {
		return errors.New("callCounter: fail")
	}
	return json.Unmarshal(b, &c.V)
}

type withCounter struct {
	C callCounter
	S string
	N int
}

// encoding/json calls a field's UnmarshalJSON once per value in the
// document. When the fast path had called it and then gave up (a later
// lone surrogate, type error or number out of range, which it leaves to
// encoding/json), the fallback decoded the whole document again and called
// it a second time. A method outside the standard library's is now called
// only once a first pass without it found the document exact.
//
// Not covered, and documented (doc.go): when the method itself fails,
// encoding/json's partial value is had by decoding again, which calls the
// methods before it, and it, a second time.
func TestUnmarshalerCalledOnceAsEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`{"C":1,"S":"\ud800"}`, // valid JSON; the fast path refuses the lone surrogate
		`{"C":1,"N":"x"}`,      // a type error after the custom field
		`{"C":1,"N":1e400}`,    // a number out of range
		`{"C":1,"S":"x"}`,      // exact: decoded by the fast path, the method called once
	} {
		callCounterCalls = 0
		var std withCounter
		stdErr := json.Unmarshal([]byte(doc), &std)
		want := callCounterCalls

		callCounterCalls = 0
		var got withCounter
		gotErr := Unmarshal([]byte(doc), &got)
		if (stdErr == nil) != (gotErr == nil) {
			t.Fatalf("%s: error %v, encoding/json %v", doc, gotErr, stdErr)
		}
		if callCounterCalls != want {
			t.Errorf("%s: UnmarshalJSON called %d times, encoding/json calls it %d times", doc, callCounterCalls, want)
		}
	}
}

// TestStandardMethodsSkipTheFirstPass: the standard library's methods only
// set their receiver, so a type holding a time.Time is decoded in one pass
// (a second call, on a fallback, changes nothing); a type of the program's
// own is not.
func TestStandardMethodsSkipTheFirstPass(t *testing.T) {
	type withTime struct {
		At   time.Time
		Tags []string
	}
	if pl := planFor(reflect.TypeFor[withTime]()); pl == nil || !pl.custom || pl.impure {
		t.Errorf("a struct with a time.Time: plan %+v, want custom and not impure", pl)
	}
	if pl := planFor(reflect.TypeFor[[]withCounter]()); pl == nil || !pl.impure {
		t.Errorf("a slice of a struct with a method of the program's own: plan %+v, want impure", pl)
	}
}
