package structjson

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The types the tests decode into: every kind the fast path covers, and
// some it leaves to encoding/json.

type order struct {
	ID        string     `json:"id"`
	Customer  customer   `json:"customer"`
	Items     []lineItem `json:"items"`
	CreatedAt string     `json:"createdAt"`
	Notes     string     `json:"notes"`
}

type customer struct {
	Name    string  `json:"name"`
	Email   string  `json:"email"`
	Address address `json:"address"`
}

type address struct {
	Street, City, Zip, Country string
}

type lineItem struct {
	SKU   string   `json:"sku"`
	Name  string   `json:"name"`
	Qty   int      `json:"qty"`
	Price float64  `json:"price"`
	Tags  []string `json:"tags"`
}

type kinds struct {
	B      bool
	I      int
	I8     int8
	I16    int16
	I32    int32
	I64    int64
	U      uint
	U8     uint8
	U16    uint16
	U32    uint32
	U64    uint64
	F32    float32
	F64    float64
	S      string
	N      json.Number
	Any    any
	Ptr    *int
	PPtr   **string
	Slice  []int
	Nested []map[string][]float64
	Map    map[string]int
	Named  map[named]named
	Items  []*lineItem
	Time   time.Time
	PTime  *time.Time
	Addr   netip.Addr // encoding.TextUnmarshaler
	Big    *big.Int   // json.Unmarshaler
	Raw    json.RawMessage
	Self   *kinds

	Renamed string `json:"renamed_field,omitempty"`
	Skipped string `json:"-"`
	//lint:ignore SA5008 the name "-", as encoding/json reads this tag
	Dash string `json:"-,"`
	//lint:ignore SA5008 not a valid tag name: the field's name is used
	Bad     string `json:"a\"b"`
	Unicode string `json:"ünïcödé"`
	K       int    // matched by the Kelvin sign, U+212A
	//lint:ignore U1000 an unexported field is never decoded into
	hidden int
}

type named string

// Types the fast path does not cover: always encoding/json's result.
type (
	withEmbedded struct {
		address
		X int
	}
	withStringOpt struct {
		N int `json:",string"`
	}
	withArray    struct{ A [2]int }
	withBytes    struct{ B []byte }
	withConflict struct {
		A int `json:"X"` // the tagged field wins over X
		X int
	}
)

// targets makes a fresh value of each type under test.
var targets = map[string]func() any{
	"order":     func() any { return new(order) },
	"*order":    func() any { return new(*order) },
	"kinds":     func() any { return new(kinds) },
	"any":       func() any { return new(any) },
	"map":       func() any { return new(map[string]any) },
	"ints":      func() any { return new([]int) },
	"floats":    func() any { return new([]float64) },
	"string":    func() any { return new(string) },
	"embedded":  func() any { return new(withEmbedded) },
	"stringopt": func() any { return new(withStringOpt) },
	"array":     func() any { return new(withArray) },
	"bytes":     func() any { return new(withBytes) },
	"conflict":  func() any { return new(withConflict) },
}

const orderJSON = `{"id":"ord-000042","customer":{"name":"Zoë Müller-Łukasiewicz","email":"zoe@example.com",` +
	`"address":{"street":"Königstraße 12","city":"Zürich","zip":"8001","country":"CH"}},` +
	`"items":[{"sku":"SKU-1","name":"Café crème ☕","qty":2,"price":4.5,"tags":["hot","drink"]},` +
	`{"sku":"SKU-2","name":"Croissant","qty":1,"price":2.25,"tags":[]}],` +
	`"createdAt":"2026-11-30T12:34:56.789Z","notes":"Bitte klingeln — 2. OG, links. \"Danke\"\n🚀"}`

