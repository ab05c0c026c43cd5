package main

// The arguments of send, emit and bench: PATTERN and DATA, and
// --metadata key=value.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/msgpattern/msgpattern/pattern"
)

// parsePattern reads PATTERN: a JSON object when it starts with '{', a
// plain string otherwise. A string is routed as it is, so 42 and "42" reach
// the same handler (NestJS routes the number 42 as "42").
func parsePattern(arg string) (any, error) {
	if arg == "" {
		return nil, errors.New("PATTERN is empty")
	}
	if !strings.HasPrefix(strings.TrimLeft(arg, " \t\r\n"), "{") {
		return arg, nil
	}
	raw, err := compactJSON([]byte(arg))
	if err != nil {
		return nil, fmt.Errorf("PATTERN starts with '{' but is not a JSON object: %w", err)
	}
	if _, err := pattern.Of(raw); err != nil {
		return nil, fmt.Errorf("PATTERN %s cannot be routed: %w", raw, err)
	}
	return raw, nil
}

// parseData reads DATA: JSON text, @FILE, or @- for standard input. No
// DATA is null.
func parseData(args []string, stdin io.Reader) (json.RawMessage, error) {
	if len(args) == 0 {
		return json.RawMessage("null"), nil
	}
	arg := args[0]
	var (
		text  []byte
		where string
		err   error
	)
	switch {
	case arg == "@-":
		where = "DATA from stdin"
		text, err = io.ReadAll(stdin)
	case strings.HasPrefix(arg, "@"):
		where = "DATA in " + arg[1:]
		text, err = os.ReadFile(arg[1:])
	default:
		raw, err := compactJSON([]byte(arg))
		if err != nil {
			return nil, fmt.Errorf("DATA is not valid JSON (%w)%s", err, quoteHint(arg))
		}
		return raw, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading DATA: %w", err)
	}
	if len(bytes.TrimSpace(text)) == 0 {
		return nil, fmt.Errorf("%s is empty; want one JSON value (null for none)", where)
	}
	raw, err := compactJSON(text)
	if err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", where, err)
	}
	return raw, nil
}

// compactJSON checks that b holds exactly one JSON value and returns it
// without insignificant blanks.
func compactJSON(b []byte) (json.RawMessage, error) {
	var v json.RawMessage
	if err := json.Unmarshal(b, &v); err != nil {
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			return nil, fmt.Errorf("%w, at byte %d", err, se.Offset)
		}
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// quoteHint suggests JSON quotes for DATA that looks like a bare string.
func quoteHint(arg string) string {
	if s := strings.TrimSpace(arg); s != "" && strings.ContainsRune(`{["`, rune(s[0])) {
		return ""
	}
	q, _ := json.Marshal(arg)
	return fmt.Sprintf("; DATA is JSON, so a string needs quotes: '%s'", q)
}

// metadataFlag collects --metadata key=value flags.
type metadataFlag map[string]string

func (m *metadataFlag) String() string {
	if m == nil || len(*m) == 0 {
		return ""
	}
	kv := make([]string, 0, len(*m))
	for k, v := range *m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

func (m *metadataFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	if *m == nil {
		*m = metadataFlag{}
	}
	(*m)[k] = v
	return nil
}
