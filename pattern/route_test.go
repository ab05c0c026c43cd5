package pattern_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/pattern"
)

// keyVector is one line of testdata/pattern-keys.txt: a pattern as Nest's
// transformPatternToRoute received it, written as JSON, and its route.
type keyVector struct {
	pattern, route string
}

// nestV12Vectors copies the @nestjs/microservices@12.1.1 block of
// testdata/pattern-keys.txt for FuzzRoute's seed corpus.
// TestPatternKeysFile checks the copy is current.
var nestV12Vectors = []keyVector{
	{`"sum"`, `sum`},
	{`42`, `42`},
	{`4.5`, `4.5`},
	{`{"cmd":"sum"}`, `{"cmd":"sum"}`},
	{`{"role":"math","cmd":"sum"}`, `{"cmd":"sum","role":"math"}`},
	{`{"cmd":"sum","nested":{"z":1,"a":"x"}}`, `{"cmd":"sum","nested":{"a":"x","z":1}}`},
	{`{"a":true,"b":null,"c":[1,"x",{"k":"v"}],"d":1.5}`, `{"a":true,"b":null,"c":{"0":1,"1":"x","2":{"k":"v"}},"d":1.5}`},
	{`{"we\"ird":"va\"l\\ue"}`, `{"we\"ird":"va\"l\\ue"}`},
	{`{"B":1,"a":2,"_":3}`, `{"_":3,"a":2,"B":1}`},
	{`{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}`, `{"a":{"b":{"c":{"d":{"e":{"f":[MAX_DEPTH_REACHED]}}}}}}`},
	{`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"k19":19,"k20":20}`, `[TOO_MANY_KEYS]`},
	{`{"s":"x"}`, `{"s":"x"}`},
	{`{"n":"1"}`, `{"n":"1"}`},
}

// nestV12Order is the "localeCompare order" line of the same block.
var nestV12Order = []string{"_x", "-x", "1", "10", "2", "a", "A", "a_b", "a-b", "ab", "b", "B", "cmd", "Cmd", "é", "z", "Z"}

// readPatternKeys returns the 12.x block of testdata/pattern-keys.txt (see
// testdata/README.md). A missing file fails the caller: it is part of the
// repository.
func readPatternKeys(t *testing.T) (vectors []keyVector, order []string) {
	t.Helper()
	path := filepath.Join("testdata", "pattern-keys.txt")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inBlock := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			inBlock = strings.Contains(line, "@nestjs/microservices@12.")
			continue
		}
		if !inBlock {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "localeCompare order:"); ok {
			if err := json.Unmarshal([]byte(rest), &order); err != nil {
				t.Fatalf("order line %q: %v", line, err)
			}
			continue
		}
		if p, r, ok := strings.Cut(strings.TrimPrefix(line, "  "), "  ->  "); ok && strings.HasPrefix(line, "  ") {
			vectors = append(vectors, keyVector{p, r})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(vectors) == 0 || len(order) == 0 {
		t.Fatalf("%s has no @nestjs/microservices@12 block", path)
	}
	return vectors, order
}

// checkKeyVector checks a pattern both ways: received on the wire (Route)
// and registered by a Go program (Of of the JSON value).
func checkKeyVector(t *testing.T, v keyVector) {
	t.Helper()
	got, ok := pattern.Route([]byte(v.pattern), nil)
	if !ok || string(got) != v.route {
		t.Errorf("Route(%s) = %q, %v; want %q, true", v.pattern, got, ok, v.route)
	}
	reg, err := pattern.Of(json.RawMessage(v.pattern))
	if err != nil || reg != v.route {
		t.Errorf("Of(json.RawMessage(%s)) = %q, %v; want %q, nil", v.pattern, reg, err, v.route)
	}
}