// documents are inputs every target is checked against: valid and
// invalid, well-formed for some types and type errors for others.
var documents = []string{
	orderJSON,
	`{"ID":"upper case matches","CUSTOMER":{"NAME":"x"},"items":null}`,
	`{"id":"dup","id":"last wins","items":[{"qty":1}],"items":[{"price":2}]}`,
	`{"B":true,"I":-2147483648,"I8":-128,"I16":32767,"I32":-2147483648,"I64":9223372036854775807,` +
		`"U":4294967295,"U8":255,"U16":65535,"U32":4294967295,"U64":18446744073709551615,` +
		`"F32":3.4028234e38,"F64":-0,"S":"\u00e9\ud83d\ude80\t","N":-1.5e3,"Any":{"a":[1,"x",null,true,{}]},` +
		`"Ptr":7,"PPtr":"pp","Slice":[],"Nested":[{"a":[1.5,2]},null],"Map":{"a":1,"a":2},"Named":{"k":"v"},` +
		`"Items":[null,{"sku":"s"}],"Time":"2026-12-01T10:00:00Z","PTime":"2026-12-01T10:00:00+01:00",` +
		`"Addr":"192.0.2.1","Big":123456789012345678901234567890,"Raw":{"keep": [1, 2]},` +
		`"Self":{"I":1,"Self":null},"renamed_field":"r","Skipped":"no","-":"dash","Bad":"b",` +
		`"ÜNÏCÖDÉ":"folded","\u212a":5,"hidden":1}`,
	`{"I8":128}`, `{"U8":-1}`, `{"U":-0}`, `{"I":1.0}`, `{"I":1e2}`, `{"F32":3.5e38}`, `{"F64":1e400}`,
	`{"I":"1"}`, `{"S":1}`, `{"B":"true"}`, `{"Slice":{}}`, `{"Map":[]}`, `{"N":"12"}`, `{"N":"x"}`,
	`{"Time":null,"PTime":null,"Addr":null,"Big":null,"Ptr":null,"Slice":null,"Map":null,"Any":null}`,
	`{"Time":"not a time"}`, `{"Addr":1}`, `{"S":"\ud800"}`, `{"S":"\udc00\ud800x"}`, "{\"S\":\"\xff\"}",
	"{\"S\":\"a\x01\"}", `{"S":"\x"}`, `{"S":"\u12"}`, `{"S":"é"}`, `{"S":"𝄞"}`,
	`{"A":[1,2,3],"B":"AQI=","N":"5","x":1,"Street":"s"}`,
	`[1,2,3]`, `[1.5,-2e-3,0]`, `[]`, `null`, `"text"`, `"with \"escapes\" \/ \\"`, `12`, `true`,
	` { "id" : "blanks" , "items" : [ { "qty" : 1 } ] } `,
	`{"id":"trailing"} x`, `{"id":"x",}`, `{"id" "x"}`, `[1,]`, `[01]`, `[-]`, `[1.]`, `[.5]`, `[1e]`,
	`{"id":"unterminated`, `{`, `[`, ``, `   `, `nul`, `{"a":tru}`,
	strings.Repeat("[", 600) + strings.Repeat("]", 600),
	`{"Self":` + strings.Repeat(`{"Self":`, 600) + `null` + strings.Repeat(`}`, 601),
}

// check decodes data into fresh values of target with Unmarshal and with
// encoding/json and fails when the results or errors differ. It also
// fails when the fast path claims a result encoding/json does not give.
func check(t *testing.T, name string, data []byte) {
	t.Helper()
	newValue := targets[name]
	got, want := newValue(), newValue()
	gotErr := Unmarshal(data, got)
	wantErr := json.Unmarshal(data, want)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("%s %q: error %v, encoding/json %v", name, data, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s %q:\n got %#v\nwant %#v", name, data, got, want)
	}
	if wantErr == nil {
		checkEncode(t, want) // and back: the same text as encoding/json's
	}
	fast := newValue()
	if decodeFast(data, fast) {
		if wantErr != nil {
			t.Fatalf("%s %q: fast path succeeded where encoding/json fails: %v", name, data, wantErr)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%s %q: fast path\n got %#v\nwant %#v", name, data, fast, want)
		}
	}
}

func TestSameAsEncodingJSON(t *testing.T) {
	for name := range targets {
		t.Run(name, func(t *testing.T) {
			for _, doc := range documents {
				check(t, name, []byte(doc))
			}
		})
	}
}

// TestFastPathCovers pins what the fast path decodes by itself: if it
// started handing these to encoding/json, typed handlers would be several
// times slower with every test still green.
func TestFastPathCovers(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{"order", orderJSON},
		{"*order", orderJSON},
		{"kinds", documents[3]},
		{"any", orderJSON},
		{"map", orderJSON},
		{"ints", `[1,2,-3]`},
		{"floats", `[1.5,2e3]`},
		{"string", `"with \"escapes\" \/ \\"`},
		{"order", `null`},
	}
	for _, tt := range tests {
		if !decodeFast([]byte(tt.doc), targets[tt.name]()) {
			t.Errorf("%s: the fast path gave %.40q to encoding/json", tt.name, tt.doc)
		}
	}
	for _, name := range []string{"embedded", "stringopt", "array", "bytes", "conflict"} {
		if planFor(reflect.TypeOf(targets[name]()).Elem()) != nil {
			t.Errorf("%s: has a plan; encoding/json's rules for it are not implemented here", name)
		}
	}
}

