package natsrpc

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// maxControlLine is the NATS server's default max_control_line: a client's
// protocol line (SUB, PUB with reply and sizes) must stay within it, or the
// server drops the whole connection.
const maxControlLine = 4096

// maxSubject bounds a subject we subscribe to, leaving the PUB line of a
// request to it room for a reply subject of the sender's choosing.
const maxSubject = 1024

// checkLength reports a subject longer than max bytes.
func checkLength(subject string, max int) error {
	if len(subject) > max {
		return fmt.Errorf("%d bytes, longer than %d", len(subject), max)
	}
	return nil
}

// checkPublish reports a subject whose PUB line, with reply (empty for
// none) and a payload of size bytes, would pass maxControlLine: the NATS
// server would drop the connection and every call on it.
func checkPublish(subject, reply string, size int) error {
	// "PUB <subject> <reply> <size>\r\n"
	max := maxControlLine - len("PUB   \r\n") - len(reply) - len(strconv.Itoa(size))
	if err := checkLength(subject, max); err != nil {
		return fmt.Errorf("natsrpc: route key too long for a NATS subject (%v: a NATS control line is at most %d bytes): %w", err, maxControlLine, nats.ErrBadSubject)
	}
	return nil
}

// checkSubject reports why key cannot be subscribed as a NATS subject.
func checkSubject(key string) error {
	if key == "" {
		return fmt.Errorf("empty subject")
	}
	if err := checkLength(key, maxSubject); err != nil {
		return err
	}
	switch {
	case strings.ContainsAny(key, " \t\r\n"):
		return fmt.Errorf("white space is not allowed in a NATS subject")
	case strings.HasPrefix(key, "$"), strings.HasPrefix(key, "_INBOX."):
		return fmt.Errorf("subjects beginning with $ or _INBOX. are reserved by NATS")
	}
	for tok := range strings.SplitSeq(key, ".") {
		switch tok {
		case "":
			return fmt.Errorf("empty token (a '.' at the start or end, or two in a row)")
		case "*", ">":
			return fmt.Errorf("token %q is a NATS wildcard", tok)
		}
	}
	return nil
}

// cmdSubject returns the {"cmd":"x"} subject a NestJS client sends to for a
// handler registered as "x", and whether key takes one: a key that is not
// itself an object. The subject is the route key of {cmd: x}, which escapes
// '"' and '\' and writes every other character, control characters
// included, as it is (package pattern).
func cmdSubject(key string) (string, bool) {
	if key == "" || key[0] == '{' {
		return "", false
	}
	b := make([]byte, 0, len(key)+len(`{"cmd":""}`)+4)
	b = append(b, `{"cmd":"`...)
	for i := 0; i < len(key); i++ {
		if c := key[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, key[i])
	}
	return string(append(b, `"}`...)), true
}
