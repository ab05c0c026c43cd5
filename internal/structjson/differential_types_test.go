package structjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

type valText struct{ S string }

// methodCalls counts the calls of valText's and valJSON's methods: each
// must be called as often as encoding/json calls it.
var methodCalls int

func (v *valText) UnmarshalText(b []byte) error {
	methodCalls++
	if string(b) == "bad" {
		return errors.New("bad text")
	}
	v.S = "T:" + string(b)
	return nil
}

type valJSON struct{ S string }

func (v *valJSON) UnmarshalJSON(b []byte) error {
	methodCalls++
	if string(b) == `"bad"` {
		return errors.New("bad json")
	}
	v.S = "J:" + string(b)
	return nil
}

type byValJSON int

func (byValJSON) UnmarshalJSON([]byte) error { return nil }

type strKey string
type intNamed int
type anyNamed interface{}
type sliceNamed []int
type wide struct{ A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P string }

type mixed struct {
	M    map[string]lineItem
	MP   map[string]*lineItem
	MK   map[strKey]intNamed
	MI   map[int]string
	SS   [][]string
	F32  []float32
	U16  []uint16
	Bs   []bool
	PS   *[]int
	NS   sliceNamed
	NA   anyNamed
	T    valText
	PT   *valText
	J    valJSON
	PJ   *valJSON
	TS   []valText
	JM   map[string]valJSON
	BV   byValJSON
	Tm   time.Time
	Ad   *netip.Addr
	Num  json.Number
	PNum *json.Number
	I64  []int64
	Ints []int
	Strs []string
	Anys []any
	W    []wide
	Fold string `json:"ſtraße"`
	KK   string `json:"kelvin"`
	Ab   string
	AB   string `json:"aB"`
}

var diffTypes = map[string]func() any{
	"mixed":     func() any { return new(mixed) },
	"[]mixed":   func() any { return new([]mixed) },
	"map":       func() any { return new(map[string]mixed) },
	"[][]wide":  func() any { return new([][]wide) },
	"[]string":  func() any { return new([]string) },
	"[]float32": func() any { return new([]float32) },
	"anyNamed":  func() any { return new(anyNamed) },
	"valText":   func() any { return new(valText) },
	"*valJSON":  func() any { return new(*valJSON) },
	"methods":   func() any { return new(withMethods) },
}

// withMethods is covered by the fast path (mixed is not: its map[int]
// goes to encoding/json whole), with methods of its own among values that
// can be wrong.
type withMethods struct {
	J   valJSON
	T   valText
	TS  []valText
	PJ  *valJSON
	JM  map[string]valJSON
	U16 []uint16
	NS  sliceNamed
	S   string
}

