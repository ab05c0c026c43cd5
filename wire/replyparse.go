package wire

import "strconv"

// Reply is a reply packet as it arrives at a client: the raw JSON of its
// members, aliasing the frame body, nil when absent.
type Reply struct {
	ID       []byte
	Response []byte
	Err      []byte
	Status   []byte
	// IsDisposed is the JavaScript truthiness of isDisposed, which is
	// what a NestJS client tests.
	IsDisposed bool
	// Disposed is the raw isDisposed member, nil when absent: a packet
	// with none of err, response and isDisposed is not a reply to a NestJS
	// client, whatever its other members.
	Disposed []byte
}

// HasReplyMember reports whether the packet has an err, response or
// isDisposed member, as a NestJS reply does (and a plain NATS responder's
// answer, which NestJS calls external, does not).
func (r *Reply) HasReplyMember() bool {
	return r.Err != nil || r.Response != nil || r.Disposed != nil
}

// IsFinal reports whether the reply completes its call: it is disposed or
// carries an error (a NestJS client completes on either).
func (r *Reply) IsFinal() bool { return r.IsDisposed || r.HasError() }

// HasError reports whether the reply carries an error. Like a NestJS
// client, it ignores a falsy err (null, false, "", a number equal to 0).
func (r *Reply) HasError() bool { return truthy(r.Err) }

// truthy reports JavaScript's truthiness of the valid JSON value v; absent
// (nil) is undefined, falsy. NestJS clients test err and isDisposed so.
func truthy(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case 'n', 'f':
		return false
	case '"':
		return len(v) > 2
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		// By value, as JSON.parse reads it: -0, 0.0, 0e5 and 1e-400 (which
		// underflows) are 0; 1e400 is Infinity, truthy.
		f, _ := strconv.ParseFloat(string(v), 64)
		return f != 0
	}
	return true // true, objects and arrays
}

// ParseReply validates body as a JSON object nested no deeper than maxDepth
// (0 means [DefaultMaxDepth]) and returns its reply members. ok is false
// when the object has a member outside id, err, response, isDisposed and
// status: a NestJS 12 client takes such a frame as a foreign message (the
// whole object its call's value), NestJS 10 and 11 read its reply members
// when it has some; HasReplyMember tells the two apart.
func ParseReply(body []byte, maxDepth int) (r Reply, ok bool, err error) {
	ok = true
	o := objectReader{body: body, maxDepth: maxDepth}
	for {
		key, value, more, err := o.next()
		if err != nil {
			return Reply{}, false, err
		}
		if !more {
			return r, ok, nil
		}
		switch string(key) {
		case "id":
			r.ID = value
		case "response":
			r.Response = value
		case "err":
			r.Err = value
		case "status":
			r.Status = value
		case "isDisposed":
			r.IsDisposed = truthy(value)
			r.Disposed = value
		default:
			ok = false
		}
	}
}
