package structjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Append appends v encoded as a json.Encoder with SetEscapeHTML(false)
// encodes it (without the newline), except that U+2028 and U+2029 are
// written raw, as JavaScript's JSON.stringify writes them. ok is false when
// the fast path does not cover v's type or value (NaN, a cycle, a
// Marshaler's error…): the caller then encodes v with encoding/json, which
// gives its result or error. dst may hold partial output on false; use the
// returned slice only on true.
func Append(dst []byte, v any) (out []byte, ok bool) {
	if v == nil {
		return append(dst, "null"...), true
	}
	t := reflect.TypeOf(v)
	ep := encoderFor(t)
	if ep == nil {
		return dst, false
	}
	return ep.encode(0, dst, valuePointer(t, v))
}

// valuePointer points to the value of dynamic type t inside v. A
// pointer-shaped value is the interface's data word itself; any other is
// pointed to by it, and read in place (the encoders only read), except
// structs and arrays of one pointer's size: whether the compiler stores
// those in the word depends on its version's rule (Go 1.26 stores
// struct{_ struct{}; p *T} directly, older ones did not), so they are
// copied out through reflect rather than guessed at.
func valuePointer(t reflect.Type, v any) unsafe.Pointer {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		w := new(unsafe.Pointer)
		*w = (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1]
		return unsafe.Pointer(w)
	case reflect.Struct, reflect.Array:
		if t.Size() == unsafe.Sizeof(uintptr(0)) {
			p := reflect.New(t)
			p.Elem().Set(reflect.ValueOf(v))
			return p.UnsafePointer()
		}
	}
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1]
}

// maxEncodeDepth bounds the nesting the encoders recurse into (depth, their
// first argument); deeper values, and cycles, which encoding/json reports
// as errors, are left to encoding/json.
const maxEncodeDepth = 500

// An encPlan encodes one Go type: the value at p appended to dst.
type encPlan struct {
	encode func(depth int, dst []byte, p unsafe.Pointer) ([]byte, bool)
	// empty reports whether the value at p is empty for omitempty.
	empty func(p unsafe.Pointer) bool
}

var encPlans typeCache[encPlan]

func encoderFor(t reflect.Type) *encPlan {
	return encPlans.get(t, func(t reflect.Type) *encPlan { return (&encCompiler{building[encPlan]{}}).compile(t) })
}

// encCompiler builds the encoding plans of one top-level type.
type encCompiler struct {
	building building[encPlan]
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func (c *encCompiler) compile(t reflect.Type) *encPlan {
	return c.building.compile(t, func(ep *encPlan, t reflect.Type) bool {
		if !c.fill(ep, t) {
			return false
		}
		if ep.empty == nil {
			ep.empty = emptyOf(t)
		}
		return true
	})
}

func (c *encCompiler) fill(ep *encPlan, t reflect.Type) bool {
	ptr := reflect.PointerTo(t)
	switch {
	case t.Kind() == reflect.Interface && t.NumMethod() != 0:
		return false // only any: its dynamic value is read as an eface
	case t.Implements(marshalerType):
		ep.encode = encodeMarshaler(t)
		return true
	case ptr.Implements(marshalerType) && t.Kind() != reflect.Pointer:
		return false // encoding/json calls it only where the value is addressable
	case t.Implements(textMarshalerType):
		ep.encode = encodeTextMarshaler(t)
		return true
	case ptr.Implements(textMarshalerType) && t.Kind() != reflect.Pointer:
		return false
	case t == numberType:
		ep.encode = encodeNumber
		return true
	}
	switch t.Kind() {
	case reflect.Bool:
		ep.encode = func(_ int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
			return strconv.AppendBool(dst, *(*bool)(p)), true
		}
	case reflect.String:
		ep.encode = func(_ int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
			return appendString(dst, *(*string)(p)), true
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		ep.encode = func(_ int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
			return strconv.AppendInt(dst, reflect.NewAt(t, p).Elem().Int(), 10), true
		}
		if t.Kind() == reflect.Int {
			ep.encode = func(_ int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
				return strconv.AppendInt(dst, int64(*(*int)(p)), 10), true
			}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		ep.encode = func(_ int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
			return strconv.AppendUint(dst, reflect.NewAt(t, p).Elem().Uint(), 10), true
		}
	case reflect.Float32:
		ep.encode = func(_ int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
			return AppendFloat(dst, float64(*(*float32)(p)), 32)
		}
	case reflect.Float64:
		ep.encode = func(_ int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
			return AppendFloat(dst, *(*float64)(p), 64)
		}
	case reflect.Interface:
		ep.encode = encodeInterface
	case reflect.Pointer:
		elem := c.compile(t.Elem())
		if elem == nil {
			return false
		}
		ep.encode = func(depth int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
			target := *(*unsafe.Pointer)(p)
			if target == nil {
				return append(dst, "null"...), true
			}
			if depth++; depth > maxEncodeDepth {
				return dst, false
			}
			return elem.encode(depth, dst, target)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return false // base64, or elements that marshal themselves
		}
		elem := c.compile(t.Elem())
		if elem == nil {
			return false
		}
		ep.encode = encodeSlice(t.Elem().Size(), elem)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return false
		}
		elem := c.compile(t.Elem())
		if elem == nil {
			return false
		}
		ep.encode = encodeMap(t, elem)
	case reflect.Struct:
		fields, ok := c.structFields(t)
		if !ok {
			return false
		}
		ep.encode = encodeStruct(fields)
	default:
		return false
	}
	return true
}

// encField is a struct field as encoding/json writes it.
type encField struct {
	key       []byte // "name":
	offset    uintptr
	plan      *encPlan
	omitEmpty bool
}

func (c *encCompiler) structFields(t reflect.Type) ([]encField, bool) {
	var fields []encField
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil, false
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if hasOption(opts, "string") || hasOption(opts, "omitzero") {
			return nil, false
		}
		if !ValidTagName(name) {
			name = sf.Name
		}
		if seen[name] {
			return nil, false
		}
		seen[name] = true
		ep := c.compile(sf.Type)
		if ep == nil {
			return nil, false
		}
		key := append(appendString(nil, name), ':')
		fields = append(fields, encField{key: key, offset: sf.Offset, plan: ep, omitEmpty: hasOption(opts, "omitempty")})
	}
	return fields, true
}

func encodeStruct(fields []encField) func(int, []byte, unsafe.Pointer) ([]byte, bool) {
	return func(depth int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
		if depth++; depth > maxEncodeDepth {
			return dst, false
		}
		dst = append(dst, '{')
		first := true
		for i := range fields {
			f := &fields[i]
			fp := unsafe.Add(p, f.offset)
			if f.omitEmpty && f.plan.empty(fp) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, f.key...)
			var ok bool
			if dst, ok = f.plan.encode(depth, dst, fp); !ok {
				return dst, false
			}
		}
		return append(dst, '}'), true
	}
}

