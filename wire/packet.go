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
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	var p Packet
	err := walkObject(body, maxDepth, func(key, v []byte) {
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
	})
	if err != nil {
		return Packet{}, err
	}
	return p, nil
}

// walkObject validates body as one JSON object and calls member for each of
// its members, in order, with the decoded key and the raw value (capped so
// that appending to it cannot overwrite the body). A body that is valid
// JSON but not an object gives ErrNotObject.
func walkObject(body []byte, maxDepth int, member func(key, value []byte)) error {
	i := skipBlanks(body, 0)
	if i >= len(body) {
		return ErrNotEnded
	}
	if body[i] != '{' {
		if err := Valid(body, maxDepth); err != nil {
			return err
		}
		return ErrNotObject
	}
	i = skipBlanks(body, i+1)
	if i < len(body) && body[i] == '}' {
		return checkEnd(body, i+1)
	}
	for {
		if i >= len(body) {
			return ErrNotEnded
		}
		if body[i] != '"' {
			return ErrSyntax
		}
		keyStart := i
		end, escaped, err := scanString(body, i)
		if err != nil {
			return err
		}
		key := body[keyStart+1 : end-1]
		if escaped {
			key = unescapeKey(body[keyStart:end])
		}
		i = skipBlanks(body, end)
		if i >= len(body) {
			return ErrNotEnded
		}
		if body[i] != ':' {
			return ErrSyntax
		}
		vStart := skipBlanks(body, i+1)
		vEnd, err := skipValue(body, vStart, 1, maxDepth)
		if err != nil {
			return err
		}
		member(key, body[vStart:vEnd:vEnd])
		i = skipBlanks(body, vEnd)
		if i >= len(body) {
			return ErrNotEnded
		}
		switch body[i] {
		case ',':
			i = skipBlanks(body, i+1)
		case '}':
			return checkEnd(body, i+1)
		default:
			return ErrSyntax
		}
	}
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
