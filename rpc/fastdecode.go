package rpc

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Fast decoding of the data of typed handlers for a few common shapes —
// numbers, strings, booleans and arrays of numbers — which encoding/json
// decodes through reflection at several times the cost of the rest of a
// request. Anything unusual falls back to encoding/json, so results never
// differ from it.

// fastDecode decodes data into p when p's type has a fast path; ok is
// false when the caller must use encoding/json.
func fastDecode(p any, data []byte) (ok bool) {
	data = trimBlanks(data)
	switch p := p.(type) {
	case *[]float64:
		return decodeNumbers(data, p, func(tok []byte) (float64, bool) { return parseFloat(tok) })
	case *[]int:
		return decodeNumbers(data, p, parseInt)
	case *float64:
		v, ok := parseFloat(data)
		if ok {
			*p = v
		}
		return ok
	case *int:
		v, ok := parseInt(data)
		if ok {
			*p = v
		}
		return ok
	case *bool:
		switch string(data) {
		case "true":
			*p = true
			return true
		case "false":
			*p = false
			return true
		}
	case *string:
		if len(data) >= 2 && data[0] == '"' && data[len(data)-1] == '"' {
			body := data[1 : len(data)-1]
			for _, c := range body {
				if c == '"' || c == '\\' || c < 0x20 {
					return false // escapes: let encoding/json decode them
				}
			}
			if !utf8.Valid(body) {
				return false // encoding/json replaces invalid bytes
			}
			*p = string(body)
			return true
		}
	}
	return false
}

// decodeNumbers decodes a JSON array of numbers.
func decodeNumbers[N int | float64](data []byte, p *[]N, parse func([]byte) (N, bool)) bool {
	if len(data) < 2 || data[0] != '[' || data[len(data)-1] != ']' {
		return false
	}
	body := trimBlanks(data[1 : len(data)-1])
	if len(body) == 0 {
		*p = []N{}
		return true
	}
	n := 1
	for _, c := range body {
		if c == ',' {
			n++
		}
	}
	out := make([]N, 0, n)
	for len(body) > 0 {
		end := 0
		for end < len(body) && body[end] != ',' {
			end++
		}
		v, ok := parse(trimBlanks(body[:end]))
		if !ok {
			return false
		}
		out = append(out, v)
		if end == len(body) {
			break
		}
		body = body[end+1:]
		if len(body) == 0 {
			return false // trailing comma
		}
	}
	*p = out
	return true
}

// parseInt accepts what encoding/json accepts for an int: an optional
// minus and digits, no leading zeros, no fraction or exponent.
func parseInt(tok []byte) (int, bool) {
	neg := len(tok) > 0 && tok[0] == '-'
	digits := tok
	if neg {
		digits = tok[1:]
	}
	if len(digits) == 0 || len(digits) > 18 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	v := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// parseFloat takes integers of up to 15 digits, exactly representable, by
// hand, and other valid JSON numbers through strconv.
func parseFloat(tok []byte) (float64, bool) {
	if i, ok := parseInt(tok); ok && len(tok) <= 16 {
		return float64(i), true
	}
	if len(tok) == 0 || !json.Valid(tok) || (tok[0] != '-' && (tok[0] < '0' || tok[0] > '9')) {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(tok), 64)
	return v, err == nil
}

func trimBlanks(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isBlank(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
