package wire

// Framing is how messages are delimited on a byte stream.
type Framing uint8

const (
	// NestJS is "<length>#<json>", the framing of NestJS's TCP transport.
	NestJS Framing = iota
	// NDJSON is one JSON object per line, for tools such as nc and telnet.
	NDJSON
	// Unframed is a packet alone, for transports whose messages are
	// delimited already (NATS): no length prefix, no newline.
	Unframed
)

// String returns "nestjs", "ndjson" or "unframed".
func (f Framing) String() string {
	switch f {
	case NDJSON:
		return "ndjson"
	case Unframed:
		return "unframed"
	}
	return "nestjs"
}

// DetectFraming chooses the framing of a stream from its first byte that is
// not an ASCII blank: a digit or '+' means NestJS framing, '{' means NDJSON.
// ok is false if b holds only such blanks; known is false for any other byte,
// a non-ASCII blank (a BOM) included, which a frame's length prefix may
// otherwise start with: sniffing stays byte by byte.
func DetectFraming(b []byte) (f Framing, ok, known bool) {
	for _, c := range b {
		switch {
		case isJSBlank(c):
			continue
		case c >= '0' && c <= '9' || c == '+':
			return NestJS, true, true
		case c == '{':
			return NDJSON, true, true
		default:
			return NestJS, true, false
		}
	}
	return NestJS, false, false
}

// Scanner finds frames in a byte stream; [FrameScanner] and [LineScanner]
// implement it.
type Scanner interface {
	Scan(buf []byte) (Frame, error)
	Pending() bool
	Reset()
}
