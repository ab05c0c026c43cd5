package wire

// NoHandlerMessage is the text a NestJS server sends when no handler matches
// a request's pattern.
const NoHandlerMessage = "There is no matching message handler defined in the remote service."

// The fixed parts of replies, in NestJS's key order: id is always last.
// A nil id (possible only on line framing, for a request sent without one)
// omits the id member.
const (
	keyResponse   = `{"response":`
	keyDisposed   = `,"isDisposed":true`
	keyID         = `,"id":`
	keyErr        = `{"err":`
	noHandlerHead = `{"id":`
	noHandlerBody = `"status":"error","err":"` + NoHandlerMessage + `"}`
)

// AppendValue appends a reply carrying one value. disposed marks the last
// value of the reply; a unary reply is a single disposed value:
//
//	{"response":<value>,"isDisposed":true,"id":<id>}
//
// value and id are raw JSON, valid UTF-8; id is echoed exactly as received.
func AppendValue(dst []byte, f Framing, value, id []byte, disposed bool) []byte {
	dst, start := StartFrame(dst, f)
	dst = append(dst, keyResponse...)
	dst = append(dst, value...)
	if disposed {
		dst = append(dst, keyDisposed...)
	}
	dst = appendIDEnd(dst, id)
	return EndFrame(dst, f, start)
}

// AppendValueOf is AppendValue with the value encoded from v by
// [AppendJSON] straight into dst. On an encoding error dst is returned
// unchanged.
func AppendValueOf(dst []byte, f Framing, v any, id []byte, disposed bool) ([]byte, error) {
	out, start := StartFrame(dst, f)
	out = append(out, keyResponse...)
	out, err := AppendJSON(out, v)
	if err != nil {
		return dst, err
	}
	if disposed {
		out = append(out, keyDisposed...)
	}
	out = appendIDEnd(out, id)
	return EndFrame(out, f, start), nil
}

// MarkDisposed turns the value reply that starts at dst[start:] and ends dst,
// written by AppendValue or AppendValueOf with disposed false, into the
// disposed reply with the same value. It lets a stream's completion ride on
// its last value, as NestJS does when both happen at once.
func MarkDisposed(dst []byte, f Framing, start int, id []byte) []byte {
	tail := 1 // "}"
	if id != nil {
		tail += len(keyID) + len(id)
	}
	if f == NDJSON {
		tail++ // "\n"
	}
	valueEnd := len(dst) - tail
	body := start
	if f == NestJS {
		for dst[body] != '#' {
			body++
		}
		body++
	}
	// Count the whole old body, id included: the id is echoed verbatim and
	// may hold non-ASCII text, so its bytes are not its units. (For NDJSON
	// the count is unused.)
	bodyEnd := len(dst)
	if f == NDJSON {
		bodyEnd-- // the newline is not part of the body
	}
	units := Units(dst[body:bodyEnd]) + len(keyDisposed)
	// Rebuild: header, then the body up to the end of the value, then the
	// disposed tail. The body moves right only if the header grows.
	var hdr [24]byte
	h := hdr[:0]
	if f == NestJS {
		h = AppendHeader(h, units)
	}
	shift := len(h) - (body - start)
	dst = dst[:valueEnd]
	if shift > 0 {
		dst = append(dst, make([]byte, shift)...)
		copy(dst[body+shift:], dst[body:valueEnd])
	}
	copy(dst[start:], h)
	dst = append(dst[:valueEnd+shift], keyDisposed...)
	dst = appendIDEnd(dst, id)
	return appendEnd(dst, f)
}

// AppendDisposed appends the reply that completes a call with no further
// value: {"isDisposed":true,"id":<id>}. NestJS sends it for a handler that
// returns nothing, an empty stream, or a stream that completes after its
// last value went out.
func AppendDisposed(dst []byte, f Framing, id []byte) []byte {
	dst, start := StartFrame(dst, f)
	dst = append(dst, '{')
	dst = append(dst, keyDisposed[1:]...)
	dst = appendIDEnd(dst, id)
	return EndFrame(dst, f, start)
}

