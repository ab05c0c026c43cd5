package rpc_test

import (
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestParseReplyPacketTruthiness: natsrpc reads replies through
// ParseReplyPacket, and must judge them as the TCP client does.
func TestParseReplyPacketTruthiness(t *testing.T) {
	for _, tc := range []struct {
		packet    string
		err, last bool
		value     string
	}{
		{`{"response":1,"isDisposed":1,"id":1}`, false, true, `1`},
		{`{"response":1,"isDisposed":0,"id":1}`, false, false, `1`},
		{`{"err":-0,"response":1,"isDisposed":true,"id":1}`, false, true, `1`},
		{`{"err":0e5,"response":1,"id":1}`, false, false, `1`},
		{`{"err":"boom","id":1}`, true, true, ``},
	} {
		p, ok := rpc.ParseReplyPacket([]byte(tc.packet))
		if !ok || (p.Err != nil) != tc.err || p.Last != tc.last || string(p.Value) != tc.value {
			t.Errorf("%s: got ok %t, err %v, last %t, value %s; want err %t, last %t, value %s",
				tc.packet, ok, p.Err, p.Last, p.Value, tc.err, tc.last, tc.value)
		}
	}
}
