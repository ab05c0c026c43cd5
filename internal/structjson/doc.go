// Package structjson decodes JSON into Go values several times faster than
// encoding/json's reflection walk, with encoding/json's exact results; and
// encodes Go values to encoding/json's exact text (HTML escaping off,
// U+2028/U+2029 raw as JSON.stringify writes them), faster.
//
// It exists for the typed handlers and calls of package rpc, where decoding
// a request of a KiB into structs cost most of the server's time (see
// docs/PERFORMANCE-NOTES.md, "The JSON path"). Per Go type it compiles a
// plan once (field offsets, a name index, a decoder per kind) and then
// walks the input once, validating as it goes, writing through unsafe
// pointers.
//
// Exactness is kept by refusing rather than guessing: whatever the fast path
// is not sure to decode exactly as encoding/json would — a type it does not
// cover (embedded fields, the ",string" option, arrays, channels, non-empty
// interfaces, map keys other than strings, []byte), invalid UTF-8, lone
// surrogates, numbers out of range, any syntax or type error — makes
// Unmarshal zero the target and hand the input to encoding/json, whose result
// and error the caller then gets. The fuzz test holds the two to the same
// results. A target that is not a zero value goes to encoding/json
// directly, since only from a zero value can a fallback start over.
//
// A json.Unmarshaler or TextUnmarshaler is called once per value, as
// encoding/json calls it, though the fast path may give up on the document
// after it: a type holding one that is not the standard library's (whose
// methods only set their receiver, and are called: a malformed time ends
// that pass) is decoded first into a scratch value without calling them,
// and only a document that pass decodes exactly is decoded again with them. (The price: 1.4 times the decoding time of a
// struct with seven such values, 2.5 µs against 1.7, encoding/json's 3.2;
// time.Time and net/netip's types do not pay it.) One case
// remains: when such a method itself fails, the partial value encoding/json
// leaves with its error is had from encoding/json, which calls the methods
// before it, and it, a second time.
//
// And a float holding -0 counts as zero (as reflect's IsZero has it), so
// a fallback leaves it +0 where encoding/json would have left it alone.
// The rpc package always decodes into a fresh value.
//
// Append, the encoder, works the same way: plans per type, and ok=false
// (the caller then uses encoding/json) for what it does not cover —
// embedded fields, ",string" and ",omitzero", []byte, arrays, non-empty
// interfaces, Marshaler methods with pointer receivers (encoding/json calls
// them only on addressable values), NaN, cycles, a Marshaler's error.
// When it gives up partway (a NaN after a Marshaler, say), encoding/json
// encodes the whole value again and calls the Marshaler methods before
// that point a second time (a Marshaler with side effects sees two calls;
// its output is used once).
package structjson