// AppendError appends an error reply: {"err":<err>,"isDisposed":true,"id":<id>}.
// err is raw JSON, usually {"status":"error","message":"…"}.
func AppendError(dst []byte, f Framing, err, id []byte) []byte {
	dst, start := StartFrame(dst, f)
	dst = append(dst, keyErr...)
	dst = append(dst, err...)
	dst = append(dst, keyDisposed...)
	dst = appendIDEnd(dst, id)
	return EndFrame(dst, f, start)
}

// AppendNoHandler appends NestJS's reply to a request no handler matches:
//
//	{"id":<id>,"status":"error","err":"There is no matching message handler defined in the remote service."}
func AppendNoHandler(dst []byte, f Framing, id []byte) []byte {
	dst, start := StartFrame(dst, f)
	if id != nil {
		dst = append(dst, noHandlerHead...)
		dst = append(dst, id...)
		dst = append(dst, ',')
	} else {
		dst = append(dst, '{')
	}
	dst = append(dst, noHandlerBody...)
	return EndFrame(dst, f, start)
}

// AppendRequest appends a request as a NestJS ClientProxy sends it:
// {"pattern":…,"data":…,"metadata":…,"id":…}. metadata is omitted when nil;
// a nil data is sent as null.
func AppendRequest(dst []byte, f Framing, pattern, data, metadata, id []byte) []byte {
	return appendPacket(dst, f, pattern, data, metadata, id)
}

// AppendRequestOf is AppendRequest with data encoded from a Go value by
// [AppendJSON] straight into dst. On an encoding error dst is returned
// unchanged.
func AppendRequestOf(dst []byte, f Framing, pattern []byte, data any, metadata, id []byte) ([]byte, error) {
	out, start := StartFrame(dst, f)
	out = append(out, `{"pattern":`...)
	out = append(out, pattern...)
	out = append(out, `,"data":`...)
	out, err := AppendJSON(out, data)
	if err != nil {
		return dst, err
	}
	if metadata != nil {
		out = append(out, `,"metadata":`...)
		out = append(out, metadata...)
	}
	out = appendIDEnd(out, id)
	return EndFrame(out, f, start), nil
}

// AppendEvent appends an event: a request without id, which gets no reply.
func AppendEvent(dst []byte, f Framing, pattern, data, metadata []byte) []byte {
	return appendPacket(dst, f, pattern, data, metadata, nil)
}

func appendPacket(dst []byte, f Framing, pattern, data, metadata, id []byte) []byte {
	if data == nil {
		data = []byte("null")
	}
	dst, start := StartFrame(dst, f)
	dst = append(dst, `{"pattern":`...)
	dst = append(dst, pattern...)
	dst = append(dst, `,"data":`...)
	dst = append(dst, data...)
	if metadata != nil {
		dst = append(dst, `,"metadata":`...)
		dst = append(dst, metadata...)
	}
	dst = appendIDEnd(dst, id)
	return EndFrame(dst, f, start)
}

// headerRoom is the space StartFrame reserves for a length prefix: ten
// digits and '#', enough for any frame a scanner accepts.
const headerRoom = 11

// StartFrame begins a frame at the end of dst: the caller appends the body
// and then calls EndFrame with the returned start.
func StartFrame(dst []byte, f Framing) ([]byte, int) {
	start := len(dst)
	if f == NestJS {
		dst = append(dst, "00000000000"[:headerRoom]...)
	}
	return dst, start
}

// EndFrame completes the frame begun at start: for NestJS framing it counts
// the body's UTF-16 units and writes the length prefix in front of it; for
// line framing it appends the newline.
func EndFrame(dst []byte, f Framing, start int) []byte {
	switch f {
	case NDJSON:
		return append(dst, '\n')
	case Unframed:
		return dst
	}
	body := start + headerRoom
	var hdr [headerRoom + 8]byte
	h := AppendHeader(hdr[:0], Units(dst[body:]))
	// Close the gap between the prefix and the body.
	n := copy(dst[start:], h)
	m := copy(dst[start+n:], dst[body:])
	return dst[:start+n+m]
}

func appendIDEnd(dst []byte, id []byte) []byte {
	if id != nil {
		dst = append(dst, keyID...)
		dst = append(dst, id...)
	}
	return append(dst, '}')
}

func appendEnd(dst []byte, f Framing) []byte {
	if f == NDJSON {
		return append(dst, '\n')
	}
	return dst
}