func encodeSlice(size uintptr, elem *encPlan) func(int, []byte, unsafe.Pointer) ([]byte, bool) {
	return func(depth int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
		h := (*sliceHeader)(p)
		if h.data == nil {
			return append(dst, "null"...), true
		}
		if depth++; depth > maxEncodeDepth {
			return dst, false
		}
		dst = append(dst, '[')
		for i := range h.len {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, ok = elem.encode(depth, dst, unsafe.Add(h.data, uintptr(i)*size)); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	}
}

func encodeMap(t reflect.Type, elem *encPlan) func(int, []byte, unsafe.Pointer) ([]byte, bool) {
	return func(depth int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
		m := reflect.NewAt(t, p).Elem()
		if m.IsNil() {
			return append(dst, "null"...), true
		}
		if depth++; depth > maxEncodeDepth {
			return dst, false
		}
		// encoding/json sorts the keys.
		keys := make([]string, 0, m.Len())
		values := make(map[string]reflect.Value, m.Len())
		for it := m.MapRange(); it.Next(); {
			k := it.Key().String()
			keys = append(keys, k)
			v := reflect.New(t.Elem()).Elem()
			v.Set(it.Value())
			values[k] = v
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(appendString(dst, k), ':')
			var ok bool
			if dst, ok = elem.encode(depth, dst, values[k].Addr().UnsafePointer()); !ok {
				return dst, false
			}
		}
		return append(dst, '}'), true
	}
}

// encodeInterface encodes the dynamic value of an interface.
func encodeInterface(depth int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
	v := *(*any)(p)
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case string:
		return appendString(dst, x), true
	case float64:
		return AppendFloat(dst, x, 64)
	case bool:
		return strconv.AppendBool(dst, x), true
	}
	if depth++; depth > maxEncodeDepth {
		return dst, false
	}
	t := reflect.TypeOf(v)
	ep := encoderFor(t)
	if ep == nil {
		return dst, false
	}
	return ep.encode(depth, dst, valuePointer(t, v))
}

// AppendFloat appends f, a float of the given bits (32 or 64), formatted as
// encoding/json and JavaScript's Number::toString do: the shortest digits,
// exponent form below 1e-6 and from 1e21, the sign of -0 kept. ok is false,
// and nothing appended, for NaN and infinities, which JSON cannot hold.
func AppendFloat(dst []byte, f float64, bits int) (out []byte, ok bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, false
	}
	if bits == 64 && f != 0 && f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(dst, int64(f), 10), true // integers: the same digits, faster
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// e-09 is written e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, true
}

const hexDigits = "0123456789abcdef"

// appendString writes s as encoding/json does without HTML escaping:
// invalid UTF-8 as the escape \ufffd.
func appendString(dst []byte, s string) []byte { return AppendString(dst, s, `\ufffd`) }

