package rpc

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/msgpattern/msgpattern/internal/textclip"
)

// peerText is bytes a peer sent, for a log line: at most peerTextMax of
// them, so that a peer cannot make a line as long as a frame. The string is
// made only when the line is written.
type peerText []byte

const peerTextMax = 256

func (t peerText) LogValue() slog.Value {
	return slog.StringValue(textclip.Clip(t, peerTextMax))
}

// logLimiter keeps a misbehaving peer or handler from flooding the log: it
// lets through a burst of lines per second and then counts what it drops,
// reporting the count with the next line it lets through.
type logLimiter struct {
	mu         sync.Mutex
	perSecond  int
	windowFrom time.Time
	inWindow   int
	suppressed int
}

func newLogLimiter(perSecond int) *logLimiter {
	return &logLimiter{perSecond: perSecond}
}

func (l *logLimiter) log(log *slog.Logger, level slog.Level, msg string, args ...any) {
	if !log.Enabled(context.Background(), level) {
		return
	}
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.windowFrom) >= time.Second {
		l.windowFrom, l.inWindow = now, 0
	}
	if l.inWindow >= l.perSecond {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.inWindow++
	dropped := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	if dropped > 0 {
		args = append(args, "suppressed_before", dropped)
	}
	log.Log(context.Background(), level, msg, args...)
}
