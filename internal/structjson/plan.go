package structjson

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// A plan decodes one Go type. decode reads the value at the decoder's
// position into the value at p; false means "not exactly as encoding/json
// would", and the caller gives up.
type plan struct {
	decode func(d *decoder, p unsafe.Pointer) bool
	// custom: the type, or one inside it, has an UnmarshalJSON or
	// UnmarshalText method, which must only see valid documents.
	custom bool
	// impure: one of those methods is not the standard library's (see
	// pureMethods), so may have effects beyond its value: the document is
	// decoded once without calling them first (runWith), so that a
	// fallback to encoding/json does not call them twice.
	impure bool
	typ    reflect.Type
}

// pureMethods are the packages of the standard library whose types'
// UnmarshalJSON and UnmarshalText only set their receiver: calling one
// again, when the fast path gives up on the document after it, changes
// nothing but the time taken.
var pureMethods = map[string]bool{"time": true, "net/netip": true, "math/big": true, "log/slog": true, "net": true, "net/url": true}

var plans typeCache[plan]

// planFor returns the plan of t, nil when the fast path does not cover t.
func planFor(t reflect.Type) *plan {
	return plans.get(t, func(t reflect.Type) *plan { return (&compiler{building[plan]{}}).compile(t) })
}

// compiler builds the decoding plans of one top-level type.
type compiler struct {
	building building[plan]
}

var (
	numberType          = reflect.TypeFor[json.Number]()
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (c *compiler) compile(t reflect.Type) *plan { return c.building.compile(t, c.fill) }

// fill sets pl.decode for t; false when t is not covered.
func (c *compiler) fill(pl *plan, t reflect.Type) bool {
	pl.typ = t
	ptr := reflect.PointerTo(t)
	switch {
	case t == numberType:
		pl.decode = decodeNumber
		return true
	case t.Name() == "" && t.Kind() != reflect.Pointer &&
		(ptr.Implements(unmarshalerType) || ptr.Implements(textUnmarshalerType)):
		// An unnamed type has methods only by embedding: encoding/json
		// calls them behind a pointer (indirect looks at a value's address
		// only for a named type), and as a field, element or map value
		// decodes it as a struct with promoted fields.
		return false
	case t.Kind() != reflect.Pointer && ptr.Implements(unmarshalerType):
		pl.custom, pl.impure = true, !pureMethods[t.PkgPath()]
		pl.decode = customJSON(t)
		return true
	case t.Kind() != reflect.Pointer && ptr.Implements(textUnmarshalerType):
		pl.custom, pl.impure = true, !pureMethods[t.PkgPath()]
		pl.decode = customText(t)
		return true
	}
	switch t.Kind() {
	case reflect.Bool:
		pl.decode = decodeBool
	case reflect.String:
		pl.decode = decodeString
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		pl.decode = decodeInt(t.Kind())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		pl.decode = decodeUint(t.Kind())
	case reflect.Float32:
		pl.decode = decodeFloat32
	case reflect.Float64:
		pl.decode = decodeFloat64
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return false
		}
		pl.decode = decodeInterface
	case reflect.Pointer:
		if e := t.Elem(); t.Name() != "" && e.Kind() != reflect.Pointer &&
			(reflect.PointerTo(e).Implements(unmarshalerType) || reflect.PointerTo(e).Implements(textUnmarshalerType)) {
			// A named pointer type has no methods: encoding/json decodes
			// its pointee as the kind it is, without its UnmarshalJSON or
			// UnmarshalText, which the pointee's plan would call.
			return false
		}
		elem := c.compile(t.Elem())
		if elem == nil {
			return false
		}
		pl.custom, pl.impure = elem.custom, elem.impure
		pl.decode = decodePointer(t.Elem(), elem)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(unmarshalerType) &&
			!reflect.PointerTo(t.Elem()).Implements(textUnmarshalerType) {
			return false // []byte is base64 text
		}
		elem := c.compile(t.Elem())
		if elem == nil {
			return false
		}
		pl.custom, pl.impure = elem.custom, elem.impure
		if pl.decode = decodeCommonSlice(t.Elem(), elem); pl.decode == nil {
			pl.decode = decodeSlice(t, elem)
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String || reflect.PointerTo(t.Key()).Implements(textUnmarshalerType) {
			return false
		}
		elem := c.compile(t.Elem())
		if elem == nil {
			return false
		}
		pl.custom, pl.impure = elem.custom, elem.impure
		pl.decode = decodeMap(t, elem)
	case reflect.Struct:
		sp, ok := c.structPlan(t)
		if !ok {
			return false
		}
		for _, f := range sp.fields {
			pl.custom = pl.custom || f.plan.custom
			pl.impure = pl.impure || f.plan.impure
		}
		pl.decode = sp.decode
	default: // arrays, complex numbers, channels, functions, uintptr, unsafe pointers
		return false
	}
	return true
}

// field is a struct field as JSON names it.
type field struct {
	name   string
	offset uintptr
	plan   *plan
}

// structFields is the decoding plan of a struct type.
type structFields struct {
	fields []field
	exact  map[string]int // name → index in fields
	folded map[string]int // case-folded name → index of the first such field
}

func (c *compiler) structPlan(t reflect.Type) (*structFields, bool) {
	sp := &structFields{exact: map[string]int{}, folded: map[string]int{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil, false // embedded fields: encoding/json's promotion rules
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if hasOption(opts, "string") {
			return nil, false
		}
		if !ValidTagName(name) {
			name = sf.Name
		}
		if _, dup := sp.exact[name]; dup {
			return nil, false // encoding/json drops conflicting fields
		}
		pl := c.compile(sf.Type)
		if pl == nil {
			return nil, false
		}
		sp.exact[name] = len(sp.fields)
		if key := string(foldName(nil, []byte(name))); true {
			if _, seen := sp.folded[key]; !seen {
				sp.folded[key] = len(sp.fields)
			}
		}
		sp.fields = append(sp.fields, field{name: name, offset: sf.Offset, plan: pl})
	}
	return sp, true
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// ValidTagName is encoding/json's rule for a usable name in a struct tag
// (its isValidTag): a tag naming anything else is ignored, the Go name used.
func ValidTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// foldName appends name case-folded as encoding/json matches keys to
// field names: ASCII upper case, other runes to the smallest rune of their
// simple folding orbit.
func foldName(dst, name []byte) []byte {
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		dst = utf8.AppendRune(dst, r)
		i += n
	}
	return dst
}

// lookup finds the field for key: the one after the last matched (keys
// usually come in declaration order), the exact name, then the first field
// equal to it ignoring case.
func (sp *structFields) lookup(key []byte, next int, fold *[64]byte) int {
	if next < len(sp.fields) && sp.fields[next].name == string(key) {
		return next
	}
	if i, ok := sp.exact[string(key)]; ok {
		return i
	}
	if i, ok := sp.folded[string(foldName(fold[:0], key))]; ok {
		return i
	}
	return -1
}

func (sp *structFields) decode(d *decoder, p unsafe.Pointer) bool {
	if d.null() {
		return true
	}
	var fold [64]byte
	next := 0
	return d.object(func(key []byte) bool {
		i := sp.lookup(key, next, &fold)
		if i < 0 {
			return d.skip()
		}
		next = i + 1
		f := &sp.fields[i]
		return f.plan.decode(d, unsafe.Add(p, f.offset))
	})
}
