package wire

import (
	"encoding/json"
	"errors"
)

// ErrNotObject means a frame holds valid JSON that is not an object, such as
// "5#12.34": NestJS's own codec tests send these, but they are not packets.
var ErrNotObject = errors.New("wire: packet is not a JSON object")

// Packet is a request or event as it arrives: the raw JSON of its members,
// each aliasing the frame body, nil when the member is absent.
type Packet struct {
	Pattern  []byte
	Data     []byte
	ID       []byte // nil for an event; "null" is a request whose id is null
	Metadata []byte // NestJS 12 metadata object, usually absent
}

// IsEvent reports whether the packet expects no reply: it has no id member
// at all (an id of null still gets a reply, as NestJS does).
func (p *Packet) IsEvent() bool { return p.ID == nil }

// ParseRequest validates body as a JSON object nested no deeper than
// maxDepth (0 means [DefaultMaxDepth]) and returns its members. Members
// other than pattern, data, id and metadata are validated and ignored; when
// a member repeats, the last one wins, as with JSON.parse.
func ParseRequest(body []byte, maxDepth int) (Packet, error) {
	var p Packet
	o := objectReader{body: body, maxDepth: maxDepth}
	for {
		key, v, ok, err := o.next()
		if err != nil {
			return Packet{}, err
		}
		if !ok {
			return p, nil
		}
		switch string(key) {
		case "pattern":
			p.Pattern = v
		case "data":
			p.Data = v
		case "id":
			p.ID = v
		case "metadata":
			p.Metadata = v
		}
	}
}

// objectReader validates one JSON object and steps through its members.
// (A loop over next, rather than a callback per member, keeps the hot path
// free of indirect calls.)
type objectReader struct {
	body     []byte
	maxDepth int
	i        int
	started  bool
	done     bool
}

// next returns the next member: its decoded key and its raw value (capped so
// that appending to it cannot overwrite the body). ok is false after the
// last member. A body that is valid JSON but not an object gives
// ErrNotObject.
func (o *objectReader) next() (key, value []byte, ok bool, err error) {
	body := o.body
	if o.done {
		return nil, nil, false, nil
	}
	if !o.started {
		o.started = true
		if o.maxDepth <= 0 {
			o.maxDepth = DefaultMaxDepth
		}
		i := skipBlanks(body, 0)
		if i >= len(body) {
			return nil, nil, false, ErrNotEnded
		}
		if body[i] != '{' {
			if err := Valid(body, o.maxDepth); err != nil {
				return nil, nil, false, err
			}
			return nil, nil, false, ErrNotObject
		}
		i = skipBlanks(body, i+1)
		if i < len(body) && body[i] == '}' {
			o.done = true
			return nil, nil, false, checkEnd(body, i+1)
		}
		o.i = i
	}
	i := o.i
	if i >= len(body) {
		return nil, nil, false, ErrNotEnded
	}
	if body[i] != '"' {
		return nil, nil, false, ErrSyntax
	}
	keyStart := i
	end, escaped, err := scanString(body, i)
	if err != nil {
		return nil, nil, false, err
	}
	key = body[keyStart+1 : end-1]
	if escaped {
		key = unescapeKey(body[keyStart:end])
	}
	i = skipBlanks(body, end)
	if i >= len(body) {
		return nil, nil, false, ErrNotEnded
	}
	if body[i] != ':' {
		return nil, nil, false, ErrSyntax
	}
	vStart := skipBlanks(body, i+1)
	vEnd, err := skipValue(body, vStart, 1, o.maxDepth)
	if err != nil {
		return nil, nil, false, err
	}
	value = body[vStart:vEnd:vEnd]
	i = skipBlanks(body, vEnd)
	if i >= len(body) {
		return nil, nil, false, ErrNotEnded
	}
	switch body[i] {
	case ',':
		o.i = skipBlanks(body, i+1)
	case '}':
		o.done = true
		if err := checkEnd(body, i+1); err != nil {
			return nil, nil, false, err
		}
	default:
		return nil, nil, false, ErrSyntax
	}
	return key, value, true, nil
}

func checkEnd(b []byte, i int) error {
	if skipBlanks(b, i) != len(b) {
		return ErrSyntax
	}
	return nil
}

// unescapeKey decodes a member name written with escapes ("p\u0061ttern"),
// which JSON.parse treats as the plain name. Rare, so it may allocate.
func unescapeKey(quoted []byte) []byte {
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return nil
	}
	return []byte(s)
}
