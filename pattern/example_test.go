package pattern_test

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/msgpattern/msgpattern/pattern"
)

// A server keeps its handlers under the keys Of gives and looks up the key
// Route computes for each request; m[string(b)] does not allocate.
func Example() {
	handlers := map[string]string{}
	for _, p := range []any{"sum", map[string]string{"cmd": "sum", "role": "math"}, 42} {
		key, err := pattern.Of(p)
		if err != nil {
			panic(err)
		}
		handlers[key] = fmt.Sprint("handler for ", key)
	}

	var scratch [256]byte
	for _, raw := range []string{
		`"sum"`,
		`{"role":"math","cmd":"sum"}`,
		`"{ \"cmd\": \"sum\", \"role\": \"math\" }"`,
		`"42"`,
		`"null"`,
	} {
		key, ok := pattern.Route([]byte(raw), scratch[:0])
		h, found := handlers[string(key)]
		fmt.Printf("%-44s -> %v %q\n", raw, ok && found, h)
	}
	// Output:
	// "sum"                                        -> true "handler for sum"
	// {"role":"math","cmd":"sum"}                  -> true "handler for {\"cmd\":\"sum\",\"role\":\"math\"}"
	// "{ \"cmd\": \"sum\", \"role\": \"math\" }"   -> true "handler for {\"cmd\":\"sum\",\"role\":\"math\"}"
	// "42"                                         -> true "handler for 42"
	// "null"                                       -> false ""
}

func ExampleRoute() {
	for _, raw := range []string{
		`"user.get"`,
		`"\"sum\""`,
		`4.50`,
		`"[1,2]"`,
		`{"b":1,"a":{"z":true,"A":null,"a":"x"}}`,
		`true`,
	} {
		route, ok := pattern.Route([]byte(raw), nil)
		fmt.Printf("%s -> %s %v\n", raw, route, ok)
	}
	// Output:
	// "user.get" -> user.get true
	// "\"sum\"" -> sum true
	// 4.50 -> 4.5 true
	// "[1,2]" -> {"0":1,"1":2} true
	// {"b":1,"a":{"z":true,"A":null,"a":"x"}} -> {"a":{"a":"x","A":null,"z":true},"b":1} true
	// true ->  false
}

func ExampleOf() {
	type query struct {
		Cmd  string   `json:"cmd"`
		Tags []string `json:"tags"`
	}
	for _, p := range []any{
		"{\"b\":1}", // a string is taken verbatim
		int64(1) << 60,
		query{Cmd: "find", Tags: []string{"x", "y"}},
		json.RawMessage(`{"Cmd":1,"cmd":2,"_":3}`),
		true,
	} {
		key, err := pattern.Of(p)
		fmt.Println(key, err)
	}
	// Output:
	// {"b":1} <nil>
	// 1152921504606847000 <nil>
	// {"cmd":"find","tags":{"0":"x","1":"y"}} <nil>
	// {"_":3,"cmd":2,"Cmd":1} <nil>
	//  pattern: invalid pattern: a boolean can never be routed
}

func ExampleFormatNumber() {
	for _, f := range []float64{1e21, 1e-7, 123456789012345680000, 0.000001, math.Copysign(0, -1), 1 / 3.0} {
		fmt.Println(pattern.FormatNumber(f))
	}
	// Output:
	// 1e+21
	// 1e-7
	// 123456789012345680000
	// 0.000001
	// 0
	// 0.3333333333333333
}
