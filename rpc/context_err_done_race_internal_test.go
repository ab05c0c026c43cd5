package rpc

import (
	"context"
	"testing"
	"time"
)

// errBlockingParent is a live context (Done open, Err nil) whose first Err call
// blocks until released, to hold Err's window between its two locks, and
// whose deadline, already passed, is one its timer has not acted on yet.
type errBlockingParent struct {
	context.Context
	entered, release chan struct{}
	calls            int
}

func (p *errBlockingParent) Deadline() (time.Time, bool) { return time.Now().Add(-time.Hour), true }
func (p *errBlockingParent) Err() error {
	p.calls++
	if p.calls == 1 {
		close(p.entered)
		<-p.release
	}
	return nil
}

// TestErrStableWhenDoneRacesErr: Err read the parent outside the request's
// lock, and a Done in that window made the real context; Err then fixed
// its own error (DeadlineExceeded) while every later Err answered the real
// context's, nil until its timer fired: an error that went back to nil.
func TestErrStableWhenDoneRacesErr(t *testing.T) {
	p := &errBlockingParent{Context: context.Background(), entered: make(chan struct{}), release: make(chan struct{})}
	rc := &requestContext{parent: p, deadline: monotime() - int64(time.Millisecond)} // passed
	first := make(chan error)
	go func() { first <- rc.Err() }()
	<-p.entered
	rc.Done() // another goroutine of the handler asks for Done meanwhile
	close(p.release)
	e1 := <-first
	e2 := rc.Err()
	if e1 != nil && e2 != e1 {
		t.Fatalf("Err changed once non-nil: first %v, then %v", e1, e2)
	}
}
