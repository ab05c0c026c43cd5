package rpc_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// TestNegativeBoundTurnsItOff: every bound of docs/SERVER.md's table takes
// a negative value to mean "off" (Config's doc), and a server so configured
// serves what the bound would have refused — not everything refused, as a
// negative number compared as a limit would.
func TestNegativeBoundTurnsItOff(t *testing.T) {
	echoLen := func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("len", rpc.Func(func(data json.RawMessage) (any, error) { return len(data), nil }))
	}
	tests := []struct {
		name string
		cfg  rpc.Config
		run  func(t *testing.T, s *rpc.Server, pki *testPKI)
	}{
		{"MaxConnections", rpc.Config{MaxConnections: -1}, func(t *testing.T, s *rpc.Server, pki *testPKI) {
			for i := range 3 {
				id := strconv.Itoa(i)
				dial(t, s).call(`"sum"`, `[1,2]`, id, valueReply("3", id))
			}
		}},
		{"MaxInFlight", rpc.Config{MaxInFlight: -1}, func(t *testing.T, s *rpc.Server, pki *testPKI) {
			dial(t, s).call(`"sum"`, `[1,2]`, `1`, valueReply("3", "1"))
		}},
		{"MaxFrameSize", rpc.Config{MaxFrameSize: -1}, func(t *testing.T, s *rpc.Server, pki *testPKI) {
			// One unit past the default limit, which would close the connection.
			data := `"` + strings.Repeat("x", wire.DefaultMaxFrameUnits) + `"`
			c := dial(t, s)
			c.write(reqFrame(`"len"`, data, `1`))
			c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
			if got, err := readNestFrame(c.br); err != nil || got != valueReply(strconv.Itoa(len(data)), "1") {
				t.Fatalf("reply %q, %v", clip(got), err)
			}
		}},
		{"FrameTimeout", rpc.Config{FrameTimeout: -1}, func(t *testing.T, s *rpc.Server, pki *testPKI) {
			c := dial(t, s)
			f := reqFrame(`"sum"`, `[1,2]`, `1`)
			c.write(f[:10])
			time.Sleep(50 * time.Millisecond)
			c.write(f[10:])
			c.expectFrame(valueReply("3", "1"))
		}},
		{"FrameTimeout, TLS handshake", rpc.Config{FrameTimeout: -1}, func(t *testing.T, s *rpc.Server, pki *testPKI) {
			c := mustDialTLS(t, s, pki.clientConfig(nil))
			c.call(`"sum"`, `[1,2]`, `1`, valueReply("3", "1"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, pki := tt.cfg, newTestPKI(t)
			if strings.Contains(tt.name, "TLS") {
				cfg.TLSConfig = pki.serverConfig(false)
			}
			s, _ := startServer(t, cfg, echoLen)
			tt.run(t, s, pki)
			if m := s.GetMetrics(); m.RejectedConnections != 0 || m.ErrorByKind.Framing != 0 {
				t.Errorf("rejected %d, framing errors %d", m.RejectedConnections, m.ErrorByKind.Framing)
			}
		})
	}
}
