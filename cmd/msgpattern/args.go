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
		text, err = readData(stdin)
	case strings.HasPrefix(arg, "@"):
		where = "DATA in " + arg[1:]
		text, err = readDataFile(arg[1:])
	default:
		raw, err := compactJSON([]byte(arg))
		if err != nil {
			return nil, fmt.Errorf("DATA is not valid JSON (%w)%s", err, quoteHint(arg))
		}
		return raw, nil
	}
	if errors.Is(err, errDataTooLarge) {
		return nil, fmt.Errorf("%s is over %d MiB, the most msgpattern reads (a server takes frames "+
			"of 16 Mi UTF-16 units by default, 16 to 48 MiB of UTF-8)", where, maxDataBytes>>20)
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

// maxDataBytes bounds DATA read from @FILE or @-: more than a server with
// the default frame limit takes (16 Mi UTF-16 units, at most 48 MiB of
// UTF-8), so that no DATA such a server accepts is refused, while
// @/dev/zero, a runaway pipe or the wrong file fails at once, before
// connecting, rather than filling memory (curl and grpcurl read it all).
const maxDataBytes = 64 << 20

// errDataTooLarge is the error of DATA over maxDataBytes.
var errDataTooLarge = errors.New("DATA too large")

// readData reads r to its end, at most maxDataBytes.
func readData(r io.Reader) ([]byte, error) {
	text, err := io.ReadAll(io.LimitReader(r, maxDataBytes+1))
	if err == nil && len(text) > maxDataBytes {
		return nil, errDataTooLarge
	}
	return text, err
}

// readDataFile reads file, at most maxDataBytes: a regular file longer
// than that is refused without being read.
func readDataFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > maxDataBytes {
		return nil, errDataTooLarge
	}
	return readData(f)
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
