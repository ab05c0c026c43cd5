//go:build aix || plan9 || (freebsd && !cgo && !amd64 && !arm64)

package main

// nats-server does not build on this platform (see natsserver.go): the
// command works without --nats-server, and --nats URL reaches a NATS server
// running elsewhere.

import (
	"fmt"
	"log/slog"
	"runtime"
)

type embeddedNATS struct{ url string }

func startNATSServer(string, *slog.Logger) (*embeddedNATS, error) {
	return nil, fmt.Errorf("--nats-server: there is no embedded NATS server on %s/%s (nats-server does not support it); run one elsewhere and pass --nats URL", runtime.GOOS, runtime.GOARCH)
}

func (*embeddedNATS) shutdown(bool) {}
