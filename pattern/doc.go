// Package pattern computes the route keys of NestJS microservice patterns.
//
// A NestJS microservice (the TCP, NATS and Redis transports) finds the handler
// for a message by turning the message's pattern, a string, a number or a
// JSON object, into a string, its route key, and looking that up in a map
// filled from the handlers' own patterns. A peer that wants to answer or
// reach Nest handlers must compute the same keys. [Route] does it for a
// pattern received on the wire, [Of] for a pattern a Go program registers or
// sends, and [FormatNumber] prints numbers as JavaScript does. The package
// follows @nestjs/microservices 12.x (and 11.1.18 onwards):
// transformPatternToRoute in utils/transform-pattern.utils.ts and the
// getPatternAsString, getRouteFromPattern and normalizePattern methods of
// server/server.ts.
//
// # Route keys
//
// transformPatternToRoute writes:
//
//   - a string as itself, without quotes or escapes;
//   - a number as JavaScript's Number.prototype.toString prints it: 42, 4.5,
//     1e+21, 1e-7, and 0 for -0;
//   - an object as {"key":value,...} with no spaces, its keys sorted with
//     String.prototype.localeCompare, that is ICU collation, not code point
//     order: _x, -x, 1, 10, 2, a, A, a_b, a-b, ab, b, B, cmd, Cmd, é, z, Z;
//   - inside an object: keys and string values in double quotes, with only
//     '\' and '"' escaped by a backslash (other characters, control
//     characters included, are written raw); numbers as above; true, false
//     and null literally; nested objects recursively;
//   - an array as an object keyed by index: [1,"x"] is {"0":1,"1":"x"}, and
//     the indexes sort as strings ("10" before "2");
//   - an object nested more than five levels below the pattern as
//     [MAX_DEPTH_REACHED], and an object or array with more than twenty keys
//     as [TOO_MANY_KEYS], both unquoted; the whole pattern can be
//     [TOO_MANY_KEYS]. The depth check comes first.
//
// So {"role":"math","cmd":"sum"} routes to {"cmd":"sum","role":"math"}, and
// {"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}} to
// {"a":{"b":{"c":{"d":{"e":{"f":[MAX_DEPTH_REACHED]}}}}}}.
//
// Keys are sorted in JavaScript's Object.keys order first (keys that are
// array indexes, "0" to "4294967294" without leading zeros, in numeric
// order, then the others as they appeared), then with a stable sort. The
// first order only shows for keys that collate equal, such as "a" and
// "a\u0001". A key that appears twice keeps its first position and its last
// value, as with JSON.parse.
//
// # Receiving
//
// A Nest server that receives {"pattern":p,...} computes the route of
// JSON.parse(s), where s is p itself if p is a string and JSON.stringify(p)
// otherwise; if s is not JSON, the route is s. [Route] does the same, so:
//
//   - "sum" routes to sum, and "\"sum\"" routes to sum as well;
//   - 42 and "42" route to 42; "4.50" and " 4.5 " route to 4.5;
//   - an object routes alike whether it arrives as an object or as a JSON
//     string, in any key order and spacing: "{\"b\":1,\"a\":2}" routes to
//     {"a":2,"b":1}, and "[1,2]" to {"0":1,"1":2};
//   - null, true and false, and the strings "null", "true" and "false",
//     never match any handler: transformPatternToRoute returns them as they
//     are and the handler map holds only strings. Route reports them with
//     ok == false;
//   - a number literal too large for a double, such as 1e400, becomes
//     Infinity when Nest parses the frame and null after JSON.stringify: as a
//     pattern it never matches and inside an object it routes as null. In a
//     string pattern ("1e400") it stays Infinity and routes as Infinity.
//
// Nest decodes the frame as UTF-8 before parsing, replacing each invalid
// sequence with U+FFFD as the WHATWG Encoding Standard says; Route does the
// same for invalid UTF-8 inside strings.
//
// # Registering
//
// Nest's normalizePattern applies transformPatternToRoute to the pattern of
// @MessagePattern(p) with no JSON.parse: a string handler pattern is its own
// route verbatim. @MessagePattern("{\"cmd\":\"x\"}") is therefore reached by
// a client that sends that exact text, or the object {cmd:"x"} in any form.
// A handler string that a received pattern can never route to is never
// reached: "null", "4.50", "\"sum\"" or "{\"b\":1,\"a\":2}" (keys not in
// route order), since whatever a client sends is parsed first and routes to
// null, 4.5, sum or {"a":2,"b":1}. [Of] follows these rules for Go values and
// reports none of them as an error.
//
// # Differences from Nest
//
//   - Lone surrogates (from \uD800-style escapes) are kept in their 3-byte
//     WTF-8 form, the generalized UTF-8 encoding of the surrogate code point,
//     so the route holds the same code units as Nest's; it is then not valid
//     UTF-8. A high surrogate followed by a low one becomes one character.
//   - Key order comes from golang.org/x/text/collate, which agrees with the
//     ICU in Node on ASCII and on the Latin, Greek and Cyrillic letters, but
//     may differ for newer scripts, unassigned code points, some Han
//     characters and digits of other scripts (ICU holds "०" equal to "0").
//     Among punctuation and symbols about 1% of pairs order differently
//     (measured against Node 20 and NestJS 12): ICU holds the curly quotes
//     (U+2018–U+201F) as variants of ' and ", which x/text orders apart,
//     and newer currency signs (₻, ⃀) and ₧ sit elsewhere. Keys of ASCII,
//     Latin, Greek and Cyrillic letters and digits are unaffected, but for
//     the letters added in Unicode 7.0 (Ϳ, U+0528–U+052F), and for đ, ħ and
//     ł against the letters with a dot or line below (ḍ, ḥ, ḷ), whose
//     accents the two order the other way round. (x/text gives the
//     Cyrillic letters with a diacritic, ї, ў, ѓ, ќ, ӓ, ӧ and the like, a
//     primary weight of their own where ICU orders them as their base
//     letter with an accent; the package rewrites them so that x/text
//     orders them as ICU does.)
//     It also sorts U+FFFD before the letters, where ICU sorts it after
//     nearly everything, and holds all lone surrogates equal, where ICU
//     orders them by code point.
//   - Patterns nested deeper than 10000 levels are rejected. Nest parses any
//     depth, but its JSON.stringify of a non-string pattern fails somewhere
//     past 4000 levels, depending on its stack, and the route becomes
//     "[UNSERIALIZABLE_PATTERN]".
package pattern
