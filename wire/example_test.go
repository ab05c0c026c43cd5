package wire_test

import (
	"fmt"

	"github.com/msgpattern/msgpattern/wire"
)

// A frame arrives in two reads, the first ending inside "é". The scanner
// reports nothing until the frame is complete, then its body and size.
func ExampleFrameScanner_Scan() {
	reads := []string{
		`19#{"data":"h` + "\xC3",
		"\xA9llo 😀\"}" + `2#{}`,
	}
	var s wire.FrameScanner
	var buf []byte
	for _, r := range reads {
		buf = append(buf, r...)
		for len(buf) > 0 {
			f, err := s.Scan(buf)
			if err != nil {
				fmt.Println("error:", err) // close the connection
				return
			}
			if f.Len == 0 {
				fmt.Printf("incomplete: have %d bytes, need at least %d more\n", len(buf), s.MinRemaining())
				break
			}
			fmt.Printf("frame: %s (%d bytes)\n", f.Body, f.Len)
			buf = buf[f.Len:]
		}
	}
	// Output:
	// incomplete: have 14 bytes, need at least 8 more
	// frame: {"data":"héllo 😀"} (25 bytes)
	// frame: {} (4 bytes)
}

// A unary reply as a NestJS server writes it: the length counts UTF-16
// units, so "😀" adds two and "é" one.
func ExampleAppendValue() {
	id := []byte(`"id-uni"`)
	out := wire.AppendValue(nil, wire.NestJS, []byte(`"héllo 😀"`), id, true)
	fmt.Println(string(out))

	// Line framing, for nc and friends.
	out = wire.AppendValue(nil, wire.NDJSON, []byte(`3`), []byte(`7`), true)
	fmt.Print(string(out))
	// Output:
	// 55#{"response":"héllo 😀","isDisposed":true,"id":"id-uni"}
	// {"response":3,"isDisposed":true,"id":7}
}
