//go:build !(aix || plan9 || (freebsd && !cgo && !amd64 && !arm64))

package main

// The NATS server that `serve --nats-server ADDR` embeds, so that the
// scale-out demo needs nothing installed. nats-server does not build on
// aix, plan9, nor on freebsd without cgo except amd64 and arm64: there
// natsserver_none.go stands in and refuses --nats-server.
// TestBuildsOnEveryPlatform keeps the build constraints true.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// embeddedNATS is a NATS server running in this process.
type embeddedNATS struct {
	srv *natsserver.Server
	url string // where clients connect: nats://host:port
}

// startNATSServer starts a NATS server listening on addr (host:port; port
// 0 for a free one) and waits until it takes connections. Its log goes to
// log: notices at debug level (-v), warnings and errors as they are.
func startNATSServer(addr string, log *slog.Logger) (*embeddedNATS, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--nats-server %q: want host:port: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("--nats-server %q: bad port %q", addr, portText)
	}
	if port == 0 {
		port = natsserver.RANDOM_PORT // for nats-server, 0 means 4222
	}
	opts := &natsserver.Options{
		ServerName: "msgpattern",
		Host:       host,
		Port:       port,
		NoSigs:     true, // the command handles SIGINT and SIGTERM
	}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	lg := &natsLogger{log: log.With("component", "nats-server"), fatal: make(chan string, 1)}
	ns.SetLogger(lg, false, false)
	ns.Start()
	// A listener that fails (address in use) is only logged, as fatal:
	// wait for readiness or that, whichever comes first.
	ready := make(chan bool, 1)
	go func() { ready <- ns.ReadyForConnections(10 * time.Second) }()
	select {
	case ok := <-ready:
		if !ok {
			ns.Shutdown()
			return nil, errors.New("nats server: not ready for connections after 10s")
		}
	case msg := <-lg.fatal:
		ns.Shutdown() // the readiness wait ends at its timeout; the command exits before
		return nil, errors.New("nats server: " + msg)
	}
	tcp, ok := ns.Addr().(*net.TCPAddr)
	if !ok {
		ns.Shutdown()
		return nil, errors.New("nats server: no listener")
	}
	ip := tcp.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1) // listening on every interface: loopback is one
	}
	return &embeddedNATS{srv: ns, url: "nats://" + net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))}, nil
}

// embeddedLingerMax bounds how long shutdown waits for the clients to
// leave before it disconnects them.
const embeddedLingerMax = time.Second

// shutdown stops the server: its clients are disconnected. After a
// graceful shutdown (linger), it first lets them leave on their own, for
// embeddedLingerMax at most: serve's own connection has just closed, the
// last replies written on it not yet read by this server, nor delivered —
// and nats.go drops a message that arrives as its connection closes — so a
// caller whose request was answered during the drain would lose its reply.
func (e *embeddedNATS) shutdown(linger bool) {
	deadline := time.Now().Add(embeddedLingerMax)
	for linger && e.srv.NumClients() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// natsLogger passes the NATS server's log to slog.
type natsLogger struct {
	log   *slog.Logger
	fatal chan string // the first fatal message
}

func (l *natsLogger) logf(level slog.Level, format string, v []any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, v...)))
	}
}

func (l *natsLogger) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.logf(slog.LevelWarn, format, v) }
func (l *natsLogger) Errorf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l *natsLogger) Debugf(format string, v ...any)  {}
func (l *natsLogger) Tracef(format string, v ...any)  {}

// Fatalf reports a failure the server does not survive (its listener could
// not start); startNATSServer returns it as an error.
func (l *natsLogger) Fatalf(format string, v ...any) {
	select {
	case l.fatal <- fmt.Sprintf(format, v...):
	default:
	}
}