var diffDocs = []string{
	// The methods called, then a type error, a lone surrogate: once each.
	`{"J":"ok","T":"ok","U16":[70000]}`, `{"TS":["a","b"],"PJ":"c","NS":"\ud800"}`,
	`{"M":{"a":{"qty":1},"a":{"price":2}}}`,
	`{"MP":{"a":{"qty":1},"b":null}}`,
	`{"MK":{"k":1,"K":2}}`, `{"MI":{"1":"x","-2":"y"}}`, `{"MI":{"x":"y"}}`,
	`{"SS":[["a","b"],[],null,["c"]],"SS":[["z"]]}`,
	`{"Strs":["a","b","c"],"Strs":["x"],"Strs":["p","q","r","s"]}`,
	`{"W":[{"A":"1","B":"2"},{"C":"3"}],"W":[{"D":"4"}],"W":[{"E":"5"},{"F":"6"}]}`,
	`{"F32":[1.5,16777217,3.4028235e38,1e-46,0.1]}`, `{"F32":[3.5e38]}`,
	`{"U16":[0,65535]}`, `{"U16":[65536]}`, `{"Bs":[true,false,null]}`,
	`{"PS":[1,2],"PS":[3]}`, `{"PS":null}`, `{"NS":[1,2]}`, `{"NA":{"a":[1]}}`, `{"NA":null}`,
	`{"T":"x"}`, `{"T":"bad"}`, `{"T":null}`, `{"T":1}`, `{"T":"\u0041\n"}`,
	`{"PT":"x"}`, `{"PT":null}`, `{"PT":"bad"}`,
	`{"J":"x"}`, `{"J":"bad"}`, `{"J":null}`, `{"J":[1, 2]}`, `{"J": {"a" : 1} }`,
	`{"PJ":null}`, `{"PJ":"x"}`, `{"PJ":1.5e3}`,
	`{"TS":["a","b"]}`, `{"TS":["a",null]}`, `{"JM":{"a":"x","b":null}}`,
	`{"BV":5}`, `{"BV":null}`,
	`{"Tm":"2026-01-01T00:00:00Z"}`, `{"Ad":"::1"}`, `{"Ad":null}`,
	`{"Num":1e5}`, `{"Num":"1"}`, `{"PNum":-0.5}`, `{"Num":null}`,
	`{"I64":[9223372036854775807,-9223372036854775808]}`, `{"I64":[9223372036854775808]}`,
	`{"Ints":[1,2],"Ints":[]}`, `{"Anys":[1,"a",[],{}],"Anys":[null]}`,
	`{"STRASSE":"s"}`, `{"ſtraße":"s"}`, `{"STRAßE":"s"}`, `{"straSSe":"s"}`, `{"KELVIN":"k"}`, `{"Kelvin":"k"}`,
	`{"ab":"1"}`, `{"AB":"2"}`, `{"aB":"3"}`, `{"Ab":"4"}`,
	`{"\u0041b":"esc"}`, `{"A\u0062":"esc2"}`,
	`[{"Ab":"1"},{"AB":"2"},null]`, `{"x":{"M":{}}}`, `{"x":null,"x":{"Ab":"v"}}`,
	`[[{}],[{"A":"x"}],[]]`, `[[{}]]`,
	`["a","b"]`, `[]`, `null`, `["\ud83d\ude00"]`, `[1.5,2]`, `[16777217, 1e39]`,
	`"x"`, `"bad"`, `1`, `{"S":"x"}`, `{}`,
	`{"M":{"a":{"qty":1}}} `, `{"T":"x"}x`,
	`{"Tm":"2026-01-01T00:00:00Z","Tm":"bad"}`,
	`{"J":"x","Ints":[1,}`,
	`{"PJ":{"a":1},"PJ":{"b":2}}`,
}

func diffOne(t *testing.T, name string, newV func() any, data []byte) {
	t.Helper()
	got, want := newV(), newV()
	methodCalls = 0
	gotErr := Unmarshal(data, got)
	gotCalls := methodCalls
	methodCalls = 0
	wantErr := json.Unmarshal(data, want)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Errorf("%s %s: error %v, encoding/json %v", name, data, gotErr, wantErr)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s %s:\n got %+v\nwant %+v", name, data, reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem())
	}
	if wantErr == nil {
		checkEncode(t, want) // and back: the same text as encoding/json's, as check does
	}
	// A method's own error is the one case documented to call the methods
	// again (structjson's doc.go).
	if methodErr := wantErr != nil && strings.HasPrefix(wantErr.Error(), "bad "); gotCalls != methodCalls && !methodErr {
		t.Errorf("%s %s: the methods called %d times, by encoding/json %d", name, data, gotCalls, methodCalls)
	}
	fast := newV()
	if decodeFast(data, fast) {
		if wantErr != nil {
			t.Errorf("%s %s: fast path succeeded, encoding/json: %v", name, data, wantErr)
		} else if !reflect.DeepEqual(fast, want) {
			t.Errorf("%s %s: fast path\n got %+v\nwant %+v", name, data, reflect.ValueOf(fast).Elem(), reflect.ValueOf(want).Elem())
		}
	}
}

func TestDifferentialTypes(t *testing.T) {
	for name, newV := range diffTypes {
		for _, doc := range diffDocs {
			diffOne(t, name, newV, []byte(doc))
		}
		deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
		diffOne(t, name, newV, []byte(deep))
	}
}

func FuzzDifferentialTypes(f *testing.F) { fuzzDifferential(f, diffTypes, nil, documents, diffDocs) }

// fuzzDifferential seeds f with the documents of every corpus and checks
// each input against encoding/json for every type (diffOne), then with
// extra when it is not nil.
func fuzzDifferential(f *testing.F, types map[string]func() any, extra func(*testing.T, []byte), corpora ...[]string) {
	for _, docs := range corpora {
		for _, doc := range docs {
			f.Add([]byte(doc))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for name, newV := range types {
			diffOne(t, name, newV, data)
		}
		if extra != nil {
			extra(t, data)
		}
	})
}
