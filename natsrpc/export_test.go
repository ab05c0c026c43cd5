package natsrpc

import "github.com/nats-io/nats.go"

// EndpointName is endpointName, for the tests.
var EndpointName = endpointName

// PendingBytes is what the server's subscriptions hold in nats.go's
// pending queues (received from NATS, not yet handed to a callback).
func PendingBytes(s *Server) (msgs, bytes int) {
	s.mu.Lock()
	subs := append([]*nats.Subscription(nil), s.subs...)
	s.mu.Unlock()
	for _, sub := range subs {
		if m, b, err := sub.Pending(); err == nil {
			msgs += m
			bytes += b
		}
	}
	return msgs, bytes
}

// Stopping reports whether Shutdown has begun.
func Stopping(s *Server) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// Received counts the messages that reached the server's subscriptions:
// handed to a callback, pending, or dropped (the one in a callback may
// count twice).
func Received(s *Server) (n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		d, _ := sub.Delivered()
		p, _, _ := sub.Pending()
		x, _ := sub.Dropped()
		n += int(d) + p + x
	}
	return n
}
