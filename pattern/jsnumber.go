package pattern

import (
	"math"
	"strconv"
)

// FormatNumber formats f as JavaScript's Number.prototype.toString does
// (ECMAScript Number::toString with radix 10): the shortest digit string that
// reads back as f, written in plain notation when the decimal exponent is in
// [-7, 21) and in exponent notation ("1e+21", "1.5e-7") otherwise. Negative
// zero prints as "0", NaN as "NaN" and the infinities as "Infinity" and
// "-Infinity".
func FormatNumber(f float64) string {
	var buf [32]byte
	return string(AppendNumber(buf[:0], f))
}

// AppendNumber appends the [FormatNumber] form of f to dst and returns the
// extended slice.
func AppendNumber(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		// Covers -0 too: ToString(-0) is "0".
		return append(dst, '0')
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}

	// strconv's shortest form picks the fewest digits that round-trip and,
	// among those, the closest to f: the same digits ECMAScript asks for.
	// Only the layout differs, so take the digits and the exponent from the
	// 'e' form ("d.ddde±XX") and lay them out again.
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	var digits [20]byte
	k := 0
	i := 0
	for ; e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[k] = e[i]
			k++
		}
	}
	exp := 0
	for _, c := range e[i+2:] {
		exp = exp*10 + int(c-'0')
	}
	if e[i+1] == '-' {
		exp = -exp
	}
	n := exp + 1 // position of the decimal point relative to the digits

	switch {
	case k <= n && n <= 21:
		// Integer: the digits, then n-k zeros.
		dst = append(dst, digits[:k]...)
		for j := k; j < n; j++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:k]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for j := n; j < 0; j++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits[:k]...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:k]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}
