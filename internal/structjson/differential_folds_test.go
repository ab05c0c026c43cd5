package structjson

import (
	"encoding/json"
	"testing"
)

type folds struct {
	Straße  string
	STRASSE string `json:"strasse"`
	Kelvin  int    `json:"\u212aelvin"`
	KELVIN  int
	Sigma   string `json:"Σ"`
	Sigma2  string `json:"ς"`
	Ii      string `json:"İ"`
	Dot     string `json:"ı"`
	X       string `json:"x,omitempty"`
	Y       string `json:",omitempty"`
}

type nums struct {
	I8  []int8
	U8p *uint8
	U32 map[string]uint32
	I   *int
	F   **float32
	N   []json.Number
	A   map[string][]any
	R   []*folds
	M   map[string]map[string]*int
	E   struct{}
	ES  []struct{}
}

var diff2Types = map[string]func() any{
	"folds":  func() any { return new(folds) },
	"nums":   func() any { return new(nums) },
	"[]nums": func() any { return new([]*nums) },
	"any":    func() any { return new(any) },
	"[]any":  func() any { return new([]any) },
	"[]i64":  func() any { return new([]int64) },
}

var diff2Docs = []string{
	`{"straße":"a","STRASSE":"b","strasse":"c","Kelvin":1,"kelvin":2,"KELVIN":3,"\u212aELVIN":4}`,
	`{"σ":"s","Σ":"S","ς":"f","i":"i","I":"I","İ":"dot","ı":"dotless","X":"x","y":"y"}`,
	`{"I8":[-128,127,null],"U8p":255,"U32":{"a":4294967295},"I":null,"F":1.5,"N":[1,-0.5e-3,null]}`,
	`{"A":{"a":[1,{"b":[]}],"a":null},"R":[{"kelvin":1},null],"M":{"a":{"b":1,"c":null}},"E":{"x":1},"ES":[{},{"a":1}]}`,
	`[{"I":1},null,{"I":2}]`, `[1,2.5,"x",[null]]`, `[9007199254740993]`, `[-0,0e0,1E+2]`,
}

func FuzzDifferentialFolds(f *testing.F) {
	fuzzDifferential(f, diff2Types, checkNumbers[int64], documents, diff2Docs)
}

func TestDifferentialFolds(t *testing.T) {
	for name, newV := range diff2Types {
		for _, doc := range append(append([]string{}, documents...), diff2Docs...) {
			diffOne(t, name, newV, []byte(doc))
		}
	}
}