// checkOrder checks that an object with the given keys, listed backwards,
// routes with its keys in the given order.
func checkOrder(t *testing.T, order []string) {
	t.Helper()
	var in, want strings.Builder
	in.WriteString("{")
	for i := len(order) - 1; i >= 0; i-- {
		in.WriteString(strconv.Quote(order[i]) + ":0")
		if i > 0 {
			in.WriteString(",")
		}
	}
	in.WriteString("}")
	want.WriteString("{")
	for i, k := range order {
		if i > 0 {
			want.WriteString(",")
		}
		want.WriteString(`"` + k + `":0`)
	}
	want.WriteString("}")
	// 17 keys: under the limit of 20.
	got, ok := pattern.Route([]byte(in.String()), nil)
	if !ok || string(got) != want.String() {
		t.Errorf("Route(%s)\n got %s\nwant %s", in.String(), got, want.String())
	}
}

func TestPatternKeysFile(t *testing.T) {
	t.Parallel()
	vectors, order := readPatternKeys(t)
	for _, v := range vectors {
		t.Run(v.pattern, func(t *testing.T) {
			t.Parallel()
			checkKeyVector(t, v)
		})
	}
	t.Run("localeCompare order", func(t *testing.T) {
		t.Parallel()
		checkOrder(t, order)
	})
	t.Run("copy is current", func(t *testing.T) {
		t.Parallel()
		if !slices.Equal(vectors, nestV12Vectors) || strings.Join(order, "\x00") != strings.Join(nestV12Order, "\x00") {
			t.Errorf("pattern-keys.txt changed; update nestV12Vectors and nestV12Order to:\n%q\n%q", vectors, order)
		}
	})
}

