package structjson

import (
	"encoding/json"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Shapes the other differential tests lack: the ones the fast path refuses
// (embedding, ",string", arrays, TextUnmarshaler keys) must reach
// encoding/json intact; the ones it covers (recursion, pointers to methods,
// nested containers) must match it.

type embA struct {
	X  string
	Y  int `json:"y"`
	PJ *valJSON
}

type embB struct {
	X string
	Z []int
}

type EmbC struct{ X, W string }

type hiddenEmb struct{ Exported, Other string }

type embedded struct {
	*embA
	embB
	*EmbC `json:"c"`
	hiddenEmb
	Other string // shadows hiddenEmb.Other
	T     *valText
}

type stringOpts struct {
	PI *int `json:",string"`
	//lint:ignore SA5008 ,string on a type it is not meant for: decoded as encoding/json does
	PPS **string    `json:"pps,string"`
	B   bool        `json:",string"`
	F   *float32    `json:",string"`
	U8  uint8       `json:",string"`
	N   json.Number `json:",string"`
	//lint:ignore SA5008 ,string on a type it is not meant for: decoded as encoding/json does
	S []int `json:",string"`
	//lint:ignore SA5008 ,string on a type it is not meant for: decoded as encoding/json does
	A any `json:",string"`
}

type textKey string

func (k *textKey) UnmarshalText(b []byte) error {
	if string(b) == "bad" {
		return json.Unmarshal([]byte("x"), new(int))
	}
	*k = textKey("K:" + string(b))
	return nil
}

type textKeyInt int

func (k *textKeyInt) UnmarshalText(b []byte) error { *k = textKeyInt(len(b)); return nil }

type maps struct {
	TK map[textKey]int
	TI map[textKeyInt]string
	I8 map[int8]any
	U  map[uint]*int
	SK map[strKey][]any
	SP map[string]*[]string
	MV map[string]*valText
	MM map[string]map[string]valJSON
}

type arrays struct {
	A2   [2]int
	A0   [0]string
	AS   [3]*valText
	AA   [2][2]float32
	AP   *[2]string
	SA   [][1]any
	Rest []int
}

type node struct {
	Name  string           `json:"name"`
	Next  *node            `json:"next"`
	Kids  []node           `json:"kids"`
	ByKey map[string]*node `json:"by"`
	J     *valJSON         `json:"j"`
	PT    **valText        `json:"pt"`
	PA    *any             `json:"pa"`
	Nums  []json.Number    `json:"nums"`
	F32   *float32         `json:"f32"`
	U     uint             `json:"u"`
	I8    *int8            `json:"i8"`
}

type byValText string

func (byValText) UnmarshalText([]byte) error { return nil }

type namedBytes []byte

func (n *namedBytes) UnmarshalText(b []byte) error { *n = append(namedBytes("B:"), b...); return nil }

type jsonByte uint8

func (j *jsonByte) UnmarshalJSON(b []byte) error { *j = jsonByte(len(b)); return nil }

type pureish struct {
	Tm   *time.Time
	Pfx  netip.Prefix
	Big  *big.Float
	Lvl  slog.Level
	LvlP *slog.Level
	IP   net.IP
	NB   namedBytes
	JB   []jsonByte
	BVT  byValText
	BVTs []byValText
	PJJ  **valJSON
	TSP  []*valText
	Raw  *json.RawMessage
	Anys map[string]any
}

var diff3Types = map[string]func() any{
	"embedded":     func() any { return new(embedded) },
	"stringOpts":   func() any { return new(stringOpts) },
	"maps":         func() any { return new(maps) },
	"arrays":       func() any { return new(arrays) },
	"[2]embedded":  func() any { return new([2]embedded) },
	"node":         func() any { return new(node) },
	"[]*node":      func() any { return new([]*node) },
	"pureish":      func() any { return new(pureish) },
	"*any":         func() any { return new(*any) },
	"map[textKey]": func() any { return new(map[textKey]*valText) },
}

var diff3Docs = []string{
	`{"X":"x","y":1,"Z":[1],"W":"w","c":{"X":"cx"},"Exported":"e","Other":"o","T":"t","PJ":"j"}`,
	`{"x":"x","Y":2,"c":null,"exported":"E","other":"O","t":null,"pj":null}`,
	`{"PI":"12","pps":"\"s\"","B":"true","F":"1.5","U8":"255","N":"1e3","S":[1],"A":"x"}`,
	`{"PI":"null","pps":"null","B":"null","F":" 1","U8":"256","N":"x"}`, `{"PI":null,"PI":"3"}`,
	`{"PI":"1","PI":"2"}`, `{"pps":"\"a\"","pps":null}`, `{"B":true}`, `{"F":"1e39"}`,
	`{"TK":{"a":1,"bad":2},"TI":{"xyz":"3"},"I8":{"-128":1,"127":[]},"U":{"0":1,"18446744073709551615":null}}`,
	`{"TK":{"a":1,"A":2},"SK":{"k":[1,"x"],"K":null},"SP":{"a":["x"],"b":null},"MV":{"a":"v","b":null}}`,
	`{"MM":{"a":{"b":"x"},"a":{"c":"y"}}}`, `{"I8":{"128":1}}`, `{"U":{"-1":1}}`, `{"TI":{"":"e"}}`,
	`{"A2":[1,2,3],"A0":["x"],"AS":["a",null],"AA":[[1],[2,3,4]],"AP":["p"],"SA":[[1,2],[]],"Rest":[1]}`,
	`{"A2":[1],"A2":[5,6],"A2":[7]}`, `{"A2":null}`, `{"AP":null}`, `{"AS":["bad"]}`,
	`[{"X":"a"},{"X":"b"},{"X":"c"}]`, `[{"X":"a"}]`,
	`{"name":"r","next":{"name":"n","next":null},"kids":[{"name":"k","j":"x"}],"by":{"a":{"name":"b"}}}`,
	`{"name":"r","j":"x","pt":"t","pa":{"a":1},"nums":[1,2.5e3,-0],"f32":1e-46,"u":18446744073709551615,"i8":-128}`,
	`{"kids":[{"kids":[{"kids":[{"pt":null}]}]}],"next":{"next":{"next":{"j":null}}}}`,
	`{"j":"bad"}`, `{"pt":"bad","name":"x"}`, `{"i8":128}`, `{"u":-1}`, `{"f32":3.5e38}`,
	`{"name":"a","NAME":"b","Name":"c"}`, `{"next":{"name":"a"},"next":{"kids":[]}}`,
	`[{"name":"a"},null,{"next":null}]`, `[null]`,
	`{"Tm":"2026-01-01T00:00:00Z","Pfx":"10.0.0.0/8","Big":"1.5","Lvl":"WARN","LvlP":"INFO+2","IP":"::1"}`,
	`{"NB":"raw","JB":[1,"ab",null],"BVT":"x","BVTs":["a","b"],"PJJ":"j","TSP":["a",null,"b"],"Raw":{"a":1}}`,
	`{"Anys":{"a":1,"a":[2]},"NB":null,"IP":null,"Pfx":null,"Tm":null,"Raw":null,"PJJ":null}`,
	`{"Lvl":"bogus"}`, `{"Big":1e400}`, `{"IP":"1.2.3"}`, `{"NB":"\ud800"}`, `{"JB":"AQI="}`,
	`{"TSP":["a","bad"]}`, `{"BVTs":"x"}`, `{"Tm":"2026-01-01T00:00:00Z","J":"x","Tm":1}`,
	`{"a":"x"}`, `{"bad":"y"}`, `{"a":"bad"}`, `{"\u00e9":"\ud83d\ude00"}`,
}

func TestDifferentialShapes(t *testing.T) {
	for name, newV := range diff3Types {
		for _, doc := range diff3Docs {
			diffOne(t, name, newV, []byte(doc))
		}
		for _, doc := range diffDocs {
			diffOne(t, name, newV, []byte(doc))
		}
		deep := strings.Repeat(`{"next":`, 600) + `null` + strings.Repeat("}", 600)
		diffOne(t, name, newV, []byte(deep))
	}
}

func FuzzDifferentialShapes(f *testing.F) { fuzzDifferential(f, diff3Types, nil, diffDocs, diff3Docs) }