// TestUnmarshalerSeesOnlyValidDocuments: encoding/json validates the whole
// input before decoding, so a custom UnmarshalJSON never runs on input with
// a syntax error further on; neither may it here.
func TestUnmarshalerSeesOnlyValidDocuments(t *testing.T) {
	calls = 0
	var v struct {
		C counting
		X int
	}
	if err := Unmarshal([]byte(`{"C":1,"X":}`), &v); err == nil {
		t.Fatal("no error for invalid input")
	}
	if calls != 0 {
		t.Fatalf("UnmarshalJSON called %d times on invalid input", calls)
	}
	if err := Unmarshal([]byte(`{"C":1,"X":2}`), &v); err != nil || calls != 1 || v.X != 2 {
		t.Fatalf("valid input: err %v, %d calls, %+v", err, calls, v)
	}
}

var calls int

type counting struct{}

func (*counting) UnmarshalJSON([]byte) error { calls++; return nil }

// checkNumbers fails when Numbers claims a result encoding/json does not
// give.
func checkNumbers[N int | int64 | float64](t *testing.T, data []byte) {
	t.Helper()
	var got, want []N
	if !Numbers(data, &got) {
		if got != nil {
			t.Fatalf("%q: Numbers declined but wrote %v", data, got)
		}
		return
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("%q into %T: Numbers gave %v where encoding/json fails: %v", data, got, got, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q into %T: Numbers gave %v, encoding/json %v", data, got, got, want)
	}
}

func TestNumbers(t *testing.T) {
	for _, doc := range append(documents, `[1,2]`, ` [ -1 , 2.5e3 ] `, `[]`, `[-0]`, `[1,]`, `[,1]`,
		`[9223372036854775807]`, `[9223372036854775808]`, `[1.0]`, `[null]`, `["1"]`, `[1] x`) {
		checkNumbers[float64](t, []byte(doc))
		checkNumbers[int](t, []byte(doc))
		checkNumbers[int64](t, []byte(doc))
	}
	var xs []float64
	if !Numbers([]byte("[1,2]"), &xs) || len(xs) != 2 || cap(xs) != 2 {
		t.Fatalf("[1,2]: %v (cap %d), want the fast path to size it exactly", xs, cap(xs))
	}
	if a := testing.AllocsPerRun(100, func() { var v []float64; Numbers([]byte("[1,2]"), &v) }); a > 1 {
		t.Errorf("Numbers: %v allocations, want 1 (the slice)", a)
	}
}

func FuzzSameAsEncodingJSON(f *testing.F) {
	for _, doc := range documents {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for name := range targets {
			check(t, name, data)
		}
		checkNumbers[float64](t, data)
		checkNumbers[int](t, data)
	})
}

// BenchmarkOrder decodes the benchmark suite's order (bench/order.go): 1.1
// KiB, 8 line items.
func BenchmarkOrder(b *testing.B) {
	data, err := os.ReadFile("testdata/order.json")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		decode func([]byte, any) error
	}{{"structjson", Unmarshal}, {"encoding-json", json.Unmarshal}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var o order
				if err := bc.decode(data, &o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestStringSlicesAreTheirOwn: string slices decoded into fresh values share
// a backing array (decodeStringSlice), yet each is its own: appending to one
// never writes into another, and a later decoding leaves earlier results
// alone.
func TestStringSlicesAreTheirOwn(t *testing.T) {
	type pair struct {
		A, B []string
		E    []string
	}
	var first pair
	if err := Unmarshal([]byte(`{"A":["a1","a2"],"B":["b1"],"E":[]}`), &first); err != nil {
		t.Fatal(err)
	}
	if cap(first.A) != len(first.A) || first.E == nil || len(first.E) != 0 {
		t.Fatalf("A len %d cap %d, E %#v: want cap == len and a non-nil empty E", len(first.A), cap(first.A), first.E)
	}
	grown := append(first.A, "a3")
	grown[0] = "changed"
	var second pair
	if err := Unmarshal([]byte(`{"A":["x1","x2"],"B":["y1","y2","y3"]}`), &second); err != nil {
		t.Fatal(err)
	}
	want := pair{A: []string{"a1", "a2"}, B: []string{"b1"}, E: []string{}}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("first decoding became %#v, want %#v", first, want)
	}
	// Into a slice that has room, the elements are written in place, as
	// encoding/json does.
	room := make([]string, 1, 4)
	into := pair{A: room}
	if err := Unmarshal([]byte(`{"A":["p","q"]}`), &into); err != nil {
		t.Fatal(err)
	}
	if &into.A[0] != &room[:1][0] || !reflect.DeepEqual(into.A, []string{"p", "q"}) {
		t.Fatalf("decoding into a slice with room: %#v, not in place", into.A)
	}
}
