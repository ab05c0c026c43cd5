package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dataBound is the most DATA that @FILE and @- read: 64 MiB, above the 48
// MiB of UTF-8 that a default frame (16 Mi UTF-16 units) can hold.
const dataBound = 64 << 20

// endless is a stdin that does not end (yes, /dev/zero, a runaway
// producer): it counts the bytes read, and fails a read past limit so that
// a reader without a bound stops at last.
type endless struct{ n, limit int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.n >= e.limit {
		return 0, errors.New("endless: read past the test's limit")
	}
	m := min(int64(len(p)), e.limit-e.n)
	for i := range p[:m] {
		p[i] = ' '
	}
	e.n += m
	return int(m), nil
}

func TestDataFromStdinIsBounded(t *testing.T) {
	in := &endless{limit: dataBound + 16<<20}
	_, err := parseData([]string{"@-"}, in)
	if err == nil {
		t.Fatal("parseData(@-) of an endless stdin: no error")
	}
	if in.n > dataBound+1 {
		t.Errorf("parseData(@-) read %d bytes of an endless stdin; want at most %d", in.n, dataBound+1)
	}
	if !strings.Contains(err.Error(), "over 64 MiB") {
		t.Errorf("error %q does not say that DATA is over 64 MiB", err)
	}
}

func TestDataFileIsBounded(t *testing.T) {
	file := filepath.Join(t.TempDir(), "big.json")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: no disk, and no memory unless it is read.
	if err := f.Truncate(dataBound + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = parseData([]string{"@" + file}, nil)
	if err == nil || !strings.Contains(err.Error(), "over 64 MiB") {
		t.Errorf("parseData(@FILE) of a %d-byte file: error %v; want one saying DATA is over 64 MiB", dataBound+1, err)
	}
}