// receiveTests are patterns as a Nest 12 server receives them
// (../rpc/testdata/server-v12.txt and the rules of PROTOCOL.md section 3).
// route "" with ok false means no handler can match.
var receiveTests = []struct {
	name, raw, route string
	ok               bool
}{
	{"string", `"sum"`, "sum", true},
	{"dotted string", `"user.get"`, "user.get", true},
	{"quoted string", `"\"sum\""`, "sum", true},
	{"number", `42`, "42", true},
	{"number as string", `"42"`, "42", true},
	{"number string with spaces", `" 42 "`, "42", true},
	{"number string reformatted", `"4.50"`, "4.5", true},
	{"fraction", `4.50`, "4.5", true},
	{"negative zero", `-0`, "0", true},
	{"exponent", `1E+2`, "100", true},
	{"big integer", `123456789012345678901`, "123456789012345680000", true},
	{"beyond 2^53", `9007199254740993`, "9007199254740992", true},
	{"tiny", `1e-7`, "1e-7", true},
	{"null", `null`, "", false},
	{"true", `true`, "", false},
	{"false", `false`, "", false},
	{"null string", `"null"`, "", false},
	{"true string", `"true"`, "", false},
	{"false string", `" false "`, "", false},
	{"quoted null string", `"\"null\""`, "null", true},
	{"not quite null", `"nul"`, "nul", true},
	{"two numbers", `"1 2"`, "1 2", true},
	{"empty string", `""`, "", true},
	{"blank string", `"  "`, "  ", true},
	{"leading space kept", `" sum"`, " sum", true},
	{"object", `{"cmd":"sum"}`, `{"cmd":"sum"}`, true},
	{"object as string", `"{\"cmd\":\"sum\"}"`, `{"cmd":"sum"}`, true},
	{"keys reordered", `{"cmd":"sum2","role":"math"}`, `{"cmd":"sum2","role":"math"}`, true},
	{"keys reordered as spaced string", `"{ \"role\": \"math\", \"cmd\": \"sum2\" }"`, `{"cmd":"sum2","role":"math"}`, true},
	{"nested reversed", `{"opts":{"a":"x","z":1},"cmd":"nested"}`, `{"cmd":"nested","opts":{"a":"x","z":1}}`, true},
	{"object string reordered", `"{\"b\":1,\"a\":2}"`, `{"a":2,"b":1}`, true},
	{"array string", `"[1,2]"`, `{"0":1,"1":2}`, true},
	{"array", `[1,2]`, `{"0":1,"1":2}`, true},
	{"array index order", `[0,1,2,3,4,5,6,7,8,9,10,11]`, `{"0":0,"1":1,"10":10,"11":11,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9}`, true},
	{"array of 21", `[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]`, `[TOO_MANY_KEYS]`, true},
	{"empty object", `{}`, `{}`, true},
	{"empty array", `[]`, `{}`, true},
	{"whitespace", " \t\r\n{ \"a\" : [ 1 , 2 ] }\n", `{"a":{"0":1,"1":2}}`, true},
	{"duplicate key", `{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`, true},
	{"duplicates do not count", `{"k":0,"k":1,"k":2,"k":3,"k":4,"k":5,"k":6,"k":7,"k":8,"k":9,"k":10,"k":11,"k":12,"k":13,"k":14,"k":15,"k":16,"k":17,"k":18,"k":19,"k":20}`, `{"k":20}`, true},
	{"index keys first", `{"b":1,"a\u0001":2,"a":3,"10":4,"2":5}`, "{\"10\":4,\"2\":5,\"a\x01\":2,\"a\":3,\"b\":1}", true},
	{"equal keys keep insertion order", `{"a":1,"a\u0001":2}`, "{\"a\":1,\"a\x01\":2}", true},
	{"index key before an equal key", `{"1\u0000":1,"1":2}`, "{\"1\":2,\"1\x00\":1}", true},
	{"ties keep order around others", `{"b\u0001":1,"B":2,"b":3}`, "{\"b\x01\":1,\"b\":3,\"B\":2}", true},
	{"__proto__ is a plain key", `{"__proto__":{"x":1},"a":2}`, `{"__proto__":{"x":1},"a":2}`, true},
	{"not an index", `{"01":1,"4294967295":2,"4294967294":3,"1":4}`, `{"01":1,"1":4,"4294967294":3,"4294967295":2}`, true},
	{"nested too many keys", `{"a":{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"k19":19,"k20":20}}`, `{"a":[TOO_MANY_KEYS]}`, true},
	{"depth before keys", `{"a":{"b":{"c":{"d":{"e":{"f":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}}}}}}`, `{"a":{"b":{"c":{"d":{"e":{"f":[MAX_DEPTH_REACHED]}}}}}}`, true},
	{"deep scalar kept", `{"a":{"b":{"c":{"d":{"e":{"f":"g"}}}}}}`, `{"a":{"b":{"c":{"d":{"e":{"f":"g"}}}}}}`, true},
	{"deep empty", `{"a":{"b":{"c":{"d":{"e":{"f":{}}}}}}}`, `{"a":{"b":{"c":{"d":{"e":{"f":[MAX_DEPTH_REACHED]}}}}}}`, true},
	{"escapes in keys and values", `{"q\"":"b\\s","u":"\u00e9\n"}`, "{\"q\\\"\":\"b\\\\s\",\"u\":\"é\n\"}", true},
	{"string route unescaped", `"a\"b\\c"`, `a"b\c`, true},
	{"overflow", `1e400`, "", false},
	{"overflow in string", `"1e400"`, "Infinity", true},
	{"negative overflow in string", `"-1e400"`, "-Infinity", true},
	{"overflow in object", `{"a":1e400}`, `{"a":null}`, true},
	{"overflow in object string", `"{\"a\":1e400}"`, `{"a":Infinity}`, true},
	{"surrogate pair", `"\ud83d\ude00"`, "😀", true},
	{"pair split across parses", `"\"\ud83d\\ude00\""`, "😀", true},
	// The high half escaped in the second parse, the low one raw from the
	// first: side by side in JavaScript's string, they form one character
	// (checked against @nestjs/microservices 12.1.1's getRouteFromPattern).
	{"pair split across parses, low half raw", `"\"\\ud83d\ude00\""`, "😀", true},
	{"pair split across parses, in an object's value", `"{\"a\":\"\\ud83d\ude00\"}"`, `{"a":"😀"}`, true},
	{"pair split across parses, in an object's key", `"{\"\\ud83d\ude00\":1}"`, `{"😀":1}`, true},
	{"lone surrogate", `"\ud800"`, "\xed\xa0\x80", true},
	{"lone surrogates differ", `{"\udc00":"\ud800"}`, "{\"\xed\xb0\x80\":\"\xed\xa0\x80\"}", true},
	{"invalid UTF-8", "\"a\xe2\x82A\xed\xa0\x80\xf0\x9f\x98\"", "a\uFFFDA\uFFFD\uFFFD\uFFFD\uFFFD", true},
	{"control character raw", "{\"a\":\"\\u0001\"}", "{\"a\":\"\x01\"}", true},
	{"empty", ``, "", false},
	{"invalid JSON", `{abc}`, "", false},
	{"trailing garbage", `"sum"x`, "", false},
	{"unterminated", `"sum`, "", false},
	{"raw control character", "\"a\x01\"", "", false},
	{"bad escape", `"\x"`, "", false},
	{"leading zero", `01`, "", false},
	{"trailing comma", `{"a":1,}`, "", false},
	{"two values", `1 2`, "", false},
	{"invalid inside string", `"{\"a\":}"`, `{"a":}`, true},
	{"deep but legal", strings.Repeat("[", 10000) + strings.Repeat("]", 10000), `{"0":{"0":{"0":{"0":{"0":{"0":[MAX_DEPTH_REACHED]}}}}}}`, true},
	{"too deep", strings.Repeat("[", 10001) + strings.Repeat("]", 10001), "", false},
	{"too deep in a string", `"` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `"`, "", false},
	{"deep and invalid", strings.Repeat("[", 100) + strings.Repeat("]", 99) + "}", "", false},
}

