package structjson

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// encodingJSON is what Append must equal: encoding/json without HTML
// escaping, U+2028 and U+2029 unescaped, no newline; ok false on its
// errors.
func encodingJSON(v any) (string, bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", false
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	var out []byte
	for i := 0; i < len(b); i++ {
		// In encoding/json output a backslash always starts an escape.
		if b[i] == '\\' && i+5 < len(b) && b[i+1] == 'u' && string(b[i+2:i+5]) == "202" && (b[i+5] == '8' || b[i+5] == '9') {
			out = utf8.AppendRune(out, rune(0x2020)+rune(b[i+5]-'0'))
			i += 5
			continue
		}
		if b[i] == '\\' {
			out = append(out, b[i], b[i+1])
			i++
			continue
		}
		out = append(out, b[i])
	}
	return string(out), true
}

// checkEncode fails when Append claims a result that differs from
// encoding/json's, or claims one where encoding/json fails.
func checkEncode(t *testing.T, v any) (fast bool) {
	t.Helper()
	want, wantOK := encodingJSON(v)
	got, ok := Append([]byte("prefix:"), v)
	if !ok {
		return false
	}
	if !wantOK {
		t.Fatalf("%#v: Append gave %s where encoding/json fails", v, got)
	}
	if string(got) != "prefix:"+want {
		t.Fatalf("%#v:\n got %s\nwant prefix:%s", v, got, want)
	}
	return true
}

type (
	omitting struct {
		S   string         `json:"s,omitempty"`
		I   int            `json:"i,omitempty"`
		U   uint8          `json:"u,omitempty"`
		F   float64        `json:"f,omitempty"`
		B   bool           `json:"b,omitempty"`
		P   *int           `json:"p,omitempty"`
		A   any            `json:"a,omitempty"`
		M   map[string]int `json:"m,omitempty"`
		L   []string       `json:"l,omitempty"`
		St  struct{}       `json:"st,omitempty"`
		Raw json.RawMessage
	}
	selfRef struct {
		Name string
		Next *selfRef
	}
	withPtrMarshaler struct{ V ptrMarshaler }
	ptrMarshaler     struct{ X int }
	withStringer     struct{ E error }
	withOmitZero     struct {
		T time.Time `json:",omitzero"`
	}
)

// Structs of one pointer's size. Go 1.26 stores the first two in an
// interface's data word itself, as it does a lone pointer field; the
// encoder once took that word for a pointer to the struct and read the
// pointee in its place (a crash, or a wrong reply).
type (
	zeroSizeFirst struct {
		_ struct{}
		P *int
	}
	notComparable struct {
		_    [0]func()
		Name *string
	}
	listHead struct {
		_ struct{}
		P *listNode
	}
	listNode struct {
		Next *listNode
		V    int
	}
	oneWord struct{ X int64 }
)

func (*ptrMarshaler) MarshalJSON() ([]byte, error) { return []byte(`"pointer"`), nil }

type badMarshaler struct{}

func (badMarshaler) MarshalJSON() ([]byte, error) { return []byte(`{bad`), nil }

type spacedMarshaler struct{}

func (spacedMarshaler) MarshalJSON() ([]byte, error) {
	return []byte(" {\"a\" : [1, 2 ,\"x y\\\" z\"] } "), nil
}

func TestAppendSameAsEncodingJSON(t *testing.T) {
	negZero := math.Copysign(0, -1)
	seven := 7
	loop := &selfRef{Name: "a"}
	loop.Next = loop
	deep := &selfRef{}
	for range 600 {
		deep = &selfRef{Next: deep}
	}
	when := time.Date(2026, 12, 1, 10, 0, 0, 123, time.UTC)
	fortyTwo, name := 42, "name"
	list := listHead{P: &listNode{V: 1, Next: &listNode{V: 2}}}
	var o order
	if err := json.Unmarshal([]byte(orderJSON), &o); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		v    any
		fast bool // the fast path must encode it itself
	}{
		{nil, true}, {true, true}, {"a\"b\\c\n\t\x01<>&\u2028\u2029é😀\xff", true},
		{42, true}, {int8(-8), true}, {uint64(math.MaxUint64), true},
		{1.5, true}, {1e21, true}, {1e-7, true}, {123456789.0, true}, {negZero, true},
		{float32(3.4e38), true}, {float32(1e-7), true}, {float32(0.1), true},
		{math.NaN(), false}, {math.Inf(1), false},
		{o, true}, {&o, true}, {[]lineItem(nil), true}, {[]lineItem{}, true},
		{map[string]any{"b": 1.0, "a": []any{"x", nil, true, map[string]any{}}, "": nil}, true},
		{map[named]named{"z": "1", "y": "2"}, true},
		{map[string]int(nil), true},
		{omitting{}, true}, {omitting{S: "s", I: 1, U: 1, F: negZero, B: true, P: &seven, A: 0.0,
			M: map[string]int{}, L: []string{"x"}, Raw: json.RawMessage(` [ 1 ] `)}, true},
		{omitting{F: 2, M: map[string]int{"k": 1}}, true},
		{[]any{when, &when, netip.MustParseAddr("192.0.2.1"), big.NewInt(12), (*big.Int)(nil), json.Number("-1.5e3"), json.Number("")}, true},
		{spacedMarshaler{}, true},
		{badMarshaler{}, false},
		{json.Number("01"), false},
		{loop, false},
		{deep, false},
		{withPtrMarshaler{}, false}, {&withPtrMarshaler{}, false},
		{withStringer{}, false}, {withOmitZero{}, false},
		{[]byte("bytes"), false}, {[2]int{1, 2}, false}, {withEmbedded{X: 1}, false},
		{struct{ A, B int }{1, 2}, true}, {struct{ P *int }{&seven}, true},
		{struct{ M map[string]int }{map[string]int{"a": 1}}, true},
		{zeroSizeFirst{P: &fortyTwo}, true}, {notComparable{Name: &name}, true}, {list, true},
		{[]any{zeroSizeFirst{P: &fortyTwo}, list}, true}, {oneWord{X: 5}, true},
		{kinds{Self: &kinds{S: "inner"}, Items: []*lineItem{nil, {SKU: "s"}}, Any: []any{1.0}}, true},
	}
	for _, tt := range tests {
		if fast := checkEncode(t, tt.v); fast != tt.fast {
			t.Errorf("%.60v: fast path %v, want %v", tt.v, fast, tt.fast)
		}
	}
}

func TestAppendMarshalerOutputIsCompacted(t *testing.T) {
	got, ok := Append(nil, spacedMarshaler{})
	if want := `{"a":[1,2,"x y\" z"]}`; !ok || string(got) != want {
		t.Fatalf("got %s (%v), want %s", got, ok, want)
	}
	if !strings.Contains(string(got), "x y") {
		t.Fatal("space inside a string was removed")
	}
}

func BenchmarkAppendReceipt(b *testing.B) {
	type receipt struct {
		OrderID      string  `json:"orderId"`
		CustomerName string  `json:"customerName"`
		Address      address `json:"address"`
		Total        float64 `json:"total"`
		Items        int     `json:"items"`
	}
	r := receipt{"ORD-2025-000417", "Jürgen Müller", address{"Hauptstraße 12a", "München", "80331", "DE"}, 262.87, 8}
	b.Run("structjson", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = Append(buf[:0], r)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		for b.Loop() {
			buf.Reset()
			enc.Encode(r)
		}
	})
}
