package structjson

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"unsafe"
)

// The decoders of each kind. A JSON null leaves a scalar or struct as it
// is and sets a pointer, slice, map or interface to nil, as encoding/json
// does; a JSON value of the wrong kind is a type error, which the fast path
// leaves to encoding/json.

func decodeBool(d *decoder, p unsafe.Pointer) bool {
	switch d.peek() {
	case 't':
		*(*bool)(p) = true
		return d.literal("true")
	case 'f':
		*(*bool)(p) = false
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	return false
}

func decodeString(d *decoder, p unsafe.Pointer) bool {
	switch d.peek() {
	case '"':
		s, ok := d.stringValue()
		*(*string)(p) = s
		return ok
	case 'n':
		return d.literal("null")
	}
	return false
}

// decodeNumber keeps a number's text in a json.Number. A string, which
// encoding/json accepts when it holds a valid number, is left to it.
func decodeNumber(d *decoder, p unsafe.Pointer) bool {
	switch c := d.peek(); {
	case c == 'n':
		return d.literal("null")
	case c == '-' || isDigit(c):
		text, _, ok := d.number()
		*(*json.Number)(p) = json.Number(text)
		return ok
	}
	return false
}

// integer reads an integer number (no fraction or exponent).
func (d *decoder) integer() (neg bool, text []byte, ok bool) {
	switch c := d.peek(); {
	case c == 'n':
		return false, nil, false
	case c != '-' && !isDigit(c):
		return false, nil, false
	}
	text, integer, ok := d.number()
	if !ok || !integer {
		return false, nil, false
	}
	return text[0] == '-', text, true
}

// magnitude is the value of the digits of an integer of up to 19 digits.
func magnitude(digits []byte) (uint64, bool) {
	if len(digits) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range digits {
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

func decodeInt(kind reflect.Kind) func(*decoder, unsafe.Pointer) bool {
	bits := map[reflect.Kind]uint{reflect.Int: strconv.IntSize, reflect.Int8: 8,
		reflect.Int16: 16, reflect.Int32: 32, reflect.Int64: 64}[kind]
	return func(d *decoder, p unsafe.Pointer) bool {
		if d.null() {
			return true
		}
		v, ok := d.intValue(bits)
		if !ok {
			return false
		}
		switch kind {
		case reflect.Int:
			*(*int)(p) = int(v)
		case reflect.Int8:
			*(*int8)(p) = int8(v)
		case reflect.Int16:
			*(*int16)(p) = int16(v)
		case reflect.Int32:
			*(*int32)(p) = int32(v)
		default:
			*(*int64)(p) = v
		}
		return true
	}
}

// intValue reads an integer that fits in a signed integer of the given
// bits; out of range is encoding/json's error, so false.
func (d *decoder) intValue(bits uint) (int64, bool) {
	neg, text, ok := d.integer()
	if !ok {
		return 0, false
	}
	digits := text
	if neg {
		digits = text[1:]
	}
	maxPos := uint64(1)<<(bits-1) - 1
	m, ok := magnitude(digits)
	if !ok || m > maxPos+1 || (!neg && m > maxPos) {
		return 0, false
	}
	v := int64(m)
	if neg {
		v = -v
	}
	return v, true
}

func decodeUint(kind reflect.Kind) func(*decoder, unsafe.Pointer) bool {
	bits := map[reflect.Kind]uint{reflect.Uint: strconv.IntSize, reflect.Uint8: 8,
		reflect.Uint16: 16, reflect.Uint32: 32, reflect.Uint64: 64}[kind]
	maxVal := uint64(math.MaxUint64) >> (64 - bits)
	return func(d *decoder, p unsafe.Pointer) bool {
		if d.null() {
			return true
		}
		neg, text, ok := d.integer()
		if !ok || neg { // even -0: strconv.ParseUint refuses it
			return false
		}
		var m uint64
		if len(text) <= 19 {
			m, _ = magnitude(text)
		} else if m, ok = parseUint64(text); !ok {
			return false
		}
		if m > maxVal {
			return false
		}
		switch kind {
		case reflect.Uint:
			*(*uint)(p) = uint(m)
		case reflect.Uint8:
			*(*uint8)(p) = uint8(m)
		case reflect.Uint16:
			*(*uint16)(p) = uint16(m)
		case reflect.Uint32:
			*(*uint32)(p) = uint32(m)
		default:
			*(*uint64)(p) = m
		}
		return true
	}
}

func parseUint64(text []byte) (uint64, bool) {
	v, err := strconv.ParseUint(unsafeString(text), 10, 64)
	return v, err == nil
}

// float reads a number as a float of the given bits.
func (d *decoder) float(bits int) (float64, bool) {
	if c := d.peek(); c != '-' && !isDigit(c) {
		return 0, false
	}
	text, integer, ok := d.number()
	if !ok {
		return 0, false
	}
	// Integers of up to 15 digits are exact in a float64, and rounding that
	// to a float32 is the one correct rounding.
	if integer && len(text) <= 16 {
		neg := text[0] == '-'
		digits := text
		if neg {
			digits = text[1:]
		}
		if len(digits) <= 15 {
			m, _ := magnitude(digits)
			v := float64(m)
			if neg {
				v = -v
			}
			return v, true
		}
	}
	v, err := strconv.ParseFloat(unsafeString(text), bits)
	return v, err == nil
}

func decodeFloat64(d *decoder, p unsafe.Pointer) bool {
	if d.null() {
		return true
	}
	v, ok := d.float(64)
	*(*float64)(p) = v
	return ok
}

func decodeFloat32(d *decoder, p unsafe.Pointer) bool {
	if d.null() {
		return true
	}
	v, ok := d.float(32)
	*(*float32)(p) = float32(v)
	return ok
}

// decodeInterface decodes into an empty interface the way encoding/json
// does: map[string]any, []any, float64, string, bool or nil.
func decodeInterface(d *decoder, p unsafe.Pointer) bool {
	v, ok := d.anyValue()
	*(*any)(p) = v
	return ok
}

func (d *decoder) anyValue() (any, bool) {
	switch d.peek() {
	case '"':
		return d.stringValue()
	case '{':
		m := make(map[string]any)
		ok := d.object(func(key []byte) bool {
			k := d.makeString(key)
			v, ok := d.anyValue()
			m[k] = v
			return ok
		})
		return m, ok
	case '[':
		a := []any{}
		ok := d.array(func(int) bool {
			v, ok := d.anyValue()
			a = append(a, v)
			return ok
		}, nil)
		return a, ok
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		return d.float(64)
	}
}

// decodePointer allocates the pointee when the pointer is nil (and the
// value is not null) and decodes into it.
func decodePointer(elemType reflect.Type, elem *plan) func(*decoder, unsafe.Pointer) bool {
	return func(d *decoder, p unsafe.Pointer) bool {
		if d.null() {
			*(*unsafe.Pointer)(p) = nil
			return true
		}
		target := *(*unsafe.Pointer)(p)
		if target == nil {
			target = reflect.New(elemType).UnsafePointer()
			*(*unsafe.Pointer)(p) = target
		}
		return elem.decode(d, target)
	}
}

// sliceHeader is the layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// zeroBase is where empty slices point, as the runtime's own do somewhere.
var zeroBase uint64

// decodeSlice decodes an array into a slice as encoding/json does: into
// the existing elements first, growing as needed, an empty array giving an
// empty (non-nil) slice.
func decodeSlice(t reflect.Type, elem *plan) func(*decoder, unsafe.Pointer) bool {
	size := t.Elem().Size()
	// The first growth makes room for 4 elements of up to 128 bytes (512
	// bytes in all), else for 1, as encoding/json does: a slice holding one
	// wide element must not keep 4 alive (docs/SERVER.md's bound on what a
	// decoded input holds per byte of JSON).
	first := 4
	if size > 128 {
		first = 1
	}
	numbers := false
	switch t.Elem().Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Bool:
		numbers = elem.decode != nil && !elem.custom
	}
	return func(d *decoder, p unsafe.Pointer) bool {
		h := (*sliceHeader)(p)
		if d.null() {
			*h = sliceHeader{}
			return true
		}
		n := 0
		ok := d.array(func(i int) bool {
			if i == 0 && numbers && h.cap == 0 {
				// Numbers hold no ',' or ']': counting commas up to the
				// ']' sizes the slice exactly, in one allocation.
				if n := countElements(d.data[d.pos:]); n > 0 {
					reflect.NewAt(t, p).Elem().Grow(n)
				}
			}
			if i >= h.cap {
				// Doubling from 4 (from 1 past 128 bytes, see first):
				// encoding/json grows by one element at a time, which only
				// its capacity (not the result) shows.
				reflect.NewAt(t, p).Elem().Grow(max(first, h.cap))
			}
			if i >= h.len {
				h.len = i + 1
			}
			n = i + 1
			return elem.decode(d, unsafe.Add(h.data, uintptr(i)*size))
		}, func() { *h = sliceHeader{data: unsafe.Pointer(&zeroBase)} })
		if ok && n > 0 {
			h.len = n
		}
		return ok
	}
}

// decodeCommonSlice returns a decoder without reflection for slices of the
// most common element types, nil for others.
func decodeCommonSlice(elemType reflect.Type, elem *plan) func(*decoder, unsafe.Pointer) bool {
	if elem.custom {
		return nil
	}
	switch elemType {
	case reflect.TypeFor[float64]():
		return decodeSliceOf[float64](elem, true)
	case reflect.TypeFor[int]():
		return decodeSliceOf[int](elem, true)
	case reflect.TypeFor[int64]():
		return decodeSliceOf[int64](elem, true)
	case reflect.TypeFor[string]():
		return decodeStringSlice(elem)
	case reflect.TypeFor[any]():
		return decodeSliceOf[any](elem, false)
	}
	return nil
}

// decodeSliceOf is decodeSlice for a slice type whose elements are E.
func decodeSliceOf[E any](elem *plan, numbers bool) func(*decoder, unsafe.Pointer) bool {
	return func(d *decoder, p unsafe.Pointer) bool {
		sp := (*[]E)(p)
		if d.null() {
			*sp = nil
			return true
		}
		s, n := *sp, 0
		ok := d.array(func(i int) bool {
			if i == 0 && numbers && cap(s) == 0 {
				if n := countElements(d.data[d.pos:]); n > 0 {
					s = make([]E, 0, n)
				}
			}
			switch {
			case i >= cap(s):
				s = slices.Grow(s[:i], max(4, i))[:i+1] // doubling from 4
			case i >= len(s):
				s = s[:i+1]
			}
			n = i + 1
			return elem.decode(d, unsafe.Pointer(&s[i]))
		}, func() { s = []E{} })
		if n > 0 {
			s = s[:n]
		}
		*sp = s
		return ok
	}
}

// decodeStringSlice is decodeSliceOf[string], except into a slice without
// capacity (a fresh value, the common case): the strings are decoded into
// the decoder's scratch list, then copied to an exact-size piece of a
// shared backing array (see carveStrings), so that the many short string
// slices of one value — tags, say — cost one allocation, not one each.
func decodeStringSlice(elem *plan) func(*decoder, unsafe.Pointer) bool {
	general := decodeSliceOf[string](elem, false)
	return func(d *decoder, p unsafe.Pointer) bool {
		sp := (*[]string)(p)
		if cap(*sp) != 0 {
			return general(d, p) // encoding/json fills the existing array
		}
		if d.null() {
			*sp = nil
			return true
		}
		// A string element holds no array, so nothing below uses d.strs.
		tmp := d.strs[:0]
		ok := d.array(func(i int) bool {
			tmp = append(tmp, "")
			return elem.decode(d, unsafe.Pointer(&tmp[i]))
		}, nil)
		if ok {
			*sp = d.carveStrings(tmp)
		}
		clear(tmp) // the scratch list must not keep the strings alive
		d.strs = tmp[:0]
		return ok
	}
}

// countElements counts the elements of an array of scalars starting at b
// (after its '['): 0 when it meets anything else, such as a string. The
// count is capped at what the array's bytes can hold, an element and a
// separator each: "[,,,]" is not JSON, and counting its commas would
// presize 8 bytes per input byte, twice what a valid array of numbers can
// need. (Cheaper than checking each element: this runs on every request.)
func countElements(b []byte) int {
	n := 1
	for i, c := range b {
		switch c {
		case ',':
			n++
		case ']':
			return min(n, (i+1)/2)
		case '"', '[', '{':
			return 0
		}
	}
	return 0
}

// decodeMap decodes an object into a map with string keys, making the map
// when it is nil; each value is decoded into a zero element.
func decodeMap(t reflect.Type, elem *plan) func(*decoder, unsafe.Pointer) bool {
	keyType, elemType := t.Key(), t.Elem()
	return func(d *decoder, p unsafe.Pointer) bool {
		switch d.peek() {
		case 'n':
			*(*unsafe.Pointer)(p) = nil
			return d.literal("null")
		case '{':
		default:
			return false
		}
		m := reflect.NewAt(t, p).Elem()
		if m.IsNil() {
			m.Set(reflect.MakeMap(t)) // {} too gives a map, not nil
		}
		v := reflect.New(elemType).Elem()
		k := reflect.New(keyType).Elem()
		return d.object(func(key []byte) bool {
			k.SetString(d.makeString(key))
			v.SetZero()
			if !elem.decode(d, v.Addr().UnsafePointer()) {
				return false
			}
			m.SetMapIndex(k, v)
			return true
		})
	}
}

// customJSON calls the type's UnmarshalJSON with the value's text. null is
// left to encoding/json, whose handling of it depends on where the value is.
// The first pass (d.dry) calls the standard library's methods too: they
// only set their receiver (the scratch value), and a value they refuse
// (a malformed time) must end that pass, before the program's own methods
// are called, or the fallback calls those a second time.
func customJSON(t reflect.Type) func(*decoder, unsafe.Pointer) bool {
	pure := pureMethods[t.PkgPath()]
	return func(d *decoder, p unsafe.Pointer) bool {
		if d.peek() == 'n' {
			return false
		}
		start := d.pos
		if !d.skip() {
			return false
		}
		if d.dry && !pure {
			return true
		}
		u := reflect.NewAt(t, p).Interface().(json.Unmarshaler)
		return u.UnmarshalJSON(d.data[start:d.pos]) == nil
	}
}

// customText calls the type's UnmarshalText with an unquoted string; other
// values are left to encoding/json.
// Like customJSON, it calls the standard library's methods in the first
// pass too.
func customText(t reflect.Type) func(*decoder, unsafe.Pointer) bool {
	pure := pureMethods[t.PkgPath()]
	return func(d *decoder, p unsafe.Pointer) bool {
		if d.peek() != '"' {
			return false
		}
		b, ok := d.stringBytes()
		if !ok {
			return false
		}
		if d.dry && !pure {
			return true
		}
		u := reflect.NewAt(t, p).Interface().(encoding.TextUnmarshaler)
		return u.UnmarshalText(b) == nil
	}
}
