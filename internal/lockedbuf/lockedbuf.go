// Package lockedbuf is a bytes.Buffer that goroutines may share: for tests
// that collect a log or a child process's output while they read it.
package lockedbuf

import (
	"bytes"
	"sync"
)

// Buffer is written by some goroutines while others read it. The zero
// value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