func TestRouteReceive(t *testing.T) {
	t.Parallel()
	for _, tt := range receiveTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := pattern.Route([]byte(tt.raw), nil)
			if ok != tt.ok || string(got) != tt.route {
				t.Errorf("Route(%.80q) = %q, %v; want %q, %v", tt.raw, got, ok, tt.route, tt.ok)
			}
			// The same with a scratch buffer that is too small and one
			// that is large enough: the result must not depend on it.
			for _, scratch := range [][]byte{make([]byte, 0, 1), make([]byte, 0, 4096)} {
				got2, ok2 := pattern.Route([]byte(tt.raw), scratch)
				if ok2 != ok || string(got2) != string(got) {
					t.Errorf("Route(%.80q, cap %d) = %q, %v; want %q, %v", tt.raw, cap(scratch), got2, ok2, got, ok)
				}
			}
		})
	}
}

// raceEnabled is set by race_test.go.
var raceEnabled bool

func TestRouteAllocs(t *testing.T) {
	scratch := make([]byte, 0, 256)
	for _, tt := range []struct {
		raw    string
		pooled bool // uses the state pool, which the race detector makes drop items
	}{
		{`"sum"`, false},
		{`"user.get"`, false},
		{`42`, false},
		{`"42"`, false},
		{`-7`, false},
		{`4.5`, false},
		{`{"role":"math","cmd":"sum"}`, true},
		{`"{\"cmd\":\"sum\"}"`, true},
	} {
		if tt.pooled && raceEnabled {
			continue
		}
		raw := []byte(tt.raw)
		// Warm the pool first: a fresh state and collator table allocate.
		pattern.Route(raw, scratch)
		got := testing.AllocsPerRun(100, func() {
			if _, ok := pattern.Route(raw, scratch); !ok {
				t.Fatalf("Route(%s) failed", raw)
			}
		})
		if got != 0 {
			t.Errorf("Route(%s) allocates %v times per call; want 0", raw, got)
		}
	}
}

func BenchmarkRoute(b *testing.B) {
	for _, bb := range []struct{ name, raw string }{
		{"string", `"sum"`},
		{"int", `42`},
		{"object2", `{"role":"math","cmd":"sum"}`},
		{"object2string", `"{\"role\":\"math\",\"cmd\":\"sum\"}"`},
		{"nonASCIIkeys", `{"é":1,"e":2}`},
	} {
		b.Run(bb.name, func(b *testing.B) {
			raw := []byte(bb.raw)
			scratch := make([]byte, 0, 256)
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				pattern.Route(raw, scratch)
			}
		})
	}
}

func BenchmarkRouteParallel(b *testing.B) {
	raw := []byte(`{"role":"math","cmd":"sum"}`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		scratch := make([]byte, 0, 256)
		for pb.Next() {
			pattern.Route(raw, scratch)
		}
	})
}
