package natsrpc

import (
	"fmt"
	"strings"
)

// maxSubject bounds a subject: a NATS control line (SUB, PUB with reply
// and sizes) must stay under 4096 bytes, or the server drops the whole
// connection.
const maxSubject = 1024

// checkSubject reports why key cannot be subscribed as a NATS subject.
func checkSubject(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("empty subject")
	case len(key) > maxSubject:
		return fmt.Errorf("longer than %d bytes", maxSubject)
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
// handler registered as "x", and whether key takes one: a key needing no
// JSON escaping that is not itself an object.
func cmdSubject(key string) (string, bool) {
	if key == "" || key[0] == '{' || strings.ContainsAny(key, `"\`) {
		return "", false
	}
	for _, r := range key {
		if r < 0x20 {
			return "", false
		}
	}
	return `{"cmd":"` + key + `"}`, true
}