// AppendString appends s as a JSON string as JavaScript's JSON.stringify
// writes one: only '"', '\\' and control characters escaped (\n and the
// like, or \u00XX), everything else raw, U+2028, U+2029, '<' and '&'
// included. Each byte of invalid UTF-8 is written as replacement: raw
// "\uFFFD" for JSON.stringify's look (a JS string cannot hold such bytes), or
// `\ufffd`, as encoding/json writes it.
func AppendString(dst []byte, s string, replacement string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, replacement...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// encodeNumber writes a json.Number's text, "0" when empty; an invalid
// number is encoding/json's error.
func encodeNumber(_ int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
	s := string(*(*json.Number)(p))
	if s == "" {
		s = "0"
	}
	d := decoder{data: []byte(s)}
	if _, _, ok := d.number(); !ok || d.pos != len(s) {
		return dst, false
	}
	return append(dst, s...), true
}

// encodeMarshaler calls MarshalJSON (a value receiver's: encoding/json
// calls pointer receivers only on addressable values) and compacts the
// result, as encoding/json does.
func encodeMarshaler(t reflect.Type) func(int, []byte, unsafe.Pointer) ([]byte, bool) {
	return func(_ int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
		v := reflect.NewAt(t, p).Elem()
		if t.Kind() == reflect.Pointer && v.IsNil() {
			return append(dst, "null"...), true
		}
		b, err := v.Interface().(json.Marshaler).MarshalJSON()
		if err != nil {
			return dst, false
		}
		return appendCompact(dst, b)
	}
}

// encodeTextMarshaler writes MarshalText's text as a string.
func encodeTextMarshaler(t reflect.Type) func(int, []byte, unsafe.Pointer) ([]byte, bool) {
	return func(_ int, dst []byte, p unsafe.Pointer) ([]byte, bool) {
		v := reflect.NewAt(t, p).Elem()
		if t.Kind() == reflect.Pointer && v.IsNil() {
			return append(dst, "null"...), true
		}
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return dst, false
		}
		return appendString(dst, string(b)), true
	}
}

// appendCompact appends the JSON b without insignificant space, refusing
// invalid JSON (encoding/json's error) and anything it would write
// differently: an escaped U+2028 or U+2029 stays escaped there, and
// invalid UTF-8 stays as it is.
func appendCompact(dst, b []byte) ([]byte, bool) {
	d := decoder{data: b}
	if !d.validDocument() || !utf8.Valid(b) || strings.Contains(unsafeString(b), `\u202`) {
		return dst, false
	}
	return Compact(dst, b), true
}

// compactClass marks the bytes Compact stops at: 1 a blank, 2 a quote, 3 a
// backslash.
var compactClass = [256]uint8{' ': 1, '\t': 1, '\n': 1, '\r': 1, '"': 2, '\\': 3}

// Compact appends the valid JSON b without the whitespace outside its
// strings, as encoding/json and JSON.stringify print it. Runs between
// blanks are copied whole, so compact JSON costs one scan and one copy.
func Compact(dst, b []byte) []byte {
	start := 0 // b[start:i] is still to be copied
	for i := 0; i < len(b); i++ {
		switch compactClass[b[i]] {
		case 1:
			dst = append(dst, b[start:i]...)
			for i+1 < len(b) && compactClass[b[i+1]] == 1 {
				i++
			}
			start = i + 1
		case 2:
			i = stringEnd(b, i+1)
		}
	}
	return append(dst, b[start:]...)
}

// stringEnd returns the index of the quote that ends the string whose text
// starts at b[i]. Short strings are walked; past 32 bytes IndexByte is
// faster, and in valid JSON a quote is escaped exactly when an odd run of
// backslashes precedes it.
func stringEnd(b []byte, i int) int {
	for n := i + 32; i < len(b) && i < n; i++ {
		switch compactClass[b[i]] {
		case 2:
			return i
		case 3:
			i++ // the escaped byte
		}
	}
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			break
		}
		i += j
		k := i
		for b[k-1] == '\\' { // stops at the opening quote at worst
			k--
		}
		if (i-k)%2 == 0 {
			return i
		}
		i++
	}
	return len(b) // not valid JSON
}

// emptyOf is encoding/json's omitempty test for t.
func emptyOf(t reflect.Type) func(unsafe.Pointer) bool {
	switch t.Kind() {
	case reflect.String:
		return func(p unsafe.Pointer) bool { return *(*string)(p) == "" }
	case reflect.Bool:
		return func(p unsafe.Pointer) bool { return !*(*bool)(p) }
	case reflect.Slice:
		return func(p unsafe.Pointer) bool { return (*sliceHeader)(p).len == 0 }
	case reflect.Pointer, reflect.Interface:
		return func(p unsafe.Pointer) bool { return reflect.NewAt(t, p).Elem().IsNil() }
	case reflect.Map:
		return func(p unsafe.Pointer) bool { return reflect.NewAt(t, p).Elem().Len() == 0 }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(p unsafe.Pointer) bool { return reflect.NewAt(t, p).Elem().Int() == 0 }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		// uintptr, like an array, is only covered with a Marshaler's
		// methods; encoding/json still tests its kind.
		return func(p unsafe.Pointer) bool { return reflect.NewAt(t, p).Elem().Uint() == 0 }
	case reflect.Array:
		empty := t.Len() == 0
		return func(unsafe.Pointer) bool { return empty }
	case reflect.Float32, reflect.Float64:
		// == 0, not IsZero: -0 is empty too
		return func(p unsafe.Pointer) bool { return reflect.NewAt(t, p).Elem().Float() == 0 }
	}
	return func(unsafe.Pointer) bool { return false } // structs are never empty
}
